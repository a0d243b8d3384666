"""Building one data directory's parts from the config: the store and what is searched beside it,
the retriever that fuses them, and what answering checks passages and consults the graph with.

:class:`~ponder.api.Ponder` calls these; the model clients and the embedder come from
:class:`~ponder.backends.Backends`, read when first needed, so nothing here loads a model early.

Example::

    backends = Backends(config)
    index = open_index(config, backends)
    retriever = make_retriever(config, index, backends)
    hits = retriever.search("How long is the oolong roasted?", 5, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ponder.backends import Backends
from ponder.config import Config, RetrieveConfig
from ponder.graph import EntityGraph
from ponder.graph.communities import Communities
from ponder.graph.reports import CommunityReports
from ponder.index import BM25Index, ChunkStore, Store, StoreError
from ponder.index.embedders import Embedder
from ponder.index.milvus_store import MilvusStore
from ponder.index.milvus_tables import connect_configured
from ponder.index.vectors import LocalVectorIndex, MilvusVectorIndex, VectorIndex
from ponder.reason import Evidence, GraphAccess
from ponder.reason.extractive import SentenceScorer
from ponder.reason.grounding import GroundingChecker
from ponder.reason.prompts import PassageImages
from ponder.retrieve import BM25Retriever, DenseRetriever, FusionRetriever, Retriever
from ponder.retrieve.fusion import Bridger
from ponder.retrieve.graph import GraphRetriever, RequeryBridger
from ponder.retrieve.milvus import MilvusBM25Retriever, MilvusDenseRetriever, MilvusHybridRetriever

Similarity = Callable[[str, list[str]], list[float]]


@dataclass
class Index:
    """A data directory's chunk store and what is searched beside it: BM25 and vectors derived from
    a local store (a Milvus store searches server-side, so both are None), and the entity graph (a
    cache beside either store)."""

    store: ChunkStore | MilvusStore
    bm25: BM25Index | None
    vectors: VectorIndex | None
    graph: EntityGraph

    @property
    def is_local(self) -> bool:
        return isinstance(self.store, ChunkStore)

    def refresh(self, settings: RetrieveConfig) -> None:
        """Bring what is searched up to date with the store (after an ingest, a removal, a reindex)."""
        self.store.flush()
        if self.bm25 is not None:
            self.bm25.refresh()
        if self.vectors is not None and settings.uses_vectors:
            self.vectors.refresh()
        if settings.uses_graph:
            self.graph.refresh()

    def close(self) -> None:
        if self.vectors is not None:
            self.vectors.close()
        self.store.close()


def open_index(config: Config, backends: Backends) -> Index:
    """The configured store (``store.backend``), with BM25 and vectors beside a local one."""
    settings = config.store
    data_dir = config.data_path
    name_embedder = (lambda: backends.embedder) if config.graph.meaning_seeds else None

    def graph(store: Store) -> EntityGraph:
        return EntityGraph(store, data_dir / "graph", config.graph.synonym_weight, name_embedder)

    if settings.backend == "local":
        local = ChunkStore(data_dir / "ponder.db", settings.claim_ttl_s)
        return Index(local, BM25Index(data_dir / "bm25", local), _vector_index(config, local), graph(local))
    client, uri = connect_configured(settings, data_dir)
    milvus = MilvusStore(client, settings.collection_prefix, lambda: len(backends.embedder.embed_query("dimension")),
                         settings.claim_ttl_s, where=uri)
    return Index(milvus, None, None, graph(milvus))


def _vector_index(config: Config, store: ChunkStore) -> VectorIndex:
    settings = config.vectors
    if settings.backend == "milvus":
        uri = settings.milvus_uri or str(config.data_path / "milvus.db")
        return MilvusVectorIndex(uri, settings.collection, store, config.data_path / "milvus-meta.json",
                                 settings.milvus_token)
    return LocalVectorIndex(config.data_path / "vectors", store)


def similarity_to_question(store: Store, backends: Backends) -> Similarity:
    """Cosine of a question to each chunk, from the stored vectors (0 for a chunk without one)."""
    def similarity(query: str, chunk_ids: list[str]) -> list[float]:
        found, vectors = store.get_vectors(chunk_ids)
        closeness = dict(zip(found, (vectors @ backends.embedder.embed_query(query)).tolist())) if found else {}
        return [closeness.get(chunk_id, 0.0) for chunk_id in chunk_ids]
    return similarity


def make_retriever(config: Config, index: Index, backends: Backends) -> FusionRetriever:
    """The retriever ``retrieve.mode`` names: BM25, dense and the graph walk fused by rank, with the
    graph's bridge to second hops in ``hybrid+graph``."""
    settings = config.retrieve
    store = index.store
    choices: list[tuple[Retriever, float]] = []
    if settings.uses_bm25:
        choices.append((_keyword(index), settings.bm25_weight))
    if settings.uses_vectors:
        if store.chunk_count() and not store.vector_count():
            raise StoreError(f"the index in {store.where} has no vectors (ingested with retrieve.mode = "
                             f"'bm25'?); run `ponder reindex` to embed it")
        store.claim_embedder(backends.embedder.name)
        choices.append((_dense(index, backends.embedder), settings.dense_weight))
    if settings.mode == "hybrid" and isinstance(store, MilvusStore) and config.store.milvus_fusion == "milvus":
        choices = [(MilvusHybridRetriever(store, backends.embedder, settings.rrf_k, settings.candidates), 1.0)]
    first_stage = list(choices)
    graph = config.graph
    meaning = _meaning(config, backends)
    if settings.uses_graph:  # the walk from the question's entities votes with the others
        # Alone, the walk has nothing but the question's entities to start from: compounds too.
        seeds = graph.concept_seeds or settings.mode == "graph"
        choices.append((GraphRetriever(store, index.graph, concept_seeds=seeds, **meaning), graph.weight))
    bridger: Bridger | None = None
    if settings.mode == "hybrid+graph" and graph.bridge == "requery":
        hybrid = FusionRetriever("hybrid", first_stage, settings.candidates, settings.rrf_k, settings.min_score)
        bridger = RequeryBridger(hybrid, index.graph, seed_passages=graph.seed_passages,
                                 concepts=graph.concept_seeds)
    elif settings.mode == "hybrid+graph":
        bridger = GraphRetriever(store, index.graph, graph.seed_passages, graph.passage_share,
                                 similarity_to_question(store, backends), graph.candidates, graph.bridge_margin,
                                 graph.concept_seeds, graph.seed_weights == "dense", **meaning)
    return FusionRetriever(settings.mode, choices, settings.candidates, settings.rrf_k, settings.min_score, bridger,
                           graph.bridge_slots, "graph" if graph.first_hit_kept else "")


