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


def numbered_passages(*texts: str):
    """Passages as a mode numbers them for a prompt: ``[(1, hit), (2, hit)…]``, chunk ``c<n>`` each."""
    from ponder.types import Chunk, Hit

    return [(n, Hit(Chunk(f"c{n}", "d", "p.txt", text, 0, len(text)), 1.0, "bm25", n))
            for n, text in enumerate(texts, start=1)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Six one-passage documents, three English and three Chinese, each the answer to one question
# (test_index, test_store_contract).
CORPUS = {
    "volcano.txt": "Mount Etna is an active volcano on the east coast of Sicily. It erupts several times a year.",
    "river.txt": "The Danube flows through ten countries before it reaches the Black Sea.",
    "bread.md": "# Baking\n\nSourdough bread rises slowly because wild yeast ferments the dough overnight.",
    "熊猫.txt": "大熊猫主要生活在四川、陕西和甘肃的山区，以竹子为主要食物。",
    "长城.txt": "长城是古代中国修建的军事防御工程，总长度超过两万公里。",
    "高铁.txt": "京沪高速铁路全长一千三百多公里，最高运营时速为三百五十公里。",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    for name, text in CORPUS.items():
        write(folder / name, text)
    return folder
