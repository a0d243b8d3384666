"""The vector index contract, run against every backend: local HNSW and Milvus (Lite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.retrieve import Filter
from tests.conftest import EXAMPLES

BACKENDS = ["local", "milvus"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_persistence_filters_and_deletes(make_ponder, tmp_path: Path, backend: str) -> None:
    settings = {"retrieve.mode": "dense", "vectors.backend": backend}
    data = tmp_path / "data"
    first = make_ponder(data, **settings)
    first.ingest([EXAMPLES])
    top = first.search("charcoal roasting of oolong", top_k=3)
    assert "Oolong" in top[0].chunk.heading_path and top[0].retriever == "dense"
    assert all(a.score >= b.score for a, b in zip(top, top[1:])) and 0 < top[0].score <= 1.0001
    first.close()

    second = make_ponder(data, **settings)  # a new instance: nothing re-embedded, same answers
    assert [h.chunk.id for h in second.search("charcoal roasting of oolong", top_k=3)] == [h.chunk.id for h in top]
    pdf_only = second.search("charcoal roasting of oolong", top_k=3, where=Filter(path_glob="*.pdf"))
    assert pdf_only and all(hit.chunk.path.endswith(".pdf") for hit in pdf_only)

    second.remove([EXAMPLES / "tea-cooperative.md"])
    after = second.search("charcoal roasting of oolong", top_k=20)
    assert after and all("tea-cooperative" not in hit.chunk.path for hit in after)
    assert len(after) == second.store.vector_count()  # every remaining chunk, nothing deleted lingers


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_catches_up_after_its_copy_is_lost(make_ponder, tmp_path: Path, backend: str) -> None:
    import shutil

    data = tmp_path / "data"
    settings = {"retrieve.mode": "dense", "vectors.backend": backend}
    first = make_ponder(data, **settings)
    first.ingest([EXAMPLES])
    first.close()
    for derived in ("vectors", "milvus.db", "milvus-meta.json"):  # the store is the source of truth
        target = data / derived
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    again = make_ponder(data, **settings)
    assert "Oolong" in again.search("charcoal roasting of oolong", top_k=1)[0].chunk.heading_path


def test_an_open_index_sees_what_another_process_ingested(make_ponder, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import write

    data = tmp_path / "data"
    server = make_ponder(data, **{"retrieve.mode": "dense"})  # stays open, as `ponder serve` would
    server.ingest([EXAMPLES])
    assert server.search("ferry timetable harbour", top_k=1)  # loads the index into memory
    extra = write(tmp_path / "new" / "ferry.md", "# Ferry\n\nThe ferry leaves the harbour at 7:15 every morning.")
    command = [sys.executable, "-m", "ponder.cli", "--data-dir", str(data), "ingest", str(extra)]
    assert subprocess.run(command, capture_output=True, timeout=120,
                          env={**os.environ, "PONDER_RETRIEVE__MODE": "dense"}).returncode == 0
    assert server.search("ferry timetable harbour", top_k=1)[0].chunk.path == str(extra.resolve())
