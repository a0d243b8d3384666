"""Collections: separate indexes served by one process, sharing its models (:class:`Backends`).

The default collection is the data dir's own index (what ``ponder ingest`` fills); the others live
in ``<data dir>/collections/<name>/`` with their uploaded files beside their index. Uploaded files
are stored under a checked name inside the collection's own folder: a client's file name is never
used as a path.

Example::

    collections = Collections(config, backends)
    handbook = collections.create("handbook")
    stored = handbook.store_upload("手册.pdf", data)
    collections.get("handbook").ponder.search("refund policy")
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ponder.api import Ponder
from ponder.backends import Backends
from ponder.config import Config
from ponder.index.milvus_store import MilvusStore
from ponder.index.milvus_tables import IDENT, TEXT, MilvusTables, Table, connect_configured, milvus_name

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Separators and their look-alikes (after NFKC, which already folds full-width ／ and ＼).
_SEPARATORS = set("/\\") | {"\u2215", "\u2044", "\u29f8", "\u29f9", "\u2216", "\ufe68"}


class CollectionError(ValueError):
    """A collection name or operation is not allowed; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class ReadWriteLock:
    """Many readers at once, or one writer. Answers read; indexing an upload writes, so questions
    to that collection wait for it and never read an index half rebuilt (others go on)."""

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._state:
            self._state.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._state:
                self._readers -= 1
                self._state.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._state:
            self._state.wait_for(lambda: not self._writing and not self._readers)
            self._writing = True
        try:
            yield
        finally:
            with self._state:
                self._writing = False
                self._state.notify_all()


@dataclass
class Collection:
    name: str
    ponder: Ponder
    files_dir: Path
    lock: ReadWriteLock = field(default_factory=ReadWriteLock)

    def store_upload(self, filename: str, data: bytes) -> Path:
        """Save an uploaded file as ``files/<checked name>``; the same name again replaces it."""
        path = self.files_dir / checked_filename(filename)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        if path.resolve().parent != self.files_dir.resolve():  # a belt to checked_filename's braces
            raise CollectionError(f"file name {filename!r} is not allowed")
        partial = path.with_name(f".{path.name}.part")
        try:
            partial.write_bytes(data)
            partial.replace(path)
        except OSError as exc:  # the disk is full (ENOSPC), or over a quota: nothing half-written stays
            partial.unlink(missing_ok=True)
            raise CollectionError(f"cannot store {path.name!r}: {exc.strerror or exc} on the server "
                                  "(the collection is unchanged)", status=507) from None
        return path

    def delete_document(self, document_id: str) -> str:
        """Remove a document from the index, and its file when it was uploaded; returns its file name."""
        document = next((d for d in self.ponder.documents() if d.id == document_id), None)
        if document is None:
            raise CollectionError(f"no document {document_id!r} in collection {self.name!r}", status=404)
        with self.lock.writing():
            self.ponder.remove([document.path])
            path = Path(document.path)
            if path.parent.resolve() == self.files_dir.resolve():
                path.unlink(missing_ok=True)
        return path.name


def checked_filename(filename: str) -> str:
    """The upload's name if it is a plain file name; CollectionError otherwise (path separators or
    their look-alikes, ``..``, a leading dot, NUL or control characters, too long)."""
    name = unicodedata.normalize("NFKC", filename or "")
    if not name.strip():
        raise CollectionError("the uploaded file has no name")
    if any(ch in _SEPARATORS for ch in name) or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise CollectionError(f"file name {filename!r} is not allowed: it must be a plain name, without "
                              "path separators or control characters")
    if name.startswith(".") or name.strip() != name:
        raise CollectionError(f"file name {filename!r} is not allowed: it starts with a dot or a space")
    if len(name.encode("utf-8")) > 200:
        raise CollectionError(f"file name {filename[:40]!r}... is too long (at most 200 bytes)")
    return name


