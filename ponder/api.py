"""The Python API: ingest files, search them, ask questions.

A facade: the ingest path is :mod:`ponder.ingest.pipeline`, what is built from the config (store,
indexes, retriever, evidence) is :mod:`ponder.factory`, the answering modes are :mod:`ponder.reason`.

Example::

    from ponder import Ponder

    with Ponder(data_dir="./ponder-data") as ponder:
        print(ponder.ingest(["examples/"]).summary())
        answer = ponder.ask("How long is the oolong roasted?")
        print(answer.text, answer.citations)
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Literal, Sequence

from ponder.backends import Backends
from ponder.config import Config, load_config
from ponder.factory import graph_access, make_evidence, make_retriever, open_index
from ponder.graph.communities import Communities, Community
from ponder.index import StoredDocument
from ponder.index.embedders import Embedder
from ponder.ingest.figures import FigureLibrary
from ponder.ingest.pipeline import IngestListener, IngestPipeline
from ponder.llm import CallLog, OpenAICompatibleLLM, Role
from ponder.reason import Listener, Models, make_mode
from ponder.retrieve import Filter, FusionRetriever
from ponder.retrieve.rerank import Reranker, make_reranker
from ponder.types import Answer, Chunk, GraphUpdate, Hit, IngestReport, Turn


class NothingToSearch(RuntimeError):
    """A question was asked but no document is available to answer from."""


class Ponder:
    """One data directory's index plus the configured models: ``ingest``, ``remove``, ``search``,
    ``ask``, ``documents``, ``close``."""

    def __init__(self, config: Config | None = None, *, data_dir: str | Path | None = None,
                 config_path: str | Path | None = None, backends: Backends | None = None):
        data_dir_override = {"data_dir": str(data_dir)} if data_dir else {}
        if config is None:
            config = load_config(config_path, overrides=data_dir_override)
        self.config = config.model_copy(update=data_dir_override)
        self.data_dir = self.config.data_path
        self._owns_backends = backends is None
        self.backends = backends or Backends(self.config)
        self.index = open_index(self.config, self.backends)
        self.store, self.bm25, self.vectors, self.graph = (self.index.store, self.index.bm25, self.index.vectors,
                                                           self.index.graph)
        self._communities = Communities(self.graph, self.data_dir / "communities.json")
        self._retriever: FusionRetriever | None = None
        self._reranker: Reranker | None = None
        self.pipeline = IngestPipeline(self.config, self.index, self.backends)

    # -- ingest ---------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], listener: IngestListener | None = None,
               prune: bool = False, shard: tuple[int, int] | None = None) -> IngestReport:
        """Read, chunk, tokenize and store every supported file under ``paths``.

        Unchanged files (same content hash) are not re-processed; a changed file's chunks replace
        its old ones. A bad file is reported in the returned :class:`IngestReport` and the rest of
        the batch goes on; what was indexed before stays. With ``prune``, documents under ``paths``
        whose files are gone are removed. With ``shard = (i, n)`` only the i-th of n disjoint parts
        of the files is ingested (n machines, one part each); a file another writer is converting
        right now is skipped, and named.
        """
        return self.pipeline.ingest(paths, listener, prune, shard)

    def remove(self, paths: Iterable[str | Path]) -> list[str]:
        """Remove the documents at ``paths`` (files, or everything under folders) from the index,
        whether or not the files still exist. Returns the removed documents' paths."""
        return self.pipeline.remove(paths)

    def reindex(self, batch_size: int = 64, on_batch: Callable[[int, int], None] | None = None) -> int:
        """Embed every chunk with the configured embedder (only those without a vector when it is the
        one that made the index). Resumable: each batch is stored as it is done. Returns how many
        chunks were embedded; ``on_batch(done, total)`` hears the progress."""
        return self.pipeline.reindex(batch_size, on_batch)

    def update_graph(self) -> GraphUpdate | None:
        """Extract entities from every chunk the configured extractor has not read (after an ingest,
        a crash, or a change of extractor); None when the graph is off."""
        return self.pipeline.update_graph()

    @property
    def figure_library(self) -> FigureLibrary:
        """The figures' stored images and the cache of their OCR text and descriptions."""
        return self.pipeline.figure_library

    def figure_image(self, chunk_id: str) -> Path | None:
        """The stored PNG of a figure chunk; None when the chunk is not a figure or has no image here."""
        chunks = self.store.get_chunks([chunk_id])
        return self.image_of(chunks[0]) if chunks else None

    def image_of(self, chunk: Chunk) -> Path | None:
        """The stored PNG of a chunk already in hand; None when it is not a figure or has no image here."""
        if chunk.figure is None or not chunk.figure.image:
            return None
        return self.figure_library.image_path(chunk.figure.image)

    def communities(self) -> list[Community]:
        """The entity graph's communities (hierarchical Leiden), recomputed when the graph changed."""
        return self._communities.current()

    def documents(self) -> list[StoredDocument]:
        return self.store.documents()

    # -- retrieve -------------------------------------------------------------------------------
    def search(self, query: str, top_k: int | None = None, where: Filter | None = None) -> list[Hit]:
        """The best chunks for ``query`` (mode from ``retrieve.mode``), only from the documents
        ``where`` allows (ids, path glob, dates)."""
        top_k = top_k or self.config.retrieve.top_k
        with self.backends.search_lock:
            only = where.scope(self.store) if where else None
            candidates = self.retriever.search(
                query, top_k if self.reranker is None else max(top_k, self.config.reranker.candidates), only)
        return candidates if self.reranker is None else self.reranker.rerank(query, candidates, top_k)

    @property
    def reranker(self) -> Reranker | None:
        if self._reranker is None and self.config.reranker.provider != "none":
            self._reranker = make_reranker(self.config.reranker, self.model("chat"))
        return self._reranker

    @property
    def retriever(self) -> FusionRetriever:
        if self._retriever is None:
            self._retriever = make_retriever(self.config, self.index, self.backends)
        return self._retriever

    def _passage_image(self, chunk: Chunk) -> bytes | None:
        path = self.image_of(chunk)
        return path.read_bytes() if path else None

    @property
    def is_local(self) -> bool:
        return self.index.is_local

    @property
    def embedder(self) -> Embedder:
        return self.backends.embedder

    # -- answer ---------------------------------------------------------------------------------
    def ask(self, question: str, docs: Sequence[str | Path] | None = None, where: Filter | None = None,
            mode: str | None = None, listener: IngestListener | None = None, history: Sequence[Turn] = (),
            stream: Listener | None = None, cancelled: threading.Event | None = None,
            scope: Literal["local", "global"] = "local") -> Answer:
        """Answer ``question`` in ``mode`` (default ``reason.mode``) from the index, or only from
        ``docs`` (ingested first if needed; ``listener`` hears how that went, as in :meth:`ingest`),
        and only where ``where`` allows. ``history`` (earlier turns) makes the question standalone
        before retrieval; ``stream`` hears the answer as it is written; setting ``cancelled`` stops
        it (raising :class:`~ponder.reason.Cancelled`). ``scope="global"`` answers a question about
        the whole corpus from the entity graph's community reports (the ``global`` mode; filters
        do not apply to communities)."""
        models = Models(self.model("chat"), self.model("reasoner"))
        graph = graph_access(self.config, self.index, self._communities, self.backends)
        chosen = "global" if scope == "global" else mode or self.config.reason.mode
        evidence = make_evidence(self.config, self.store, self.backends, self._passage_image)
        answering = make_mode(chosen, models, self.config.reason, graph, evidence)
        if not question.strip():
            raise ValueError("the question is empty")
        ingest_s: float | None = None
        if docs:
            report = self.ingest(docs, listener=listener)
            ingest_s = report.seconds
            where = replace(where or Filter(), document_ids=tuple(report.document_ids))
            if not report.document_ids:
                problems = "; ".join(o.message for o in report.files if o.message) or "no supported files"
                raise NothingToSearch(f"nothing could be ingested from {', '.join(map(str, docs))}: {problems}")
        elif self.store.chunk_count() == 0:
            raise NothingToSearch(
                f"nothing is ingested in {self.data_dir}; run `ponder ingest PATH` first or pass --docs PATH"
            )

        timings: dict[str, float] = {}
        if ingest_s is not None:
            timings["ingest"] = ingest_s
        start_s = models.chat.endpoint.ensure_started() + models.reasoner.endpoint.ensure_started()
        if start_s:
            timings["start_model"] = start_s  # the embedded server, on first use
        top_k = self.config.retrieve.top_k
        answer = answering.run(question, lambda query: self.search(query, top_k, where), history, stream, cancelled)
        answer.timings = timings | answer.timings
        return answer

    def model(self, role: Role = "chat") -> OpenAICompatibleLLM:
        """The client for a model role (``chat`` or ``reasoner``), made on first use."""
        return self.backends.model(role)

    @property
    def call_log(self) -> CallLog | None:
        """Every model call, in ``calls.db`` (``ponder log``); None when ``log.enabled`` is false."""
        return self.backends.call_log

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_backends:
            self.backends.close()
        self.pipeline.close()
        self.index.close()

    def __enter__(self) -> Ponder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
