"""Retrieve stage: a question in, ranked :class:`~ponder.types.Hit` s out.

BM25 and dense retrievers, fused by reciprocal rank (:class:`FusionRetriever`); filters narrow
the chunks searched before anything is ranked.
"""

from ponder.retrieve.bm25 import BM25Retriever
from ponder.retrieve.dense import DenseRetriever
from ponder.retrieve.filters import Filter, parse_date
from ponder.retrieve.fusion import FusionRetriever, Retriever, reciprocal_rank_fusion

__all__ = ["BM25Retriever", "DenseRetriever", "Filter", "FusionRetriever", "Retriever", "parse_date",
           "reciprocal_rank_fusion"]
