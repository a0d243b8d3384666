"""The Python API: ingest files, search them, ask questions.

Example::

    from ponder import Ponder

    with Ponder(data_dir="./ponder-data") as ponder:
        print(ponder.ingest(["examples/"]).summary())
        answer = ponder.ask("How long is the oolong roasted?")
        print(answer.text, answer.citations)
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Literal, Protocol, Sequence

from ponder.backends import Backends
from ponder.config import Config, load_config
from ponder.factory import graph_access, make_evidence, make_retriever, open_index
from ponder.graph import NLPExtractor, update_graph
from ponder.graph.communities import Communities, Community
from ponder.graph.llm_extract import LLMExtractor
from ponder.index import StoredDocument
from ponder.index.embedders import Embedder, passage_text
from ponder.index.tokenize import tokenize
from ponder.ingest import (
    IngestError,
    ReadOptions,
    SkippedFile,
    collect_files,
    content_hash,
    document_id,
    in_shard,
    load_bytes,
)
from ponder.ingest.figures import (
    PENDING,
    FigureLibrary,
    FigureOCR,
    describe_figures,
    figure_chunks,
    needs_description,
)
from ponder.ingest.worker import Isolation, Prepared, PrepareJob, prepare_all
from ponder.llm import CallLog, OpenAICompatibleLLM, Role
from ponder.reason import Listener, Models, make_mode
from ponder.retrieve import Filter, FusionRetriever
from ponder.retrieve.rerank import Reranker, make_reranker
from ponder.types import Answer, Chunk, Document, FileOutcome, GraphUpdate, Hit, IngestReport, Turn


class NothingToSearch(RuntimeError):
    """A question was asked but no document is available to answer from."""


class IngestListener(Protocol):
    """Hears an ingest's progress: how many files it will look at, then each file's outcome."""

    def planned(self, files: int) -> None: ...

    def finished(self, outcome: FileOutcome) -> None: ...


def _worker_count(setting: int, files: int) -> int:
    """Conversion processes: as set (``ingest.workers``); else one per core (at most 4) for 8
    files or more (a process costs about a second to start), one for fewer."""
    if setting:
        return setting
    return 1 if files < 8 else min(os.cpu_count() or 1, 4)


class Ponder:
    """One data directory's index plus the configured model."""

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
        self._figure_library: FigureLibrary | None = None
        self._figure_ocr = FigureOCR()

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
        started = time.perf_counter()
        report = IngestReport()
        paths = list(paths)
        every_file, missing = collect_files(paths)
        files = [path for path in every_file if shard is None or in_shard(path, paths, shard)]
        if listener:
            listener.planned(len(files) + len(missing))

        def record(outcome: FileOutcome) -> None:
            report.files.append(outcome)
            if listener:
                listener.finished(outcome)

        for path in missing:
            record(FileOutcome(str(path), "failed", f"{path}: no such file or folder"))
        # 1. load each file (size limit first) and set aside those indexed with the same content;
        # 2-4. convert, chunk and tokenize the rest, in worker processes when there are many;
        # 5. store each document with its chunks in one transaction.
        dense = self.config.retrieve.uses_vectors
        if dense:
            self.store.claim_embedder(self.embedder.name)
        claimed: list[str] = []
        changed = (item for item in (self._load(path, record, claimed) for path in files) if item is not None)
        settings = self.config.ingest
        job = PrepareJob(ReadOptions(settings.pdf_engine, settings.pdf_passwords, settings.ocr, settings.figures,
                                       settings.max_sheet_rows),
                         settings.chunk_size, settings.chunk_overlap, settings.tokenizer)
        workers = _worker_count(settings.workers, len(files))
        isolation = Isolation(workers if settings.file_timeout_s or workers > 1 else 0, settings.file_timeout_s,
                              settings.worker_memory_mb)
        try:
            for prepared in prepare_all(job, changed, isolation):
                # Attachments only an earlier version of a message had are looked for when there was one.
                earlier = prepared.document is not None and prepared.document.file_type == "email" and \
                    self.store.content_hash(prepared.document.id) is not None
                for each in prepared.with_attachments():  # a file, then its attachments (documents of their own)
                    report.warnings.extend(each.warnings)
                    if each.outcome is not None:
                        record(each.outcome)
                        continue
                    document, chunks, tokens = self._with_figures(each, report)
                    vectors = self.embedder.embed_passages([passage_text(c) for c in chunks]) if dense else None
                    self.store.put_document(document, chunks, tokens, vectors)
                    record(FileOutcome(document.path, "ingested", chunks=len(chunks), document_id=document.id,
                                       pages=document.page_count, hidden_removed=document.hidden_removed,
                                       figures=len(document.figures)))
                if earlier:
                    # attachments the message no longer has go with it (one that failed now keeps what it had)
                    kept = {each.document.path if each.document else each.outcome.path
                            for each in prepared.with_attachments()}
                    self._remove_paths([doc.path for doc in self._documents_under([prepared.document.path])
                                        if doc.path not in kept])
        finally:
            for doc_id in claimed:
                self.store.release(doc_id)
        if prune:
            present = {str(path) for path in every_file}
            # An attachment (mail.eml/budget.xlsx) is present while its message is.
            report.removed = [doc.path for doc in self._documents_under(paths)
                              if doc.path not in present and not present & {str(p) for p in Path(doc.path).parents}]
            self._remove_paths(report.removed)
        if report.removed or any(outcome.status == "ingested" for outcome in report.files):
            self._prune_figures()
        price = self.config.prices.get(self.config.vision.model) if self.config.has_vision else None
        if price is not None:
            report.figures.price(price.input, price.output)
        if dense:
            self._embed_missing()  # chunks stored without vectors (by a bm25-only ingest, or a crash)
        report.graph = self.update_graph()
        if report.graph and report.graph.error:
            report.warnings.append(f"{report.graph.error}; {report.graph.chunks} chunks read, the rest are read "
                                   f"on the next ingest")
        self._refresh_indexes()  # now, so the first search after ingest is fast
        report.seconds = time.perf_counter() - started
        return report

    def _with_figures(self, prepared: Prepared, report: IngestReport) -> tuple[Document, list[Chunk], list[list[str]]]:
        """The document, its chunks and their tokens with a passage for each figure, in reading order.
        A document with a figure the vision model failed to describe is stored with a content hash
        that marks it pending, so the next ingest reads it again (the rest comes from the cache)."""
        document = prepared.document
        if not document.figures:
            return document, prepared.chunks, prepared.tokens
        vision = self.model("vision") if self.config.has_vision else None
        ocr = self._figure_ocr if self.config.ingest.figure_ocr and self._figure_ocr.available else None
        figures = describe_figures(document, self.figure_library, ocr, vision, report.figures, report.warnings)
        document = replace(document, figures=figures)
        if needs_description(figures, vision):
            document = replace(document, content_hash=document.content_hash + PENDING)
        passages = figure_chunks(document, figures)
        merged = sorted([*zip(prepared.chunks, prepared.tokens), *((c, tokenize(c.text)) for c in passages)],
                        key=lambda pair: (pair[0].start, pair[0].figure is None))
        return document, [chunk for chunk, _ in merged], [tokens for _, tokens in merged]

    @property
    def figure_library(self) -> FigureLibrary:
        """The figures' stored images and the cache of their OCR text and descriptions."""
        if self._figure_library is None:
            self._figure_library = FigureLibrary(self.data_dir / "figures")
        return self._figure_library

    def figure_image(self, chunk_id: str) -> Path | None:
        """The stored PNG of a figure chunk; None when the chunk is not a figure or has no image here."""
        chunks = self.store.get_chunks([chunk_id])
        return self.image_of(chunks[0]) if chunks else None

    def image_of(self, chunk: Chunk) -> Path | None:
        """The stored PNG of a chunk already in hand; None when it is not a figure or has no image here."""
        if chunk.figure is None or not chunk.figure.image:
            return None
        return self.figure_library.image_path(chunk.figure.image)

    def _prune_figures(self) -> None:
        if (self.data_dir / "figures").is_dir():
            self.figure_library.prune(self.store.image_hashes())

    def reindex(self, batch_size: int = 64, on_batch: Callable[[int, int], None] | None = None) -> int:
        """Embed every chunk with the configured embedder (only those without a vector when it is the
        one that made the index). Resumable: each batch is stored as it is done. Returns how many
        chunks were embedded; ``on_batch(done, total)`` hears the progress."""
        name = self.embedder.name
        if self.store.embedder != name:
            self.store.clear_vectors(name)
        embedded = self._embed_missing(batch_size, on_batch)
        self._refresh_indexes()
        return embedded

    def _embed_missing(self, batch_size: int = 64, on_batch: Callable[[int, int], None] | None = None) -> int:
        todo = self.store.chunks_without_vectors()
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            vectors = self.embedder.embed_passages([passage_text(chunk) for chunk in batch])
            self.store.put_vectors([chunk.id for chunk in batch], vectors)
            if on_batch:
                on_batch(start + len(batch), len(todo))
        return len(todo)

    def update_graph(self) -> GraphUpdate | None:
        """Extract entities from every chunk the configured extractor has not read (after an ingest,
        a crash, or a change of extractor); None when the graph is off."""
        settings = self.config.graph
        if settings.extractor == "none":
            return None
        if settings.extractor == "llm":
            return update_graph(self.store, LLMExtractor(self.model("chat"), settings.glean))
        return update_graph(self.store, NLPExtractor())

    def communities(self) -> list[Community]:
        """The entity graph's communities (hierarchical Leiden), recomputed when the graph changed."""
        return self._communities.current()

    def _refresh_indexes(self) -> None:
        self.index.refresh(self.config.retrieve)

    def _load(self, path: Path, record: Callable[[FileOutcome], None],
              claimed: list[str]) -> tuple[Path, bytes] | None:
        """The file's bytes if it needs converting (and this writer's claim on it, added to
        ``claimed``); otherwise record why not and return None."""
        try:
            raw = load_bytes(path, max_bytes=int(self.config.ingest.max_file_mb * 2**20))
        except SkippedFile as exc:
            record(FileOutcome(str(path), "skipped", str(exc)))
            return None
        except IngestError as exc:
            record(FileOutcome(str(path), "failed", str(exc)))
            return None
        doc_id = document_id(path)
        if self.store.content_hash(doc_id) == content_hash(raw):
            record(FileOutcome(str(path), "unchanged", document_id=doc_id,
                               chunks=len(self.store.chunk_ids_of([doc_id]))))
            return None
        holder = self.store.claim(doc_id)
        if holder is not None:
            record(FileOutcome(str(path), "skipped", f"{path}: another writer ({holder}) is ingesting it now; "
                                                     "left to it (a dead writer's claim lapses after "
                                                     "store.claim_ttl_s)"))
            return None
        claimed.append(doc_id)
        return path, raw

    def remove(self, paths: Iterable[str | Path]) -> list[str]:
        """Remove the documents at ``paths`` (files, or everything under folders) from the index,
        whether or not the files still exist. Returns the removed documents' paths."""
        removed = [doc.path for doc in self._documents_under(list(paths))]
        self._remove_paths(removed)
        if removed:
            self._prune_figures()
        self._refresh_indexes()
        return removed

    def _documents_under(self, paths: list[str | Path]) -> list[StoredDocument]:
        roots = [Path(p).expanduser().resolve() for p in paths]
        return [doc for doc in self.store.documents()
                if any(Path(doc.path) == root or Path(doc.path).is_relative_to(root) for root in roots)]

    def _remove_paths(self, paths: list[str]) -> None:
        for path in paths:
            self.store.remove_document(document_id(Path(path)))

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
        if self._figure_library is not None:
            self._figure_library.close()
        self.index.close()

    def __enter__(self) -> Ponder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
