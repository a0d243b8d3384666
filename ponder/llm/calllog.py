"""Every model call, logged to SQLite: when, which role and model, why, what went in and out.

Like Simon Willison's ``llm`` CLI, the log is how a user sees what a mode really asked the model
(``ponder log``). One row per call, written when the call ends (failed and cancelled calls too).

Example::

    log = CallLog(Path("data/calls.db"))
    log.record(LoggedCall(role="chat", model="deepseek-chat", purpose="answer", ...))
    log.recent(10)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    purpose TEXT NOT NULL,
    prompt TEXT NOT NULL,
    answer TEXT NOT NULL,
    thinking TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    reasoning_tokens INTEGER,
    tokens_estimated INTEGER NOT NULL,
    seconds REAL NOT NULL,
    streamed INTEGER NOT NULL,
    finish_reason TEXT,
    error TEXT
);
"""


@dataclass
class LoggedCall:
    role: str
    model: str
    endpoint: str
    purpose: str
    prompt: Any  # chat messages or a completion prompt
    answer: str = ""
    thinking: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    tokens_estimated: bool = False
    seconds: float = 0.0
    streamed: bool = False
    finish_reason: str | None = None
    error: str | None = None
    time: float = field(default_factory=time.time)
    id: int | None = None


class CallLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # concurrent questions share one connection

    def record(self, call: LoggedCall) -> None:
        row = asdict(call)
        row.pop("id")
        row["prompt"] = json.dumps(call.prompt, ensure_ascii=False)
        columns = ", ".join(row)
        with self._lock:
            self._db.execute(f"INSERT INTO calls ({columns}) VALUES ({', '.join('?' * len(row))})",
                             tuple(row.values()))

    def recent(self, limit: int = 20, errors_only: bool = False) -> list[LoggedCall]:
        """The latest ``limit`` calls, newest first."""
        where = "WHERE error IS NOT NULL" if errors_only else ""
        with self._lock:
            cursor = self._db.execute(f"SELECT * FROM calls {where} ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        calls = []
        for row in rows:
            values = dict(zip(names, row))
            values["tokens_estimated"] = bool(values["tokens_estimated"])
            values["streamed"] = bool(values["streamed"])
            values["prompt"] = json.loads(values["prompt"])
            calls.append(LoggedCall(**values))
        return calls

    def close(self) -> None:
        with self._lock:
            self._db.close()
