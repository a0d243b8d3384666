"""One question's scores for one mode: answer, retrieval, citations, refusal, cost, robustness.

Passages are identified by the file stem of their chunk (a benchmark corpus is written one passage
per file, ``<id>.txt``) or, for a user's own corpus, by file name; ``relevant`` may use either.

Example::

    scores = score_answer(question, answer, prices={"deepseek-reasoner": Price(0.55, 2.19)})
    scores["correct"], scores["recall@5"], scores["citation_precision"], scores["cost"]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.evaluate.answers import answer_correct, answer_groups, flags_conflict, is_refusal, normalise
from ponder.evaluate.datasets import EvalQuestion
from ponder.evaluate.metrics import mrr_at, recall_at
from ponder.evaluate.tatqa import tatqa_scores
from ponder.types import Answer, Chunk

RECALL_K = (5, 20)


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens. Reasoning tokens are billed as output."""

    input: float
    output: float


def passage_ids(chunk: Chunk) -> set[str]:
    return _ids(chunk.path)


def _ids(path: str) -> set[str]:
    return {Path(path).stem, Path(path).name}


def score_answer(question: EvalQuestion, answer: Answer, prices: dict[str, Price] | None = None) -> dict[str, Any]:
    """Per-question scores; None where a measure does not apply (no expected answers, no relevance)."""
    relevant = set(question.relevant)
    retrieved = _retrieved_ranking(answer, relevant)
    given = [passage_ids(hit.chunk) for hit in answer.hits]
    cited = [passage_ids(_chunk_of(answer, c.chunk_id)) for c in answer.citations]
    has_answers = bool(answer_groups(question.answers))
    refusal = is_refusal(answer.text)
    relevant_given = any(ids & relevant for ids in given)
    scores: dict[str, Any] = {
        "correct": answer_correct(answer.text, question.answers) if has_answers else None,
        "refusal": refusal,
        # A refusal is right when no relevant passage reached the model (nothing to answer from).
        "refusal_correct": (not relevant_given) if refusal and relevant else None,
        "no_answer": not answer.text.strip(),
        "fell_back": bool(answer.fallbacks),
        "fallbacks": len(answer.fallbacks),
        "invalid_citations": len(answer.invalid_citations),
        "seconds": sum(answer.timings.values()),
        "timings": dict(answer.timings),
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "reasoning_tokens": answer.usage.reasoning_tokens,
        "tokens_estimated": answer.usage.estimated,
        "cost": _cost(answer, prices or {}),
        "steps": sum(1 for step in answer.trace.walk() if step.stage == "llm"),
    }
    for k in RECALL_K:
        scores[f"recall@{k}"] = recall_at(retrieved, relevant, k) if relevant else None
    scores["mrr@10"] = mrr_at(retrieved, relevant, 10) if relevant else None
    scores["citation_precision"], scores["citation_recall"] = _citation_quality(
        question, answer, cited, given, relevant)
    if question.gold:  # TAT-QA: its exact match is the accuracy, its numeracy F1 beside it
        tatqa = tatqa_scores(answer.text, question.gold)
        scores["correct"], scores["f1"] = bool(tatqa["em"]), tatqa["f1"]
        scores["predicted"], scores["predicted_scale"] = tatqa["predicted"], tatqa["scale"]
    if question.counterfactual:
        scores["follows_counterfactual"] = (normalise(question.counterfactual) in normalise(answer.text)
                                            and not answer_correct(answer.text, question.answers))
        scores["flags_conflict"] = (bool(answer.conflicts) or flags_conflict(answer.text)
                                    or flags_conflict(answer.thinking))
    return scores


def _retrieved_ranking(answer: Answer, relevant: set[str]) -> list[str]:
    """Passage ids in the order retrieval first returned them, over every retrieval of the answer
    (file names where ``relevant`` uses names, else file stems)."""
    ranking: list[str] = []
    for step in answer.trace.walk():
        if step.stage != "retrieve":
            continue
        for path in step.detail["paths"]:
            ids = _ids(path)
            key = next(iter(ids & relevant), Path(path).stem)
            if key not in ranking:
                ranking.append(key)
    return ranking


def _chunk_of(answer: Answer, chunk_id: str) -> Chunk:
    return next(hit.chunk for hit in answer.hits if hit.chunk.id == chunk_id)


def _citation_quality(question: EvalQuestion, answer: Answer, cited: list[set[str]], given: list[set[str]],
                      relevant: set[str]) -> tuple[float | None, float | None]:
    """Precision: cited passages that are relevant or contain an expected answer. Recall: relevant
    passages the model was given that it cited."""
    if not cited:
        return None, (0.0 if relevant and any(ids & relevant for ids in given) else None)
    texts = {c.chunk_id: _chunk_of(answer, c.chunk_id).text for c in answer.citations}
    supporting = 0
    for citation, ids in zip(answer.citations, cited):
        contains = bool(answer_groups(question.answers)) and any(
            normalise(alt) in normalise(texts[citation.chunk_id])
            for group in answer_groups(question.answers) for alt in group if normalise(alt))
        supporting += bool(ids & relevant) or contains
    precision = supporting / len(cited)
    relevant_given = [ids for ids in given if ids & relevant]
    recall = (sum(1 for ids in relevant_given if ids in cited) / len(relevant_given)) if relevant_given else None
    return precision, recall


def _cost(answer: Answer, prices: dict[str, Price]) -> float | None:
    """Dollars for the answer's calls, priced per model; None when a model has no price."""
    total = 0.0
    for step in answer.trace.walk():
        if step.stage != "llm":
            continue
        price = prices.get(step.detail["model"])
        if price is None:
            return None
        total += (step.detail["prompt_tokens"] * price.input + step.detail["completion_tokens"] * price.output) / 1e6
    return total
