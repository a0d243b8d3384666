"""Cut a document into chunks that follow its structure, in both languages.

1. **Sections.** Markdown documents are cut at every heading (outside code fences); each section
   knows its heading path ("2 Method › 2.3 Training"). A chunk never mixes two sections. Plain text
   is one section.
2. **Blocks.** Inside a section: paragraphs, tables (pipe-table lines) and fenced code blocks.
3. **Units.** Paragraphs are split into sentences (Chinese ends 。！？；, English . ! ? before a
   space); a sentence over the limit is cut at line breaks, then spaces, then characters. A table or
   code block that fits is one unit; a bigger one is split into rows / lines, never mid-row.
4. **Packing.** Units are packed greedily up to ``chunk_size`` tokens, preferring to cut at a
   paragraph or block end in the chunk's second half. The next chunk repeats the last whole
   sentences of the previous one, up to ``chunk_overlap`` tokens (never table rows or code). A chunk
   that starts inside a split table repeats the header rows; inside split code, the fence. A
   table's unit ("in millions", "单位：万元"), stated in the sentence before it, heads every chunk
   that starts at or inside the table: its numbers are never read in the wrong scale.

Tokens are counted by ``count_tokens`` (see :func:`ponder.text.token_counter`; the ingest stage
uses the embedder's tokenizer by default). Deterministic: the same document gives the same chunks and ids.

Example::

    chunks = chunk_document(document, chunk_size=300, chunk_overlap=40)
    chunks[0].heading_path, chunks[0].page, chunks[0].page_end
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable

from ponder.text import estimate_tokens
from ponder.types import Chunk, Document

TokenCounter = Callable[[str], int]

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_TABLE_LINE = re.compile(r"^[ \t]*\|")
# How a report states the unit of a table's numbers, in a caption, a header or the sentence before it.
_SCALE_NOTE = re.compile(
    r"\((?:[^()\n]{0,20}\b)?in (?:thousands|millions|billions)(?: of [a-z. ]{2,20})?\)|"
    r"\b(?:in|amounts in|dollars in|figures in) (?:thousands|millions|billions)(?: of [a-z. ]{2,20}?)?\b|"
    r"[$€£¥]\s?'?000s?|(?:\bUS)?\$\s?(?:m|bn|million|billion)\b|"
    r"单位[:：]\s*[^\s|，。；]{1,10}|[（(](?:人民币)?[千万亿百]?元[)）]", re.IGNORECASE)
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u3000]*\n\s*")
_SENTENCE_END = re.compile(
    r"[。！？；!?]+[”’」』）)\"']*\s*"  # Chinese ends (and ! ?) need no following space
    r"|\.+[”’\"')\]]*(?:\s+|$)"  # a full stop ends a sentence only before white space: not 3.14
)
_FALLBACK_CUTS = ("\n", " \t")  # line breaks first, then spaces


@dataclass(frozen=True)
class _Section:
    start: int
    end: int
    heading_path: tuple[str, ...]
    body_start: int  # after the heading line: a section with no body makes no chunk


@dataclass(frozen=True)
class _Block:
    kind: str  # "text", "table" or "code"
    start: int
    end: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    kind: str
    ends_block: bool  # a paragraph, table or code block ends here: a good place to cut
    header: str = ""  # repeated in front when a chunk starts here inside a split table / code block
    footer: str = ""  # appended when a chunk ends here inside a split code block


def chunk_document(document: Document, chunk_size: int, chunk_overlap: int,
                   count_tokens: TokenCounter = estimate_tokens) -> list[Chunk]:
    """All chunks of ``document``, in reading order."""
    text = document.text
    chunks: list[Chunk] = []
    for section in _sections(document):
        if not text[section.body_start:section.end].strip():
            continue
        units = [unit for block in _blocks(text, section)
                 for unit in _units(text, block, chunk_size, count_tokens, section.start)]
        for group in _pack(units, chunk_size, chunk_overlap, count_tokens):
            start, end = _strip(text, group[0].start, group[-1].end)
            body = text[start:end]
            if group[0].header:
                body = f"{group[0].header}\n{body}"
            if group[-1].footer:
                body = f"{body}\n{group[-1].footer}"
            chunks.append(Chunk(
                id=Chunk.make_id(document.id, start, end, body),
                document_id=document.id, path=document.path, text=body, start=start, end=end,
                page=document.page_at(start), page_end=document.page_at(end - 1),
                heading_path=section.heading_path,
            ))
    return chunks


def heading_path_at(document: Document, offset: int) -> tuple[str, ...]:
    """The headings over ``offset`` in ``document`` (where a figure stands, say)."""
    for section in _sections(document):
        if section.start <= offset < section.end or offset == section.end == len(document.text):
            return section.heading_path
    return ()


def _sections(document: Document) -> list[_Section]:
    """Heading-delimited sections of a Markdown document (one section for plain text)."""
    text = document.text
    if not document.is_markdown:
        return [_Section(0, len(text), (), 0)]
    sections: list[_Section] = []
    headings: list[tuple[int, str]] = []  # (level, title) of the open headings
    start = body_start = offset = 0
    in_fence = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line.rstrip("\n"))
        if match:
            if offset > start:
                sections.append(_Section(start, offset, tuple(t for _, t in headings), body_start))
            level = len(match.group(1))
            headings = [(lvl, title) for lvl, title in headings if lvl < level]
            headings.append((level, _EMPHASIS.sub("", match.group(2)).strip()))
            start, body_start = offset, offset + len(line)
        offset += len(line)
    sections.append(_Section(start, len(text), tuple(t for _, t in headings), body_start))
    return sections


def _blocks(text: str, section: _Section) -> list[_Block]:
    """Paragraph runs, tables and fenced code blocks of a section, in order."""
    blocks: list[_Block] = []
    kind, block_start, offset = "", section.start, section.start
    for line in text[section.start:section.end].splitlines(keepends=True):
        if kind == "code":
            offset += len(line)
            if _FENCE.match(line):
                blocks.append(_Block("code", block_start, offset))
                kind, block_start = "", offset
            continue
        line_kind = "code" if _FENCE.match(line) else "table" if _TABLE_LINE.match(line) else "text"
        if line_kind != kind:
            if kind and offset > block_start:
                blocks.append(_Block(kind, block_start, offset))
            kind, block_start = line_kind, offset
        offset += len(line)
    if kind and offset > block_start:
        blocks.append(_Block(kind, block_start, offset))
    return blocks


def _units(text: str, block: _Block, limit: int, count: TokenCounter, section_start: int) -> list[_Unit]:
    if block.kind == "text":
        return _sentence_units(text, block, limit, count)
    note = _scale_note(text, block.start, block.end, section_start) if block.kind == "table" else ""
    tokens = count(text[block.start:block.end])
    if tokens <= limit:
        return [_Unit(block.start, block.end, tokens, block.kind, ends_block=True, header=note)]
    return _line_units(text, block, count, note)


def _sentence_units(text: str, block: _Block, limit: int, count: TokenCounter) -> list[_Unit]:
    """Sentences of a run of paragraphs, each no larger than ``limit`` tokens."""
    paragraph_ends = {m.end() for m in _PARAGRAPH_BREAK.finditer(text, block.start, block.end)} | {block.end}
    cuts = sorted({m.end() for m in _SENTENCE_END.finditer(text, block.start, block.end)} | paragraph_ends)
    units: list[_Unit] = []
    begin = block.start
    for cut in cuts:
        if cut <= begin:
            continue
        for start, end in _split_oversized(text, begin, cut, limit, count):
            if text[start:end].strip():
                units.append(_Unit(start, end, count(text[start:end]), "text", ends_block=False))
        if units and cut in paragraph_ends:
            units[-1] = dataclasses.replace(units[-1], ends_block=True)
        begin = cut
    return units


def _line_units(text: str, block: _Block, count: TokenCounter, note: str = "") -> list[_Unit]:
    """A table or code block too big for one chunk: one unit per row / line, never cut inside one.

    The header (a table's header rows and separator, a code block's opening fence) stays with the
    first row and is repeated in front of any chunk that starts further down, after the table's
    unit ``note`` ("in millions") when it has one.
    """
    lines = text[block.start:block.end].splitlines(keepends=True)
    header_lines = 1
    if block.kind == "table" and len(lines) > 1 and _TABLE_SEPARATOR.match(lines[1]):
        header_lines = 2
        # Header rows below the separator ("| | 2019 | 2018 |", "| | $'000 | $'000 |") head every chunk too.
        while header_lines < min(len(lines) - 1, 5) and _is_header_row(lines[header_lines]):
            header_lines += 1
    header = "\n".join(filter(None, [note, "".join(lines[:header_lines]).rstrip("\n")]))
    closed = block.kind == "code" and len(lines) > 1 and _FENCE.match(lines[-1])
    footer = lines[-1].rstrip("\n") if closed else ""
    units: list[_Unit] = []
    offset = block.start + sum(len(line) for line in lines[:header_lines])
    rows = lines[header_lines:]
    for number, line in enumerate(rows):
        start = block.start if number == 0 else offset
        end = offset + len(line)
        last = number == len(rows) - 1
        units.append(_Unit(start, end, count(text[start:end]), block.kind, ends_block=last,
                           header=note if number == 0 else header, footer="" if last else footer))
        offset = end
    return units


def _is_header_row(line: str) -> bool:
    """A table row with no amount in it: labels, years, units."""
    cells = line.strip().strip("|").split("|")
    return all(not re.search(r"\d", cell) or re.fullmatch(r"\s*(?:19|20)\d\d\s*", cell) for cell in cells[1:])


def _scale_note(text: str, block_start: int, block_end: int, section_start: int) -> str:
    """The unit or scale a table's numbers are in, as its header or the text just before it states
    it ("in millions", "$'000", "单位：万元"): it travels with every chunk of the table. Empty when
    the header states it (it is repeated anyway) or nothing does."""
    header_end = text.find("\n", text.find("\n", block_start) + 1)
    if _SCALE_NOTE.search(text, block_start, header_end if header_end > 0 else block_end):
        return ""
    before = text[max(section_start, block_start - 400):block_start]
    found = list(_SCALE_NOTE.finditer(before))
    return found[-1].group().strip() if found else ""


def _split_oversized(text: str, start: int, end: int, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Cut a span that is over ``limit`` tokens at line breaks, then spaces, then characters: at the
    separator nearest its middle, recursively, so a 100 MB line costs O(n log n), not a count per word."""
    # A span this long is over the limit whatever its tokens: do not tokenize it whole.
    if end - start <= limit * 64 and count(text[start:end]) <= limit:
        return [(start, end)]
    for separators in _FALLBACK_CUTS:
        cut = _cut_near_middle(text, start, end, separators)
        if cut is not None:
            split = _split_oversized(text, start, cut, limit, count) + _split_oversized(text, cut, end, limit, count)
            return _merge_small(split, text, limit, count)
    # No separator at all (a long run of CJK characters, say): the longest windows that fit.
    pieces, begin = [], start
    while begin < end:
        low, high = begin + 1, min(end, begin + limit * 64)  # binary search for the furthest stop within limit
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[begin:middle]) <= limit:
                low = middle
            else:
                high = middle - 1
        pieces.append((begin, low))
        begin = low
    return pieces


