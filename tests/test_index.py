"""BM25 ranking on a small corpus with known answers, persistence and idempotent re-ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.retrieve import Filter
from tests.conftest import CORPUS, EXAMPLES, write


@pytest.mark.parametrize("query, expected", [
    ("Which volcano erupts in Sicily?", "volcano.txt"),
    ("How many countries does the Danube flow through?", "river.txt"),
    ("why does sourdough rise slowly", "bread.md"),
    ("大熊猫吃什么？", "熊猫.txt"),
    ("长城有多长", "长城.txt"),
    ("京沪高铁的最高时速是多少", "高铁.txt"),
])
@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_ranks_the_right_document_first(make_ponder, corpus: Path, query: str, expected: str,
                                                  mode: str) -> None:
    ponder = make_ponder(**{"retrieve.mode": mode})
    ponder.ingest([corpus])
    hits = ponder.search(query, top_k=3)
    assert hits, query
    assert Path(hits[0].chunk.path).name == expected
    assert hits[0].rank == 1 and hits[0].retriever == mode
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    if mode == "hybrid":
        assert set(hits[0].ranks) == {"bm25", "dense"}


def test_query_with_no_known_words_finds_nothing(make_ponder, corpus: Path) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25"})
    ponder.ingest([corpus])
    assert ponder.search("quantum chromodynamics", top_k=5) == []


def test_index_persists_across_instances(make_ponder, corpus: Path, tmp_path: Path) -> None:
    first = make_ponder(tmp_path / "data")
    first.ingest([corpus])
    first.close()
    second = make_ponder(tmp_path / "data")
    hits = second.search("Danube Black Sea", top_k=1)
    assert Path(hits[0].chunk.path).name == "river.txt"
    assert len(second.documents()) == len(CORPUS)


def test_reingest_is_idempotent_and_changes_replace_old_chunks(make_ponder, corpus: Path) -> None:
    ponder = make_ponder()
    first = ponder.ingest([corpus])
    assert first.count("ingested") == len(CORPUS)
    chunks_before = ponder.store.chunk_count()
    revision = ponder.store.revision

    again = ponder.ingest([corpus])
    assert again.count("unchanged") == len(CORPUS) and again.count("ingested") == 0
    assert ponder.store.chunk_count() == chunks_before
    assert ponder.store.revision == revision

    write(corpus / "river.txt", "The Rhine flows from the Alps to the North Sea.")
    changed = ponder.ingest([corpus])
    assert changed.count("ingested") == 1
    assert ponder.store.chunk_count() == chunks_before
    assert not any("Danube" in hit.chunk.text for hit in ponder.search("Danube", top_k=10))
    assert Path(ponder.search("Rhine Alps", top_k=1)[0].chunk.path).name == "river.txt"
    assert ponder.store.vector_count() == ponder.store.chunk_count()


def test_search_can_be_limited_to_documents(make_ponder, corpus: Path) -> None:
    ponder = make_ponder()
    ponder.ingest([corpus])
    ponder.ingest([EXAMPLES])
    examples = [d.id for d in ponder.documents() if Path(d.path).parent == EXAMPLES]
    hits = ponder.search("volcano Sicily tea oolong", top_k=10, where=Filter(document_ids=tuple(examples)))
    assert hits and all(Path(h.chunk.path).parent == EXAMPLES for h in hits)


def test_stale_index_is_rebuilt_from_the_store(make_ponder, corpus: Path, tmp_path: Path) -> None:
    import shutil

    ponder = make_ponder(tmp_path / "data")
    ponder.ingest([corpus])
    ponder.close()
    shutil.rmtree(tmp_path / "data" / "bm25")  # lost or never written: the store is the source of truth
    reopened = make_ponder(tmp_path / "data")
    assert Path(reopened.search("Etna volcano", top_k=1)[0].chunk.path).name == "volcano.txt"


def test_bm25_top_k_keeps_positive_scores_best_first_ties_by_position() -> None:
    import numpy as np

    from ponder.index.bm25 import top_positive

    scores = np.array([0, 2, 5, 0, 5, 1, 2, 2], dtype=np.float32)
    assert top_positive(scores, 3).tolist() == [2, 4, 1]  # 5, 5, then the first of the three 2s
    assert top_positive(scores, 10).tolist() == [2, 4, 1, 6, 7, 5]  # zeros never returned
    assert top_positive(np.zeros(5, dtype=np.float32), 2).tolist() == []
