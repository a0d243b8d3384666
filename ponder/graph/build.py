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
from typing import Protocol, Sequence

from ponder.index.store import Store
from ponder.types import Chunk, ChunkGraph, GraphUpdate, Usage

BATCH_CHUNKS = 256


class ExtractionStopped(RuntimeError):
    """The extractor cannot go on (its model endpoint failed); what it read before is kept."""


class Extractor(Protocol):
    name: str

    def extract(self, chunks: Sequence[Chunk]) -> list[ChunkGraph]: ...


def update_graph(store: Store, extractor: Extractor) -> GraphUpdate:
    """Extract from every chunk ``extractor`` has not read.

    An extractor reads a whole document at once (aliases resolve across it) unless it says
    ``whole_documents = False`` (a model, one call per chunk): then each chunk is stored as soon as
    it is read. An :class:`ExtractionStopped` ends the update with what was read kept, and its
    message in ``error``.
    """
    started = time.perf_counter()
    update = GraphUpdate(extractor.name)
    before = _counters(extractor)
    todo = store.chunks_without_graph(extractor.name)
    whole_documents = getattr(extractor, "whole_documents", True)
    groups = ([list(chunks) for _, chunks in groupby(todo, key=lambda chunk: chunk.document_id)]
              if whole_documents else [[chunk] for chunk in todo])
    batch: list[ChunkGraph] = []
    try:
        for group in groups:
            graphs = extractor.extract(group)
            batch.extend(graphs)
            update.mentions += sum(len(g.mentions) for g in graphs)
            update.relations += sum(len(g.relations) for g in graphs)
            if len(batch) >= (BATCH_CHUNKS if whole_documents else 1):
                update.chunks += _write(store, batch, extractor.name)
    except ExtractionStopped as exc:
        update.error = str(exc)
    update.chunks += _write(store, batch, extractor.name)
    after = _counters(extractor)
    update.calls = after[0] - before[0]
    update.usage = Usage(after[1] - before[1], after[2] - before[2])
    update.fallbacks = after[3] - before[3]
    update.seconds = time.perf_counter() - started
    return update


def _counters(extractor: Extractor) -> tuple[int, int, int, int]:
    """(calls, prompt tokens, completion tokens, fallbacks) so far; zeros for the offline extractor."""
    usage = getattr(extractor, "usage", Usage())
    return (getattr(extractor, "calls", 0), usage.prompt_tokens, usage.completion_tokens,
            getattr(extractor, "fallbacks", 0))


def _write(store: Store, batch: list[ChunkGraph], extractor: str) -> int:
    if batch:
        store.put_graph(batch, extractor)
    written = len(batch)
    batch.clear()
    return written
