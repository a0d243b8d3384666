"""Copy a local index into Milvus (``ponder migrate --to milvus``): documents, chunks, their vectors
as stored (nothing is re-embedded), the entity graph and community summaries; then count both.

Resumable: a document already in the target with the same content is not copied again, and a
chunk's graph rows replace any copied before.

Example::

    report = migrate(ChunkStore(data_dir / "ponder.db"), MilvusStore(client, "ponder", lambda: 384))
    assert report.verified, report.counts
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ponder.index.milvus_store import MilvusStore
from ponder.index.store import ChunkStore, StoredDocument


@dataclass
class MigrationReport:
    copied: int = 0
    unchanged: int = 0
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # what -> (source, target)

    @property
    def verified(self) -> bool:
        return all(source == target for source, target in self.counts.values())


def migrate(source: ChunkStore, target: MilvusStore,
            on_document: Callable[[StoredDocument], None] | None = None) -> MigrationReport:
    report = MigrationReport()
    if source.embedder:
        target.claim_embedder(source.embedder)
    for document in source.documents():
        if target.content_hash(document.id) == document.content_hash:
            report.unchanged += 1
            continue
        chunks = source.chunks_of(document.id)
        found, vectors = source.get_vectors([chunk.id for chunk in chunks])
        complete = len(found) == len(chunks)
        target.put_stored(document, chunks, vectors if complete and chunks else None)
        if found and not complete:  # a crash left some chunks without vectors: copy those there are
            target.put_vectors(found, vectors)
        report.copied += 1
        if on_document:
            on_document(document)
    target.set_vector_identity(source.embedder, source.vectors_epoch)
    target.put_graph_export(source.graph_export())
    source_graph, target_graph = source.graph_counts(), target.graph_counts()
    report.counts = {
        "documents": (len(source.documents()), len(target.documents())),
        "chunks": (source.chunk_count(), target.chunk_count()),
        "vectors": (source.vector_count(), target.vector_count()),
        **{name: (source_graph.get(name, 0), target_graph.get(name, 0)) for name in source_graph},
    }
    return report
