"""Retrieval quality on RGB: BM25 alone, dense alone, and the hybrid, per file.

For each RGB file, every passage becomes a document (one chunk each) in a fresh index built by
Ponder's own ingest (so the embedder and tokenizer are the real ones); every question is searched
and scored against its positive passages: Recall@5, Recall@20, MRR@10, nDCG@10. The goal from
issue 5: hybrid >= the better of BM25 and dense on every file. No reranker runs here (none is
bundled; see the README), so there is no "hybrid + rerank" row.

    python benchmarks/retrieval.py [--files en_fact zh_fact zh_int] [--limit N] [--dense-weights 1 2 3]

``--dense-weights`` adds a hybrid row per dense weight (BM25 weight 1), to choose the default.
``--throughput N`` instead measures the embedder on N real chunks of the CRUD-RAG news corpus
(chunked as ingest does, default chunk size): chunks/s and tokens/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import header, seconds_to_embed, shared_dir

from ponder import Ponder, load_config
from ponder.evaluate import load_rgb, mrr_at, ndcg_at, recall_at

MODES = ("bm25", "dense", "hybrid")


def evaluate_file(path: Path, limit: int | None, work: Path,
                  dense_weights: list[float]) -> dict[str, dict[str, float]]:
    questions, data_dir = build_index(path, limit, work)
    variants = [(mode, {"retrieve.mode": mode}) for mode in MODES] + [
        (f"hybrid, dense weight {w:g}", {"retrieve.mode": "hybrid", "retrieve.dense_weight": w}) for w in dense_weights]
    return {mode: score(questions, data_dir, settings) for mode, settings in variants}


def build_index(path: Path, limit: int | None, work: Path) -> tuple[list, Path]:
    """An RGB file's passages ingested as one document each into a fresh local index: (its
    questions, the data dir)."""
    dataset = load_rgb(str(path), limit=limit)
    questions, passages, corpus = dataset.questions, dataset.corpus, dataset.write_corpus(work / path.stem)
    data_dir = work / f"{path.stem}-index"
    with Ponder(load_config(overrides={"data_dir": str(data_dir)})) as ponder:
        started = time.perf_counter()
        report = ponder.ingest([corpus])
        print(f"{path.stem}: {len(questions)} questions, {len(passages)} passages; ingest with embeddings "
              f"{time.perf_counter() - started:.0f} s ({report.summary()})")
    return questions, data_dir


def score(questions: list, data_dir: Path, settings: dict[str, object]) -> dict[str, float]:
    """Every question searched (top 20) with ``settings``: mean Recall@5, Recall@20, MRR@10,
    nDCG@10, and the median ms per query."""
    with Ponder(load_config(overrides={"data_dir": str(data_dir), **settings})) as ponder:
        rows, latencies = [], []
        for question in questions:
            started = time.perf_counter()
            hits = ponder.search(question.query, top_k=20)
            latencies.append(time.perf_counter() - started)
            ranked = [Path(hit.chunk.path).stem for hit in hits]
            rows.append((recall_at(ranked, question.relevant, 5), recall_at(ranked, question.relevant, 20),
                         mrr_at(ranked, question.relevant, 10), ndcg_at(ranked, question.relevant, 10)))
    results = {name: statistics.mean(row[i] for row in rows)
               for i, name in enumerate(("Recall@5", "Recall@20", "MRR@10", "nDCG@10"))}
    results["ms/query"] = 1000 * statistics.median(latencies)
    return results


def embedding_throughput(count: int) -> None:
    from ponder.ingest import ReadOptions, chunk_document, read_document
    from ponder.text import token_counter

    config = load_config()
    articles = (shared_dir() / "data" / "crud-news" / "documents_part_1_1.txt").read_bytes().splitlines()
    chunks = []
    with tempfile.TemporaryDirectory() as work:
        for number, raw in enumerate(articles):
            path = Path(work) / f"{number}.txt"
            document, _ = read_document(path, raw, ReadOptions())
            chunks += chunk_document(document, config.ingest.chunk_size, config.ingest.chunk_overlap,
                                     token_counter("e5"))
            if len(chunks) >= count:
                break
    texts = [chunk.text for chunk in chunks[:count]]
    tokens = sum(token_counter("e5")(text) for text in texts)
    seconds = seconds_to_embed(texts)
    print(f"| e5 embedding, {len(texts)} CRUD-news chunks (mean {tokens / len(texts):.0f} tokens, "
          f"{statistics.mean(map(len, texts)):.0f} characters) | {len(texts) / seconds:.1f} chunks/s, "
          f"{tokens / seconds:.0f} tokens/s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", nargs="+", default=["en_fact", "zh_fact", "zh_int"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (and their passages)")
    parser.add_argument("--dense-weights", type=float, nargs="*", default=[])
    parser.add_argument("--throughput", type=int, default=0, help="measure embedding on N news chunks instead")
    args = parser.parse_args()
    if args.throughput:
        header("Embedding throughput")
        embedding_throughput(args.throughput)
        return
    header("Retrieval quality on RGB")
    table = ["| file | retriever | Recall@5 | Recall@20 | MRR@10 | nDCG@10 | median ms/query |",
             "|---|---|---|---|---|---|---|"]
    verdicts = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.files:
            results = evaluate_file(shared_dir() / "data" / "rgb" / f"{name}.json", args.limit, Path(work),
                                    args.dense_weights)
            for mode, scores in results.items():
                table.append(f"| {name} | {mode} | " + " | ".join(f"{scores[m]:.3f}" for m in
                             ("Recall@5", "Recall@20", "MRR@10", "nDCG@10")) + f" | {scores['ms/query']:.1f} |")
            better = {metric: max(results["bm25"][metric], results["dense"][metric])
                      for metric in ("Recall@5", "Recall@20", "MRR@10", "nDCG@10")}
            misses = [m for m, value in better.items() if results["hybrid"][m] < value - 1e-9]
            verdicts.append(f"- {name}: hybrid >= max(bm25, dense) on " + (
                "every metric" if not misses else f"all but {', '.join(misses)}"))
    print("\n" + "\n".join(table) + "\n")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
