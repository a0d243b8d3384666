"""The entity graph as files other tools open: GraphML (Gephi, yEd, Neo4j's APOC import, networkx)
and JSON (node-link, as d3 and networkx's ``node_link_graph`` read it).

Nodes are entities (name, type, chunks naming it, mention weight, level-0 community); edges are
relations (weight, and the chunks that state them, so every edge leads back to its sources).

Example::

    write_graph(graph, communities, store, Path("graph.graphml"))
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ponder.graph.communities import Community
from ponder.graph.index import EntityGraph
from ponder.index.store import Store

FORMATS = (".graphml", ".json")
_NODE_FIELDS = (("name", "string"), ("type", "string"), ("chunks", "int"), ("weight", "double"),
                ("community", "string"), ("description", "string"))
_EDGE_FIELDS = (("weight", "double"), ("chunk_ids", "string"))


def graph_data(graph: EntityGraph, communities: list[Community], store: Store) -> dict[str, Any]:
    """Node-link data: ``{"nodes": [...], "links": [...]}``."""
    graph.refresh()
    community_of = {key: c.id for c in communities if c.level == 0 for key in c.entities}
    nodes = [{"id": e.key, "name": e.name, "type": e.type, "chunks": e.chunks, "weight": e.weight,
              "community": community_of.get(e.key, ""), "description": e.description} for e in graph.entities]
    sources = store.relation_sources()
    related = graph.related.tocoo()
    links = []
    for a, b, weight in zip(related.row, related.col, related.data):
        if a < b:  # each undirected relation once, its ends in key order as the store keys them
            pair = tuple(sorted((graph.entities[a].key, graph.entities[b].key)))
            links.append({"source": pair[0], "target": pair[1], "weight": float(weight),
                          "chunk_ids": sources.get(pair, [])})
    return {"directed": False, "multigraph": False, "nodes": nodes, "links": links}


def graph_text(graph: EntityGraph, communities: list[Community], store: Store, suffix: str) -> tuple[str, dict]:
    """The graph as ``.graphml`` or ``.json`` text, and its node and edge counts."""
    if suffix not in FORMATS:
        raise ValueError(f"unknown graph format '{suffix}'; use one of: {', '.join(FORMATS)}")
    data = graph_data(graph, communities, store)
    text = json.dumps(data, ensure_ascii=False, indent=1) if suffix == ".json" else _graphml(data)
    return text, {"nodes": len(data["nodes"]), "edges": len(data["links"])}


def write_graph(graph: EntityGraph, communities: list[Community], store: Store, path: Path) -> dict[str, int]:
    """Write the graph to ``path`` (``.graphml`` or ``.json``); the node and edge counts."""
    if path.suffix not in FORMATS:
        raise ValueError(f"{path}: unknown graph format '{path.suffix}'; use one of: {', '.join(FORMATS)}")
    text, counts = graph_text(graph, communities, store, path.suffix)
    path.write_text(text, encoding="utf-8")
    return counts


def _graphml(data: dict[str, Any]) -> str:
    root = ET.Element("graphml", xmlns="http://graphml.graphdrawing.org/xmlns")
    for scope, fields in (("node", _NODE_FIELDS), ("edge", _EDGE_FIELDS)):
        for name, kind in fields:
            ET.SubElement(root, "key", {"id": f"{scope}_{name}", "for": scope, "attr.name": name, "attr.type": kind})
    body = ET.SubElement(root, "graph", id="entities", edgedefault="undirected")
    for node in data["nodes"]:
        element = ET.SubElement(body, "node", id=node["id"])
        for name, _ in _NODE_FIELDS:
            ET.SubElement(element, "data", key=f"node_{name}").text = str(node[name])
    for link in data["links"]:
        element = ET.SubElement(body, "edge", source=link["source"], target=link["target"])
        ET.SubElement(element, "data", key="edge_weight").text = str(link["weight"])
        ET.SubElement(element, "data", key="edge_chunk_ids").text = " ".join(link["chunk_ids"])
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
