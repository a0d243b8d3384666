"""Dense retrieval: the query's embedding against the chunks' embeddings (cosine).

Example::

    retriever = DenseRetriever(store, LocalVectorIndex(data_dir / "vectors", store), E5Embedder())
    retriever.search("how long is the oolong roasted", top_k=5)
"""

from __future__ import annotations

from ponder.index import ChunkStore
from ponder.index.embedders import Embedder
from ponder.index.vectors import VectorIndex
from ponder.retrieve.bm25 import hits_from_scores
from ponder.retrieve.filters import Scope
from ponder.types import Hit


class DenseRetriever:
    name = "dense"

    def __init__(self, store: ChunkStore, index: VectorIndex, embedder: Embedder):
        self._store = store
        self._index = index
        self._embedder = embedder

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        scored = self._index.search(self._embedder.embed_query(query), top_k, only.chunk_ids if only else None)
        return hits_from_scores(self._store, scored, self.name)
