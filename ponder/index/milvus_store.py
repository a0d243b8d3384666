"""The whole index in Milvus: documents, chunks with their dense vectors and BM25, the entity graph,
and the store's bookkeeping — so any number of ``ponder serve`` and ``ponder ingest`` processes, on
any number of machines, work on one corpus.

Layout: one Milvus collection per table, named ``<prefix>_<table>``. The chunk collection holds the
text (analysed by jieba, lower-cased: Chinese words and English words alike), a BM25 function that
turns it into a sparse vector server-side, and the dense vector. A chunk row also carries its
document's path and dates, so a metadata filter is a Milvus expression applied before ranking.

Milvus has no transactions, so a document becomes visible in one write: its chunks are written
first under the new content's version, then the document row (which names that version), then the
chunks of the old version are deleted. A chunk is visible only while its document row names its
version; a writer killed mid-document leaves rows that no reader returns and the next write of that
document removes. ``revision`` is a random token rewritten at every change (derived caches compare
it for equality only, so writers on several machines need no shared counter).

Example::

    store = MilvusStore(connect("http://milvus:19530"), "ponder_default", dimension=lambda: 384)
    store.put_document(document, chunks, tokens, vectors)
    store.keyword_search("乌龙茶烘焙", k=5)  # [(Chunk, score), ...]
"""

from __future__ import annotations

import json
import secrets
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np

from ponder.index.milvus_tables import IDENT, QUERY_LIMIT, TEXT, TEXT_BYTES, MilvusTables, Table, literal
from ponder.index.store import GraphExport, GraphRows, StoredDocument, StoreError, claim_is_dead, writer_id
from ponder.index.tokenize import CHINESE_STOPWORDS, ENGLISH_STOPWORDS, tokenize
from ponder.types import Chunk, ChunkGraph, Document, figure_from_json, figure_to_json

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from ponder.retrieve.filters import Filter

# Close to the local BM25 (ponder/index/tokenize.py): jieba's search mode, lower case, the same stop
# words, English stems. (Milvus Lite ignores the stemmer; a Milvus server applies it.)
_ANALYZER = {"tokenizer": {"type": "jieba", "mode": "search"},
             "filter": ["lowercase", {"type": "stop", "stop_words": sorted(ENGLISH_STOPWORDS | CHINESE_STOPWORDS)},
                        {"type": "stemmer", "language": "english"}]}
_DOCUMENT_FIELDS = ["id", "path", "content_hash", "file_type", "page_count", "chunk_count", "ingested_at",
                    "modified_at"]
#: Chunk fields read back (the sparse BM25 vector is Milvus's own, never read).
_CHUNK_FIELDS = ["key", "id", "document_id", "version", "seq", "path", "text", "start", "end", "page", "page_end",
                 "heading_path", "modified_at", "ingested_at", "has_vector", "figure"]


