"""Extractive answers (``reason.answer_style = "extractive"``): the passage sentences that best
answer the question, quoted verbatim with their citations. Nothing is written, so nothing can be
invented — the default for base models such as the embedded one, which otherwise answer
"10 days" from a passage that says "eight hours".

Candidates are ranked without a model: BM25 over the passages' sentences, then, for the best of
those, the embedding similarity to the question. The model then chooses among the candidates,
held by the endpoint's constraint to their numbers (a grammar for the embedded model); when its
choice is unusable the best-ranked candidate is quoted.

Example::

    scorer = SentenceScorer(embed=embedder.embed_passages, embed_query=embedder.embed_query)
    scorer.candidates("How long is the oolong roasted?", numbered)[0]
    # Candidate(passage=1, text="The oolong is roasted over charcoal for eight hours.", score=0.93)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import bm25s
import numpy as np

from ponder.index.tokenize import tokenize
from ponder.reason.grounding import COSINE_CEILING, COSINE_FLOOR, split_sentences
from ponder.reason.prompts import Numbered

CANDIDATES = 6  # shown to the model; more is more prompt for a small model to get lost in
EMBEDDED = 12  # sentences BM25 keeps for the embedding to re-rank (each costs ~15 ms on 2 cores)
MIN_CHARS = 8  # shorter pieces are headings, list markers, table fragments


@dataclass(frozen=True)
class Candidate:
    passage: int  # the passage's citation number
    text: str
    score: float

    def quoted(self) -> str:
        return f"{self.text} [{self.passage}]"


class SentenceScorer:
    """Ranks passage sentences as answers to a question. ``embed`` / ``embed_query`` (the
    configured embedder) add semantic similarity to BM25; without them BM25 alone ranks."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None = None,
                 embed_query: Callable[[str], np.ndarray] | None = None):
        self.embed = embed
        self.embed_query = embed_query

    def candidates(self, question: str, numbered: Numbered, limit: int = CANDIDATES) -> list[Candidate]:
        sentences = [(n, text) for n, hit in numbered for text in split_sentences(hit.chunk.text)[1]
                     if len(text) >= MIN_CHARS]
        if not sentences:
            return []
        lexical = _bm25(question, [text for _, text in sentences])
        order = np.argsort(-lexical, kind="stable")[:EMBEDDED]
        scores = {int(i): float(lexical[i]) for i in order}
        if self.embed is not None and self.embed_query is not None:
            vectors = self.embed([sentences[i][1] for i in order])
            cosines = vectors @ self.embed_query(question)
            for i, cosine in zip(order, cosines.tolist()):
                semantic = min(max((cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0.0), 1.0)
                scores[int(i)] = 0.5 * scores[int(i)] + 0.5 * semantic
        best = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
        return [Candidate(sentences[i][0], sentences[i][1], round(scores[i], 3)) for i in best]


def choice_schema(count: int) -> dict[str, Any]:
    """One or two of ``count`` candidate numbers."""
    return {"type": "object", "properties": {"sentences": {
        "type": "array", "minItems": 1, "maxItems": min(2, count),
        "items": {"type": "integer", "enum": list(range(1, count + 1))}}},
        "required": ["sentences"], "additionalProperties": False}


def chosen_numbers(count: int) -> Callable[[Any], list[int]]:
    def validate(value: Any) -> list[int]:
        picks = value.get("sentences") if isinstance(value, dict) else None
        if not isinstance(picks, list) or not picks:
            raise ValueError('expected {"sentences": [numbers]}')
        numbers = []
        for pick in picks:
            if not isinstance(pick, int) or not 1 <= pick <= count:
                raise ValueError(f"no candidate sentence {pick!r} (1-{count})")
            if pick not in numbers:
                numbers.append(pick)
        return numbers
    return validate


def _bm25(question: str, sentences: list[str]) -> np.ndarray:
    """BM25 of each sentence for the question, scaled so the best is 1 (all 0 when none matches)."""
    query = tokenize(question)
    corpus = [tokenize(text) for text in sentences]
    if not query or not any(corpus):
        return np.zeros(len(sentences))
    retriever = bm25s.BM25()
    retriever.index([tokens or [""] for tokens in corpus], show_progress=False)
    scores = np.asarray(retriever.get_scores(query), dtype=np.float64)
    top = scores.max()
    return scores / top if top > 0 else scores
