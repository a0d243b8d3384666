"""The persistent chunk store: documents and chunks in one SQLite file.

A document, its chunks and their embedding vectors are written in one transaction, so a document
is either fully stored or not at all. ``revision`` increases with every change; derived indexes
(BM25, the ANN vector index) record the revision they reflect and catch up when it moved. The
store also records which embedder made its vectors.

Example::

    store = ChunkStore(Path("data/ponder.db"))
    store.put_document(document, chunks, tokens)
    store.get_chunks([chunks[0].id])
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from ponder.types import Chunk, ChunkGraph, Document, figure_from_json, figure_to_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    file_type TEXT NOT NULL,
    page_count INTEGER,
    chunk_count INTEGER NOT NULL,
    ingested_at REAL NOT NULL,
    modified_at REAL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    page_end INTEGER,
    heading_path TEXT NOT NULL,
    tokens TEXT NOT NULL,
    figure TEXT  -- the figure a figure chunk describes (JSON of ponder.types.Figure); NULL for text
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id, seq);
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', '0');
INSERT OR IGNORE INTO meta VALUES ('graph_revision', '0');
-- The entity graph: which chunks an extractor has read, the entities each names and the relations
-- each states. Rows die with their chunk, so an entity with no chunk left is gone.
CREATE TABLE IF NOT EXISTS graph_chunks (
    chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    extractor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mentions (
    chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    weight REAL NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_by_chunk ON mentions(chunk_id);
CREATE INDEX IF NOT EXISTS mentions_by_entity ON mentions(entity);
CREATE TABLE IF NOT EXISTS relations (
    chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    weight REAL NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS relations_by_chunk ON relations(chunk_id);
-- Who is converting which document, when several writers ingest at once (see ChunkStore.claim).
CREATE TABLE IF NOT EXISTS claims (
    document_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS community_summaries (
    key TEXT PRIMARY KEY,  -- a hash of the community's members and the model: a changed community is new
    summary TEXT NOT NULL,
    model TEXT NOT NULL
);
"""
SCHEMA_VERSION = 5
# Schema changes an older store can take in place, from each version to the next.
_UPGRADES = {4: "ALTER TABLE chunks ADD COLUMN figure TEXT"}
VECTOR_DTYPE = np.float16  # half the disk of float32; cosine ranking does not notice
_CHUNK_COLUMNS = 'id, document_id, path, text, start, "end", page, page_end, heading_path, figure'


def writer_id() -> str:
    """Who holds a claim: this machine and process (and a random part, so two stores opened by one
    process are two writers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim_is_dead(owner: str) -> bool:
    """Whether a claim's writer was a process on this machine that has ended (killed, say): its
    claims need not wait for ``store.claim_ttl_s`` to lapse."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class StoreError(RuntimeError):
    """The store cannot be used as it is; the message says why and what to do."""


@dataclass(frozen=True)
class StoredDocument:
    id: str
    path: str
    content_hash: str
    file_type: str
    page_count: int | None
    chunk_count: int
    ingested_at: float
    modified_at: float | None  # the file's modification time when ingested


@dataclass
class GraphRows:
    """The entity graph as stored: the chunks naming entities (in file-path order), every mention
    (chunk id, entity key, weight), each entity's names and types with their summed weight, the
    distinct descriptions, and every relation (source, target) with its summed weight."""

    chunk_ids: list[str]
    mentions: list[tuple[str, str, float]]
    names: list[tuple[str, str, str, float]]
    descriptions: list[tuple[str, str]]
    relations: list[tuple[str, str, float]]


@dataclass
class GraphExport:
    """The stored graph row by row, to copy it into another store (``ponder migrate``)."""

    graph_chunks: list[tuple[str, str]]  # (chunk id, extractor)
    mentions: list[tuple[str, str, str, str, float, str]]  # (chunk id, entity, name, type, weight, description)
    relations: list[tuple[str, str, str, float, str]]  # (chunk id, source, target, weight, description)
    summaries: list[tuple[str, str, str]]  # (key, summary, model)


