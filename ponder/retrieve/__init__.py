"""Retrieve stage: a question in, ranked :class:`~ponder.types.Hit` s out."""

from ponder.retrieve.bm25 import BM25Retriever

__all__ = ["BM25Retriever"]
