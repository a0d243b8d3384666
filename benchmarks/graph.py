"""Graph retrieval: multi-hop recall, single-hop regressions, and what the graph costs.

Quality — for each dataset, one corpus indexed by Ponder's own ingest (real tokenizer, embedder
and entity extractor), every question searched with each retriever and scored as HippoRAG
reports it: recall@k (share of a question's supporting passages in the top k, averaged) and
chain@5 (share of questions with every supporting passage in the top 5), and MRR@10 (from a
second search for ten)::

    python benchmarks/graph.py [--datasets hotpotqa:multihop/hotpotqa_100 rgb:en_fact ...] [--limit N]
                               [--variant NAME:key=value,key=value ...]

``crudhop:benchmarks/datasets/crud_multihop_zh.json`` is the second multi-hop set (issue 32): 34
Chinese questions written by hand over CRUD-RAG news, each needing two (one: three) articles joined by
a name the question does not state; the corpus is all 1,930 articles of one news file. No setting
was chosen on it: it is reported whole.

``--split tune`` / ``--split report`` keep one half of the questions of a dataset with a committed
split (benchmarks/splits/hotpotqa_100.json): settings are chosen on the tuning half and reported on
the other (issue 32).

Goals (issue 14): hybrid+graph chain@5 >= 0.80 and recall@5 >= 0.90 on hotpotqa_100, and on RGB
en_fact/zh_fact no more than 0.01 below hybrid. ``--variant`` adds a row per setting tried (say
``share.3:graph.passage_share=0.3``).

Cost — the nlp extractor's speed, its share of a full hybrid ingest, and the graph's rows::

    python benchmarks/graph.py --cost [--chunks 2000]

Indexes are kept in benchmarks/.cache/graph/ (embedding hotpotqa's 994 paragraphs takes minutes);
delete that folder to measure ingest again.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import REPO, header, percentile, seconds_to_embed, shared_dir

from ponder import Ponder, load_config
from ponder.evaluate import load_dataset, mrr_at, recall_at
from ponder.evaluate.datasets import Dataset, EvalQuestion

CACHE = REPO / "benchmarks" / ".cache" / "graph"
SPLITS = REPO / "benchmarks" / "splits"  # committed halves: tune on one, report the other
MODES = ("bm25", "dense", "hybrid", "graph", "hybrid+graph")


def load_crud_multihop(path: Path) -> Dataset:
    """The hand-written Chinese multi-hop set: questions from ``path``, and every article of the news
    file it names as one passage (``n0000`` is its first line)."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    articles = (shared_dir() / "data" / spec["corpus"]).read_text(encoding="utf-8").splitlines()
    questions = [EvalQuestion(row["id"], row["question"], row["answers"],
                              frozenset(f"n{line:04d}" for line in row["support"]), type=f"{len(row['support'])}-hop")
                 for row in spec["questions"]]
    return Dataset(f"crudhop:{path.stem}", questions, {f"n{line:04d}": text for line, text in enumerate(articles)})


def index(dataset_spec: str, limit: int | None):
    if dataset_spec.startswith("crudhop:"):
        dataset = load_crud_multihop(REPO / dataset_spec.partition(":")[2])
    else:
        dataset = load_dataset(dataset_spec, shared=shared_dir(), limit=limit)
    name = dataset_spec.replace(":", "-").replace("/", "-") + (f"-{limit}" if limit else "")
    work = CACHE / name
    corpus = dataset.write_corpus(work / "corpus")
    with Ponder(load_config(env={}, overrides={"data_dir": str(work / "index")})) as ponder:
        started = time.perf_counter()
        report = ponder.ingest([corpus])
        print(f"{dataset.name}: {len(dataset.questions)} questions, {len(dataset.corpus)} passages; "
              f"ingest {time.perf_counter() - started:.1f} s ({report.summary()})")
    return dataset, work / "index"


def evaluate(dataset, data_dir: Path, settings: dict[str, object]) -> dict[str, float]:
    rows, latencies = [], []
    with Ponder(load_config(env={}, overrides={"data_dir": str(data_dir), **settings})) as ponder:
        ponder.search(dataset.questions[0].query, top_k=5)  # load the indexes and the embedder
        for question in dataset.questions:
            started = time.perf_counter()
            hits = ponder.search(question.query, top_k=5)
            latencies.append(time.perf_counter() - started)
            ranked = [Path(hit.chunk.path).stem for hit in hits]
            ten = [Path(hit.chunk.path).stem for hit in ponder.search(question.query, top_k=10)]
            rows.append((recall_at(ranked, question.relevant, 2), recall_at(ranked, question.relevant, 5),
                         float(question.relevant <= set(ranked[:5])), mrr_at(ten, question.relevant, 10)))
    scores = {name: statistics.mean(row[i] for row in rows)
              for i, name in enumerate(("R@2", "R@5", "chain@5", "MRR@10"))}
    scores["p50 ms"] = 1000 * statistics.median(latencies)
    scores["p95 ms"] = 1000 * percentile(latencies, 95)
    return scores


