"""Communities of the entity graph: hierarchical Leiden (graspologic-native, MIT) over the relations
between entities, and a summary of each.

Leiden runs on the entities' relation graph; a community larger than ``max_size`` is split again
into a lower level. The last assignment is kept beside the index and seeds the next run, so after
a small ingest the communities move little and converge quickly instead of being found afresh.

Offline a community's summary is extractive: its most central entities and the sentences of its
chunks that name most of them. A chat model, when configured, writes one lazily, the first time a
question needs it, and it is cached in the store by the community's members (LazyGraphRAG: no
summary cost at ingest).

Example::

    communities = Communities(graph, data_dir / "communities.json").current()
    top = communities[0]
    top.entities[:5], top.chunk_ids[:3], extractive_summary(top, graph, store)
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import graspologic_native as leiden

from ponder.graph.extract import sentences
from ponder.graph.index import EntityGraph
from ponder.index.store import Store
from ponder.types import content_id

SEED = 42  # the same graph gives the same communities


@dataclass(frozen=True)
class Community:
    id: str  # content hash of level and members: stable while the community does not change
    level: int
    parent: str | None
    entities: tuple[str, ...]  # keys, most central first
    chunk_ids: tuple[str, ...]  # the chunks naming its entities, those naming most of them first


class Communities:
    """The communities of one graph, recomputed when the graph changed."""

    def __init__(self, graph: EntityGraph, saved: Path, max_size: int = 50):
        self._graph = graph
        self._saved = saved
        self._max_size = max_size
        self._lock = threading.Lock()
        self._revision: int | None = None
        self._communities: list[Community] = []

    def current(self) -> list[Community]:
        """Every community, the largest of the top level first, then the lower levels."""
        graph = self._graph
        graph.refresh()
        with self._lock:
            if self._revision != graph.revision:
                self._communities = self._detect()
                self._revision = graph.revision
            return self._communities

    def _detect(self) -> list[Community]:
        graph = self._graph
        related = graph.related.tocoo()
        edges = [(graph.entities[a].key, graph.entities[b].key, float(w))
                 for a, b, w in zip(related.row, related.col, related.data) if a < b]
        if not edges:
            return []
        nodes = {key for a, b, _ in edges for key in (a, b)}
        previous = {key: c for key, c in self._load_previous().items() if key in nodes}
        clusters = leiden.hierarchical_leiden(edges, starting_communities=previous or None,
                                              max_cluster_size=self._max_size, seed=SEED)
        members: dict[tuple[int, int], list[str]] = {}
        parents: dict[tuple[int, int], tuple[int, int] | None] = {}
        final: dict[str, int] = {}
        for entry in clusters:
            node = (entry.level, entry.cluster)
            members.setdefault(node, []).append(entry.node)
            parents[node] = (entry.level - 1, entry.parent_cluster) if entry.parent_cluster is not None else None
            if entry.level == 0:
                final[entry.node] = entry.cluster
        self._save(final)
        ids = {node: content_id(str(node[0]), *sorted(keys)) for node, keys in members.items()}
        found = []
        for node, keys in members.items():
            ranked = sorted(keys, key=lambda key: (-graph.centrality[graph.index[key]], key))
            parent = parents[node]
            found.append(Community(ids[node], node[0], ids.get(parent) if parent else None, tuple(ranked),
                                   tuple(self._chunks_naming(ranked))))
        return sorted(found, key=lambda c: (c.level, -len(c.entities), c.id))

    def _chunks_naming(self, keys: list[str]) -> list[str]:
        """The chunks naming these entities, those naming most of them first."""
        graph = self._graph
        counts: Counter[int] = Counter()
        for key in keys:
            counts.update(graph.chunk_positions(graph.index[key]).tolist())
        return [graph.chunk_ids[i] for i, _ in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))]

    def _load_previous(self) -> dict[str, int]:
        try:
            return {str(k): int(v) for k, v in json.loads(self._saved.read_text())["communities"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # none yet, or unreadable: start afresh

    def _save(self, assignment: dict[str, int]) -> None:
        self._saved.parent.mkdir(parents=True, exist_ok=True)
        partial = self._saved.with_suffix(".tmp")
        partial.write_text(json.dumps({"communities": assignment}, ensure_ascii=False))
        os.replace(partial, self._saved)


def extractive_summary(community: Community, graph: EntityGraph, store: Store,
                       entities: int = 8, max_sentences: int = 3) -> str:
    """A summary no model wrote: the community's top entities, then the sentences of its chunks
    that name most of them."""
    names = [graph.entities[graph.index[key]].name for key in community.entities[:entities]]
    keys = set(community.entities[:entities * 2])
    scored: list[tuple[int, int, str]] = []
    for order, chunk in enumerate(store.get_chunks(list(community.chunk_ids[:20]))):
        for sentence in sentences(chunk.text):
            named = sum(1 for key, _ in graph.extractor.entities(sentence) if key in keys)
            if named:
                scored.append((-named, order, " ".join(sentence.split())))
    best = [text for _, _, text in sorted(scored)[:max_sentences]]
    return "; ".join(names) + (".\n" + "\n".join(best) if best else ".")


def summary_parts(summary: str) -> tuple[list[str], list[str]]:
    """An :func:`extractive_summary` read back: its entity names and its sentences."""
    names, _, sentences = summary.partition("\n")
    return [name for name in names.removesuffix(".").split("; ") if name], [s for s in sentences.split("\n") if s]
