"""Graph stage: entities and relations extracted from chunks, kept in the store with the chunks
they came from; the entity graph they form; its communities.

* :mod:`~ponder.graph.extract` — the offline extractor (``graph.extractor = "nlp"``).
* :mod:`~ponder.graph.llm_extract` — the model extractor (``graph.extractor = "llm"``).
* :mod:`~ponder.graph.build` — brings the stored graph up to date after ingest.
* :mod:`~ponder.graph.index` — the graph in memory, matched against questions and walked.
"""

from ponder.graph.build import ExtractionStopped, Extractor, update_graph
from ponder.graph.extract import NLPExtractor, entity_key
from ponder.graph.index import Entity, EntityGraph

__all__ = ["Entity", "EntityGraph", "ExtractionStopped", "Extractor", "NLPExtractor", "entity_key", "update_graph"]
