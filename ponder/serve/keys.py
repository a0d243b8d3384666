"""API keys for the server, stored hashed in SQLite (``keys.db`` in the data dir), each scoped to
collections: ``read`` (search, ask, list) or ``write`` (also upload, delete, create). ``*`` stands
for every collection.

Example::

    keys = KeyStore(Path("ponder-data/keys.db"))
    key, secret = keys.create("support-bot", read=["handbook"])   # secret is shown once
    assert keys.check(secret).can("handbook", "read")
    keys.revoke(key.id)
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Access = Literal["read", "write"]
SECRET_PREFIX = "pk-"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: dict[str, Access] = field(default_factory=dict)  # collection (or "*") -> access
    created_at: float = 0.0
    revoked_at: float | None = None

    def can(self, collection: str, access: Access) -> bool:
        granted = self.scopes.get(collection) or self.scopes.get("*")
        return granted == "write" or (granted == "read" and access == "read")


#: Who a server without keys (``serve.require_keys = false``) treats every caller as.
OPEN_ACCESS = ApiKey("open", "no keys required", {"*": "write"})


class KeyRejected(Exception):
    """A request's key is missing, unknown or revoked (HTTP 401); ``code`` is the error code sent."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class KeyStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
                         "secret_sha256 TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at REAL NOT NULL, "
                         "revoked_at REAL)")

    def create(self, name: str, read: list[str] = (), write: list[str] = ()) -> tuple[ApiKey, str]:
        """A new key and its secret; only the secret's SHA-256 is stored, so it is shown once."""
        if not read and not write:
            raise ValueError("a key needs at least one collection to read or write ('*' for all)")
        scopes: dict[str, Access] = {c: "read" for c in read} | {c: "write" for c in write}
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(secrets.token_hex(4), name, scopes, time.time())
        with self._lock:
            self._db.execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, NULL)",
                             (key.id, name, _digest(secret), json.dumps(scopes), key.created_at))
        return key, secret

    def check(self, secret: str) -> ApiKey | None:
        """The live key with this secret, or None (unknown or revoked)."""
        with self._lock:
            row = self._db.execute("SELECT id, name, scopes, created_at, revoked_at FROM keys "
                                   "WHERE secret_sha256 = ? AND revoked_at IS NULL", (_digest(secret),)).fetchone()
        return _key(row) if row else None

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, scopes, created_at, revoked_at FROM keys "
                                    "ORDER BY created_at").fetchall()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False when there is no live key with that id."""
        with self._lock:
            cursor = self._db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                      (time.time(), key_id))
        return cursor.rowcount == 1

    def caller(self, authorization: str | None) -> ApiKey:
        """The live key an ``Authorization: Bearer <secret>`` header names; :class:`KeyRejected`
        otherwise. One check for every door: the HTTP API, the web page, MCP over HTTP."""
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise KeyRejected("no API key: send the header 'Authorization: Bearer <key>' "
                              "(create one with `ponder keys create`)", "missing_api_key")
        key = self.check(secret.strip())
        if key is None:
            raise KeyRejected("the API key is unknown or revoked", "invalid_api_key")
        return key

    def close(self) -> None:
        self._db.close()


def _digest(secret: str) -> str:
    # Secrets are 256 random bits: a plain hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _key(row: tuple) -> ApiKey:
    return ApiKey(row[0], row[1], json.loads(row[2]), row[3], row[4])
