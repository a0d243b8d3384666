"""Evaluate stage: datasets and metrics for measuring retrieval and answers."""

from ponder.evaluate.metrics import mrr_at, ndcg_at, recall_at
from ponder.evaluate.rgb import RGBQuestion, load_rgb

__all__ = ["RGBQuestion", "load_rgb", "mrr_at", "ndcg_at", "recall_at"]
