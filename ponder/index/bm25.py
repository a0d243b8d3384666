"""A BM25 index over the chunk store, built with bm25s and saved beside it.

bm25s builds a sparse matrix of precomputed scores in one shot, so adding documents rebuilds the
matrix from the tokens kept in the store (tokenizing is the slow part, and it is done once, at
ingest). The saved index records the store revision it reflects; a stale one is rebuilt on open.
Writes go to a temporary folder that is renamed into place, so a crash never leaves half an index.

Example::

    index = BM25Index(data_dir / "bm25", store)
    index.search(tokenize("what is RRF"), k=5)  # [(chunk_id, score), ...]
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bm25s
import numpy as np

from ponder.index.store import ChunkStore


class BM25Index:
    def __init__(self, directory: Path, store: ChunkStore):
        self.directory = directory
        self._store = store
        self._retriever: bm25s.BM25 | None = None
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._revision = -1

    def search(self, query_tokens: list[str], k: int, only: set[str] | None = None) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, score) pairs with a positive score; ``only`` restricts to those ids."""
        self.refresh()
        if self._retriever is None or not query_tokens:
            return []
        mask = None
        if only is not None:
            mask = np.zeros(len(self._ids), dtype=np.float32)
            mask[[self._position[i] for i in only if i in self._position]] = 1.0
        documents, scores = self._retriever.retrieve(
            [query_tokens], k=min(k, len(self._ids)), show_progress=False, weight_mask=mask, n_threads=0,
        )
        return [(self._ids[int(d)], float(s)) for d, s in zip(documents[0], scores[0]) if s > 0]

    def refresh(self) -> None:
        """Bring the index up to the store's revision: load it, rebuilding first if it is stale."""
        revision = self._store.revision
        if revision == self._revision:
            return
        if self._saved_revision() != revision:
            self._rebuild(revision)
        self._load()
        self._revision = revision

    def _saved_revision(self) -> int | None:
        meta = self.directory / "meta.json"
        if not meta.is_file():
            return None
        return int(json.loads(meta.read_text())["revision"])

    def _rebuild(self, revision: int) -> None:
        ids, corpus = [], []
        for chunk_id, tokens in self._store.iter_tokens():
            ids.append(chunk_id)
            corpus.append(tokens)
        staging = self.directory.with_name(self.directory.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if ids:
            retriever = bm25s.BM25()
            retriever.index(corpus, show_progress=False)
            retriever.save(str(staging / "bm25s"), show_progress=False)
        (staging / "ids.json").write_text(json.dumps(ids))
        # meta.json last: its presence marks a complete index.
        (staging / "meta.json").write_text(json.dumps({"revision": revision, "chunks": len(ids)}))
        retired = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(retired, ignore_errors=True)
        if self.directory.exists():
            self.directory.rename(retired)
        staging.rename(self.directory)
        shutil.rmtree(retired, ignore_errors=True)

    def _load(self) -> None:
        self._ids = json.loads((self.directory / "ids.json").read_text())
        self._position = {chunk_id: i for i, chunk_id in enumerate(self._ids)}
        saved = self.directory / "bm25s"
        self._retriever = bm25s.BM25.load(str(saved)) if self._ids else None
