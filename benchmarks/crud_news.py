"""Real end-to-end indexing of a Chinese news corpus: the 11,580 CRUD-RAG articles in ../shared.

Writes each article to its own .txt file, ingests the folder through the real pipeline (read,
chunk, jieba-tokenize, store, build BM25 and, unless --mode bm25, embed every chunk with e5 and
build the HNSW index), then times searches. Each query is a phrase taken from a randomly chosen
article (seeded), so we also report how often that article's chunk comes back first, as a sanity
check that the latency is for real work.

    python benchmarks/crud_news.py --mode bm25                      # all articles, no embedding
    python benchmarks/crud_news.py --mode hybrid --articles 4600    # ~10,000 chunks, embedded
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from pathlib import Path

from common import header, percentile, shared_dir

from ponder import Ponder, load_config


def articles() -> list[str]:
    texts = []
    for part in sorted((shared_dir() / "data" / "crud-news").glob("documents_part_*.txt")):
        texts.extend(line.strip() for line in part.read_text(encoding="utf-8").splitlines() if line.strip())
    return texts


def query_from(article: str, rng: random.Random) -> str:
    """A 12-24 character phrase from one sentence of the article body."""
    body = article.split("正文：", 1)[-1]
    sentences = [s for s in re.split(r"[。！？\n]", body) if len(s) >= 16]
    sentence = rng.choice(sentences) if sentences else body
    length = min(len(sentence), rng.randint(12, 24))
    start = rng.randint(0, len(sentence) - length)
    return sentence[start:start + length]


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="bm25")
    parser.add_argument("--articles", type=int, default=None, help="the first N articles (default: all)")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    count = args.queries
    texts = articles()[: args.articles]
    header(f"Indexing CRUD-RAG news end to end ({len(texts):,} Chinese articles, retrieve.mode = {args.mode})")
    settings = {"retrieve.mode": args.mode}
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as work:
        corpus = Path(work) / "corpus"
        corpus.mkdir()
        for number, text in enumerate(texts):
            (corpus / f"{number:05d}.txt").write_text(text, encoding="utf-8")
        with Ponder(load_config(overrides={"data_dir": str(Path(work) / "data"), **settings})) as ponder:
            started = time.perf_counter()
            report = ponder.ingest([corpus])
            ingest_s = time.perf_counter() - started
            chunks = ponder.store.chunk_count()
            print(f"ingest: {report.summary()}")
            print(f"ingest throughput: {len(texts) / ingest_s:.0f} articles/s, {chunks / ingest_s:.0f} chunks/s "
                  f"({chunks} chunks, {ingest_s:.1f} s)")
            sizes = {p.name: folder_size(p) / 2**20 for p in (Path(work) / "data").iterdir() if p.is_dir()}
            store_mib = folder_size(Path(work) / "data") / 2**20 - sum(sizes.values())
            print(f"on disk: SQLite store {store_mib:.0f} MiB (text, tokens, vectors); "
                  + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in sorted(sizes.items())))

            picks = [rng.randrange(len(texts)) for _ in range(count)]
            queries = [query_from(texts[i], rng) for i in picks]
        # A fresh Ponder on the saved index, as a later `ponder search` would open it (jieba's
        # dictionary is already loaded in this process; in a new one it adds about 0.6 s).
        with Ponder(load_config(overrides={"data_dir": str(Path(work) / "data"), **settings})) as ponder:
            started = time.perf_counter()
            ponder.search(queries[0], top_k=10)
            print(f"first search on a reopened index (loads BM25 from disk): {time.perf_counter() - started:.2f} s")
            latencies, first = [], 0
            for pick, query in zip(picks, queries):
                started = time.perf_counter()
                hits = ponder.search(query, top_k=10)
                latencies.append(time.perf_counter() - started)
                first += bool(hits) and Path(hits[0].chunk.path).name == f"{pick:05d}.txt"
            print(f"\n{count} queries, top_k=10, {args.mode} (query tokenize/embed included) "
                  "+ fetch chunks from SQLite:")
            print(f"| {args.mode} search, {chunks} chunks | p50 {percentile(latencies, 50) * 1000:.1f} ms | "
                  f"p95 {percentile(latencies, 95) * 1000:.1f} ms |")
            print(f"source article ranked first for {first}/{count} queries")


if __name__ == "__main__":
    main()