def _tables(prefix: str) -> dict[str, Table]:
    text, ident = TEXT, IDENT
    def table(name: str, primary: str, *fields: tuple[str, str, dict], chunks: bool = False,
              indexed: tuple[str, ...] = ()) -> Table:
        return Table(f"{prefix}_{name}", fields, primary, chunks, indexed)


    return {
        "documents": table("documents", "id",
                           ("id", *ident), ("path", *text), ("content_hash", *ident), ("file_type", *ident),
                           ("page_count", "INT64", {"nullable": True}), ("chunk_count", "INT64", {}),
                           ("ingested_at", "DOUBLE", {}), ("modified_at", "DOUBLE", {"nullable": True})),
        "chunks": table("chunks", "key",
                        ("key", "VARCHAR", {"max_length": 40}), ("id", *ident), ("document_id", *ident),
                        ("version", *ident), ("seq", "INT64", {}), ("path", *text),
                        ("text", "VARCHAR", {"max_length": TEXT_BYTES, "enable_analyzer": True,
                                             "analyzer_params": _ANALYZER}),
                        ("start", "INT64", {}), ("end", "INT64", {}), ("page", "INT64", {"nullable": True}),
                        ("page_end", "INT64", {"nullable": True}), ("heading_path", *text),
                        ("modified_at", "DOUBLE", {"nullable": True}), ("ingested_at", "DOUBLE", {}),
                        ("has_vector", "BOOL", {}),
                        ("figure", "VARCHAR", {"max_length": TEXT_BYTES, "nullable": True}),
                        chunks=True, indexed=("id", "document_id")),
        "meta": table("meta", "key", ("key", *ident), ("value", *text)),
        "graph_chunks": table("graph_chunks", "chunk_id", ("chunk_id", *ident), ("extractor", *ident)),
        "mentions": table("mentions", "row", ("row", "INT64", {"auto_id": True}), ("chunk_id", *ident),
                          ("entity", *text), ("name", *text), ("type", *ident), ("weight", "DOUBLE", {}),
                          ("description", *text), indexed=("chunk_id", "entity")),
        "relations": table("relations", "row", ("row", "INT64", {"auto_id": True}), ("chunk_id", *ident),
                           ("source", *text), ("target", *text), ("weight", "DOUBLE", {}), ("description", *text),
                           indexed=("chunk_id", "source", "target")),
        "summaries": table("summaries", "key", ("key", *ident), ("summary", *text), ("model", *ident)),
        # A write in progress: the version whose chunks are being written, and how many (see put_stored).
        "pending": table("pending", "document_id", ("document_id", *ident), ("version", *ident),
                         ("chunks", "INT64", {})),
        "claims": table("claims", "document_id", ("document_id", *ident), ("owner", *ident),
                        ("expires_at", "DOUBLE", {})),
    }


