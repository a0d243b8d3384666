"""Bring the stored graph up to date: the extractor reads every chunk it has not read yet.

Runs after each ingest, so the graph is rebuilt from the store whatever happened before: chunks
stored by a run that crashed before extracting, by an older version, or read by another extractor
are read now. Each batch of documents is written in one transaction, so an interrupted build
keeps what it finished and the next one goes on from there.

Example::

    report = update_graph(store, NLPExtractor())
    report.chunks, report.seconds
"""

from __future__ import annotations

import time
from itertools import groupby
from typing import Callable, Protocol, Sequence

from ponder.index.store import ChunkStore
from ponder.types import Chunk, ChunkGraph, GraphUpdate

BATCH_CHUNKS = 256


class Extractor(Protocol):
    name: str

    def extract(self, chunks: Sequence[Chunk]) -> list[ChunkGraph]: ...


def update_graph(store: ChunkStore, extractor: Extractor,
                 on_batch: Callable[[int, int], None] | None = None) -> GraphUpdate:
    """Extract from every chunk ``extractor`` has not read; ``on_batch(done, total)`` hears progress."""
    started = time.perf_counter()
    update = GraphUpdate()
    todo = store.chunks_without_graph(extractor.name)
    batch: list[ChunkGraph] = []
    for _, document_chunks in groupby(todo, key=lambda chunk: chunk.document_id):
        graphs = extractor.extract(list(document_chunks))  # a whole document: aliases resolve across it
        batch.extend(graphs)
        update.mentions += sum(len(g.mentions) for g in graphs)
        update.relations += sum(len(g.relations) for g in graphs)
        if len(batch) >= BATCH_CHUNKS:
            update.chunks += _write(store, batch, extractor.name)
            if on_batch:
                on_batch(update.chunks, len(todo))
    update.chunks += _write(store, batch, extractor.name)
    update.seconds = time.perf_counter() - started
    return update


def _write(store: ChunkStore, batch: list[ChunkGraph], extractor: str) -> int:
    if batch:
        store.put_graph(batch, extractor)
    written = len(batch)
    batch.clear()
    return written
