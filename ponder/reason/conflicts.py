"""Passages that disagree: two sentences from different passages that say the same thing with a
different value — "Super Bowl LV was held at Raymond James Stadium in Tampa, Florida" against
"… in Glendale, Arizona". Found without a model, in English and Chinese, so every answer (quoted or
written, any mode) can say that its passages disagree and cite each side.

Two sentences conflict when, word for word (jieba's segmentation, case and width folded), they are
the same but for one stretch of at most :data:`MAX_VALUE_WORDS` words on each side, that stretch
holds a value (a number, a capitalised name, Chinese words), the two values differ (numbers by
value: "8" and "eight" agree), and the shared words are at least :data:`MIN_SHARED` of the longer
sentence and at least :data:`MIN_SHARED_WORDS`. Sentences that share no content word with the
question are not compared: they are not about what was asked. At least one side is a passage the
answer cites.

Example::

    find_conflicts("Where was Super Bowl 2021 held?", numbered, cited=[1])
    # [Conflict(sides=(ConflictSide(1, …, "Tampa, Florida", …), ConflictSide(2, …, "Glendale, Arizona", …)))]
"""

from __future__ import annotations

import unicodedata
from difflib import SequenceMatcher

import jieba

from ponder.index.tokenize import tokenize
from ponder.reason.grounding import split_sentences
from ponder.reason.numbers import read_numbers
from ponder.reason.prompts import Numbered
from ponder.text import CJK_CHARACTER
from ponder.types import Conflict, ConflictSide

MIN_SHARED = 0.6  # of the longer sentence's words, outside the differing stretch
MIN_SHARED_WORDS = 4  # "Jul 11, 2021 ..." against "Jul 10, 2021 ...": two dated snippets, not a statement
MAX_VALUE_WORDS = 8  # a longer differing stretch is a different statement, not a different value
MAX_CONFLICTS = 3
_Words = list[tuple[str, int, int]]  # (folded word, start, end) in the sentence


def find_conflicts(question: str, numbered: Numbered, cited: list[int]) -> list[Conflict]:
    """The values the passages disagree on, each side citing its passage; ``cited`` are the
    passage numbers the answer cites (one side must be among them)."""
    asked = set(tokenize(question))
    if not asked or not cited:
        return []
    sentences = [(n, hit.chunk.id, text, _words(text)) for n, hit in numbered
                 for text in split_sentences(hit.chunk.text)[1] if asked & set(tokenize(text))]
    found: dict[frozenset[str], dict[int, ConflictSide]] = {}
    for n, chunk_id, text, words in sentences:
        if n not in cited:
            continue
        for m, other_id, other_text, other_words in sentences:
            if m == n or other_id == chunk_id:
                continue
            values = _differing_values(text, words, other_text, other_words)
            if values is None:
                continue
            ours, theirs = values
            key = frozenset((_fold(ours), _fold(theirs)))
            sides = found.setdefault(key, {})
            sides.setdefault(n, ConflictSide(n, chunk_id, ours, text))
            sides.setdefault(m, ConflictSide(m, other_id, theirs, other_text))
    conflicts = [Conflict(tuple(sorted(sides.values(), key=lambda s: s.marker))) for sides in found.values()]
    return sorted(conflicts, key=lambda c: c.sides[0].marker)[:MAX_CONFLICTS]


def disagree(sentence: str, other: str) -> tuple[str, str] | None:
    """The two values when ``sentence`` and ``other`` say the same thing but for them, else None."""
    return _differing_values(sentence, _words(sentence), other, _words(other))


def _differing_values(text: str, words: _Words, other_text: str, other_words: _Words) -> tuple[str, str] | None:
    """The two values, as each sentence writes them, when the sentences differ only in them."""
    ours, theirs = [w for w, _, _ in words], [w for w, _, _ in other_words]
    if len(set(ours) & set(theirs)) < MIN_SHARED * max(len(ours), len(theirs)):
        return None  # a cheap bound before the alignment
    changes = [op for op in SequenceMatcher(None, ours, theirs, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(changes) != 1 or changes[0][0] != "replace":
        return None
    _, a0, a1, b0, b1 = changes[0]
    shared = len(ours) - (a1 - a0)
    if (a1 - a0 > MAX_VALUE_WORDS or b1 - b0 > MAX_VALUE_WORDS or shared < MIN_SHARED_WORDS
            or shared < MIN_SHARED * max(len(ours), len(theirs))):
        return None
    value = text[words[a0][1]:words[a1 - 1][2]]
    other = other_text[other_words[b0][1]:other_words[b1 - 1][2]]
    if not (_is_value(value) and _is_value(other)) or _same_numbers(value, other):
        return None
    return value, other


def _words(sentence: str) -> _Words:
    """The sentence's words with their offsets, punctuation and spaces left out."""
    return [(_fold(word), start, end) for word, start, end in jieba.tokenize(sentence)
            if any(ch.isalnum() for ch in word)]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().strip()


def _is_value(text: str) -> bool:
    """A number, a name (a capitalised word) or Chinese words: what a fact's value is written as."""
    return (any(ch.isdigit() for ch in text) or bool(CJK_CHARACTER.search(text)) or bool(read_numbers(text))
            or any(word[:1].isupper() for word in text.split()))


def _same_numbers(value: str, other: str) -> bool:
    """"8 hours" and "eight hours" are one value written twice."""
    ours, theirs = read_numbers(value), read_numbers(other)
    return bool(ours) and [(n.value, n.unit) for n in ours] == [(n.value, n.unit) for n in theirs]
