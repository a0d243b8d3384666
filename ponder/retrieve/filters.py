"""Metadata filters, applied before ranking: they decide which chunks a retriever may return.

Example::

    Filter(path_glob="*/contracts/*.pdf").chunk_ids(store)  # the chunk ids of matching documents
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ponder.index import ChunkStore


@dataclass(frozen=True)
class Filter:
    document_ids: tuple[str, ...] | None = None
    path_glob: str | None = None
    ingested_after: float | None = None  # Unix time
    ingested_before: float | None = None

    def chunk_ids(self, store: ChunkStore) -> set[str] | None:
        """The chunks allowed, or None when the filter allows everything."""
        if self == Filter():
            return None
        allowed = [
            doc.id for doc in store.documents()
            if (self.document_ids is None or doc.id in self.document_ids)
            and (self.path_glob is None or fnmatch.fnmatch(doc.path, self.path_glob))
            and (self.ingested_after is None or doc.ingested_at >= self.ingested_after)
            and (self.ingested_before is None or doc.ingested_at < self.ingested_before)
        ]
        return set(store.chunk_ids_of(allowed))
