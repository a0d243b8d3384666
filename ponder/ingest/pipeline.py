"""The insert path, read top to bottom: files in, a searchable index out.

    collect → load → convert (worker processes) → figures → store (with vectors) → prune → graph → indexes

:meth:`IngestPipeline.ingest` runs the stages in that order; :meth:`~IngestPipeline.remove` and
:meth:`~IngestPipeline.reindex` are the same path's other doors. Readers, the chunker and the worker
processes that run them are in this folder; the store, BM25 and vectors in ``ponder/index``, the
entity graph in ``ponder/graph``.

Example::

    backends = Backends(config)
    pipeline = IngestPipeline(config, open_index(config, backends), backends)
    print(pipeline.ingest(["examples/"]).summary())
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from ponder.backends import Backends
from ponder.config import Config
from ponder.factory import Index
from ponder.graph import NLPExtractor, update_graph
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
from ponder.types import Chunk, Document, FileOutcome, GraphUpdate, IngestReport


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


class IngestPipeline:
    """Ingests files into one data directory's :class:`~ponder.factory.Index`, and removes them."""

    def __init__(self, config: Config, index: Index, backends: Backends):
        self.config = config
        self.index = index
        self.store = index.store
        self.data_dir = config.data_path
        self.backends = backends
        self._figure_library: FigureLibrary | None = None
        self._figure_ocr = FigureOCR()

    @property
    def embedder(self) -> Embedder:
        return self.backends.embedder

    def ingest(self, paths: Iterable[str | Path], listener: IngestListener | None = None,
               prune: bool = False, shard: tuple[int, int] | None = None) -> IngestReport:
        """Ingest the files under ``paths``, stage by stage (what each option does:
        :meth:`ponder.api.Ponder.ingest`)."""
        started = time.perf_counter()
        report = IngestReport()
        paths = list(paths)

        def record(outcome: FileOutcome) -> None:
            report.files.append(outcome)
            if listener:
                listener.finished(outcome)

        # 1. collect: the files under paths (this writer's share of them); a path that is not there fails
        every_file, missing = collect_files(paths)
        files = [path for path in every_file if shard is None or in_shard(path, paths, shard)]
        if listener:
            listener.planned(len(files) + len(missing))
        for path in missing:
            record(FileOutcome(str(path), "failed", f"{path}: no such file or folder"))
        dense = self.config.retrieve.uses_vectors
        if dense:
            self.store.claim_embedder(self.embedder.name)
        claimed: list[str] = []
        try:
            # 2. load: each file's bytes (size limit first); those indexed with the same content are set aside
            changed = (item for item in (self._load(path, record, claimed) for path in files) if item is not None)
            # 3. convert: read, chunk and tokenize, in worker processes when there are many files
            for prepared in self._convert(changed, len(files)):
                # 4. figures and 5. store: each document with its chunks (and vectors) in one transaction
                self._store(prepared, dense, report, record)
        finally:
            for doc_id in claimed:
                self.store.release(doc_id)
        # 6. prune: documents whose files are gone (with ``prune``), then images no chunk names any more
        if prune:
            report.removed = self._gone(paths, every_file)
            self._remove_paths(report.removed)
        if report.removed or any(outcome.status == "ingested" for outcome in report.files):
            self._prune_figures()
        price = self.config.prices.get(self.config.vision.model) if self.config.has_vision else None
        if price is not None:
            report.figures.price(price.input, price.output)
        if dense:
            self._embed_missing()  # chunks stored without vectors (by a bm25-only ingest, or a crash)
        # 7. graph: entities of the chunks the extractor has not read
        report.graph = self.update_graph()
        if report.graph and report.graph.error:
            report.warnings.append(f"{report.graph.error}; {report.graph.chunks} chunks read, the rest are read "
                                   f"on the next ingest")
        # 8. indexes: refreshed now, so the first search after ingest is fast
        self._refresh_indexes()
        report.seconds = time.perf_counter() - started
        return report

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

    def _convert(self, changed: Iterator[tuple[Path, bytes]], files: int) -> Iterator[Prepared]:
        """Each loaded file read into a document, chunked and tokenized (``ingest.workers``
        processes, each file within ``ingest.file_timeout_s`` and ``ingest.worker_memory_mb``)."""
        settings = self.config.ingest
        job = PrepareJob(ReadOptions(settings.pdf_engine, settings.pdf_passwords, settings.ocr, settings.figures,
                                     settings.max_sheet_rows),
                         settings.chunk_size, settings.chunk_overlap, settings.tokenizer)
        workers = _worker_count(settings.workers, files)
        isolation = Isolation(workers if settings.file_timeout_s or workers > 1 else 0, settings.file_timeout_s,
                              settings.worker_memory_mb)
        return prepare_all(job, changed, isolation)

    def _store(self, prepared: Prepared, dense: bool, report: IngestReport,
               record: Callable[[FileOutcome], None]) -> None:
        """Store a converted file, then its attachments (documents of their own), each with its
        figures' passages; attachments only an earlier version of a message had are removed."""
        message = prepared.document
        earlier = message if message is not None and message.file_type == "email" and \
            self.store.content_hash(message.id) is not None else None  # a message stored before
        for each in prepared.with_attachments():
            report.warnings.extend(each.warnings)
            if each.outcome is not None:
                record(each.outcome)
                continue
            assert each.document is not None  # a Prepared holds its outcome or its document
            document, chunks, tokens = self._with_figures(each.document, each, report)
            vectors = self.embedder.embed_passages([passage_text(c) for c in chunks]) if dense else None
            self.store.put_document(document, chunks, tokens, vectors)
            record(FileOutcome(document.path, "ingested", chunks=len(chunks), document_id=document.id,
                               pages=document.page_count, hidden_removed=document.hidden_removed,
                               figures=len(document.figures)))
        if earlier is not None:
            # attachments the message no longer has go with it (one that failed now keeps what it had)
            kept = {each.path for each in prepared.with_attachments()}
            self._remove_paths([doc.path for doc in self._documents_under([earlier.path]) if doc.path not in kept])

    def _with_figures(self, document: Document, prepared: Prepared,
                      report: IngestReport) -> tuple[Document, list[Chunk], list[list[str]]]:
        """The document, its chunks and their tokens with a passage for each figure, in reading order.
        A document with a figure the vision model failed to describe is stored with a content hash
        that marks it pending, so the next ingest reads it again (the rest comes from the cache)."""
        if not document.figures:
            return document, prepared.chunks, prepared.tokens
        vision = self.backends.model("vision") if self.config.has_vision else None
        ocr = self._figure_ocr if self.config.ingest.figure_ocr and self._figure_ocr.available else None
        figures = describe_figures(document, self.figure_library, ocr, vision, report.figures, report.warnings)
        document = replace(document, figures=figures)
        if needs_description(figures, vision):
            document = replace(document, content_hash=document.content_hash + PENDING)
        passages = figure_chunks(document, figures)
        merged = sorted([*zip(prepared.chunks, prepared.tokens), *((c, tokenize(c.text)) for c in passages)],
                        key=lambda pair: (pair[0].start, pair[0].figure is None))
        return document, [chunk for chunk, _ in merged], [tokens for _, tokens in merged]

    def _gone(self, paths: list[str | Path], every_file: list[Path]) -> list[str]:
        """The documents under ``paths`` whose files were not found this time."""
        present = {str(path) for path in every_file}
        # An attachment (mail.eml/budget.xlsx) is present while its message is.
        return [doc.path for doc in self._documents_under(paths)
                if doc.path not in present and not present & {str(p) for p in Path(doc.path).parents}]

    def _prune_figures(self) -> None:
        if (self.data_dir / "figures").is_dir():
            self.figure_library.prune(self.store.image_hashes())

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
            return update_graph(self.store, LLMExtractor(self.backends.model("chat"), settings.glean))
        return update_graph(self.store, NLPExtractor())

    def _refresh_indexes(self) -> None:
        self.index.refresh(self.config.retrieve)

    def remove(self, paths: Iterable[str | Path]) -> list[str]:
        """Remove the documents at ``paths`` (files, or everything under folders) from the index,
        whether or not the files still exist. Returns the removed documents' paths."""
        removed = [doc.path for doc in self._documents_under(list(paths))]
        self._remove_paths(removed)
        if removed:
            self._prune_figures()
        self._refresh_indexes()
        return removed

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

    def _documents_under(self, paths: list[str | Path]) -> list[StoredDocument]:
        roots = [Path(p).expanduser().resolve() for p in paths]
        return [doc for doc in self.store.documents()
                if any(Path(doc.path) == root or Path(doc.path).is_relative_to(root) for root in roots)]

    def _remove_paths(self, paths: list[str]) -> None:
        for path in paths:
            self.store.remove_document(document_id(Path(path)))

    @property
    def figure_library(self) -> FigureLibrary:
        """The figures' stored images and the cache of their OCR text and descriptions."""
        if self._figure_library is None:
            self._figure_library = FigureLibrary(self.data_dir / "figures")
        return self._figure_library

    def close(self) -> None:
        if self._figure_library is not None:
            self._figure_library.close()
