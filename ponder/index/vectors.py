"""Vector indexes over the store's embeddings, behind one small protocol.

The store (SQLite) keeps every chunk's vector and is the source of truth; a vector index is a
fast, derived copy that catches up with it (``refresh``) by adding what is new and removing what
is gone, never by rebuilding. A crash at any point leaves an index that the next ``refresh``
repairs. Chunk ids are 16 hex digits, so they double as 64-bit keys.

* :class:`LocalVectorIndex` (default): an hnswlib HNSW index in files beside the store. (usearch
  was faster to build but crashes the interpreter when imported before PyMuPDF.)
* :class:`MilvusVectorIndex`: a Milvus collection — Milvus Lite in a local file, or a Milvus
  server or cluster by URI, with the same code.

Example::

    index = LocalVectorIndex(data_dir / "vectors", store)
    index.search(embedder.embed_query("乌龙茶"), k=10)  # [(chunk_id, cosine), ...]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol, cast

import hnswlib
import numpy as np

from ponder.index.store import ChunkStore

# Filtered searches over at most this many chunks are exact (vectors from the store, one matrix
# product); larger ones search the ANN index with room to spare and drop what the filter excludes.
EXACT_FILTER_LIMIT = 50_000
_OVERSAMPLE = 8  # how much wider an ANN search goes when a filter will drop some of its hits
_BATCH = 20_000


class VectorIndex(Protocol):
    def refresh(self) -> None:
        """Catch up with the store."""
        ...

    def search(self, vector: np.ndarray, k: int, only: set[str] | None = None) -> list[tuple[str, float]]:
        """Up to ``k`` (chunk id, cosine similarity), best first; ``only`` restricts to those chunks."""
        ...

    def close(self) -> None: ...


def chunk_key(chunk_id: str) -> int:
    return int(chunk_id, 16)


def key_chunk(key: int) -> str:
    return format(int(key) & 0xFFFF_FFFF_FFFF_FFFF, "016x")  # hnswlib may hand keys back as signed


class _Hnsw:
    """An hnswlib index plus the set of keys it holds (hnswlib only marks deleted keys)."""

    def __init__(self, index: hnswlib.Index, keys: set[int]):
        self.index = index
        self.keys = keys

    @classmethod
    def empty(cls, dim: int) -> _Hnsw:
        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=1024, ef_construction=200, M=16, allow_replace_deleted=True)
        return cls(index, set())

    def add(self, keys: list[int], vectors: np.ndarray) -> None:
        needed = len(self.keys) + len(keys)
        if needed > self.index.get_max_elements():
            self.index.resize_index(max(needed, 2 * self.index.get_max_elements()))
        self.index.add_items(vectors, np.array(keys, dtype=np.uint64), replace_deleted=True)
        self.keys.update(keys)

    def remove(self, keys: list[int]) -> None:
        for key in keys:
            self.index.mark_deleted(key)
        self.keys.difference_update(keys)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self.keys))
        if k == 0:
            return []
        self.index.set_ef(max(2 * k, 64))
        labels, distances = self.index.knn_query(vector, k=k)
        return [(int(label), 1.0 - float(distance)) for label, distance in zip(labels[0], distances[0])]

    def save(self, directory: Path) -> None:
        self.index.save_index(str(directory / "index.bin.tmp"))
        np.save(directory / "keys.tmp.npy", np.array(sorted(self.keys), dtype=np.uint64))
        os.replace(directory / "index.bin.tmp", directory / "index.bin")
        os.replace(directory / "keys.tmp.npy", directory / "keys.npy")

    @classmethod
    def load(cls, directory: Path, dim: int) -> _Hnsw | None:
        if not (directory / "index.bin").is_file() or not (directory / "keys.npy").is_file():
            return None
        index = hnswlib.Index(space="cosine", dim=dim)
        index.load_index(str(directory / "index.bin"), allow_replace_deleted=True)
        return cls(index, {int(key) for key in np.load(directory / "keys.npy")})


class LocalVectorIndex:
    """An HNSW index (hnswlib, cosine) saved in ``directory``, kept in step with the store."""

    def __init__(self, directory: Path, store: ChunkStore):
        self.directory = directory
        self._store = store
        self._index: _Hnsw | None = None
        self._index_identity: dict[str, object] | None = None
        self._revision = -1

    def refresh(self) -> None:
        revision = self._store.revision
        if revision == self._revision:
            return
        identity = store_identity(self._store)
        if self._saved() == {"revision": revision, **identity}:
            self._index = self._load(identity)  # the saved copy is current (another process may have written it)
        else:
            if self._index is None or self._index_identity != identity:
                self._index = self._load(identity)
            self._index = self._catch_up(self._index)
            self._save(revision, identity)
        self._index_identity, self._revision = identity, revision

    def search(self, vector: np.ndarray, k: int, only: set[str] | None = None) -> list[tuple[str, float]]:
        self.refresh()
        if only is not None and len(only) <= EXACT_FILTER_LIMIT:
            return exact_search(self._store, vector, k, only)
        if self._index is None:
            return []
        wanted = k if only is None else k * _OVERSAMPLE
        hits = [(key_chunk(key), score) for key, score in self._index.search(vector.astype(np.float32), wanted)]
        return _keep(hits, only, k)

    def close(self) -> None:
        """Nothing to release: the index is saved at every refresh."""

    def _saved(self) -> dict[str, object] | None:
        return _read_meta(self.directory / "meta.json")

    def _load(self, identity: dict[str, object]) -> _Hnsw | None:
        saved = self._saved()
        if saved is None or {k: saved.get(k) for k in identity} != identity or not identity["dim"]:
            return None
        return _Hnsw.load(self.directory, cast(int, identity["dim"]))

    def _catch_up(self, index: _Hnsw | None) -> _Hnsw | None:
        stored = {chunk_key(chunk_id) for chunk_id in self._store.vector_ids()}
        if not stored:
            return None
        if index is None:
            index = _Hnsw.empty(self._store.vector_dim)
        extra = sorted(index.keys - stored)
        missing = sorted(stored - index.keys)
        index.remove(extra)
        for start in range(0, len(missing), _BATCH):
            ids, vectors = self._store.get_vectors([key_chunk(key) for key in missing[start:start + _BATCH]])
            index.add([chunk_key(i) for i in ids], vectors)
        return index

    def _save(self, revision: int, identity: dict[str, object]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._index is not None:
            self._index.save(self.directory)
        # meta.json last: if we die before it, the next refresh compares keys again and repairs.
        _write_meta(self.directory / "meta.json", {"revision": revision, **identity})


class MilvusVectorIndex:
    """The store's vectors mirrored into a Milvus collection (cosine, AUTOINDEX).

    ``uri`` is a file path for Milvus Lite (embedded, no server) or ``http://host:19530`` for a
    Milvus server or cluster. Filters become Milvus expressions (``id in [...]``), applied by Milvus
    before it ranks.
    """

    _FILTER_LIMIT = 16_384  # ids per "id in [...]" expression; beyond it, search wide and drop

    def __init__(self, uri: str, collection: str, store: ChunkStore, meta_path: Path, token: str = ""):
        from pymilvus import MilvusClient

        self._client = MilvusClient(uri, token=token)
        self._collection = collection
        self._store = store
        self._meta_path = meta_path
        self._revision = -1

    def refresh(self) -> None:
        revision = self._store.revision
        if revision == self._revision:
            return
        identity = {**store_identity(self._store), "collection": self._collection}
        saved = _read_meta(self._meta_path)
        if saved != {"revision": revision, **identity}:
            same_vectors = saved is not None and {k: saved.get(k) for k in identity} == identity
            self._catch_up(cast(int, identity["dim"]), rebuild=not same_vectors)
            _write_meta(self._meta_path, {"revision": revision, **identity})
        self._revision = revision

    def search(self, vector: np.ndarray, k: int, only: set[str] | None = None) -> list[tuple[str, float]]:
        self.refresh()
        if not self._client.has_collection(self._collection) or (only is not None and not only):
            return []
        expression = ""
        wanted = k
        if only is not None and len(only) <= self._FILTER_LIMIT:
            expression = "id in [" + ",".join(f'"{chunk_id}"' for chunk_id in sorted(only)) + "]"
        elif only is not None:
            wanted = k * _OVERSAMPLE
        results = self._client.search(self._collection, data=[vector.astype(np.float32).tolist()], limit=wanted,
                                      filter=expression, output_fields=["id"])
        return _keep([(hit["id"], float(hit["distance"])) for hit in results[0]], only, k)

    def close(self) -> None:
        self._client.close()

    def _catch_up(self, dim: int, rebuild: bool) -> None:
        from pymilvus import DataType, MilvusClient

        if rebuild and self._client.has_collection(self._collection):
            self._client.drop_collection(self._collection)
        stored = set(self._store.vector_ids())
        if not stored:
            return
        if not self._client.has_collection(self._collection):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self._client.prepare_index_params()
            index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="COSINE")
            self._client.create_collection(self._collection, schema=schema, index_params=index)
        present = self._present_ids()
        extra, missing = sorted(present - stored), sorted(stored - present)
        for start in range(0, len(extra), _BATCH):
            self._client.delete(self._collection, ids=extra[start:start + _BATCH])
        for start in range(0, len(missing), _BATCH):
            ids, vectors = self._store.get_vectors(missing[start:start + _BATCH])
            self._client.insert(self._collection, [{"id": i, "vector": v.tolist()} for i, v in zip(ids, vectors)])

    def _present_ids(self) -> set[str]:
        iterator = self._client.query_iterator(self._collection, batch_size=10_000, filter='id != ""',
                                               output_fields=["id"])
        present: set[str] = set()
        while batch := iterator.next():
            present.update(row["id"] for row in batch)
        iterator.close()
        return present


def _keep(hits: list[tuple[str, float]], only: set[str] | None, k: int) -> list[tuple[str, float]]:
    """The first ``k`` hits that the filter allows."""
    return [hit for hit in hits if only is None or hit[0] in only][:k]


def exact_search(store: ChunkStore, vector: np.ndarray, k: int, only: set[str]) -> list[tuple[str, float]]:
    """Cosine against the stored vectors of ``only``: one matrix product, exact."""
    ids, matrix = store.get_vectors(sorted(only))
    if not ids:
        return []
    scores = matrix @ vector.astype(np.float32)
    best = np.argsort(-scores, kind="stable")[:k]
    return [(ids[i], float(scores[i])) for i in best]


def store_identity(store: ChunkStore) -> dict[str, object]:
    """What the vectors are: a re-embedding keeps chunk ids but changes every vector, so the epoch
    (bumped by it) tells an index that its copy is stale."""
    return {"embedder": store.embedder, "epoch": store.vectors_epoch, "dim": store.vector_dim}


def _read_meta(path: Path) -> dict[str, object] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _write_meta(path: Path, meta: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(json.dumps(meta))
    os.replace(path.with_suffix(".tmp"), path)