class Store(Protocol):
    """What the stages ask of an index store: :class:`ChunkStore` (SQLite, the default) or
    :class:`~ponder.index.milvus_store.MilvusStore`. ``tests/test_store_contract.py`` holds both
    to the same behaviour."""

    where: str  # for messages: the folder, or the Milvus URI and collections

    @property
    def revision(self) -> int: ...
    @property
    def graph_revision(self) -> int: ...
    @property
    def embedder(self) -> str | None: ...
    @property
    def vectors_epoch(self) -> int: ...
    @property
    def vector_dim(self) -> int: ...

    def content_hash(self, document_id: str) -> str | None: ...
    def put_document(self, document: Document, chunks: Sequence[Chunk], tokens: Sequence[list[str]],
                     vectors: np.ndarray | None = None) -> None: ...
    def remove_document(self, document_id: str) -> bool: ...
    def documents(self) -> list[StoredDocument]: ...
    def chunk_count(self) -> int: ...
    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]: ...
    def chunks_of(self, document_id: str) -> list[Chunk]: ...
    def chunk_ids_of(self, document_ids: Iterable[str], kind: str | None = None) -> list[str]: ...
    def image_hashes(self) -> set[str]: ...
    def iter_tokens(self) -> Iterator[tuple[str, list[str]]]: ...
    def claim_embedder(self, name: str) -> None: ...
    def clear_vectors(self, embedder: str) -> None: ...
    def put_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> None: ...
    def vector_count(self) -> int: ...
    def vector_ids(self) -> list[str]: ...
    def get_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]: ...
    def chunks_without_vectors(self) -> list[Chunk]: ...
    def put_graph(self, graphs: Sequence[ChunkGraph], extractor: str) -> None: ...
    def chunks_without_graph(self, extractor: str) -> list[Chunk]: ...
    def graph_rows(self) -> GraphRows: ...
    def relation_sources(self, entity: str | None = None) -> dict[tuple[str, str], list[str]]: ...
    def graph_counts(self) -> dict[str, int]: ...
    def community_summary(self, key: str) -> str | None: ...
    def put_community_summary(self, key: str, summary: str, model: str) -> None: ...
    def claim(self, document_id: str) -> str | None: ...
    def release(self, document_id: str) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class ChunkStore:
    """Documents and their chunks in SQLite, with the BM25 tokens of each chunk kept beside it."""

    def __init__(self, path: Path, claim_ttl_s: float = 600.0):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.where = str(path.parent)
        self.owner = writer_id()
        self._claim_ttl_s = claim_ttl_s
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._check_schema()
        self._db.executescript(_SCHEMA)

    def _check_schema(self) -> None:
        has_tables = self._db.execute("SELECT 1 FROM sqlite_master WHERE name='chunks'").fetchone()
        if not has_tables:
            self._db.executescript("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            return
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        found = int(row[0]) if row else 1
        while found in _UPGRADES:
            with self._transaction():
                self._db.execute(_UPGRADES[found])
                found += 1
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(found),))
        if found != SCHEMA_VERSION:
            raise StoreError(f"the index in {self.path.parent} was written by another version of Ponder "
                             f"(store schema {found}, this version reads {SCHEMA_VERSION}); re-ingest into a new "
                             f"--data-dir, or delete that folder")

    def close(self) -> None:
        self._db.close()

    def flush(self) -> None:
        """Nothing to do: every write is committed by its transaction (a Milvus store seals here)."""

    @property
    def revision(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()[0])

    def content_hash(self, document_id: str) -> str | None:
        row = self._db.execute("SELECT content_hash FROM documents WHERE id=?", (document_id,)).fetchone()
        return row[0] if row else None

    def put_document(self, document: Document, chunks: Sequence[Chunk], tokens: Sequence[list[str]],
                     vectors: np.ndarray | None = None) -> None:
        """Store a document, its chunks (with BM25 tokens) and their vectors, replacing any earlier
        version of the same document."""
        with self._transaction():
            self._db.execute("DELETE FROM documents WHERE id=?", (document.id,))
            self._db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
                (document.id, document.path, document.content_hash, document.file_type,
                 document.page_count, len(chunks), time.time(), document.modified),
            )
            self._db.executemany(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(c.id, c.document_id, seq, c.path, c.text, c.start, c.end, c.page, c.page_end,
                  json.dumps(list(c.heading_path), ensure_ascii=False), " ".join(t), figure_to_json(c.figure))
                 for seq, (c, t) in enumerate(zip(chunks, tokens, strict=True))],
            )
            if vectors is not None:
                self._insert_vectors([c.id for c in chunks], vectors)
            self._bump_revision()
            self._bump_graph_revision()

    def _insert_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} chunks but {len(vectors)} vectors")
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?)",
                             [(i, v.astype(VECTOR_DTYPE).tobytes()) for i, v in zip(ids, vectors)])

    def put_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store (or replace) the vectors of existing chunks."""
        with self._transaction():
            self._insert_vectors(ids, vectors)
            self._bump_revision()

    def clear_vectors(self, embedder: str) -> None:
        """Forget every vector, before re-embedding with ``embedder``."""
        with self._transaction():
            self._db.execute("DELETE FROM vectors")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (embedder,))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('vectors_epoch', ?)", (self.vectors_epoch + 1,))
            self._bump_revision()

    @property
    def vectors_epoch(self) -> int:
        """Increases each time all vectors are replaced (same chunk ids, new vectors)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='vectors_epoch'").fetchone()
        return int(row[0]) if row else 0

    @property
    def embedder(self) -> str | None:
        """The name of the embedder that made the stored vectors (None before the first)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='embedder'").fetchone()
        return row[0] if row else None

    def claim_embedder(self, name: str) -> None:
        """Record ``name`` as the store's embedder, or fail if vectors from another one are stored."""
        current = self.embedder
        if current == name:
            return
        if current is not None and self.vector_count():
            raise StoreError(f"the index in {self.where} was embedded with '{current}', but the configured "
                             f"embedder is '{name}'; run `ponder reindex` to re-embed, or configure the old one")
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (name,))

    @property
    def vector_dim(self) -> int:
        """Dimension of the stored vectors (0 when there are none)."""
        row = self._db.execute("SELECT vector FROM vectors LIMIT 1").fetchone()
        return len(row[0]) // np.dtype(VECTOR_DTYPE).itemsize if row else 0

    def vector_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def vector_ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT chunk_id FROM vectors")]

    def get_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """(ids found, their vectors as float32), in the order asked."""
        found: dict[str, bytes] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            marks = ",".join("?" * len(batch))
            found.update(self._db.execute(f"SELECT chunk_id, vector FROM vectors WHERE chunk_id IN ({marks})", batch))
        present = [i for i in ids if i in found]
        if not present:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.stack([np.frombuffer(found[i], dtype=VECTOR_DTYPE) for i in present]).astype(np.float32)
        return present, matrix

    def chunks_without_vectors(self) -> list[Chunk]:
        rows = self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id NOT IN (SELECT chunk_id FROM vectors) "
                                "ORDER BY document_id, seq")
        return [_chunk(row) for row in rows]

    def remove_document(self, document_id: str) -> bool:
        """Delete a document and its chunks; False when it was not there."""
        with self._transaction():
            removed = self._db.execute("DELETE FROM documents WHERE id=?", (document_id,)).rowcount > 0
            if removed:
                self._bump_revision()
                self._bump_graph_revision()
        return removed

    def documents(self) -> list[StoredDocument]:
        rows = self._db.execute(
            "SELECT id, path, content_hash, file_type, page_count, chunk_count, ingested_at, modified_at "
            "FROM documents ORDER BY path"
        ).fetchall()
        return [StoredDocument(*row) for row in rows]

    def chunk_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, in the order asked; unknown ids are left out."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            batch = ids[start:start + 500]
            marks = ",".join("?" * len(batch))
            for row in self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", batch):
                found[row[0]] = _chunk(row)
        return [found[i] for i in ids if i in found]

    def chunks_of(self, document_id: str) -> list[Chunk]:
        rows = self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE document_id=? ORDER BY seq",
                                (document_id,))
        return [_chunk(row) for row in rows]

    def chunk_ids_of(self, document_ids: Iterable[str], kind: str | None = None) -> list[str]:
        """The chunks of these documents; only figure or text chunks when ``kind`` says so."""
        only = {"figure": " AND figure IS NOT NULL", "text": " AND figure IS NULL"}.get(kind or "", "")
        ids: list[str] = []
        for document_id in document_ids:
            ids.extend(row[0] for row in self._db.execute(
                f"SELECT id FROM chunks WHERE document_id=?{only} ORDER BY seq", (document_id,)))
        return ids

    def image_hashes(self) -> set[str]:
        """The images the figure chunks name: what the stored crops must keep."""
        return {json.loads(figure).get("image", "") for (figure,) in
                self._db.execute("SELECT figure FROM chunks WHERE figure IS NOT NULL")} - {""}

    def iter_tokens(self) -> Iterator[tuple[str, list[str]]]:
        """(chunk id, BM25 tokens) of every chunk, in file-path order: BM25 breaks score ties by this
        order, so the same files rank the same wherever they live (ids hash the absolute path)."""
        for chunk_id, tokens in self._db.execute("SELECT id, tokens FROM chunks ORDER BY path, seq"):
            yield chunk_id, tokens.split(" ") if tokens else []

    # -- the entity graph -------------------------------------------------------------------------
    @property
    def graph_revision(self) -> int:
        """Moves whenever the graph may have changed: a document stored or removed, or entities written;
        not when vectors are written (``revision`` does), which leave the graph as it was."""
        return int(self._db.execute("SELECT value FROM meta WHERE key='graph_revision'").fetchone()[0])

    def put_graph(self, graphs: Sequence[ChunkGraph], extractor: str) -> None:
        """Store what ``extractor`` found in these chunks, replacing what any extractor found before.
        Chunks deleted meanwhile are skipped."""
        with self._transaction():
            for graph in graphs:
                if not self._db.execute("SELECT 1 FROM chunks WHERE id=?", (graph.chunk_id,)).fetchone():
                    continue
                self._db.execute("DELETE FROM mentions WHERE chunk_id=?", (graph.chunk_id,))
                self._db.execute("DELETE FROM relations WHERE chunk_id=?", (graph.chunk_id,))
                self._db.execute("INSERT OR REPLACE INTO graph_chunks VALUES (?,?)", (graph.chunk_id, extractor))
                self._db.executemany("INSERT INTO mentions VALUES (?,?,?,?,?,?)",
                                     [(graph.chunk_id, m.key, m.name, m.type, m.weight, m.description)
                                      for m in graph.mentions])
                self._db.executemany("INSERT INTO relations VALUES (?,?,?,?,?)",
                                     [(graph.chunk_id, r.source, r.target, r.weight, r.description)
                                      for r in graph.relations])
            self._bump_graph_revision()

    def chunks_without_graph(self, extractor: str) -> list[Chunk]:
        """Chunks ``extractor`` has not read yet (new ones, or read by another extractor), in file-path
        order (a document's chunks together)."""
        rows = self._db.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id NOT IN "
            "(SELECT chunk_id FROM graph_chunks WHERE extractor=?) ORDER BY path, seq", (extractor,))
        return [_chunk(row) for row in rows]

    def graph_rows(self) -> GraphRows:
        """The stored graph, summed where the graph in memory needs no more (see :class:`GraphRows`)."""
        db = self._db
        return GraphRows(
            chunk_ids=[row[0] for row in db.execute(
                "SELECT id FROM chunks WHERE id IN (SELECT chunk_id FROM mentions) ORDER BY path, seq")],
            mentions=db.execute("SELECT chunk_id, entity, weight FROM mentions").fetchall(),
            names=db.execute("SELECT entity, name, type, SUM(weight) FROM mentions GROUP BY entity, name, type")
            .fetchall(),
            descriptions=db.execute("SELECT DISTINCT entity, description FROM mentions WHERE description != '' "
                                    "ORDER BY entity, rowid").fetchall(),
            relations=db.execute("SELECT source, target, SUM(weight) FROM relations GROUP BY source, target")
            .fetchall(),
        )

    def relation_sources(self, entity: str | None = None) -> dict[tuple[str, str], list[str]]:
        """The chunks stating each relation (of ``entity``, or all), keyed by the sorted pair of keys."""
        query = "SELECT chunk_id, source, target FROM relations"
        rows = self._db.execute(query + " WHERE source=? OR target=?", (entity, entity)) if entity else \
            self._db.execute(query)
        sources: dict[tuple[str, str], list[str]] = {}
        for chunk_id, source, target in rows:
            chunks = sources.setdefault((min(source, target), max(source, target)), [])
            if chunk_id not in chunks:
                chunks.append(chunk_id)
        return sources

    def graph_counts(self) -> dict[str, int]:
        """Chunks read per extractor, and the rows of mentions and relations."""
        counts = {f"chunks read ({extractor})": n for extractor, n in self._db.execute(
            "SELECT extractor, COUNT(*) FROM graph_chunks GROUP BY extractor")}
        counts["mentions"] = int(self._db.execute("SELECT COUNT(*) FROM mentions").fetchone()[0])
        counts["relations"] = int(self._db.execute("SELECT COUNT(*) FROM relations").fetchone()[0])
        return counts

    def community_summary(self, key: str) -> str | None:
        row = self._db.execute("SELECT summary FROM community_summaries WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def put_community_summary(self, key: str, summary: str, model: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO community_summaries VALUES (?,?,?)", (key, summary, model))

    def graph_export(self) -> GraphExport:
        db = self._db
        return GraphExport(
            graph_chunks=db.execute("SELECT chunk_id, extractor FROM graph_chunks").fetchall(),
            mentions=db.execute("SELECT chunk_id, entity, name, type, weight, description FROM mentions "
                                "ORDER BY rowid").fetchall(),
            relations=db.execute("SELECT chunk_id, source, target, weight, description FROM relations "
                                 "ORDER BY rowid").fetchall(),
            summaries=db.execute("SELECT key, summary, model FROM community_summaries").fetchall(),
        )

    # -- claims (several writers) -----------------------------------------------------------------
    def claim(self, document_id: str) -> str | None:
        """Claim a document for converting; None when granted, else the writer holding it. A claim
        lapses after ``claim_ttl_s``, or at once when its writer was a process here that has ended,
        so a killed writer's claims do not block its rerun."""
        with self._transaction():
            now = time.time()
            row = self._db.execute("SELECT owner FROM claims WHERE document_id=? AND owner != ? AND expires_at > ?",
                                   (document_id, self.owner, now)).fetchone()
            if row and not claim_is_dead(row[0]):
                return row[0]
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?,?,?)",
                             (document_id, self.owner, now + self._claim_ttl_s))
        return None

    def release(self, document_id: str) -> None:
        self._db.execute("DELETE FROM claims WHERE document_id=? AND owner=?", (document_id, self.owner))

    def _bump_revision(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='revision'")

    def _bump_graph_revision(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='graph_revision'")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _chunk(row: tuple) -> Chunk:
    chunk_id, document_id, path, text, start, end, page, page_end, heading_path, figure = row
    return Chunk(id=chunk_id, document_id=document_id, path=path, text=text, start=start, end=end,
                 page=page, page_end=page_end, heading_path=tuple(json.loads(heading_path)),
                 figure=figure_from_json(figure))
