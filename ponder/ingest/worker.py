"""Convert files in child processes that can be killed: a time limit per file and a memory cap.

Third-party parsers (PDF, DOCX, HTML) meet hostile files: a zip bomb, tags nested 100,000 deep, a
page tree that never ends. So files are converted, chunked and tokenized in children
(``python -m ponder.ingest.worker``) that read ``(path, bytes)`` on stdin and write the result on
stdout, pickled and length-prefixed. A file that takes longer than ``ingest.file_timeout_s`` is
named and skipped, its child killed and replaced; a child's address space is capped at
``ingest.worker_memory_mb``, so a bomb ends in a MemoryError for that file, not in the machine
swapping. A crash of a parser takes only its child. Children are plain subprocesses, not
multiprocessing: they never import the caller's main script (which an unguarded script or one read
from stdin cannot survive).

Small plain text and Markdown files, read by our own linear code, are converted in-process when
one worker is enough: a process costs about a second to start.

Example::

    job = PrepareJob(ReadOptions(), chunk_size=300, chunk_overlap=40, tokenizer="estimate")
    for prepared in prepare_all(job, [(path, path.read_bytes())], Isolation(workers=1, timeout_s=60)):
        print(prepared.outcome or prepared.document.path)
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Iterator, cast

from ponder.index.tokenize import tokenize
from ponder.ingest.chunker import chunk_document
from ponder.ingest.readers import IngestError, ReadOptions, SkippedFile, read_document
from ponder.text import token_counter
from ponder.types import Chunk, Document, FileOutcome

MAX_ATTACHMENT_DEPTH = 3  # a message attached to a message attached to a message
IN_PROCESS_MAX_BYTES = 2**20  # text and Markdown above this go to a child too: chunking is not free
_OUR_OWN_READERS = {".txt", ".text", ".md", ".markdown"}


@dataclass(frozen=True)
class PrepareJob:
    """What converting a file needs; small and picklable."""

    options: ReadOptions
    chunk_size: int
    chunk_overlap: int
    tokenizer: str


@dataclass(frozen=True)
class Isolation:
    """How files are converted: ``workers`` children (0: in-process), each file within
    ``timeout_s`` (0: no limit), each child within ``memory_mb`` of address space (0: no cap)."""

    workers: int = 1
    timeout_s: float = 300.0
    memory_mb: int = 0


@dataclass
class Prepared:
    """A file ready to store (``document``, ``chunks``, their BM25 ``tokens``), or its ``outcome``
    when it could not be converted. Errors travel as values: exceptions do not cross processes well."""

    warnings: list[str]
    outcome: FileOutcome | None = None
    document: Document | None = None
    chunks: list[Chunk] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    attachments: list[Prepared] = field(default_factory=list)  # an e-mail's, each a document of its own

    @property
    def path(self) -> str:
        """The file's path: its document's, or the one its outcome names."""
        if self.document is not None:
            return self.document.path
        return self.outcome.path if self.outcome is not None else ""

    def with_attachments(self) -> list[Prepared]:
        """This file and, after it, every attachment (an attached message's own included)."""
        return [self] + [inner for attachment in self.attachments for inner in attachment.with_attachments()]


def prepare(job: PrepareJob, path: Path, raw: bytes, depth: int = 0) -> Prepared:
    """Convert, chunk and tokenize one file, and its attachments as documents of their own at
    ``path/<name>`` (dated as the file when they have no date of their own). A reader's own failure
    (a bug, a RecursionError, a MemoryError under the cap) fails this file only."""
    try:
        document, warnings = read_document(path, raw, job.options)
        chunks = chunk_document(document, job.chunk_size, job.chunk_overlap, token_counter(job.tokenizer))
        attachments = []
        for name, data in document.attachments:
            if depth >= MAX_ATTACHMENT_DEPTH:
                warnings.append(f"{path}: attachment {name!r} not read: attachments nest deeper than "
                                f"{MAX_ATTACHMENT_DEPTH} messages")
                continue
            inner = prepare(job, path / name, data, depth + 1) if data.strip() else \
                Prepared([], FileOutcome(str(path / name), "skipped", f"{path / name}: attachment is empty"))
            if inner.document is not None and inner.document.modified is None:
                inner.document = replace(inner.document, modified=document.modified)
            attachments.append(inner)
        document = replace(document, attachments=())  # their bytes are not needed past here
        return Prepared(warnings, document=document, chunks=chunks, tokens=[tokenize(c.text) for c in chunks],
                        attachments=attachments)
    except SkippedFile as exc:
        return Prepared([], FileOutcome(str(path), "skipped", str(exc)))
    except IngestError as exc:
        return Prepared([], FileOutcome(str(path), "failed", str(exc)))
    except MemoryError:
        return _failed(path, "ran out of memory while converting (limit: setting ingest.worker_memory_mb)")
    except RecursionError:
        return _failed(path, "structure nested too deeply to convert")
    except Exception as exc:  # noqa: BLE001 - a third-party parser's failure must not end the batch
        return _failed(path, f"the reader failed ({type(exc).__name__}: {str(exc)[:200]})")


def _failed(path: Path, problem: str) -> Prepared:
    return Prepared([], FileOutcome(str(path), "failed", f"{path}: {problem}"))


def needs_isolation(path: Path, size: int) -> bool:
    """Whether a file should be converted in a child: a third-party parser reads it, or it is big."""
    return path.suffix.lower() not in _OUR_OWN_READERS or size > IN_PROCESS_MAX_BYTES


class ConversionWorker:
    """One child process converting files one at a time; started on first use, replaced after a
    timeout or a crash."""

    def __init__(self, job: PrepareJob, isolation: Isolation):
        self.job = job
        self.isolation = isolation
        self._process: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[Prepared | None] = queue.Queue()

    def prepare(self, path: Path, raw: bytes) -> Prepared:
        process = self._process
        if process is None or process.poll() is not None:
            process = self._start()
        try:
            _write(process.stdin, (path, raw))
        except (BrokenPipeError, OSError):
            return self._lost(path, "the conversion process could not be reached")
        timeout = self.isolation.timeout_s or None
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            return _failed(path, f"took longer than {self.isolation.timeout_s:g} s to convert; skipped "
                                 "(setting ingest.file_timeout_s)")
        return reply if reply is not None else self._lost(path, "the conversion process died")

    def _lost(self, path: Path, what: str) -> Prepared:
        code = self._process.wait() if self._process else None
        self._process = None
        cap = self.isolation.memory_mb
        hint = f"; memory is capped at {cap} MB (setting ingest.worker_memory_mb)" if cap else ""
        return _failed(path, f"{what} while converting it (exit code {code}){hint}")

    def _start(self) -> subprocess.Popen[bytes]:
        # -m imports only the ingest stage (ponder/__init__ loads the rest lazily)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ponder.ingest.worker", str(self.isolation.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        _write(self._process.stdin, self.job)
        self._replies = queue.Queue()
        threading.Thread(target=_read_replies, args=(self._process.stdout, self._replies), daemon=True).start()
        return self._process

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                if self._process.stdin is not None:
                    self._process.stdin.close()  # the child's loop ends at end of input
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
            self._process = None


def prepare_all(job: PrepareJob, items: Iterator[tuple[Path, bytes]], isolation: Isolation) -> Iterator[Prepared]:
    """``prepare`` over ``items``, in order: in children as ``isolation`` says, at most
    ``2 * workers`` files in flight, so a large folder never sits in memory at once. With one
    worker, files our own readers handle quickly skip the child."""
    if isolation.workers <= 0:
        for path, raw in items:
            yield prepare(job, path, raw)
        return
    idle: queue.Queue[ConversionWorker] = queue.Queue()
    workers = [ConversionWorker(job, isolation) for _ in range(isolation.workers)]
    for worker in workers:
        idle.put(worker)

    def convert(path: Path, raw: bytes) -> Prepared:
        if isolation.workers == 1 and not needs_isolation(path, len(raw)):
            return prepare(job, path, raw)
        worker = idle.get()
        try:
            return worker.prepare(path, raw)
        finally:
            idle.put(worker)

    try:
        with ThreadPoolExecutor(isolation.workers, thread_name_prefix="convert") as pool:
            in_flight: deque[Future[Prepared]] = deque()
            for path, raw in items:
                in_flight.append(pool.submit(convert, path, raw))
                if len(in_flight) >= 2 * isolation.workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
    finally:
        for worker in workers:
            worker.close()


def _write(stream: IO[bytes] | None, item: object) -> None:
    if stream is None:  # never, for a child started with pipes
        raise BrokenPipeError("no pipe to the conversion process")
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> object | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = struct.unpack("<Q", header)[0]
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


def _read_replies(stream: IO[bytes], replies: queue.Queue) -> None:
    """The parent's reader thread: each reply as it comes; None when the child is gone."""
    try:
        while (reply := _read(stream)) is not None:
            replies.put(reply)
    except Exception:  # noqa: BLE001, S110 - a garbled reply counts as a dead child, reported by the caller
        pass
    finally:
        replies.put(None)


def _cap_memory(megabytes: int) -> None:
    if not megabytes:
        return
    try:
        import resource
    except ImportError:  # Windows: no address-space limit
        return
    limit = megabytes * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def main() -> None:
    """The child: the job, then (path, bytes) items until stdin closes; one reply per item."""
    _cap_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a parser that prints must not corrupt the replies
    job = cast(PrepareJob, _read(stdin))
    while (item := _read(stdin)) is not None:
        path, raw = cast(tuple[Path, bytes], item)
        _write(stdout, prepare(job, path, raw))


if __name__ == "__main__":
    # Run as the module's importable self, so replies pickle as ponder.ingest.worker.Prepared, not __main__'s.
    from ponder.ingest.worker import main as run_child

    run_child()
