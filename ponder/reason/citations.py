"""Turn the ``[n]`` markers in an answer into citations of real chunks.

Models misnumber: a marker with no passage behind it is removed from the answer text (and reported),
never resolved to something else. When a model cites nothing at all, the answer is attributed to
the passage it overlaps most, by shared character bigrams (language-neutral), and the citation is
marked ``source="overlap"`` so nobody mistakes it for the model's own.

Example::

    text, citations, invalid = resolve_citations("Paris [1][7].", hits)  # 2 hits: [7] is invalid
"""

from __future__ import annotations

import re

from ponder.types import Citation, Hit

# [1], [1, 2], [1][2], 【1】, [1，2] and [1、2] (Chinese list punctuation).
_MARKER = re.compile(r"([ \t]*)[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")
_NUMBER = re.compile(r"\d+")
MIN_OVERLAP = 0.3


def resolve_citations(text: str, hits: list[Hit]) -> tuple[str, list[Citation], list[int]]:
    """Return the answer text with invalid markers removed, its citations, and the invalid numbers."""
    cited: list[int] = []
    invalid: list[int] = []

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in _NUMBER.findall(match.group(2))]
        valid = [n for n in numbers if 1 <= n <= len(hits)]
        invalid.extend(n for n in numbers if n not in valid)
        cited.extend(n for n in valid if n not in cited)
        # An invalid marker goes with the space before it, so "word [9]." becomes "word.".
        return f"{match.group(1)}[{', '.join(map(str, valid))}]" if valid else ""

    cleaned = _MARKER.sub(keep_valid, text).strip()
    if cited:
        return cleaned, [_citation(n, hits[n - 1], "model") for n in cited], invalid
    best = _best_overlap(cleaned, hits)
    citations = [_citation(best + 1, hits[best], "overlap")] if best is not None else []
    return cleaned, citations, invalid


def _best_overlap(text: str, hits: list[Hit]) -> int | None:
    answer = _bigrams(text)
    if not answer:
        return None
    scores = [len(answer & _bigrams(hit.chunk.text)) / len(answer) for hit in hits]
    if not scores or max(scores) < MIN_OVERLAP:
        return None
    return scores.index(max(scores))


def _bigrams(text: str) -> set[str]:
    compact = "".join(ch.lower() for ch in text if ch.isalnum())
    return {compact[i:i + 2] for i in range(len(compact) - 1)}


def _citation(marker: int, hit: Hit, source: str) -> Citation:
    chunk = hit.chunk
    return Citation(marker=marker, chunk_id=chunk.id, path=chunk.path, page=chunk.page,
                    heading_path=chunk.heading_path, source=source, page_end=chunk.page_end)
