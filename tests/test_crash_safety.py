"""SIGKILL in the middle of ingesting, then the same command again: the index ends up identical to an
uninterrupted run. No duplicates, no half-written document, nothing indexed before is lost."""

from __future__ import annotations

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


def _ingest(data_dir: Path, *paths: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ponder.cli", "--data-dir", str(data_dir), "ingest", *map(str, paths)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _documents_stored(data_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data_dir / 'ponder.db'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _snapshot(data_dir: Path) -> dict[str, object]:
    with Ponder(load_config(env={}, overrides={"data_dir": str(data_dir)})) as ponder:
        documents = sorted((d.path, d.content_hash, d.chunk_count) for d in ponder.documents())
        chunk_ids = [cid for cid, _ in ponder.store.iter_tokens()]
        searches = {query: [(h.chunk.id, round(h.score, 4)) for h in ponder.search(query, top_k=5)]
                    for query in ("ferry report visitors", "图书馆报告", "harvest 丰收 number 7")}
        stored_chunks = sum(len(ponder.store.chunks_of(d.id)) for d in ponder.documents())
    return {"documents": documents, "chunk_ids": sorted(chunk_ids), "unique": len(set(chunk_ids)) == len(chunk_ids),
            "per_document_counts_match": stored_chunks == len(chunk_ids), "searches": searches}


@pytest.mark.parametrize("kill_after_fraction", [0.1, 0.5, 0.9])
def test_sigkill_mid_ingest_then_rerun_equals_uninterrupted(tmp_path: Path, kill_after_fraction: float) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _corpus(first, 0, 40)
    _corpus(second, 40, 160)

    reference = tmp_path / "reference"
    assert _ingest(reference, first).wait(120) == 0
    assert _ingest(reference, first, second).wait(300) == 0
    expected = _snapshot(reference)
    assert len(expected["documents"]) == 200 and expected["unique"]

    data = tmp_path / "interrupted"
    assert _ingest(data, first).wait(120) == 0
    before = _snapshot(data)["documents"]
    process = _ingest(data, first, second)
    target = 40 + int(160 * kill_after_fraction)
    deadline = time.monotonic() + 300
    while _documents_stored(data) < target and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.05))
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL, "the ingest finished before it could be killed"

    survived = _snapshot(data)
    assert set(before) <= set(survived["documents"]), "a document indexed before the crash was lost"
    assert survived["unique"] and survived["per_document_counts_match"]  # no duplicate, no half document

    rerun = _ingest(data, first, second)
    assert rerun.wait(300) == 0, rerun.stderr.read().decode() if rerun.stderr else ""
    assert _snapshot(data) == expected
