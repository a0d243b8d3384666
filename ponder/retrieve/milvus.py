"""Retrievers for a Milvus store: BM25 and dense search run inside Milvus, filters as expressions.

By default both rank server-side and fuse in Ponder (weighted reciprocal rank fusion, as for the
local store): Milvus's own rankers are plain RRF and score-weighted sums, and neither takes
per-retriever weights on ranks, so fusing here keeps ``retrieve.dense_weight`` / ``bm25_weight``
meaning the same on both backends. With ``store.milvus_fusion = "milvus"`` a hybrid query is
instead one Milvus hybrid search fused by Milvus's (unweighted) RRF: :class:`MilvusHybridRetriever`.

Example::

    hybrid = FusionRetriever("hybrid", [(MilvusBM25Retriever(store), 1.0),
                                        (MilvusDenseRetriever(store, embedder), 3.0)], candidates=40, rrf_k=60)
"""

from __future__ import annotations

from ponder.index.embedders import Embedder
from ponder.index.milvus_store import MilvusStore
from ponder.retrieve.bm25 import ranked_hits
from ponder.retrieve.filters import Scope
from ponder.types import Hit


class MilvusBM25Retriever:
    name = "bm25"

    def __init__(self, store: MilvusStore):
        self._store = store

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        return ranked_hits(self._store.keyword_search(query, top_k, only.expression if only else ""), self.name)


class MilvusDenseRetriever:
    name = "dense"

    def __init__(self, store: MilvusStore, embedder: Embedder):
        self._store = store
        self._embedder = embedder

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        vector = self._embedder.embed_query(query)
        return ranked_hits(self._store.vector_search(vector, top_k, only.expression if only else ""), self.name)


class MilvusHybridRetriever:
    """BM25 and dense in one Milvus hybrid search, fused by Milvus's RRF ranker."""

    name = "hybrid"

    def __init__(self, store: MilvusStore, embedder: Embedder, rrf_k: float, candidates: int):
        self._store = store
        self._embedder = embedder
        self._rrf_k = rrf_k
        self._candidates = candidates

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        found = self._store.hybrid_search(query, self._embedder.embed_query(query), top_k, self._rrf_k,
                                          self._candidates, only.expression if only else "")
        return ranked_hits(found, self.name)
