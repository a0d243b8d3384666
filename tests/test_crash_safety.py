"""SIGKILL in the middle of ingesting, then the same command again: the index ends up identical to an
uninterrupted run. No duplicates, no half-written document, nothing indexed before is lost."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponder import Ponder, load_config

pytestmark = pytest.mark.slow

TOPICS = ["river", "ferry", "tea", "library", "bridge", "harvest", "school", "market"]
CHINESE = ["河流", "渡轮", "茶叶", "图书馆", "桥梁", "丰收", "学校", "市场"]


def _corpus(folder: Path, start: int, count: int) -> None:
    rng = random.Random(start)
    for number in range(start, start + count):
        topic = rng.randrange(len(TOPICS))
        english = " ".join(f"The {TOPICS[topic]} report number {number} line {line} mentions {rng.randint(1, 999)} "
                           f"visitors." for line in range(30))
        chinese = "".join(f"第{number}号{CHINESE[topic]}报告第{line}行记录了{rng.randint(1, 999)}名访客。"
                          for line in range(30))
        (folder / f"doc-{number:04d}.md").write_text(f"# Report {number}\n\n{english}\n\n## 中文\n\n{chinese}\n",
                                                     encoding="utf-8")


def _ingest(data_dir: Path, *paths: Path, mode: str = "bm25") -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ponder.cli", "--data-dir", str(data_dir), "ingest", *map(str, paths)]
    env = {**os.environ, "PONDER_RETRIEVE__MODE": mode}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _documents_stored(data_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data_dir / 'ponder.db'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _snapshot(data_dir: Path, mode: str = "bm25") -> dict[str, object]:
    with Ponder(load_config(env={}, overrides={"data_dir": str(data_dir), "retrieve.mode": mode})) as ponder:
        documents = sorted((d.path, d.content_hash, d.chunk_count) for d in ponder.documents())
        chunk_ids = [cid for cid, _ in ponder.store.iter_tokens()]
        searches = {query: [(h.chunk.id, round(h.score, 4)) for h in ponder.search(query, top_k=5)]
                    for query in ("ferry report visitors", "图书馆报告", "harvest 丰收 number 7")}
        stored_chunks = sum(len(ponder.store.chunks_of(d.id)) for d in ponder.documents())
        vectors = sorted(ponder.store.vector_ids())
    return {"documents": documents, "chunk_ids": sorted(chunk_ids), "unique": len(set(chunk_ids)) == len(chunk_ids),
            "per_document_counts_match": stored_chunks == len(chunk_ids), "searches": searches, "vectors": vectors}


@pytest.mark.parametrize("mode, first_count, second_count, kill_after_fraction", [
    ("bm25", 40, 160, 0.1), ("bm25", 40, 160, 0.5), ("bm25", 40, 160, 0.9),
    # with embeddings: fewer documents (the embedder does ~5 chunks/s here); killed while embedding
    ("hybrid", 4, 16, 0.5),
])
def test_sigkill_mid_ingest_then_rerun_equals_uninterrupted(tmp_path: Path, mode: str, first_count: int,
                                                            second_count: int, kill_after_fraction: float) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _corpus(first, 0, first_count)
    _corpus(second, first_count, second_count)
    total = first_count + second_count

    reference = tmp_path / "reference"
    assert _ingest(reference, first, mode=mode).wait(300) == 0
    assert _ingest(reference, first, second, mode=mode).wait(600) == 0
    expected = _snapshot(reference, mode)
    assert len(expected["documents"]) == total and expected["unique"]
    assert len(expected["vectors"]) == (len(expected["chunk_ids"]) if mode == "hybrid" else 0)

    data = tmp_path / "interrupted"
    assert _ingest(data, first, mode=mode).wait(300) == 0
    before = _snapshot(data, mode)["documents"]
    process = _ingest(data, first, second, mode=mode)
    target = first_count + int(second_count * kill_after_fraction)
    deadline = time.monotonic() + 300
    while _documents_stored(data) < target and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.05))
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL, "the ingest finished before it could be killed"

    survived = _snapshot(data, mode)
    assert set(before) <= set(survived["documents"]), "a document indexed before the crash was lost"
    assert survived["unique"] and survived["per_document_counts_match"]  # no duplicate, no half document

    rerun = _ingest(data, first, second, mode=mode)
    assert rerun.wait(600) == 0, rerun.stderr.read().decode() if rerun.stderr else ""
    assert _snapshot(data, mode) == expected
