"""Index side at scale: build time, disk, memory and query latency at 100k / 1M chunks.

Chunks are the CRUD-RAG news articles cut by Ponder's chunker, replicated until the size is reached
(replicas get their own ids; BM25 sees the real tokens). Embedding them all would take hours here
(5.5 chunks/s), so only a sample is embedded for real and every other chunk's vector is a real one
plus Gaussian noise, re-normalised: ANN cost depends on the number and dimension of vectors, not on
their meaning. Queries are real: 100 phrases from random articles, embedded by e5 at query time.

The chunks go through the real components: the store's put_document, the BM25 index, the vector
index, and Ponder's hybrid search (query embedding included). Backends:

* ``local``: the SQLite store, bm25s and a local HNSW index;
* ``milvus``: the SQLite store, bm25s, and the vectors mirrored into Milvus Lite;
* ``milvus-store``: everything in Milvus (``store.backend = "milvus"``): text, BM25 and vectors in one
  collection, searched server-side. ``--milvus-uri`` points it at a Milvus server instead of Milvus
  Lite in the data dir.

    python benchmarks/retrieval_scale.py [--sizes 100000 1000000] [--backends local milvus milvus-store]
                                         [--keep DIR] [--rgb en_fact zh_fact] [--milvus-uri URI]

``--rgb`` also scores retrieval quality on those RGB files with each backend: the passages are
ingested once into a local index and copied into Milvus by ``ponder migrate`` (same vectors, no
re-embedding), so only the backends' own ranking differs.

With ``--keep DIR`` the indexes are built under DIR/<size>-<backend> and kept; a later run with the
same DIR only measures queries (build times are then not reported).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from common import header, percentile
from crud_news import articles, folder_size, query_from

from ponder import Ponder, load_config
from ponder.index import tokenize
from ponder.index.embedders import E5Embedder
from ponder.ingest import ReadOptions, chunk_document, read_document
from ponder.text import token_counter
from ponder.types import Chunk, Document, content_id

SAMPLE = 400  # chunks embedded for real


def real_chunks(texts: list[str]) -> list[tuple[Chunk, list[str]]]:
    """Every article chunked as ingest would, with its BM25 tokens."""
    settings = load_config().ingest
    count = token_counter("e5")
    chunks = []
    for number, text in enumerate(texts):
        document, _ = read_document(Path(f"/news/{number:05d}.txt"), text.encode("utf-8"), ReadOptions())
        chunks += [(c, tokenize(c.text)) for c in chunk_document(document, settings.chunk_size,
                                                                  settings.chunk_overlap, count)]
    return chunks


def backend_settings(backend: str, milvus_uri: str) -> dict[str, object]:
    if backend == "milvus-store":
        return {"store.backend": "milvus", **({"store.milvus_uri": milvus_uri} if milvus_uri else {})}
    return {"vectors.backend": backend, **({"vectors.milvus_uri": milvus_uri} if milvus_uri else {})}


def build(data_dir: Path, settings: dict[str, object], size: int, chunks: list[tuple[Chunk, list[str]]],
          vectors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    started = time.perf_counter()
    with Ponder(load_config(overrides={"data_dir": str(data_dir), **settings})) as ponder:
        ponder.store.claim_embedder(E5Embedder.name)
        written, replica = 0, 0
        while written < size:
            batch = chunks[: size - written]
            # one "document" per replica of the corpus: 25k chunks a transaction
            doc_id = content_id(f"replica-{replica}")
            document = Document(doc_id, f"/news/replica-{replica}", content_id(str(replica)), "", "text")
            copies = [Chunk(content_id(doc_id, c.id), doc_id, document.path, c.text, c.start, c.end)
                      for c, _ in batch]
            base = vectors[rng.integers(0, len(vectors), len(copies))]
            noisy = base + rng.normal(0, 0.05, base.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            ponder.store.put_document(document, copies, [t for _, t in batch], noisy)
            written += len(copies)
            replica += 1
        stored = time.perf_counter()
        ponder.store.flush()  # a Milvus store seals its rows and builds its indexes here
        if ponder.bm25 is not None:
            ponder.bm25.refresh()
        bm25_built = time.perf_counter()
        if ponder.vectors is not None:
            ponder.vectors.refresh()
        vectors_built = time.perf_counter()
    return {"store_s": stored - started, "bm25_s": bm25_built - stored, "ann_s": vectors_built - bm25_built}


def query_latencies(data_dir: Path, settings: dict[str, object], mode: str, queries: list[str]) -> tuple[float, float]:
    settings = {"data_dir": str(data_dir), **settings, "retrieve.mode": mode}
    with Ponder(load_config(overrides=settings)) as ponder:
        ponder.search(queries[0], top_k=10)  # loads the indexes
        latencies = []
        for query in queries:
            started = time.perf_counter()
            ponder.search(query, top_k=10)
            latencies.append(time.perf_counter() - started)
    return percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000], help="none: only --rgb")
    parser.add_argument("--backends", nargs="+", default=["local", "milvus"])
    parser.add_argument("--keep", type=Path, default=None, help="build under this folder and keep the indexes")
    parser.add_argument("--rgb", nargs="*", default=[], help="also score retrieval quality on these RGB files")
    parser.add_argument("--milvus-uri", default="", help="a Milvus server for the Milvus backends")
    args = parser.parse_args()
    if args.rgb:
        rgb_quality(args.rgb, args.backends, args.milvus_uri)
    if not args.sizes:
        return
    header("Retrieval at scale (CRUD-RAG news, replicated)")
    texts = articles()
    started = time.perf_counter()
    chunks = real_chunks(texts)
    print(f"chunked {len(texts)} articles into {len(chunks)} chunks in {time.perf_counter() - started:.0f} s")
    rng = np.random.default_rng(0)
    sample = [chunks[i][0].text for i in rng.choice(len(chunks), SAMPLE, replace=False)]
    started = time.perf_counter()
    vectors = E5Embedder().embed_passages(sample)
    print(f"embedded {SAMPLE} real chunks in {time.perf_counter() - started:.0f} s (the rest: noisy copies)")
    picker = random.Random(0)
    queries = [query_from(texts[picker.randrange(len(texts))], picker) for _ in range(100)]

    rows = ["| chunks | vectors | build: store / BM25 / ANN | disk | peak RSS | bm25 p50/p95 | dense p50/p95 | "
            "hybrid p50/p95 |", "|---|---|---|---|---|---|---|---|"]
    for size in args.sizes:
        for backend in args.backends:
            with tempfile.TemporaryDirectory() as work:
                data_dir = args.keep / f"{size}-{backend}" if args.keep else Path(work)
                if (data_dir / "built").is_file():
                    times = {"store_s": float("nan"), "bm25_s": float("nan"), "ann_s": float("nan")}
                else:
                    times = build(data_dir, backend_settings(backend, args.milvus_uri), size, chunks, vectors, rng)
                    (data_dir / "built").touch()
                latency = {mode: query_latencies(data_dir, backend_settings(backend, args.milvus_uri), mode, queries)
                           for mode in ("bm25", "dense", "hybrid")}
                disk = folder_size(data_dir) / 2**20
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
                row = (f"| {size:,} | {backend} | {times['store_s']:.0f} s / {times['bm25_s']:.0f} s / "
                       f"{times['ann_s']:.0f} s | {disk:,.0f} MiB | {peak:,.0f} MiB | " + " | ".join(
                           f"{latency[m][0]:.1f} / {latency[m][1]:.1f} ms" for m in ("bm25", "dense", "hybrid"))
                       + " |")
                rows.append(row)
                print(row, flush=True)
                if backend == "milvus-store":  # a hybrid query as one Milvus request (its RRF: equal weights)
                    one = backend_settings(backend, args.milvus_uri) | {
                        "store.milvus_fusion": "milvus", "retrieve.bm25_weight": 1.0, "retrieve.dense_weight": 1.0}
                    p50, p95 = query_latencies(data_dir, one, "hybrid", queries)
                    row = f"| {size:,} | milvus-store, one hybrid_search | | | | | | {p50:.1f} / {p95:.1f} ms |"
                    rows.append(row)
                    print(row, flush=True)
    print("\n" + "\n".join(rows))
    print("\nPeak RSS is the whole benchmark process so far (it only grows); query latency includes "
          "tokenizing / embedding the query and fetching the chunks from the store. A Milvus store builds "
          "its BM25 and ANN indexes when it seals (flush): that time is in the BM25 column.")


def rgb_quality(files: list[str], backends: list[str], milvus_uri: str) -> None:
    """Recall@5 and MRR@10 per RGB file, retriever and backend, on one set of vectors."""
    from common import shared_dir
    from retrieval import build_index, score

    from ponder.index import ChunkStore
    from ponder.index.migrate import migrate
    from ponder.index.milvus_store import MilvusStore
    from ponder.index.milvus_tables import connect_configured

    header("Retrieval quality by backend (RGB)")
    table = ["| file | retriever | " + " | ".join(f"{b} R@5 / MRR@10" for b in backends) + " |",
             "|---|---|" + "---|" * len(backends)]
    with tempfile.TemporaryDirectory() as work:
        for name in files:
            questions, data_dir = build_index(shared_dir() / "data" / "rgb" / f"{name}.json", None, Path(work))
            if "milvus-store" in backends:
                config = load_config(overrides={"data_dir": str(data_dir), **backend_settings("milvus-store",
                                                                                                milvus_uri)})
                source = ChunkStore(data_dir / "ponder.db")
                client, where = connect_configured(config.store, data_dir)
                started = time.perf_counter()
                report = migrate(source, MilvusStore(client, f"rgb_{name}", lambda: source.vector_dim, where=where))
                print(f"{name}: copied into Milvus in {time.perf_counter() - started:.0f} s, counts "
                      f"{'match' if report.verified else report.counts}")
                client.close()
                source.close()
            for mode in ("bm25", "dense", "hybrid"):
                cells = []
                for backend in backends:
                    settings = backend_settings(backend, milvus_uri) | {"retrieve.mode": mode}
                    if backend == "milvus-store":
                        settings["store.collection_prefix"] = f"rgb_{name}"
                    scores = score(questions, data_dir, settings)
                    cells.append(f"{scores['Recall@5']:.3f} / {scores['MRR@10']:.3f}")
                row = f"| {name} | {mode} | " + " | ".join(cells) + " |"
                table.append(row)
                print(row, flush=True)
    print("\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
