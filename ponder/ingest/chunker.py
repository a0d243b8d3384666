"""Cut a document's sections into chunks that respect paragraphs and sentences, in both languages.

Each section (a PDF page, a Markdown heading's body) is cut on its own, so a chunk never mixes two
pages or two headings. Inside a section the text is split into sentences (Chinese ends 。！？；,
English . ! ? followed by a space); sentences are packed greedily up to ``chunk_size`` estimated
tokens, preferring to cut at a paragraph break when one lies in the second half of the chunk. The
next chunk repeats the last whole sentences of the previous one, up to ``chunk_overlap`` tokens.
A sentence longer than the limit is cut at line breaks, then spaces, then characters.

Example::

    chunks = chunk_document(document, chunk_size=300, chunk_overlap=40)
    assert all(document.text[c.start:c.end] == c.text for c in chunks)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ponder.text import estimate_tokens
from ponder.types import Chunk, Document, Section

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u3000]*\n\s*")
_SENTENCE_END = re.compile(
    r"[。！？；!?]+[”’」』）)\"']*\s*"  # Chinese ends (and ! ?) need no following space
    r"|\.+[”’\"')\]]*(?:\s+|$)"  # a full stop ends a sentence only before white space: not 3.14
)
_FALLBACK_CUTS = (re.compile(r"\n"), re.compile(r"[ \t]+"))


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    ends_paragraph: bool


def chunk_document(document: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """All chunks of ``document``, in reading order. Deterministic: same input, same chunks."""
    chunks: list[Chunk] = []
    for section in document.sections:
        for start, end in _pack(_units(document.text, section, chunk_size), chunk_size, chunk_overlap):
            start, end = _strip(document.text, start, end)
            if start >= end:
                continue
            text = document.text[start:end]
            chunks.append(Chunk(
                id=Chunk.make_id(document.id, start, end, text),
                document_id=document.id,
                path=document.path,
                text=text,
                start=start,
                end=end,
                page=section.page,
                heading_path=section.heading_path,
            ))
    return chunks


def _units(text: str, section: Section, limit: int) -> list[_Unit]:
    """Sentences of a section (absolute spans), each no larger than ``limit`` tokens."""
    section_end = section.start + len(section.text)
    paragraph_ends = {m.end() for m in _PARAGRAPH_BREAK.finditer(text, section.start, section_end)}
    paragraph_ends.add(section_end)
    cuts = sorted({m.end() for m in _SENTENCE_END.finditer(text, section.start, section_end)} | paragraph_ends)
    units: list[_Unit] = []
    begin = section.start
    for cut in cuts:
        if cut <= begin:
            continue
        for start, end in _split_oversized(text, begin, cut, limit):
            if text[start:end].strip():
                units.append(_Unit(start, end, estimate_tokens(text[start:end]), False))
        if units and cut in paragraph_ends:
            last = units[-1]
            units[-1] = _Unit(last.start, last.end, last.tokens, True)
        begin = cut
    return units


def _split_oversized(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut a span that is over ``limit`` tokens at line breaks, then spaces, then characters."""
    if estimate_tokens(text[start:end]) <= limit:
        return [(start, end)]
    for pattern in _FALLBACK_CUTS:
        cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]
        if cuts:
            pieces = zip([start, *cuts], [*cuts, end])
            return _merge_small([p for s, e in pieces for p in _split_oversized(text, s, e, limit)], text, limit)
    # No separator at all (a long run of CJK characters, say): fixed windows.
    pieces, begin = [], start
    while begin < end:
        stop = begin + 1
        while stop < end and estimate_tokens(text[begin:stop + 1]) <= limit:
            stop += 1
        pieces.append((begin, stop))
        begin = stop
    return pieces


def _merge_small(pieces: list[tuple[int, int]], text: str, limit: int) -> list[tuple[int, int]]:
    """Re-join adjacent pieces while they fit, so cutting at every space does not leave single words."""
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and estimate_tokens(text[merged[-1][0]:end]) <= limit:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _pack(units: list[_Unit], size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of sentence units into spans of at most ``size`` tokens, with overlap."""
    spans: list[tuple[int, int]] = []
    current: list[_Unit] = []
    carried = 0  # leading units of ``current`` repeated from the previous chunk
    index = 0
    while index < len(units):
        unit = units[index]
        if len(current) == carried or sum(u.tokens for u in current) + unit.tokens <= size:
            current.append(unit)
            index += 1
            continue
        cut = _cut_point(current, size, carried)
        emitted, rest = current[:cut], current[cut:]
        spans.append((emitted[0].start, emitted[-1].end))
        tail = _overlap_tail(emitted, overlap, room=size - unit.tokens - sum(u.tokens for u in rest))
        current, carried = tail + rest, len(tail)
    if len(current) > carried:
        spans.append((current[0].start, current[-1].end))
    return spans


def _cut_point(current: list[_Unit], size: int, carried: int) -> int:
    """How many units to emit: up to the last paragraph end in the chunk's second half, else all.

    Never cuts inside the carried-over overlap, so every chunk adds new text.
    """
    running = 0
    best = len(current)
    for position, unit in enumerate(current, start=1):
        running += unit.tokens
        if unit.ends_paragraph and running >= size // 2 and carried < position < len(current):
            best = position
    return best


def _overlap_tail(emitted: list[_Unit], overlap: int, room: int) -> list[_Unit]:
    """The last whole sentences of ``emitted`` worth at most ``overlap`` tokens (and that still fit)."""
    budget = min(overlap, room)
    tail: list[_Unit] = []
    for unit in reversed(emitted[1:]):  # never repeat the whole chunk
        if unit.tokens > budget:
            break
        tail.insert(0, unit)
        budget -= unit.tokens
    return tail


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
