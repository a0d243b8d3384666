"""Graph retrieval: chunks ranked by a personalised PageRank over the entity graph.

The walk starts from the entities the question names (weighted by how rare they are) and, when
another retriever ran first, from the passages it found: what those passages name leads to the
chunks about it, which is how the second paragraph of a two-hop question is reached ("the
director of *Film X*" → the paragraph about that director). Its hits are ordinary chunks, so
filters, fusion, citations and every reasoning mode work unchanged.

Example::

    retriever = GraphRetriever(store, EntityGraph(store))
    retriever.search("Where was the director of Demon Dice born?", top_k=5)
    retriever.bridges(question, hybrid_hits[:5], count=1)   # what the first passages lead to
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ponder.graph.index import EntityGraph, Similarity
from ponder.index import Store
from ponder.index.bm25 import top_positive
from ponder.retrieve.bm25 import hits_from_scores
from ponder.retrieve.filters import Scope
from ponder.retrieve.fusion import Retriever
from ponder.types import Hit


class GraphRetriever:
    name = "graph"

    def __init__(self, store: Store, graph: EntityGraph, seed_passages: int = 5,
                 passage_share: float = 0.5, similarity: Similarity | None = None, candidates: int = 10,
                 margin: float = 0.0, concept_seeds: bool = True, dense_seeds: bool = False,
                 embed_query: Callable[[str], np.ndarray] | None = None, meaning_seeds: int = 0,
                 meaning_min: float = 0.0):
        self._store = store
        self.graph = graph
        self._seed_passages = seed_passages
        self._passage_share = passage_share
        self._similarity = similarity
        self._candidates = candidates
        self._margin = margin
        self._concept_seeds = concept_seeds
        self._dense_seeds = dense_seeds
        self._embed_query = embed_query
        self._meaning_seeds = meaning_seeds
        self._meaning_min = meaning_min

    def search(self, query: str, top_k: int, only: Scope | None = None) -> list[Hit]:
        """The ``top_k`` chunks the walk from the question's entities reaches most, among those
        ``only`` allows."""
        scores = self._walk(query, only, ())
        best = top_positive(scores, top_k)
        return hits_from_scores(self._store, [(self.graph.chunk_ids[i], float(scores[i])) for i in best], self.name)

    def bridges(self, query: str, seeds: Sequence[Hit], count: int, only: Scope | None = None) -> list[Hit]:
        """The ``count`` passages the walk from ``seeds`` reaches that ``seeds`` do not hold, chosen
        among the walk's best ``candidates`` by their similarity to the question: the walk proposes
        what the first passages lead to, the question decides which of it matters. A candidate
        less similar than ``margin`` times the seed it would displace (the last ones) is not taken."""
        scores = self._walk(query, only, seeds)
        held = {hit.chunk.id for hit in seeds}
        best = top_positive(scores, self._candidates + len(held))
        reached = [(self.graph.chunk_ids[i], float(scores[i])) for i in best]
        new = [(chunk_id, score) for chunk_id, score in reached if chunk_id not in held][:self._candidates]
        if self._similarity is not None and new:
            displaced = [hit.chunk.id for hit in seeds[len(seeds) - count:]]
            closeness = self._similarity(query, [chunk_id for chunk_id, _ in new] + displaced)
            bar = self._margin * min(closeness[len(new):], default=0.0)
            new = sorted(((c, s) for (c, _), s in zip(new, closeness) if s >= bar), key=lambda pair: -pair[1])
        return hits_from_scores(self._store, new[:count], self.name)

    def _walk(self, query: str, only: Scope | None, seeds: Sequence[Hit]) -> np.ndarray:
        graph = self.graph
        graph.refresh()
        entity_seeds = {entity: graph.specificity(entity) for entity, _ in graph.match(query)
                        if self._concept_seeds or graph.entities[entity].type != "concept"}
        if self._meaning_seeds and self._embed_query is not None:  # names the question words differently
            for entity, closeness in graph.match_by_meaning(self._embed_query(query), self._meaning_seeds,
                                                            self._meaning_min):
                entity_seeds.setdefault(entity, graph.specificity(entity) * closeness)
        held = [hit.chunk.id for hit in seeds[:self._seed_passages] if hit.chunk.id in graph.chunk_position]
        if self._dense_seeds and held and self._similarity is not None:
            weights = [max(closeness, 0.0) for closeness in self._similarity(query, held)]
        else:
            weights = [1.0 / rank for rank in range(1, len(held) + 1)]
        chunk_seeds = {graph.chunk_position[chunk_id]: weight for chunk_id, weight in zip(held, weights)}
        # With both kinds of seed, passage_share of the restart mass goes to the passages.
        scores = graph.walk(_scaled(entity_seeds, 1.0 - self._passage_share if chunk_seeds else 1.0),
                            _scaled(chunk_seeds, self._passage_share if entity_seeds else 1.0))
        if only is not None:
            allowed = np.zeros(len(scores), dtype=bool)
            allowed[[graph.chunk_position[i] for i in only.chunk_ids if i in graph.chunk_position]] = True
            scores = np.where(allowed, scores, 0.0)
        return scores


def _scaled(weights: dict[int, float], total: float) -> dict[int, float]:
    """``weights`` rescaled to sum to ``total``."""
    current = sum(weights.values())
    return {key: total * value / current for key, value in weights.items()} if current else {}


class RequeryBridger:
    """The second hop by search instead of by walk: the question plus the names its first
    passages mention most that it does not (and that some other chunk also names) is searched
    again, and the best passages the first search did not hold are the bridges.

    Example::

        bridger = RequeryBridger(hybrid, EntityGraph(store))
        bridger.bridges("Where was the director of Demon Dice born?", hybrid_hits[:5], count=1)
    """

    def __init__(self, searcher: Retriever, graph: EntityGraph, names: int = 2, seed_passages: int = 5,
                 concepts: bool = True):
        self._searcher = searcher
        self.graph = graph
        self._names = names
        self._seed_passages = seed_passages
        self._concepts = concepts

    def bridges(self, query: str, seeds: Sequence[Hit], count: int, only: Scope | None = None) -> list[Hit]:
        names = self.graph.leads(query, [hit.chunk.id for hit in seeds[:self._seed_passages]], self._names,
                                 elsewhere=True, concepts=self._concepts)
        if not names:
            return []
        held = {hit.chunk.id for hit in seeds}
        found = self._searcher.search(" ".join([query, *names]), count + len(held), only)
        return [hit for hit in found if hit.chunk.id not in held][:count]
