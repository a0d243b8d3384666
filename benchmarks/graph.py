"""Graph retrieval: multi-hop recall, single-hop regressions, and what the graph costs.

Quality — for each dataset, one corpus indexed by Ponder's own ingest (real tokenizer, embedder
and entity extractor), every question searched with each retriever and scored as HippoRAG
reports it: recall@k (share of a question's supporting passages in the top k, averaged) and
chain@5 (share of questions with every supporting passage in the top 5)::

    python benchmarks/graph.py [--datasets hotpotqa:multihop/hotpotqa_100 rgb:en_fact ...] [--limit N]
                               [--variant NAME:key=value,key=value ...]

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
import statistics
import time
from pathlib import Path

from common import REPO, header, percentile, shared_dir

from ponder import Ponder, load_config
from ponder.evaluate import load_dataset, recall_at

CACHE = REPO / "benchmarks" / ".cache" / "graph"
MODES = ("bm25", "dense", "hybrid", "graph", "hybrid+graph")


def index(dataset_spec: str, limit: int | None):
    dataset = load_dataset(dataset_spec, shared=shared_dir(), limit=limit)
    name = dataset_spec.replace(":", "-").replace("/", "-") + (f"-{limit}" if limit else "")
    work = CACHE / name
    corpus = dataset.write_corpus(work / "corpus")
    with Ponder(load_config(env={}, overrides={"data_dir": str(work / "index")})) as ponder:
        started = time.perf_counter()
        report = ponder.ingest([corpus])
        graph = report.graph
        print(f"{dataset.name}: {len(dataset.questions)} questions, {len(dataset.corpus)} passages; "
              f"ingest {time.perf_counter() - started:.1f} s ({report.summary()}; entity graph "
              f"{graph.chunks} chunks read in {graph.seconds:.2f} s)")
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
            rows.append((recall_at(ranked, question.relevant, 2), recall_at(ranked, question.relevant, 5),
                         float(question.relevant <= set(ranked[:5]))))
    scores = {name: statistics.mean(row[i] for row in rows) for i, name in enumerate(("R@2", "R@5", "chain@5"))}
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


def quality(specs: list[str], limit: int | None, variants: list[str]) -> None:
    header("Graph retrieval quality")
    table = ["| dataset | retriever | R@2 | R@5 | chain@5 | p50 ms | p95 ms |", "|---|---|---|---|---|---|---|"]
    for spec in specs:
        dataset, data_dir = index(spec, limit)
        rows = [(mode, {"retrieve.mode": mode}) for mode in MODES] + [parse_variant(v) for v in variants]
        for label, settings in rows:
            scores = evaluate(dataset, data_dir, settings)
            table.append(f"| {dataset.name} | {label} | " + " | ".join(
                f"{scores[m]:.3f}" for m in ("R@2", "R@5", "chain@5")) + " | " + " | ".join(
                f"{scores[m]:.1f}" for m in ("p50 ms", "p95 ms")) + " |")
            print(table[-1], flush=True)
    print("\n" + "\n".join(table))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["hotpotqa:multihop/hotpotqa_100", "rgb:en_fact",
                                                           "rgb:zh_fact", "rgb:zh_int"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (and their passages)")
    parser.add_argument("--variant", action="append", default=[], help="NAME:key=value,... (a hybrid+graph row)")
    args = parser.parse_args()
    quality(args.datasets, args.limit, args.variant)


if __name__ == "__main__":
    main()
