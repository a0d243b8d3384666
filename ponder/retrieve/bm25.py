"""Keyword retrieval: BM25 over Chinese- and English-aware tokens.

Example::

    retriever = BM25Retriever(store, BM25Index(data_dir / "bm25", store))
    for hit in retriever.search("乌龙茶烘焙多久", top_k=5):
        print(hit.rank, hit.score, hit.chunk.location())
"""

from __future__ import annotations

from ponder.index import BM25Index, ChunkStore, Store, tokenize
from ponder.retrieve.filters import Scope
from ponder.types import Chunk, Hit


class BM25Retriever:
    name = "bm25"

    def __init__(self, store: ChunkStore, index: BM25Index):
        self._store = store
        self._index = index

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        """The ``top_k`` best chunks for ``query`` among those ``only`` allows."""
        allowed = only.chunk_ids if only else None
        return hits_from_scores(self._store, self._index.search(tokenize(query), top_k, only=allowed), self.name)


def hits_from_scores(store: Store, scored: list[tuple[str, float]], retriever: str) -> list[Hit]:
    """Ranked hits from (chunk id, score) pairs, best first, with the chunks fetched from the store."""
    chunks = {chunk.id: chunk for chunk in store.get_chunks([chunk_id for chunk_id, _ in scored])}
    return ranked_hits([(chunks[chunk_id], score) for chunk_id, score in scored if chunk_id in chunks], retriever)


def ranked_hits(found: list[tuple[Chunk, float]], retriever: str) -> list[Hit]:
    """Hits from (chunk, score) pairs, best first."""
    return [Hit(chunk=chunk, score=score, retriever=retriever, rank=rank, ranks={retriever: rank})
            for rank, (chunk, score) in enumerate(found, start=1)]
