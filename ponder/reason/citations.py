"""Turn the ``[n]`` markers in an answer into citations of real chunks.

Models misnumber: a marker with no passage behind it is removed from the answer text (and reported),
never resolved to something else. When a model cites nothing at all, the answer is attributed to
the passage it overlaps most, by shared character bigrams (language-neutral), and the citation is
marked ``source="overlap"`` so nobody mistakes it for the model's own.

Example::

    text, citations, invalid = resolve_citations("Paris [1][7].", [(1, hit_a), (2, hit_b)])  # [7] invalid
"""

from __future__ import annotations

import re
from typing import Sequence

from ponder.types import Citation, Hit

# [1], [1, 2], [1][2], 【1】, [1，2] and [1、2] (Chinese list punctuation).
_MARKER = re.compile(r"([ \t]*)[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")
_NUMBER = re.compile(r"\d+")
MIN_OVERLAP = 0.3


def resolve_citations(text: str, numbered: Sequence[tuple[int, Hit]]) -> tuple[str, list[Citation], list[int]]:
    """Return the answer text with invalid markers removed, its citations, and the invalid numbers.
    ``numbered`` are the passages the model was given, with the numbers it saw them under."""
    given = dict(numbered)
    cited: list[int] = []
    invalid: list[int] = []

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in _NUMBER.findall(match.group(2))]
        valid = [n for n in numbers if n in given]
        invalid.extend(n for n in numbers if n not in valid)
        cited.extend(n for n in valid if n not in cited)
        # An invalid marker goes with the space before it, so "word [9]." becomes "word.".
        return f"{match.group(1)}[{', '.join(map(str, valid))}]" if valid else ""

    cleaned = _MARKER.sub(keep_valid, text).strip()
    if cited:
        return cleaned, [citation(n, given[n], "model") for n in cited], invalid
    best = _best_overlap(cleaned, numbered)
    citations = [citation(best, given[best], "overlap")] if best is not None else []
    return cleaned, citations, invalid


def _best_overlap(text: str, numbered: Sequence[tuple[int, Hit]]) -> int | None:
    """The number of the passage sharing the most character bigrams with ``text``, if enough."""
    answer = _bigrams(text)
    if not answer or not numbered:
        return None
    score, number = max(((len(answer & _bigrams(hit.chunk.text)) / len(answer), -n) for n, hit in numbered))
    return -number if score >= MIN_OVERLAP else None


def _bigrams(text: str) -> set[str]:
    compact = "".join(ch.lower() for ch in text if ch.isalnum())
    return {compact[i:i + 2] for i in range(len(compact) - 1)}


def citation(marker: int, hit: Hit, source: str) -> Citation:
    """Passage ``[marker]`` cited; ``source`` says who cited it (model, overlap, ponder...)."""
    chunk = hit.chunk
    return Citation(marker=marker, chunk_id=chunk.id, path=chunk.path, page=chunk.page,
                    heading_path=chunk.heading_path, source=source, page_end=chunk.page_end, figure=chunk.figure)
