"""Evaluate stage: datasets and metrics for measuring retrieval and answers."""

from ponder.evaluate.answers import answer_correct, flags_conflict, is_refusal, normalise
from ponder.evaluate.datasets import Dataset, DatasetError, EvalQuestion, load_beir, load_dataset, load_jsonl, load_rgb
from ponder.evaluate.metrics import mrr_at, ndcg_at, recall_at

__all__ = [
    "Dataset", "DatasetError", "EvalQuestion", "answer_correct", "flags_conflict", "is_refusal", "load_beir",
    "load_dataset", "load_jsonl", "load_rgb", "mrr_at", "ndcg_at", "normalise", "recall_at",
]
