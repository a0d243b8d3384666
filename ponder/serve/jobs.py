"""Background ingestion of uploaded files, one job at a time (converting and embedding use every
core), with a status anyone holding the job id can poll.

Each job is written to ``jobs/<id>.json`` in the data dir whenever its status changes, so a server
that was killed mid-job takes the unfinished jobs up again when it restarts (``resume``): the
uploaded files are already stored, ingestion is idempotent (content hashes), and every document is
stored whole, so the index was at its last committed state and the job completes it. With a Milvus
store the status is also written to Milvus, so any replica answers a poll (the replica that took
the upload runs it).

Example::

    jobs = IngestJobs(Path("ponder-data/jobs"))
    job = jobs.submit(collection, [stored_path])
    jobs.get(job.id).status   # "queued" -> "running" -> "done" | "failed"
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from ponder.index.milvus_tables import MilvusTables
from ponder.serve.collections import Collection, CollectionError
from ponder.types import FileOutcome

_RECORD_BYTES = 65_535  # a Milvus text field


@dataclass
class IngestJob:
    id: str
    collection: str
    files: list[str]
    status: Literal["queued", "running", "done", "failed"] = "queued"
    outcomes: list[FileOutcome] = field(default_factory=list)
    error: str = ""
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    resumed: int = 0  # times a restarted server took it up again

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "collection": self.collection, "files": self.files, "status": self.status,
                "error": self.error, "created_at": self.created_at, "finished_at": self.finished_at,
                "resumed": self.resumed,
                "outcomes": [{"file": Path(o.path).name, "status": o.status, "message": o.message,
                              "chunks": o.chunks, "document_id": o.document_id} for o in self.outcomes]}


class IngestJobs:
    def __init__(self, jobs_dir: Path, shared: MilvusTables | None = None):
        self._dir = jobs_dir
        self._shared = shared
        self._jobs: dict[str, IngestJob] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ingest")

    def submit(self, collection: Collection, paths: list[Path]) -> IngestJob:
        job = IngestJob(secrets.token_hex(8), collection.name, [p.name for p in paths])
        self._start(job, collection)
        return job

    def resume(self, collection_named: Callable[[str], Collection]) -> list[IngestJob]:
        """Take up the jobs a killed server left queued or running; finished ones become pollable again."""
        resumed = []
        for saved in sorted(self._dir.glob("*.json")) if self._dir.is_dir() else []:
            try:
                job = _job(json.loads(saved.read_text(encoding="utf-8")))
            except (ValueError, TypeError, KeyError):
                continue  # not a job this version wrote
            if job.status in ("done", "failed"):
                self._jobs[job.id] = job
                continue
            job.status, job.resumed, job.outcomes = "queued", job.resumed + 1, []
            try:
                self._start(job, collection_named(job.collection))
            except CollectionError as exc:  # the collection was deleted meanwhile
                job.error, job.status, job.finished_at = str(exc), "failed", time.time()
                self._save(job)
            resumed.append(job)
        return resumed

    def get(self, job_id: str) -> IngestJob | None:
        """A job by id: this server's, or (with a Milvus store) one another replica runs."""
        if job_id in self._jobs or self._shared is None:
            return self._jobs.get(job_id)
        rows = self._shared.query("jobs", f"id == {json.dumps(job_id)}", ["id", "record"])
        return _job(json.loads(rows[0]["record"])) if rows else None

    def _start(self, job: IngestJob, collection: Collection) -> None:
        self._jobs[job.id] = job
        self._save(job)
        self._pool.submit(self._run, job, collection, [collection.files_dir / name for name in job.files])

    def _run(self, job: IngestJob, collection: Collection, paths: list[Path]) -> None:
        job.status = "running"
        self._save(job)
        try:
            with collection.lock.writing():
                report = collection.ponder.ingest(paths)
            job.outcomes = report.files
            job.status = "done"
        except Exception as exc:  # noqa: BLE001 - a job's failure is its status, never the server's
            job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
        job.finished_at = time.time()
        self._save(job)

    def _save(self, job: IngestJob) -> None:
        """The job's status on disk (written whole, then renamed: a kill leaves the old or the new)."""
        record = dataclasses.asdict(job)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            partial = self._dir / f".{job.id}.part"
            partial.write_text(json.dumps(record), encoding="utf-8")
            partial.replace(self._dir / f"{job.id}.json")
        except OSError:
            pass  # a full disk must not fail the job itself; it is then forgotten by a restart
        if self._shared is not None:
            text = json.dumps(record)
            if len(text.encode("utf-8")) > _RECORD_BYTES:  # thousands of files: the status, without each outcome
                text = json.dumps(record | {"outcomes": []})
            try:
                self._shared.insert("jobs", [{"id": job.id, "record": text}])
            except Exception:  # noqa: BLE001 - Milvus unreachable: only other replicas' polls miss it
                pass

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _job(record: dict[str, Any]) -> IngestJob:
    return IngestJob(**record | {"outcomes": [FileOutcome(**o) for o in record["outcomes"]]})