class Collections:
    """The collections a server holds. With a Milvus store their names live in Milvus too
    (``<prefix>_registry_collections``), so every replica serves the same ones; the folders here
    then hold only caches and uploads."""

    def __init__(self, config: Config, backends: Backends):
        self.config = config
        self.backends = backends
        self.root = config.data_path / "collections"
        self.default = config.serve.default_collection
        self._open: dict[str, Collection] = {}
        self._lock = threading.Lock()
        self._registry: MilvusTables | None = None
        if config.store.backend == "milvus":
            client, uri = connect_configured(config.store, config.data_path)
            # Every collection in the same Milvus (with no URI set, the Lite folder in *this* data dir).
            self.config = config.model_copy(update={"store": config.store.model_copy(update={"milvus_uri": uri})})
            prefix = config.store.collection_prefix
            self._registry = MilvusTables(client, {
                "collections": Table(f"{prefix}_registry_collections", (("name", *IDENT), ("created_at", "DOUBLE", {})),
                                     "name"),
                "jobs": Table(f"{prefix}_registry_jobs", (("id", *IDENT), ("record", *TEXT)), "id")})

    @property
    def registry(self) -> MilvusTables | None:
        """The tables every replica shares (collections, upload jobs), with a Milvus store; else None."""
        return self._registry

    def names(self) -> list[str]:
        if self._registry is not None:
            found = {row["name"] for row in self._registry.query("collections", "", ["name"])}
        elif self.root.is_dir():
            found = {p.name for p in self.root.iterdir() if p.is_dir() and NAME.match(p.name)}
        else:
            found = set()
        return [self.default, *sorted(found - {self.default})]

    def get(self, name: str) -> Collection:
        with self._lock:
            if name not in self._open:
                if name not in self.names():
                    raise CollectionError(f"no collection {name!r}; collections: {', '.join(self.names())}", 404)
                self._open[name] = self._make(name)
            return self._open[name]

    def create(self, name: str) -> Collection:
        if not NAME.match(name):
            raise CollectionError(f"collection name {name!r} is not allowed: use 1-63 lower-case letters, "
                                  "digits, '-' or '_', starting with a letter or digit")
        if name in self.names():
            raise CollectionError(f"collection {name!r} already exists", status=409)
        (self.root / name).mkdir(parents=True, exist_ok=self._registry is not None)
        if self._registry is not None:
            self._registry.insert("collections", [{"name": name, "created_at": time.time()}])
        return self.get(name)

    def delete(self, name: str) -> None:
        if name == self.default:
            raise CollectionError(f"the default collection {name!r} cannot be deleted", status=409)
        collection = self.get(name)
        with self._lock, collection.lock.writing():
            if self._registry is not None:
                store = collection.ponder.store
                if isinstance(store, MilvusStore):  # always: with a registry, every collection is in Milvus
                    store.drop()
                self._registry.delete("collections", f"name == {json.dumps(name)}")
            collection.ponder.close()
            del self._open[name]
            shutil.rmtree(self.root / name, ignore_errors=self._registry is not None)

    def close(self) -> None:
        with self._lock:
            for collection in self._open.values():
                collection.ponder.close()
            self._open.clear()
            if self._registry is not None:
                self._registry.close()

    def _make(self, name: str) -> Collection:
        if name == self.default:
            data_dir, files_dir = self.config.data_path, self.config.data_path / "uploads"
        else:
            data_dir, files_dir = self.root / name / "index", self.root / name / "files"
        update: dict[str, object] = {"data_dir": str(data_dir)}
        if name != self.default:  # a Milvus store's collections: <prefix>_c_<name>_<table>
            store = self.config.store
            update["store"] = store.model_copy(update={"collection_prefix": f"{store.collection_prefix}_c_"
                                                                            f"{milvus_name(name)}"})
        config = self.config.model_copy(update=update)
        return Collection(name, Ponder(config, backends=self.backends), files_dir)