def _cut_near_middle(text: str, start: int, end: int, separators: str) -> int | None:
    """The position just after the separator nearest the span's middle (None when there is none)."""
    middle = (start + end) // 2
    found = [text.rfind(c, start, middle) for c in separators] + [text.find(c, middle, end) for c in separators]
    cuts = [position + 1 for position in found if position != -1 and start < position + 1 < end]
    return min(cuts, key=lambda cut: abs(cut - middle)) if cuts else None


def _merge_small(pieces: list[tuple[int, int]], text: str, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Re-join adjacent pieces while they fit, so cutting at every space does not leave single words."""
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and count(text[merged[-1][0]:end]) <= limit:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _pack(units: list[_Unit], size: int, overlap: int, count: TokenCounter) -> list[list[_Unit]]:
    """Greedy packing of units into chunks of at most ``size`` tokens, with sentence overlap."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    carried = 0  # leading units of ``current`` repeated from the previous chunk
    index = 0
    while index < len(units):
        unit = units[index]
        if len(current) == carried or _size(current + [unit], count) <= size:
            current.append(unit)
            index += 1
            continue
        cut = _cut_point(current, size, carried)
        emitted, rest = current[:cut], current[cut:]
        groups.append(emitted)
        following = rest[0] if rest else unit
        # Overlap is for prose: never in front of a table row or a line of code.
        tail = _overlap_tail(emitted, overlap, size - _size(rest + [unit], count)) if following.kind == "text" else []
        current, carried = tail + rest, len(tail)
    if len(current) > carried:
        groups.append(current)
    return groups


def _size(group: list[_Unit], count: TokenCounter) -> int:
    extra = (count(group[0].header) if group and group[0].header else 0) + (
        count(group[-1].footer) if group and group[-1].footer else 0)
    return sum(unit.tokens for unit in group) + extra


def _cut_point(current: list[_Unit], size: int, carried: int) -> int:
    """How many units to emit: up to the last block end in the chunk's second half, else all.

    Never cuts inside the carried-over overlap, so every chunk adds new text.
    """
    running = 0
    best = len(current)
    for position, unit in enumerate(current, start=1):
        running += unit.tokens
        if unit.ends_block and running >= size // 2 and carried < position < len(current):
            best = position
    return best


def _overlap_tail(emitted: list[_Unit], overlap: int, room: int) -> list[_Unit]:
    """The last whole sentences of ``emitted`` worth at most ``overlap`` tokens (and that still fit)."""
    budget = min(overlap, room)
    tail: list[_Unit] = []
    for unit in reversed(emitted[1:]):  # never repeat the whole chunk
        if unit.kind != "text" or unit.tokens > budget:
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
