"""Combine retrievers: reciprocal rank fusion, duplicate removal, a score floor, top k.

Reciprocal rank fusion scores a chunk by ``sum(weight_r / (k + rank_r))`` over the retrievers that
returned it: it needs no score calibration between BM25 and cosine, and a chunk both find rises.

Example::

    hybrid = FusionRetriever("hybrid", [(bm25, 1.0), (dense, 1.0)], candidates=40, rrf_k=60)
    hits = hybrid.search("乌龙茶烘焙多久", top_k=5)
    hits[0].ranks  # {"bm25": 1, "dense": 2}
"""

from __future__ import annotations

import re
from typing import Protocol, Sequence

from ponder.retrieve.filters import Scope
from ponder.types import Hit


class Retriever(Protocol):
    name: str

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]: ...


def reciprocal_rank_fusion(rankings: dict[str, list[str]], weights: dict[str, float],
                           k: float) -> list[tuple[str, float]]:
    """Fused (id, score) pairs, best first (ties broken by id, so the order is deterministic)."""
    scores: dict[str, float] = {}
    for name, ranking in rankings.items():
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weights.get(name, 1.0) / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


class Bridger(Protocol):
    """Proposes passages that a first retrieval's hits lead to (the graph walk)."""

    def bridges(self, query: str, seeds: Sequence[Hit], count: int, only: Scope | None = None) -> list[Hit]: ...


class FusionRetriever:
    """Runs its retrievers side by side and fuses them; with a single retriever, passes its hits on.

    With a ``bridger`` (and ``bridge_slots`` > 0), the last slots of the top k go to passages the
    fused top k lead to but do not hold: on a two-hop question, the paragraph about the entity
    the first paragraph names, which shares too few words with the question to rank by itself.
    ``first_without``: the best hit of the fusion without that retriever (the walk) stays first, so
    a vote that helps the second passage in cannot push the best single-hop answer down.
    """

    def __init__(self, name: str, retrievers: list[tuple[Retriever, float]], candidates: int, rrf_k: float,
                 min_score: float = 0.0, bridger: Bridger | None = None, bridge_slots: int = 0,
                 first_without: str = ""):
        self.name = name
        self._retrievers = retrievers
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._min_score = min_score
        self._bridger = bridger
        self._bridge_slots = bridge_slots
        self._first_without = first_without

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        pool = max(top_k, self._candidates)
        results = {retriever.name: retriever.search(query, pool, only) for retriever, _ in self._retrievers}
        weights = {retriever.name: weight for retriever, weight in self._retrievers}
        hits = self._fuse(results, weights)
        if self._first_without in results and len(results) > 2:
            others = {name: ranked for name, ranked in results.items() if name != self._first_without}
            first = {hit.chunk.id for hit in self._fuse(others, weights)[:1]}
            hits = sorted(hits, key=lambda hit: hit.chunk.id not in first)  # stable: the rest keep their order
        kept = [hit for hit in _without_duplicates(hits) if hit.score >= self._min_score]
        if self._bridger is not None and self._bridge_slots and kept:
            slots = min(self._bridge_slots, top_k - 1)  # the best first-stage hit always stays
            bridges = self._bridger.bridges(query, kept[:top_k], slots, only)
            bridged = {hit.chunk.id for hit in bridges}
            kept = _without_duplicates(kept[:top_k - len(bridges)] + bridges
                                       + [hit for hit in kept[top_k - len(bridges):] if hit.chunk.id not in bridged])
        kept = kept[:top_k]
        return [Hit(hit.chunk, hit.score, hit.retriever, rank, hit.ranks) for rank, hit in enumerate(kept, start=1)]

    def _fuse(self, results: dict[str, list[Hit]], weights: dict[str, float]) -> list[Hit]:
        if len(results) == 1:  # one retriever: its own ranking and scores
            (hits,) = results.values()
            return hits
        chunks = {hit.chunk.id: hit.chunk for hits in results.values() for hit in hits}
        ranks: dict[str, dict[str, int]] = {}
        for name, hits in results.items():
            for hit in hits:
                ranks.setdefault(hit.chunk.id, {})[name] = hit.rank
        fused = reciprocal_rank_fusion({name: [h.chunk.id for h in hits] for name, hits in results.items()},
                                       weights, self._rrf_k)
        return [Hit(chunks[chunk_id], score, self.name, rank, ranks[chunk_id])
                for rank, (chunk_id, score) in enumerate(fused, start=1)]


def _without_duplicates(hits: list[Hit]) -> list[Hit]:
    """Drop hits whose text repeats a better hit's (the same passage in two files, say)."""
    seen: set[str] = set()
    kept = []
    for hit in hits:
        key = re.sub(r"\s+", " ", hit.chunk.text).strip().lower()
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept
