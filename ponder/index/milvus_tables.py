"""Milvus collections as tables: connecting to Milvus (a server or Milvus Lite), a
:class:`Table`'s fields, and :class:`MilvusTables`, which creates them on first use and does the few
row operations Ponder needs (upsert, query any number of rows, delete, count).

The store (:mod:`ponder.index.milvus_store`) keeps its documents, chunks and graph in such tables;
the server keeps its collections' registry, API keys and jobs in others.

Example::

    tables = MilvusTables(connect("http://milvus:19530"), {"notes": Table("ponder_notes", (("key", *IDENT),
                                                                                            ("text", *TEXT)), "key")})
    tables.open(["notes"])
    tables.insert("notes", [{"key": "a", "text": "乌龙茶"}])
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from ponder.index.store import StoreError

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from ponder.config import StoreConfig

TEXT_BYTES = 65_535  # Milvus's VARCHAR limit
_BATCH = 500  # rows per insert, ids per "in [...]" expression
QUERY_LIMIT = 16_384  # Milvus's most rows per query; beyond it, a query iterator pages
_PAD = [0.0, 0.0]  # Milvus wants a vector field in every collection; bookkeeping tables carry this one
_BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults (Milvus's own k1 is 1.2)


def connect(uri: str, token: str = "", database: str = "") -> MilvusClient:
    """A client for a Milvus server (``http://host:19530``) or a Milvus Lite folder (``*.db``)."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        return MilvusClient(uri=uri, token=token, db_name=database)
    except MilvusException as exc:
        raise StoreError(f"cannot open Milvus at store.milvus_uri = {uri!r}: {exc.message}") from None


def connect_configured(settings: StoreConfig, data_dir: Path) -> tuple[MilvusClient, str]:
    """A client for the configured Milvus (``store.milvus_uri``; empty: Milvus Lite in the data
    dir), and the URI it names."""
    uri = settings.milvus_uri or str(data_dir / "milvus-store.db")
    if "://" not in uri:  # Milvus Lite: a folder of its own, whose parent must exist
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return connect(uri, settings.milvus_token, settings.milvus_database), uri


def milvus_name(name: str) -> str:
    """A serve collection's name as Milvus allows it (letters, digits, '_'), one to one: '_' is
    written '_u' and '-' '_h'."""
    return name.replace("_", "_u").replace("-", "_h")


@dataclass(frozen=True)
class Table:
    """One Milvus collection: its fields (name, type, settings), its primary key, and whether it
    holds the chunks (dense and BM25 vectors) or bookkeeping rows (a two-number pad vector)."""

    name: str
    fields: tuple[tuple[str, str, dict], ...]
    primary: str
    chunks: bool = False
    indexed: tuple[str, ...] = ()  # scalar fields filters look up often (an INVERTED index each)


TEXT = ("VARCHAR", {"max_length": TEXT_BYTES})
IDENT = ("VARCHAR", {"max_length": 64})


class MilvusTables:
    """A set of Milvus collections (see :class:`Table`) created on first use, with the few row
    operations Ponder needs: upsert, query (any number of rows), delete, count."""

    def __init__(self, client: MilvusClient, tables: dict[str, Table], dimension: Callable[[], int] = lambda: 0):
        self._client = client
        self._tables = tables
        self._dimension = dimension
        self._ready: set[str] = set()

    # -- collections ----------------------------------------------------------------------------
    def open(self, names: Iterable[str], create: bool = True) -> None:
        """Load these collections, creating those missing when ``create`` (reads do not create)."""
        for name in names:
            if name in self._ready:
                continue
            table = self._tables[name]
            if not self._client.has_collection(table.name):
                if not create:
                    continue
                if table.chunks and not self._dimension():
                    continue  # created by the first document, when the embedder's size is known
                self._create(table)
            else:
                self._check_fields(table)
            self._client.load_collection(table.name)
            self._ready.add(name)

    def _check_fields(self, table: Table) -> None:
        """Refuse a collection made by an older Ponder that lacks fields this one writes."""
        have = {field["name"] for field in self._client.describe_collection(table.name)["fields"]}
        missing = [name for name, *_ in table.fields if name not in have]
        if missing:
            raise StoreError(f"the Milvus collection {table.name} was made by an older Ponder (it has no "
                             f"{', '.join(missing)}); migrate into a new store.collection_prefix "
                             f"(ponder migrate --to milvus --prefix NEW from a local index) or re-ingest there")

    def _create(self, table: Table) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient
        from pymilvus.exceptions import MilvusException

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        for field, kind, settings in table.fields:
            settings = dict(settings)
            auto_id = settings.pop("auto_id", False)
            schema.add_field(field, getattr(DataType, kind), is_primary=field == table.primary, auto_id=auto_id,
                             **settings)
        index = self._client.prepare_index_params()
        if table.chunks:
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self._dimension())
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                         output_field_names=["sparse"]))
            index.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=_BM25)
        else:
            schema.add_field("pad", DataType.FLOAT_VECTOR, dim=len(_PAD))
            index.add_index("pad", index_type="FLAT", metric_type="L2")
        for field in table.indexed:
            index.add_index(field, index_type="INVERTED")
        # Strong: a writer's next read (and every replica's) sees what was just written.
        try:
            self._client.create_collection(table.name, schema=schema, index_params=index, consistency_level="Strong")
        except MilvusException:
            # Another writer creating it in the same instant: theirs has the same schema, but may not
            # be listed yet (Milvus Lite refuses ours with "File exists" while it is half made).
            deadline = time.monotonic() + 10
            while not self._client.has_collection(table.name):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def drop(self) -> None:
        """Delete every collection (a serve collection being deleted)."""
        for table in self._tables.values():
            if self._client.has_collection(table.name):
                self._client.drop_collection(table.name)
        self._ready.clear()

    def close(self) -> None:
        """Close the client: each opener connects its own (see :func:`connect_configured`)."""
        self._client.close()

    # -- rows -----------------------------------------------------------------------------------
    def insert(self, name: str, rows: list[dict], upsert: bool = True) -> None:
        self.open([name])
        table = self._tables[name]
        if not table.chunks:
            rows = [{**row, "pad": _PAD} for row in rows]
        write = self._client.upsert if upsert else self._client.insert
        for start in range(0, len(rows), _BATCH):
            write(table.name, rows[start:start + _BATCH])

    def query(self, name: str, expression: str, fields: list[str]) -> list[dict]:
        """Every row matching ``expression`` (all rows when empty), however many."""
        self.open([name], create=False)
        if name not in self._ready:
            return []
        table = self._tables[name]
        expression = expression or _everything(table)
        rows = self._client.query(table.name, filter=expression, output_fields=fields, limit=QUERY_LIMIT)
        if len(rows) < QUERY_LIMIT:
            return list(rows)
        iterator = self._client.query_iterator(table.name, batch_size=4096, filter=expression, output_fields=fields)
        rows = []
        while batch := iterator.next():
            rows.extend(batch)
        iterator.close()
        return rows

    def get(self, name: str, key: str, fields: list[str]) -> dict | None:
        """The row with this primary key, or None."""
        rows = self._client.query(self._tables[name].name, ids=[key], output_fields=fields)
        return rows[0] if rows else None

    def query_in(self, name: str, field: str, values: Sequence[str], fields: list[str], extra: str = "") -> list[dict]:
        rows: list[dict] = []
        for start in range(0, len(values), _BATCH):
            expression = f"{field} in {literal(list(values[start:start + _BATCH]))}"
            rows += self.query(name, expression + (f" and ({extra})" if extra else ""), fields)
        return rows

    def delete(self, name: str, expression: str) -> None:
        self.open([name], create=False)
        if name in self._ready:
            self._client.delete(self._tables[name].name, filter=expression)

    def delete_in(self, name: str, field: str, values: Sequence[str]) -> None:
        for start in range(0, len(values), _BATCH):
            self.delete(name, f"{field} in {literal(list(values[start:start + _BATCH]))}")

    def count(self, name: str, expression: str = "") -> int:
        self.open([name], create=False)
        if name not in self._ready:
            return 0
        table = self._tables[name]
        rows = self._client.query(table.name, filter=expression or _everything(table), output_fields=["count(*)"])
        return int(rows[0]["count(*)"])


def _everything(table: Table) -> str:
    return f"{table.primary} >= 0" if table.primary == "row" else f'{table.primary} != ""'


def literal(value: object) -> str:
    """A Milvus expression literal: strings and lists of strings as JSON (double quotes, escapes)."""
    return json.dumps(value, ensure_ascii=False)