class MilvusStore(MilvusTables):
    """Documents, chunks, vectors, BM25 and the graph in Milvus collections named ``<prefix>_*``.

    ``dimension`` gives the dense vectors' size when the chunk collection is first created (the
    configured embedder's). Same methods as the SQLite :class:`~ponder.index.store.ChunkStore`, plus
    the searches Milvus runs server-side and per-document claims for concurrent writers.
    """

    def __init__(self, client: MilvusClient, prefix: str, dimension: Callable[[], int], claim_ttl_s: float = 600.0,
                 where: str = "Milvus"):
        super().__init__(client, _tables(prefix), dimension)
        self.prefix = prefix
        self.where = f"{where} (collections {prefix}_*)"
        self._claim_ttl_s = claim_ttl_s
        self.owner = writer_id()
        self._dim = 0
        self.open(["documents", "meta", "claims", "pending"])

    def _has_chunks(self) -> bool:
        """Whether the chunk collection exists (reads never create it: the first document does)."""
        self.open(["chunks"], create=False)
        return "chunks" in self._ready

    def drop(self) -> None:
        super().drop()
        self._dim = 0

    def flush(self) -> None:
        """Seal what was written, so searches use Milvus's indexes: Milvus Lite otherwise scans its
        unsealed rows in every search (1.7 s instead of 0.17 s a search at 20k chunks). A Milvus
        server seals on its own; this only does it sooner. Called once per ingest, not per document."""
        if self._has_chunks():
            self._client.flush(self._tables["chunks"].name)

    # -- meta -----------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self.get("meta", key, ["value"])
        return row["value"] if row else None

    def _set_meta(self, **values: str) -> None:
        self.insert("meta", [{"key": key, "value": value} for key, value in values.items()])

    def _changed(self, graph: bool = True) -> None:
        token = str(secrets.randbits(62))
        self._set_meta(revision=token, **({"graph_revision": token} if graph else {}))

    @property
    def revision(self) -> int:
        return int(self._meta("revision") or 0)

    @property
    def graph_revision(self) -> int:
        return int(self._meta("graph_revision") or 0)

    # -- documents and chunks -------------------------------------------------------------------
    def content_hash(self, document_id: str) -> str | None:
        row = self._document_row(document_id)
        return row["content_hash"] if row else None

    def put_document(self, document: Document, chunks: Sequence[Chunk], tokens: Sequence[list[str]],
                     vectors: np.ndarray | None = None) -> None:
        """Store a document with its chunks and vectors, replacing any earlier version; readers see
        the old version until the document row flips, then the new one (``tokens`` are the local
        BM25's; Milvus analyses the text itself)."""
        stored = StoredDocument(document.id, document.path, document.content_hash, document.file_type,
                                document.page_count, len(chunks), time.time(), document.modified)
        self.put_stored(stored, chunks, vectors)

    def put_stored(self, document: StoredDocument, chunks: Sequence[Chunk], vectors: np.ndarray | None) -> None:
        """:meth:`put_document` for a document as stored (copied from another store, say)."""
        if vectors is not None and len(vectors) != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if chunks:
            self.open(["chunks"])
        if chunks and not self._has_chunks():
            raise StoreError(f"cannot create the chunk collection in {self.where}: the embedder's dimension is unknown")
        dim = self.vector_dim or self._dimension()
        if vectors is not None and vectors.shape[1] != dim:
            raise StoreError(f"{self.where} holds {dim}-dimensional vectors, but these have {vectors.shape[1]}; "
                             "use a new store.collection_prefix for another embedder")
        version = document.content_hash
        rows = []
        for seq, chunk in enumerate(chunks):
            if len(chunk.text.encode("utf-8")) > TEXT_BYTES:
                raise StoreError(f"{document.path}: a chunk of {len(chunk.text.encode())} bytes is over Milvus's "
                                 f"{TEXT_BYTES}-byte text limit; lower ingest.chunk_size")
            vector = vectors[seq] if vectors is not None else np.zeros(dim, dtype=np.float32)
            rows.append(_chunk_row(chunk, seq, version, document, vector, vectors is not None))
        # Every step is a primary-key write or read: no filter scans, however large the collection.
        live = self._document_row(document.id)
        self._clear_pending(document.id, keep={version, live["content_hash"] if live else ""})
        self.insert("pending", [{"document_id": document.id, "version": version, "chunks": len(rows)}])
        if rows:
            self.insert("chunks", rows)
        self.insert("documents", [_document_row(document)])  # the switch: readers now see this version
        if live:
            old_keys = _keys(document.id, live["content_hash"], live["chunk_count"])
            if live["content_hash"] == version:  # the same content written again: only a tail can be left over
                old_keys = old_keys[len(rows):]
            self._delete_chunks(document.id, old_keys)
        self.delete("pending", f'document_id == "{document.id}"')
        self._changed()

    def _document_row(self, document_id: str) -> dict | None:
        return self.get("documents", document_id, ["content_hash", "chunk_count"])

    def _clear_pending(self, document_id: str, keep: set[str]) -> None:
        """Delete the chunks a writer that died left of this document (unless they are a version to keep)."""
        pending = self.get("pending", document_id, ["version", "chunks"])
        if pending and pending["version"] not in keep:
            self._delete_chunks(document_id, _keys(document_id, pending["version"], pending["chunks"]))

    def _delete_chunks(self, document_id: str, keys: list[str]) -> None:
        """Delete chunk rows of a document by key, and the graph rows of their chunk ids unless the
        version readers see still holds the same chunk (same text at the same place)."""
        if not keys or not self._has_chunks():
            return
        ids = {row["id"] for row in self.query_in("chunks", "key", keys, ["key", "id"])}
        self.delete_in("chunks", "key", keys)
        self._forget_graph(sorted(ids - {chunk.id for chunk in self.chunks_of(document_id)}))

    def _live(self, document_ids: Iterable[str]) -> dict[str, str]:
        """Document id -> the content version readers see, for those stored."""
        ids = sorted(set(document_ids))
        rows = self.query_in("documents", "id", ids, ["id", "content_hash"])
        return {row["id"]: row["content_hash"] for row in rows}

    def _visible(self, rows: list[dict]) -> list[dict]:
        """The chunk rows of the versions readers see (not those of a write in progress or killed)."""
        live = self._live(row["document_id"] for row in rows)
        return [row for row in rows if live.get(row["document_id"]) == row["version"]]

    def _chunk_rows(self, expression: str, fields: list[str] | None = None) -> list[dict]:
        if not self._has_chunks():
            return []
        return self._visible(self.query("chunks", expression, fields or _CHUNK_FIELDS))

    def remove_document(self, document_id: str) -> bool:
        """Delete a document (it disappears at once: its row goes first), then its chunks."""
        live = self._document_row(document_id)
        if live is None:
            return False
        self.delete("documents", f'id == "{document_id}"')
        self._delete_chunks(document_id, _keys(document_id, live["content_hash"], live["chunk_count"]))
        self._clear_pending(document_id, keep=set())
        self._changed()
        return True

    def documents(self) -> list[StoredDocument]:
        rows = self.query("documents", "", _DOCUMENT_FIELDS)
        return sorted((_stored(row) for row in rows), key=lambda doc: doc.path)

    def chunk_count(self) -> int:
        return sum(row["chunk_count"] for row in self.query("documents", "", ["chunk_count"]))

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, in the order asked; unknown ids are left out."""
        if not self._has_chunks():
            return []
        rows = self._visible(self.query_in("chunks", "id", list(ids), _CHUNK_FIELDS))
        found = {row["id"]: _chunk(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def chunks_of(self, document_id: str) -> list[Chunk]:
        live = self._document_row(document_id)
        if live is None or not self._has_chunks():
            return []
        rows = self.query_in("chunks", "key", _keys(document_id, live["content_hash"], live["chunk_count"]),
                             _CHUNK_FIELDS)
        return [_chunk(row) for row in sorted(rows, key=lambda row: row["seq"])]

    def chunk_ids_of(self, document_ids: Iterable[str], kind: str | None = None) -> list[str]:
        """The chunks of these documents; only figure or text chunks when ``kind`` says so."""
        ids: list[str] = []
        for document_id in document_ids:
            ids += [chunk.id for chunk in self.chunks_of(document_id) if kind is None or chunk.kind == kind]
        return ids

    def image_hashes(self) -> set[str]:
        """The images the figure chunks name: what the stored crops must keep."""
        rows = self._chunk_rows("figure is not null", ["document_id", "version", "figure"])
        return {json.loads(row["figure"]).get("image", "") for row in rows} - {""}

    def iter_tokens(self) -> Iterator[tuple[str, list[str]]]:
        """(chunk id, BM25 tokens) of every chunk in file-path order, as the local store gives them:
        Ponder's tokenizer over the text (Milvus keeps only its sparse vectors)."""
        rows = self._chunk_rows("", ["id", "document_id", "version", "path", "seq", "text"])
        for row in sorted(rows, key=lambda row: (row["path"], row["seq"])):
            yield row["id"], tokenize(row["text"])

    # -- vectors --------------------------------------------------------------------------------
    @property
    def embedder(self) -> str | None:
        return self._meta("embedder")

    @property
    def vectors_epoch(self) -> int:
        return int(self._meta("vectors_epoch") or 0)

    @property
    def vector_dim(self) -> int:
        """The chunk collection's vector size (fixed when it was created; 0 before)."""
        if not self._dim and self._has_chunks():
            description = self._client.describe_collection(self._tables["chunks"].name)
            self._dim = next(int(field["params"]["dim"]) for field in description["fields"]
                             if field["name"] == "dense")
        return self._dim

    def claim_embedder(self, name: str) -> None:
        current = self.embedder
        if current == name:
            return
        if current is not None and self.vector_count():
            raise StoreError(f"the index in {self.where} was embedded with '{current}', but the configured embedder "
                             f"is '{name}'; configure that one, or ingest into a new store.collection_prefix")
        self._set_meta(embedder=name)

    def clear_vectors(self, embedder: str) -> None:
        """Mark every vector stale before re-embedding with ``embedder`` (same dimension only)."""
        rows = self._chunk_rows("has_vector == true")
        dim = self.vector_dim
        self.insert("chunks", [{**row, "has_vector": False, "dense": [0.0] * dim} for row in rows])
        self._set_meta(embedder=embedder, vectors_epoch=str(self.vectors_epoch + 1))
        self._changed(graph=False)

    def put_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of existing chunks (rewriting their rows: Milvus updates whole rows)."""
        given = dict(zip(ids, vectors))
        rows = self._visible(self.query_in("chunks", "id", list(ids), _CHUNK_FIELDS))
        self.insert("chunks", [{**row, "has_vector": True, "dense": given[row["id"]].astype(np.float32).tolist()}
                                for row in rows])
        self._changed(graph=False)

    def vector_count(self) -> int:
        """Chunks with a vector (rows of a write in progress included: this is Milvus's own count)."""
        return self.count("chunks", "has_vector == true") if self._has_chunks() else 0

    def get_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """(ids found, their vectors as float32), in the order asked."""
        if not self._has_chunks():
            return [], np.zeros((0, 0), dtype=np.float32)
        rows = self._visible(self.query_in("chunks", "id", list(ids), ["id", "document_id", "version", "dense"],
                                            "has_vector == true"))
        found = {row["id"]: row["dense"] for row in rows}
        present = [i for i in ids if i in found]
        if not present:
            return [], np.zeros((0, 0), dtype=np.float32)
        return present, np.asarray([found[i] for i in present], dtype=np.float32)

    def vector_ids(self) -> list[str]:
        return [row["id"] for row in self._chunk_rows("has_vector == true", ["id", "document_id", "version"])]

    def chunks_without_vectors(self) -> list[Chunk]:
        rows = self._chunk_rows("has_vector == false")
        return [_chunk(row) for row in sorted(rows, key=lambda row: (row["document_id"], row["seq"]))]

    # -- search (server-side) -------------------------------------------------------------------
    def keyword_search(self, query: str, k: int, expression: str = "") -> list[tuple[Chunk, float]]:
        """BM25 over the chunk text (Milvus analyses the query as it analysed the chunks)."""
        def run(limit: int) -> list[dict]:
            return self._client.search(self._tables["chunks"].name, data=[query], anns_field="sparse", limit=limit,
                                       filter=expression, output_fields=_CHUNK_FIELDS)[0]
        return self._visible_hits(run, k)

    def vector_search(self, vector: np.ndarray, k: int, expression: str = "") -> list[tuple[Chunk, float]]:
        """Cosine nearest chunks to ``vector``."""
        def run(limit: int) -> list[dict]:
            return self._client.search(self._tables["chunks"].name, data=[vector.astype(np.float32).tolist()],
                                       anns_field="dense", limit=limit, filter=_with_vectors(expression),
                                       output_fields=_CHUNK_FIELDS)[0]
        return self._visible_hits(run, k)

    def hybrid_search(self, query: str, vector: np.ndarray, k: int, rrf_k: float, candidates: int,
                      expression: str = "") -> list[tuple[Chunk, float]]:
        """BM25 and dense in one Milvus request, fused server-side by Milvus's RRF ranker
        (``candidates`` from each; unweighted: Milvus's RRF takes no weights)."""
        from pymilvus import AnnSearchRequest, RRFRanker

        def run(limit: int) -> list[dict]:
            wide = max(limit, candidates)
            requests = [AnnSearchRequest([query], "sparse", {}, wide, expr=expression or None),
                        AnnSearchRequest([vector.astype(np.float32).tolist()], "dense", {}, wide,
                                         expr=_with_vectors(expression))]
            return self._client.hybrid_search(self._tables["chunks"].name, requests, RRFRanker(rrf_k), limit=limit,
                                              output_fields=_CHUNK_FIELDS)[0]
        return self._visible_hits(run, k)

    def _visible_hits(self, run: Callable[[int], list[dict]], k: int) -> list[tuple[Chunk, float]]:
        """(chunk, score) best first, only visible chunks, read from the search results (no second
        lookup). Milvus ranks rows of a write in progress too, so the search widens until ``k``
        visible ones are found or it runs dry."""
        if not self._has_chunks() or k <= 0:
            return []
        limit = k + 16
        while True:
            results = run(limit)
            # Milvus Lite reports BM25 as a negative distance, a server as a positive score; the order is theirs.
            rows = [{**hit["entity"], "score": abs(float(hit["distance"]))} for hit in results]
            visible = self._visible(rows)
            if len(visible) >= k or len(results) < limit or limit >= QUERY_LIMIT:
                return [(_chunk(row), row["score"]) for row in visible[:k]]
            limit = min(limit * 4, QUERY_LIMIT)

    def filter_expression(self, where: Filter) -> str:
        """A Milvus expression over chunk fields allowing what ``where`` allows. A path glob becomes
        LIKE when that is exact (Milvus's LIKE has no escapes: '_' and '%' are always wildcards);
        otherwise the documents are matched here and the expression names them."""
        like, exact = _glob_to_like(where.path_glob) if where.path_glob else ("", True)
        if not exact:
            candidates = self.query("documents", f"path like {literal(like)}", _DOCUMENT_FIELDS)
            ids = [row["id"] for row in candidates if where.allows(_stored(row))]
            return f"document_id in {literal(ids)}"
        parts = []
        if where.kind is not None:
            parts.append("figure is not null" if where.kind == "figure" else "figure is null")
        if where.document_ids is not None:
            parts.append(f"document_id in {literal(list(where.document_ids))}")
        if like:
            parts.append(f"path like {literal(like)}")
        for field, after, before in (("modified_at", where.modified_after, where.modified_before),
                                     ("ingested_at", where.ingested_after, where.ingested_before)):
            if after is not None:
                parts.append(f"{field} >= {after!r}")
            if before is not None:
                parts.append(f"{field} < {before!r}")
            if after is not None or before is not None:
                parts.append(f"{field} is not null")
        return " and ".join(parts)

    # -- claims (several writers) ---------------------------------------------------------------
    def claim(self, document_id: str) -> str | None:
        """Claim a document for converting; None when granted, else who holds it. Milvus has no
        compare-and-set, so two writers racing in the same instant may both win: they then write
        the same rows (content-hash ids, upserts) and the claim only saved work, never correctness."""
        held = self.get("claims", document_id, ["owner", "expires_at"])
        now = time.time()
        if held and held["owner"] != self.owner and held["expires_at"] > now and not claim_is_dead(held["owner"]):
            return held["owner"]
        self.insert("claims", [{"document_id": document_id, "owner": self.owner,
                                 "expires_at": now + self._claim_ttl_s}])
        again = self.get("claims", document_id, ["owner"])
        return None if not again or again["owner"] == self.owner else again["owner"]

    def release(self, document_id: str) -> None:
        self.delete("claims", f'document_id == "{document_id}" and owner == "{self.owner}"')

    # -- the entity graph -----------------------------------------------------------------------
    def put_graph(self, graphs: Sequence[ChunkGraph], extractor: str) -> None:
        present = {chunk.id for chunk in self.get_chunks([graph.chunk_id for graph in graphs])}
        graphs = [graph for graph in graphs if graph.chunk_id in present]
        ids = [graph.chunk_id for graph in graphs]
        self.delete_in("mentions", "chunk_id", ids)
        self.delete_in("relations", "chunk_id", ids)
        self.insert("graph_chunks", [{"chunk_id": chunk_id, "extractor": extractor} for chunk_id in ids])
        self.insert("mentions", [{"chunk_id": g.chunk_id, "entity": m.key, "name": m.name, "type": m.type,
                                   "weight": m.weight, "description": m.description}
                                  for g in graphs for m in g.mentions], upsert=False)
        self.insert("relations", [{"chunk_id": g.chunk_id, "source": r.source, "target": r.target,
                                    "weight": r.weight, "description": r.description}
                                   for g in graphs for r in g.relations], upsert=False)
        self._set_meta(graph_revision=str(secrets.randbits(62)))

    def _forget_graph(self, chunk_ids: list[str]) -> None:
        for name in ("graph_chunks", "mentions", "relations"):
            self.delete_in(name, "chunk_id", chunk_ids)

    def chunks_without_graph(self, extractor: str) -> list[Chunk]:
        read = {row["chunk_id"] for row in self.query("graph_chunks", f'extractor == "{extractor}"', ["chunk_id"])}
        rows = [row for row in self._chunk_rows("") if row["id"] not in read]
        return [_chunk(row) for row in sorted(rows, key=lambda row: (row["path"], row["seq"]))]

    def _ordered_chunk_ids(self) -> list[str]:
        rows = self._chunk_rows("", ["id", "document_id", "version", "path", "seq"])
        return [row["id"] for row in sorted(rows, key=lambda row: (row["path"], row["seq"]))]

    def graph_rows(self) -> GraphRows:
        order = self._ordered_chunk_ids()
        alive = set(order)
        mentions = sorted((row for row in self.query("mentions", "", ["row", "chunk_id", "entity", "name", "type",
                                                                      "weight", "description"])
                           if row["chunk_id"] in alive), key=lambda row: row["row"])
        relations = [row for row in self.query("relations", "", ["chunk_id", "source", "target", "weight"])
                     if row["chunk_id"] in alive]
        named = {row["chunk_id"] for row in mentions}
        names: dict[tuple[str, str, str], float] = defaultdict(float)
        for row in mentions:
            names[(row["entity"], row["name"], row["type"])] += row["weight"]
        pairs: dict[tuple[str, str], float] = defaultdict(float)
        for row in relations:
            pairs[(row["source"], row["target"])] += row["weight"]
        descriptions = dict.fromkeys((row["entity"], row["description"]) for row in mentions if row["description"])
        return GraphRows(chunk_ids=[chunk_id for chunk_id in order if chunk_id in named],
                         mentions=[(row["chunk_id"], row["entity"], row["weight"]) for row in mentions],
                         names=[(*key, weight) for key, weight in names.items()],
                         descriptions=sorted(descriptions, key=lambda pair: pair[0]),
                         relations=[(*pair, weight) for pair, weight in pairs.items()])

    def relation_sources(self, entity: str | None = None) -> dict[tuple[str, str], list[str]]:
        expression = f"source == {literal(entity)} or target == {literal(entity)}" if entity else ""
        sources: dict[tuple[str, str], list[str]] = {}
        for row in self.query("relations", expression, ["row", "chunk_id", "source", "target"]):
            chunks = sources.setdefault((min(row["source"], row["target"]), max(row["source"], row["target"])), [])
            if row["chunk_id"] not in chunks:
                chunks.append(row["chunk_id"])
        return sources

    def graph_counts(self) -> dict[str, int]:
        per_extractor: dict[str, int] = defaultdict(int)
        for row in self.query("graph_chunks", "", ["extractor"]):
            per_extractor[row["extractor"]] += 1
        counts = {f"chunks read ({extractor})": n for extractor, n in sorted(per_extractor.items())}
        counts["mentions"] = self.count("mentions")
        counts["relations"] = self.count("relations")
        return counts

    def community_summary(self, key: str) -> str | None:
        self.open(["summaries"])
        row = self.get("summaries", key, ["summary"])
        return row["summary"] if row else None

    def put_community_summary(self, key: str, summary: str, model: str) -> None:
        self.insert("summaries", [{"key": key, "summary": summary, "model": model}])

    # -- copying in (ponder migrate) ------------------------------------------------------------
    def put_graph_export(self, export: GraphExport) -> None:
        """Write a graph read from another store (the chunks must be here already), replacing
        what an earlier copy of the same chunks wrote."""
        self._forget_graph(sorted({chunk_id for chunk_id, _ in export.graph_chunks}))
        self.insert("graph_chunks", [{"chunk_id": c, "extractor": e} for c, e in export.graph_chunks])
        self.insert("mentions", [dict(zip(("chunk_id", "entity", "name", "type", "weight", "description"), row))
                                  for row in export.mentions], upsert=False)
        self.insert("relations", [dict(zip(("chunk_id", "source", "target", "weight", "description"), row))
                                   for row in export.relations], upsert=False)
        self.insert("summaries", [{"key": k, "summary": s, "model": m} for k, s, m in export.summaries])
        self._changed()

    def set_vector_identity(self, embedder: str | None, epoch: int) -> None:
        if embedder:
            self._set_meta(embedder=embedder, vectors_epoch=str(epoch))


def _with_vectors(expression: str) -> str:
    return f"has_vector == true and ({expression})" if expression else "has_vector == true"


def _glob_to_like(glob: str) -> tuple[str, bool]:
    """(a LIKE pattern matching at least what ``glob`` matches, whether it matches exactly that)."""
    exact = not any(ch in glob for ch in "_%[")
    return "".join("%" if ch == "*" else "_" if ch == "?" else ch for ch in _brackets_as_one(glob)), exact


def _brackets_as_one(glob: str) -> str:
    """A glob with each ``[...]`` set replaced by '?' (one character, any)."""
    out, i = [], 0
    while i < len(glob):
        end = glob.find("]", i + 2) if glob[i] == "[" else -1
        out.append("?" if end != -1 else glob[i])
        i = end + 1 if end != -1 else i + 1
    return "".join(out)


def _key(document_id: str, version: str, seq: int) -> str:
    """A chunk row's primary key: its document, version and position, so that the keys of any
    version of a document follow from its row (id, content hash, chunk count) with no lookup."""
    return f"{document_id}{version[:16]}{seq:06d}"


def _keys(document_id: str, version: str, count: int) -> list[str]:
    return [_key(document_id, version, seq) for seq in range(count)]


def _chunk_row(chunk: Chunk, seq: int, version: str, document: StoredDocument, vector: np.ndarray,
               has_vector: bool) -> dict:
    return {"key": _key(document.id, version, seq), "id": chunk.id, "document_id": chunk.document_id,
            "version": version, "seq": seq, "path": chunk.path, "text": chunk.text, "start": chunk.start,
            "end": chunk.end, "page": chunk.page, "page_end": chunk.page_end,
            "heading_path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
            "modified_at": document.modified_at, "ingested_at": document.ingested_at, "has_vector": has_vector,
            "figure": figure_to_json(chunk.figure), "dense": np.asarray(vector, dtype=np.float32).tolist()}


def _document_row(document: StoredDocument) -> dict:
    return {"id": document.id, "path": document.path, "content_hash": document.content_hash,
            "file_type": document.file_type, "page_count": document.page_count, "chunk_count": document.chunk_count,
            "ingested_at": document.ingested_at, "modified_at": document.modified_at}


def _stored(row: dict) -> StoredDocument:
    return StoredDocument(row["id"], row["path"], row["content_hash"], row["file_type"], row["page_count"],
                          row["chunk_count"], row["ingested_at"], row["modified_at"])


def _chunk(row: dict) -> Chunk:
    return Chunk(id=row["id"], document_id=row["document_id"], path=row["path"], text=row["text"],
                 start=row["start"], end=row["end"], page=row["page"], page_end=row["page_end"],
                 heading_path=tuple(json.loads(row["heading_path"])), figure=figure_from_json(row.get("figure")))
