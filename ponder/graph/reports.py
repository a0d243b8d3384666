"""Community reports: what a corpus-wide question ("what are the main themes?") is answered from.

Each top-level community of the entity graph becomes a report: its summary (a model's, once one
was written and cached, else the extractive one) presented as a passage whose chunk id is
``community:<id>``; :meth:`sources` gives the chunks behind it, which citations point to. Reports
are ranked by how much of the question they name, then by size, so a question that names nothing
("the main themes") gets the largest communities.

Example::

    reports = CommunityReports(graph, communities, store)
    hits = reports.search("What are the main themes?", top_k=6)
    reports.sources(hits[0].chunk.id)[:3]   # the chunks that community stands on
"""

from __future__ import annotations

import math

import jieba

from ponder.graph.communities import Communities, Community, extractive_summary
from ponder.graph.extract import entity_key
from ponder.graph.index import EntityGraph, Similarity
from ponder.index.store import Store
from ponder.index.tokenize import ENGLISH_STOPWORDS
from ponder.types import Chunk, Hit

PREFIX = "community:"
SOURCES = 3  # chunks cited for each report


class CommunityReports:
    def __init__(self, graph: EntityGraph, communities: Communities, store: Store,
                 similarity: Similarity | None = None):
        self._graph = graph
        self._communities = communities
        self._store = store
        self._similarity = similarity

    def search(self, query: str, top_k: int, model: str = "") -> list[Hit]:
        """The ``top_k`` most relevant top-level community reports; ``model``'s cached summary when
        there is one."""
        query_words = set(jieba.lcut(entity_key(query))) - ENGLISH_STOPWORDS - {" "}
        named = {self._graph.entities[e].key for e, _ in self._graph.match(query)}
        communities = self._top_level()
        closeness = self._closeness(query, communities)
        scored = []
        for community, close in zip(communities, closeness):
            # Ranked by its entities' names and its chunks: summaries are made only for the reports returned.
            overlap = len(query_words & {word for key in community.entities for word in key.split()})
            entities = sum(1 for key in community.entities if key in named)
            scored.append((2 * entities + overlap + 10 * close + 0.1 * math.log1p(len(community.chunk_ids)),
                           community))
        scored.sort(key=lambda item: (-item[0], item[1].id))
        return [Hit(self._as_chunk(community, self._text(community, model)), score, "community", rank)
                for rank, (score, community) in enumerate(scored[:top_k], start=1)]

    def _closeness(self, query: str, communities: list[Community]) -> list[float]:
        """Each community's mean similarity of its top chunks to the question (0 without vectors)."""
        if self._similarity is None or not communities:
            return [0.0] * len(communities)
        tops = [list(c.chunk_ids[:SOURCES]) for c in communities]
        flat = self._similarity(query, [chunk_id for top in tops for chunk_id in top])
        means, start = [], 0
        for top in tops:
            means.append(sum(flat[start:start + len(top)]) / max(len(top), 1))
            start += len(top)
        return means

    def sources(self, report_id: str) -> list[Chunk]:
        community = self._find(report_id)
        return self._store.get_chunks(list(community.chunk_ids[:SOURCES])) if community else []

    def material(self, report_id: str) -> str:
        """What a model summarises a community from: its entities (with descriptions), the relations
        among them, and the sentences of its chunks that name most of them."""
        community = self._find(report_id)
        if community is None:
            return ""
        graph = self._graph
        lines = []
        for key in community.entities[:20]:
            entity = graph.entities[graph.index[key]]
            lines.append(f"- {entity.name} ({entity.type})" + (f": {entity.description}" if entity.description else ""))
        members = set(community.entities)
        for key in community.entities[:10]:
            for neighbour, weight in graph.neighbours(graph.index[key], limit=5):
                other = graph.entities[neighbour]
                if other.key in members and key < other.key:
                    lines.append(f"- {graph.entities[graph.index[key]].name} — {other.name} ({weight:g})")
        return "\n".join(lines) + "\n\n" + extractive_summary(community, graph, self._store, max_sentences=8)

    def remember(self, report_id: str, model: str, summary: str) -> None:
        self._store.put_community_summary(_cache_key(report_id.removeprefix(PREFIX), model), summary, model)

    def cached(self, report_id: str, model: str) -> str | None:
        return self._store.community_summary(_cache_key(report_id.removeprefix(PREFIX), model)) if model else None

    def _text(self, community: Community, model: str) -> str:
        return self.cached(community.id, model) or extractive_summary(community, self._graph, self._store)

    def _top_level(self) -> list[Community]:
        return [c for c in self._communities.current() if c.level == 0]

    def _find(self, report_id: str) -> Community | None:
        wanted = report_id.removeprefix(PREFIX)
        return next((c for c in self._communities.current() if c.id == wanted), None)

    def _as_chunk(self, community: Community, text: str) -> Chunk:
        names = [self._graph.entities[self._graph.index[key]].name for key in community.entities[:3]]
        return Chunk(id=PREFIX + community.id, document_id="", path=f"community {community.id[:8]}", text=text,
                     start=0, end=len(text), heading_path=(" · ".join(names),))


def _cache_key(community_id: str, model: str) -> str:
    """A summary belongs to one community (its members hashed into its id) and one model."""
    return f"{community_id}@{model}"
