"""API keys for the server, stored hashed (in ``keys.db`` in the data dir, or in Milvus beside a
Milvus store), each scoped to
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
from typing import TYPE_CHECKING, Literal, Protocol, Sequence

from ponder.config import Config
from ponder.index.milvus_tables import IDENT, TEXT, MilvusTables, Table, connect_configured

if TYPE_CHECKING:
    from pymilvus import MilvusClient

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
    """Creates, checks and revokes keys; the rows live in SQLite (``KeyStore(path)``) or, for a
    server whose index is in Milvus, in Milvus (``KeyStore.in_milvus``), where every replica sees
    a key the moment any of them creates or revokes it."""

    def __init__(self, path: Path):
        self._rows: _KeyRows = _SQLiteKeys(path)

    @classmethod
    def in_milvus(cls, client: MilvusClient, prefix: str) -> KeyStore:
        keys = cls.__new__(cls)
        keys._rows = _MilvusKeys(client, prefix)
        return keys

    def create(self, name: str, read: Sequence[str] = (), write: Sequence[str] = ()) -> tuple[ApiKey, str]:
        """A new key and its secret; only the secret's SHA-256 is stored, so it is shown once."""
        if not read and not write:
            raise ValueError("a key needs at least one collection to read or write ('*' for all)")
        scopes: dict[str, Access] = {c: "write" if c in write else "read" for c in [*read, *write]}
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(secrets.token_hex(4), name, scopes, time.time())
        self._rows.add(key, _digest(secret))
        return key, secret

    def check(self, secret: str) -> ApiKey | None:
        """The live key with this secret, or None (unknown or revoked)."""
        return self._rows.live(_digest(secret))

    def list(self) -> list[ApiKey]:
        return sorted(self._rows.all(), key=lambda key: key.created_at)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False when there is no live key with that id."""
        return self._rows.revoke(key_id, time.time())

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
        self._rows.close()


def open_keys(config: Config) -> KeyStore:
    """The server's keys: beside the index, wherever the index is (``store.backend``)."""
    if config.store.backend == "milvus":
        client, _ = connect_configured(config.store, config.data_path)
        return KeyStore.in_milvus(client, config.store.collection_prefix)
    return KeyStore(config.data_path / "keys.db")


class _KeyRows(Protocol):
    def add(self, key: ApiKey, digest: str) -> None: ...

    def live(self, digest: str) -> ApiKey | None: ...

    def all(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str, at: float) -> bool: ...

    def close(self) -> None: ...


class _SQLiteKeys:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
                         "secret_sha256 TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at REAL NOT NULL, "
                         "revoked_at REAL)")

    def add(self, key: ApiKey, digest: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, NULL)",
                             (key.id, key.name, digest, json.dumps(key.scopes), key.created_at))

    def live(self, digest: str) -> ApiKey | None:
        with self._lock:
            row = self._db.execute("SELECT id, name, scopes, created_at, revoked_at FROM keys "
                                   "WHERE secret_sha256 = ? AND revoked_at IS NULL", (digest,)).fetchone()
        return _key(row) if row else None

    def all(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, scopes, created_at, revoked_at FROM keys").fetchall()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: float) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                      (at, key_id))
        return cursor.rowcount == 1

    def close(self) -> None:
        self._db.close()


class _MilvusKeys:
    """Keys in the collection ``<prefix>_registry_keys``, its primary key the secret's digest."""

    _FIELDS = ["id", "name", "scopes", "created_at", "revoked_at"]

    def __init__(self, client: MilvusClient, prefix: str):
        self._table = MilvusTables(client, {"keys": Table(
            f"{prefix}_registry_keys", (("digest", *IDENT), ("id", *IDENT), ("name", *TEXT), ("scopes", *TEXT),
                                        ("created_at", "DOUBLE", {}), ("revoked_at", "DOUBLE", {"nullable": True})),
            "digest")})

    def add(self, key: ApiKey, digest: str) -> None:
        self._table.insert("keys", [{"digest": digest, "id": key.id, "name": key.name,
                                     "scopes": json.dumps(key.scopes), "created_at": key.created_at,
                                     "revoked_at": None}])

    def live(self, digest: str) -> ApiKey | None:
        rows = self._table.query("keys", f'digest == "{digest}" and revoked_at is null', self._FIELDS)
        return _key(tuple(rows[0][f] for f in self._FIELDS)) if rows else None

    def all(self) -> list[ApiKey]:
        return [_key(tuple(row[f] for f in self._FIELDS)) for row in self._table.query("keys", "", self._FIELDS)]

    def revoke(self, key_id: str, at: float) -> bool:
        rows = self._table.query("keys", f"id == {json.dumps(key_id)} and revoked_at is null",
                                 ["digest", *self._FIELDS])
        self._table.insert("keys", [{**row, "revoked_at": at} for row in rows])
        return bool(rows)

    def close(self) -> None:
        self._table.close()


def _digest(secret: str) -> str:
    # Secrets are 256 random bits: a plain hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _key(row: tuple) -> ApiKey:
    return ApiKey(row[0], row[1], json.loads(row[2]), row[3], row[4])
