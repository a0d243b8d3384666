"""Index stage: the persistent chunk store and the BM25 index built over it."""

from ponder.index.bm25 import BM25Index
from ponder.index.store import ChunkStore, Store, StoredDocument, StoreError
from ponder.index.tokenize import tokenize

__all__ = ["BM25Index", "ChunkStore", "Store", "StoreError", "StoredDocument", "tokenize"]