def parse_variant(text: str) -> tuple[str, dict[str, object]]:
    label, _, assignments = text.partition(":")
    settings: dict[str, object] = {"retrieve.mode": "hybrid+graph"}
    for assignment in filter(None, assignments.split(",")):
        key, _, value = assignment.partition("=")
        settings[key.strip()] = value.strip()
    return label, settings


def split_questions(dataset, half: str):
    """``dataset`` with only the questions of ``half`` ("tune" or "report") of its committed split
    (benchmarks/splits/<file>.json); the corpus stays whole, so the other half's passages are
    distractors as before. A dataset without a split file is returned whole."""
    path = SPLITS / f"{dataset.name.partition(':')[2]}.json"
    if half == "all" or not path.is_file():
        return dataset
    keep = set(json.loads(path.read_text(encoding="utf-8"))[half])
    dataset.questions = [question for question in dataset.questions if question.id in keep]
    dataset.name += f" ({half} half)"
    return dataset


def quality(specs: list[str], limit: int | None, variants: list[str], half: str = "all") -> None:
    header("Graph retrieval quality")
    table = ["| dataset | retriever | R@2 | R@5 | chain@5 | MRR@10 | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for spec in specs:
        dataset, data_dir = index(spec, limit)
        dataset = split_questions(dataset, half)
        rows = [(mode, {"retrieve.mode": mode}) for mode in MODES] + [parse_variant(v) for v in variants]
        for label, settings in rows:
            scores = evaluate(dataset, data_dir, settings)
            table.append(f"| {dataset.name} | {label} | " + " | ".join(
                f"{scores[m]:.3f}" for m in ("R@2", "R@5", "chain@5", "MRR@10")) + " | " + " | ".join(
                f"{scores[m]:.1f}" for m in ("p50 ms", "p95 ms")) + " |")
            print(table[-1], flush=True)
    print("\n" + "\n".join(table))


GRAPH_TABLES = ("mentions", "mentions_by_chunk", "mentions_by_entity", "relations", "relations_by_chunk",
                "graph_chunks", "sqlite_autoindex_graph_chunks_1")


def table_bytes(data_dir: Path, tables: tuple[str, ...] | None = None) -> int:
    """Bytes the store spends on ``tables`` (all when None), from SQLite's dbstat."""
    with sqlite3.connect(data_dir / "ponder.db") as db:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    return sum(size for name, size in rows if tables is None or name in tables)


def cost(sizes: list[int], ingest_sample: int) -> None:
    """Extraction speed (Chinese news, English Wikipedia), its share of a hybrid ingest, and the
    graph's query latency and size at ``sizes`` chunks (CRUD news chunks replicated)."""
    from crud_news import articles, query_from
    from retrieval_scale import real_chunks

    from ponder.graph import EntityGraph, NLPExtractor
    from ponder.graph.index import links_onward
    from ponder.retrieve.graph import GraphRetriever
    from ponder.types import Chunk, ChunkGraph, Document, content_id

    header("Graph cost")
    extractor = NLPExtractor()
    texts = articles()
    started = time.perf_counter()
    news = real_chunks(texts[:2000])
    print(f"chunked 2,000 CRUD news articles into {len(news)} chunks in {time.perf_counter() - started:.0f} s")
    by_document: dict[str, list] = {}
    for chunk, _ in news:
        by_document.setdefault(chunk.document_id, []).append(chunk)
    started = time.perf_counter()
    graphs = [g for chunks in by_document.values() for g in extractor.extract(chunks)]
    seconds = time.perf_counter() - started
    print(f"| nlp extractor, Chinese news | {len(news) / seconds:,.0f} chunks/s "
          f"({1000 * seconds / len(news):.1f} s per 1,000 chunks; "
          f"{sum(len(g.mentions) for g in graphs) / len(graphs):.1f} entities a chunk) |")
    hotpot = load_dataset("hotpotqa:multihop/hotpotqa_100", shared=shared_dir())
    english = [Chunk(pid, pid, f"/{pid}.md", text, 0, len(text), heading_path=(text.split("\n")[0][2:],))
               for pid, text in hotpot.corpus.items()]
    started = time.perf_counter()
    for chunk in english:
        extractor.extract([chunk])
    seconds = time.perf_counter() - started
    print(f"| nlp extractor, English Wikipedia paragraphs | {len(english) / seconds:,.0f} chunks/s |")

    # graph.meaning_seeds embeds the names a walk can go on from: what that costs.
    chunks_naming: Counter[str] = Counter()
    names: dict[str, tuple[str, str]] = {}  # key -> (name, type)
    for chunk_graph in graphs:
        for mention in chunk_graph.mentions:
            chunks_naming[mention.key] += 1
            names.setdefault(mention.key, (mention.name, mention.type))
    linkable = [names[key][0] for key, count in chunks_naming.items() if links_onward(names[key][1], count)]
    proper = sum(1 for _, type_ in names.values() if type_ != "concept")
    names_seconds = seconds_to_embed(linkable)
    print(f"| names embedded for graph.meaning_seeds, Chinese news | {len(linkable):,} of {proper:,} proper "
          f"names ({len(linkable) / len(news) * 1000:.0f} per 1,000 chunks) in {names_seconds:.1f} s = "
          f"{names_seconds / len(news) * 1000:.1f} s per 1,000 chunks |")

    # Share of a full hybrid ingest (convert, chunk, embed, store, BM25, HNSW, graph), on real files.
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "corpus"
        folder.mkdir()
        for number, text in enumerate(texts[2000:2000 + ingest_sample]):
            (folder / f"{number:05d}.txt").write_text(text, encoding="utf-8")
        with Ponder(load_config(env={}, overrides={"data_dir": str(Path(work) / "index")})) as ponder:
            report = ponder.ingest([folder])
        share = report.graph.seconds / report.seconds
        print(f"| share of a hybrid ingest ({ingest_sample} news articles, {report.graph.chunks} chunks) | graph "
              f"{report.graph.seconds:.2f} s of {report.seconds:.0f} s = {share:.1%} |")
        per_thousand = report.seconds / report.graph.chunks * 1000
        print(f"| graph.meaning_seeds' names against a hybrid ingest | {names_seconds / len(news) * 1000:.1f} s of "
              f"{per_thousand:.0f} s per 1,000 chunks = {names_seconds / len(news) * 1000 / per_thousand:.1%} |")

    picker = random.Random(0)
    queries = [query_from(texts[picker.randrange(2000)], picker) for _ in range(100)]
    rows = ["| chunks | entities | graph on disk (of the store) | load after a change / after a restart | "
            "walk p50 / p95 | hybrid+graph adds p50 / p95 |", "|---|---|---|---|---|---|"]
    for size in sizes:
        with tempfile.TemporaryDirectory() as work:
            data_dir = Path(work)
            settings = {"data_dir": str(data_dir), "retrieve.mode": "bm25"}
            with Ponder(load_config(env={}, overrides=settings)) as ponder:
                written, replica = 0, 0
                while written < size:
                    batch = list(zip(news, graphs))[: size - written]
                    doc_id = content_id(f"replica-{replica}")
                    document = Document(doc_id, f"/news/replica-{replica}", content_id(str(replica)), "", "text")
                    copies = [(Chunk(content_id(doc_id, c.id), doc_id, document.path, c.text, c.start, c.end), t, g)
                              for (c, t), g in batch]
                    ponder.store.put_document(document, [c for c, _, _ in copies], [t for _, t, _ in copies])
                    ponder.store.put_graph([ChunkGraph(c.id, g.mentions, g.relations) for c, _, g in copies],
                                           extractor.name)
                    written += len(copies)
                    replica += 1
                graph = ponder.graph
                started = time.perf_counter()
                graph.refresh()  # reads the store, saves the graph beside it
                load_s = time.perf_counter() - started
                started = time.perf_counter()
                EntityGraph(ponder.store, data_dir / "graph").refresh()  # a new process: the saved copy
                reload_s = time.perf_counter() - started
                walker = GraphRetriever(ponder.store, graph)
                walks, added = [], []
                for query in queries:
                    seeds = ponder.search(query, top_k=5)  # bm25: what hybrid+graph starts its bridges from
                    started = time.perf_counter()
                    walker.search(query, 40)
                    middle = time.perf_counter()
                    walker.bridges(query, seeds, 1)
                    walks.append(middle - started)
                    added.append(time.perf_counter() - started)
                graph_mib = table_bytes(data_dir, GRAPH_TABLES) / 2**20
                store_mib = table_bytes(data_dir) / 2**20
            row = (f"| {size:,} | {len(graph.entities):,} | {graph_mib:,.0f} MiB ({graph_mib / store_mib:.0%}) | "
                   f"{load_s:.1f} s / {reload_s:.1f} s | "
                   f"{1000 * percentile(walks, 50):.1f} / {1000 * percentile(walks, 95):.1f} ms | "
                   f"{1000 * percentile(added, 50):.1f} / {1000 * percentile(added, 95):.1f} ms |")
            rows.append(row)
            print(row, flush=True)
    print("\n" + "\n".join(rows))
    print("\nhybrid+graph adds two walks (one from the question's entities, one from the first hits for the "
          "bridge slot); the bridge's similarity to the question uses the query vector dense retrieval made.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["hotpotqa:multihop/hotpotqa_100", "rgb:en_fact",
                                                           "rgb:zh_fact", "rgb:zh_int"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (and their passages)")
    parser.add_argument("--variant", action="append", default=[], help="NAME:key=value,... (a hybrid+graph row)")
    parser.add_argument("--split", choices=("all", "tune", "report"), default="all",
                        help="only the questions of one half of a dataset's committed split (benchmarks/splits/)")
    parser.add_argument("--cost", action="store_true", help="measure speed, share of ingest, latency and size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--ingest-sample", type=int, default=150, help="--cost: news articles ingested with embeddings")
    args = parser.parse_args()
    if args.cost:
        cost(args.sizes, args.ingest_sample)
    else:
        quality(args.datasets, args.limit, args.variant, args.split)


if __name__ == "__main__":
    main()
