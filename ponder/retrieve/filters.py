"""Metadata filters, applied before ranking: they decide which chunks a retriever may return.

``kind`` keeps ``figure`` or ``text`` chunks only. Dates are Unix times: ``modified_*`` compare the
file's modification time (the document's date),
``ingested_*`` when Ponder stored it. Bounds are inclusive below, exclusive above.

Example::

    Filter(path_glob="*/contracts/*.pdf", modified_after=parse_date("2024-01-01")).chunk_ids(store)
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from ponder.index import Store
from ponder.index.store import StoredDocument

PassageKind = Literal["figure", "text"]


@dataclass(frozen=True)
class Filter:
    document_ids: tuple[str, ...] | None = None
    path_glob: str | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    ingested_after: float | None = None
    ingested_before: float | None = None
    kind: PassageKind | None = None

    def chunk_ids(self, store: Store) -> set[str] | None:
        """The chunks allowed, or None when the filter allows everything."""
        if self == Filter():
            return None
        return set(store.chunk_ids_of([doc.id for doc in store.documents() if self.allows(doc)], self.kind))

    def scope(self, store: Any) -> Scope | None:
        """What a search may return, worked out once for all its retrievers; None: everything."""
        return None if self == Filter() else Scope(self, store)

    def allows(self, doc: StoredDocument) -> bool:
        return ((self.document_ids is None or doc.id in self.document_ids)
                and (self.path_glob is None or fnmatch.fnmatch(doc.path, self.path_glob))
                and _within(doc.modified_at, self.modified_after, self.modified_before)
                and _within(doc.ingested_at, self.ingested_after, self.ingested_before))


class Scope:
    """The chunks one search may return: as chunk ids for the indexes in this process (local BM25,
    HNSW, the graph walk), as an expression for a Milvus store's server-side searches. Each form is
    computed on first use only."""

    def __init__(self, where: Filter, store: Any):
        self.where = where
        self._store = store

    @cached_property
    def chunk_ids(self) -> set[str]:
        return self.where.chunk_ids(self._store) or set()

    @cached_property
    def expression(self) -> str:
        return self._store.filter_expression(self.where)


def _within(value: float | None, after: float | None, before: float | None) -> bool:
    if after is None and before is None:
        return True
    # A document without a date cannot be shown to fall inside a date range.
    return value is not None and (after is None or value >= after) and (before is None or value < before)


def parse_date(text: str) -> float:
    """Unix time of an ISO 8601 date or date-time (``2024-03-01``, ``2024-03-01T12:00``), local time
    unless it carries an offset. Raises ValueError naming the accepted forms."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
