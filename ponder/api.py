"""The Python API: ingest files, search them, ask questions.

Example::

    from ponder import Ponder

    with Ponder(data_dir="./ponder-data") as ponder:
        print(ponder.ingest(["examples/"]).summary())
        answer = ponder.ask("How long is the oolong roasted?")
        print(answer.text, answer.citations)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from ponder.config import Config, load_config
from ponder.index import BM25Index, ChunkStore, StoredDocument, tokenize
from ponder.ingest import (
    IngestError,
    ReadOptions,
    SkippedFile,
    chunk_document,
    collect_files,
    content_hash,
    document_id,
    load_bytes,
    read_document,
)
from ponder.llm import OpenAICompatibleLLM, make_llm
from ponder.reason import DirectMode
from ponder.retrieve import BM25Retriever
from ponder.text import token_counter
from ponder.types import Answer, FileOutcome, Hit, IngestReport


class NothingToSearch(RuntimeError):
    """A question was asked but no document is available to answer from."""


class IngestListener(Protocol):
    """Hears an ingest's progress: how many files it will look at, then each file's outcome."""

    def planned(self, files: int) -> None: ...

    def finished(self, outcome: FileOutcome) -> None: ...


class Ponder:
    """One data directory's index plus the configured model."""

    def __init__(self, config: Config | None = None, *, data_dir: str | Path | None = None,
                 config_path: str | Path | None = None):
        data_dir_override = {"data_dir": str(data_dir)} if data_dir else {}
        if config is None:
            config = load_config(config_path, overrides=data_dir_override)
        self.config = config.model_copy(update=data_dir_override)
        self.data_dir = self.config.data_path
        self.store = ChunkStore(self.data_dir / "ponder.db")
        self.bm25 = BM25Index(self.data_dir / "bm25", self.store)
        self.retriever = BM25Retriever(self.store, self.bm25)
        self._llm: OpenAICompatibleLLM | None = None

    # -- ingest ---------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], listener: IngestListener | None = None,
               prune: bool = False) -> IngestReport:
        """Read, chunk, tokenize and store every supported file under ``paths``.

        Unchanged files (same content hash) are not re-processed; a changed file's chunks replace
        its old ones. A bad file is reported in the returned :class:`IngestReport` and the rest of
        the batch goes on; what was indexed before stays. With ``prune``, documents under ``paths``
        whose files are gone are removed.
        """
        started = time.perf_counter()
        report = IngestReport()
        paths = list(paths)
        files, missing = collect_files(paths)
        if listener:
            listener.planned(len(files) + len(missing))

        def record(outcome: FileOutcome) -> None:
            report.files.append(outcome)
            if listener:
                listener.finished(outcome)

        for path in missing:
            record(FileOutcome(str(path), "failed", f"{path}: no such file or folder"))
        for path in files:
            record(self._ingest_file(path, report.warnings))
        if prune:
            present = {str(path) for path in files}
            report.removed = [doc.path for doc in self._documents_under(paths) if doc.path not in present]
            self._remove_paths(report.removed)
        self.bm25.refresh()  # rebuild now, so the first search after ingest is fast
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, path: Path, warnings: list[str]) -> FileOutcome:
        settings = self.config.ingest
        try:
            # 1. load the bytes (size limit checked first) and skip what is indexed with the same content
            raw = load_bytes(path, max_bytes=int(settings.max_file_mb * 2**20))
            doc_id = document_id(path)
            if self.store.content_hash(doc_id) == content_hash(raw):
                return FileOutcome(str(path), "unchanged", document_id=doc_id,
                                   chunks=len(self.store.chunk_ids_of([doc_id])))
            # 2. convert: bytes -> Document (Markdown for structured formats, with page offsets)
            options = ReadOptions(settings.pdf_engine, settings.pdf_passwords, settings.ocr)
            document, read_warnings = read_document(path, raw, options)
        except SkippedFile as exc:
            return FileOutcome(str(path), "skipped", str(exc))
        except IngestError as exc:
            return FileOutcome(str(path), "failed", str(exc))
        warnings.extend(read_warnings)
        # 3. chunk along sections, 4. tokenize for BM25, 5. store document + chunks in one transaction
        chunks = chunk_document(document, settings.chunk_size, settings.chunk_overlap,
                                token_counter(settings.tokenizer))
        tokens = [tokenize(chunk.text) for chunk in chunks]
        self.store.put_document(document, chunks, tokens)
        return FileOutcome(str(path), "ingested", chunks=len(chunks), document_id=document.id,
                           pages=document.page_count)

    def remove(self, paths: Iterable[str | Path]) -> list[str]:
        """Remove the documents at ``paths`` (files, or everything under folders) from the index,
        whether or not the files still exist. Returns the removed documents' paths."""
        removed = [doc.path for doc in self._documents_under(list(paths))]
        self._remove_paths(removed)
        self.bm25.refresh()
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
    def search(self, query: str, top_k: int | None = None,
               document_ids: Sequence[str] | None = None) -> list[Hit]:
        return self.retriever.search(query, top_k or self.config.retrieve.top_k, document_ids)

    # -- answer ---------------------------------------------------------------------------------
    def ask(self, question: str, docs: Sequence[str | Path] | None = None,
            listener: IngestListener | None = None) -> Answer:
        """Answer ``question`` from the index, or only from ``docs`` (ingested first if needed;
        ``listener`` hears how that went, as in :meth:`ingest`)."""
        if not question.strip():
            raise ValueError("the question is empty")
        document_ids: list[str] | None = None
        ingest_s: float | None = None
        if docs:
            report = self.ingest(docs, listener=listener)
            ingest_s = report.seconds
            document_ids = report.document_ids
            if not document_ids:
                problems = "; ".join(o.message for o in report.files if o.message) or "no supported files"
                raise NothingToSearch(f"nothing could be ingested from {', '.join(map(str, docs))}: {problems}")
        elif self.store.chunk_count() == 0:
            raise NothingToSearch(
                f"nothing is ingested in {self.data_dir}; run `ponder ingest PATH` first or pass --docs PATH"
            )

        timings: dict[str, float] = {}
        if ingest_s is not None:
            timings["ingest"] = ingest_s
        start_s = self.llm.endpoint.ensure_started()  # the embedded server, on first use
        if start_s:
            timings["start_model"] = start_s
        top_k = self.config.retrieve.top_k
        mode = DirectMode(self.llm, max_tokens=self.config.llm.max_tokens)
        answer = mode.run(question, lambda query: self.search(query, top_k, document_ids))
        answer.timings = timings | answer.timings
        return answer

    @property
    def llm(self) -> OpenAICompatibleLLM:
        if self._llm is None:
            self._llm = make_llm(self.config.llm, runtime_dir=self.data_dir / "run")
        return self._llm

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        self.store.close()

    def __enter__(self) -> Ponder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