def _keyword(index: Index) -> Retriever:
    """BM25: over the index beside a local store, or run by Milvus."""
    if isinstance(index.store, MilvusStore):
        return MilvusBM25Retriever(index.store)
    assert index.bm25 is not None  # open_index builds one beside every local store
    return BM25Retriever(index.store, index.bm25)


def _dense(index: Index, embedder: Embedder) -> Retriever:
    """Dense: over the vector index beside a local store, or run by Milvus."""
    if isinstance(index.store, MilvusStore):
        return MilvusDenseRetriever(index.store, embedder)
    assert index.vectors is not None  # open_index builds one beside every local store
    return DenseRetriever(index.store, index.vectors, embedder)


def _meaning(config: Config, backends: Backends) -> dict[str, Any]:
    """The walk's settings for entities the question's embedding matches (graph.meaning_seeds)."""
    graph = config.graph
    if not graph.meaning_seeds:
        return {}
    return {"embed_query": backends.embedder.embed_query, "meaning_seeds": graph.meaning_seeds,
            "meaning_min": graph.meaning_min}


def make_evidence(config: Config, store: Store, backends: Backends, images: PassageImages | None) -> Evidence:
    """The grounding check and the extractive scorer, with the embedder when the index has vectors;
    ``images`` (a figure passage's PNG) when they are sent to the model (``reason.send_images``)."""
    images = images if config.reason.send_images else None
    if not config.retrieve.uses_vectors:
        return Evidence(images=images)
    embedder: Embedder = backends.embedder
    return Evidence(GroundingChecker(similarity_to_question(store, backends)),
                    SentenceScorer(embedder.embed_passages, embedder.embed_query), images)


def graph_access(config: Config, index: Index, communities: Communities, backends: Backends) -> GraphAccess | None:
    """What the modes may ask of the entity graph (community reports, leads); None when it is off."""
    if config.graph.extractor == "none":
        return None
    similarity = similarity_to_question(index.store, backends) if config.retrieve.uses_vectors else None
    return GraphAccess(CommunityReports(index.graph, communities, index.store, similarity), index.graph.leads)
