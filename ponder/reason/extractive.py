"""Extractive answers (``reason.answer_style = "extractive"``): the passage sentences that best
answer the question, quoted verbatim with their citations. Nothing is written, so nothing can be
invented — the default for base models such as the embedded one, which otherwise answer
"10 days" from a passage that says "eight hours".

Sentences are ranked without a model: by the embedding similarity to the question (the configured
embedder; BM25 over the sentences without one), plus a small bonus for what a sentence says
beyond the question — a sentence that only repeats the question answers nothing. A chat model
then chooses among the best candidates, held by the endpoint's constraint to their numbers. A base
model does not choose: under the grammar the embedded one picked the first candidate 95 times in
100 (RGB en_fact), so the two best-ranked sentences are quoted instead, with no model call.

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
from ponder.reason.grounding import split_sentences
from ponder.reason.prompts import Numbered
from ponder.untrusted import neutralise_citations

CANDIDATES = 6  # shown to a model that chooses; more is more prompt to get lost in
QUOTED_BY_SCORER = 2  # RGB en_fact, embedded model: the answer is in the best sentence 32%, the best two 56%
EMBEDDED = 64  # at most this many sentences (BM25's best) are embedded: ~15 ms each on 2 cores
NOVELTY_WEIGHT = 0.03  # cosines of e5 spread over ~0.15; a sentence all new words gains a fifth of that
MIN_CHARS = 8  # shorter pieces are list markers, table fragments


@dataclass(frozen=True)
class Candidate:
    passage: int  # the passage's citation number
    text: str
    score: float

    def quoted(self) -> str:
        # The sentence is the document's own words; its bracketed numbers are not our citations.
        return f"{neutralise_citations(self.text)} [{self.passage}]"


class SentenceScorer:
    """Ranks passage sentences as answers to a question. ``embed`` / ``embed_query`` (the
    configured embedder) add semantic similarity to BM25; without them BM25 alone ranks."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None = None,
                 embed_query: Callable[[str], np.ndarray] | None = None):
        self.embed = embed
        self.embed_query = embed_query

    def candidates(self, question: str, numbered: Numbered, limit: int = CANDIDATES) -> list[Candidate]:
        sentences = [(n, text) for n, hit in numbered for text in split_sentences(hit.chunk.text)[1]
                     if len(text) >= MIN_CHARS and not text.startswith("#")]  # a Markdown heading answers nothing
        if not sentences:
            return []
        lexical = _bm25(question, [text for _, text in sentences])
        order = np.argsort(-lexical, kind="stable")[:EMBEDDED]
        asked = set(tokenize(question))
        if self.embed is not None and self.embed_query is not None:
            relevance = self.embed([sentences[i][1] for i in order]) @ self.embed_query(question)
            weight = NOVELTY_WEIGHT
        else:
            relevance, weight = lexical[order], 0.2  # BM25 scaled to [0, 1]
        scores = {int(i): float(r) + weight * _novelty(sentences[i][1], asked) for i, r in zip(order, relevance)}
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


def _novelty(sentence: str, asked: set[str]) -> float:
    """The share of the sentence's words that the question does not have."""
    words = set(tokenize(sentence))
    return len(words - asked) / len(words) if words else 0.0


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
