"""Background ingestion of uploaded files, one job at a time (converting and embedding use every
core), with a status anyone holding the job id can poll. Jobs live in memory: a restarted server
forgets finished jobs, never indexed documents.

Example::

    jobs = IngestJobs()
    job = jobs.submit(collection, [stored_path])
    jobs.get(job.id).status   # "queued" -> "running" -> "done" | "failed"
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ponder.serve.collections import Collection
from ponder.types import FileOutcome


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

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "collection": self.collection, "files": self.files, "status": self.status,
                "error": self.error, "created_at": self.created_at, "finished_at": self.finished_at,
                "outcomes": [{"file": Path(o.path).name, "status": o.status, "message": o.message,
                              "chunks": o.chunks, "document_id": o.document_id} for o in self.outcomes]}


class IngestJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, IngestJob] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ingest")

    def submit(self, collection: Collection, paths: list[Path]) -> IngestJob:
        job = IngestJob(secrets.token_hex(8), collection.name, [p.name for p in paths])
        self._jobs[job.id] = job
        self._pool.submit(self._run, job, collection, paths)
        return job

    def get(self, job_id: str) -> IngestJob | None:
        return self._jobs.get(job_id)

    def _run(self, job: IngestJob, collection: Collection, paths: list[Path]) -> None:
        job.status = "running"
        try:
            with collection.lock.writing():
                report = collection.ponder.ingest(paths)
            job.outcomes = report.files
            job.status = "done"
        except Exception as exc:  # noqa: BLE001 - a job's failure is its status, never the server's
            job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
        job.finished_at = time.time()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
