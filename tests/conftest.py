"""Shared fixtures. ``../shared`` (or $PONDER_SHARED) holds real data sets; tests that need it skip
with a clear reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ponder import Ponder, load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def shared_dir() -> Path:
    return Path(os.environ.get("PONDER_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if not (path / "data").is_dir():
        pytest.skip(f"shared data not found at {path} (set PONDER_SHARED)")
    return path


@pytest.fixture
def provider():
    """The replayed OpenAI-compatible provider (tests/fake_provider.py), stopped after the test."""
    from tests.fake_provider import FakeProvider

    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_ponder(tmp_path: Path):
    """Open a Ponder on a fresh data dir; closed at the end of the test."""
    opened: list[Ponder] = []

    def make(data_dir: Path | None = None, **overrides: object) -> Ponder:
        settings = {"data_dir": str(data_dir or tmp_path / "data"), **overrides}
        ponder = Ponder(load_config(env={}, overrides=settings))
        opened.append(ponder)
        return ponder

    yield make
    for ponder in opened:
        ponder.close()


def read(path: Path, **options: object):
    """Convert a file as ingest does: (Document, warnings)."""
    from ponder.ingest import ReadOptions, read_document

    return read_document(path, path.read_bytes(), ReadOptions(**options))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
