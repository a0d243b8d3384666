"""The entity graph as data for people: a summary, one entity with its neighbours, and the small
graph around an answer. ``ponder graph``, the HTTP server and the web page all show these.

Example::

    summary(graph, communities, store, top=10)["top_entities"][0]   # {"name", "type", "chunks", ...}
    entity(graph, store, "Zara Quill")["neighbours"]                 # [{"name", "weight", "chunk_ids"}, ...]
    around(graph, "Who directed Demon Film?", cited_chunk_ids)       # {"nodes": [...], "edges": [...]}
"""

from __future__ import annotations

from typing import Any

from ponder.graph.communities import Community, extractive_summary
from ponder.graph.extract import entity_key
from ponder.graph.index import EntityGraph
from ponder.index.store import Store
from ponder.types import Chunk


def summary(graph: EntityGraph, communities: list[Community], store: Store, top: int = 15) -> dict[str, Any]:
    """Counts, the entities named in most chunks, and the largest top-level communities."""
    graph.refresh()
    ranked = sorted(range(len(graph.entities)), key=lambda i: (-graph.entities[i].chunks, graph.entities[i].key))
    top_level = [c for c in communities if c.level == 0]
    return {
        "entities": len(graph.entities), "chunks": len(graph.chunk_ids), "relations": graph.related.nnz // 2,
        "stored": store.graph_counts(), "communities": len(top_level),
        "top_entities": [_entity_row(graph, i) | {"related": int((graph.related.getrow(i) > 0).sum())}
                         for i in ranked[:top]],
        "top_communities": [{"id": c.id, "entities": len(c.entities), "chunks": len(c.chunk_ids),
                             "summary": extractive_summary(c, graph, store, entities=6, max_sentences=1)}
                            for c in top_level[:top]],
    }


def find(graph: EntityGraph, name: str) -> tuple[int | None, list[str]]:
    """The entity called ``name`` (any case or width), or None and up to five names containing it."""
    graph.refresh()
    key = entity_key(name)
    if key in graph.index:
        return graph.index[key], []
    return None, [e.name for e in graph.entities if key and key in e.key][:5]


def entity(graph: EntityGraph, store: Store, position: int, limit: int = 20) -> dict[str, Any]:
    """One entity: what it is, the chunks naming it, and its neighbours with the chunks relating them."""
    found = graph.entities[position]
    sources = store.relation_sources(found.key)
    neighbours = []
    for other, weight in graph.neighbours(position, limit):
        key = graph.entities[other].key
        pair = (min(found.key, key), max(found.key, key))
        neighbours.append(_entity_row(graph, other) | {"weight": weight, "chunk_ids": sources.get(pair, [])})
    return _entity_row(graph, position) | {"description": found.description,
                                           "chunk_ids": graph.chunks_of(position)[:limit], "neighbours": neighbours}


def around(graph: EntityGraph, text: str, chunks: list[Chunk], per_entity: int = 3,
           most: int = 12) -> dict[str, Any]:
    """The entities an answer stands on — named in ``text`` (the question) or most named in its cited
    ``chunks`` — with their strongest neighbours, and the relations among them all."""
    graph.refresh()
    seeds = [position for position, _ in graph.match(text)]
    for chunk in chunks:
        row = graph.chunk_position.get(chunk.id)
        if row is not None:
            named = graph.mentions.getrow(row)
            seeds += [int(named.indices[i]) for i in (-named.data).argsort()[:per_entity]]
    seeds = list(dict.fromkeys(seeds))[:most]
    nodes = list(seeds)
    for position in seeds:
        nodes += [other for other, _ in graph.neighbours(position, per_entity)]
    nodes = list(dict.fromkeys(nodes))[:most * 2]
    chosen = set(nodes)
    edges = []
    for position in nodes:
        for other, weight in graph.neighbours(position, limit=50):
            if other in chosen and position < other:
                edges.append({"source": graph.entities[position].key, "target": graph.entities[other].key,
                              "weight": weight})
    return {"nodes": [_entity_row(graph, p) | {"seed": p in seeds} for p in nodes], "edges": edges}


def _entity_row(graph: EntityGraph, position: int) -> dict[str, Any]:
    found = graph.entities[position]
    return {"id": found.key, "name": found.name, "type": found.type, "chunks": found.chunks}
