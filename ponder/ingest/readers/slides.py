"""PPTX slides into Markdown through python-pptx (MIT): one page per slide, so a chunk's page is
its slide number.

Each slide is a section headed by its title (``# Slide N`` when it has none); its shapes follow in
reading order (top to bottom, then left to right; groups opened): text boxes as paragraphs and
lists (bulleted or numbered as the slide shows them), tables as Markdown tables with merged cells
spread, charts as their own data — categories and series — in a table under the chart's title, so
a numeric question over a chart can be answered. Speaker notes close the slide. Hidden slides are
left out and counted.

Example::

    converted = convert_pptx(Path("review.pptx"), raw)
    converted.pages[1].splitlines()[0]   # '# Q3 results'
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

from ponder.ingest.readers import Converted, IngestError
from ponder.ingest.readers.archive import refuse_zip_bomb
from ponder.ingest.readers.charts import chart_table

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def convert_pptx(path: Path, raw: bytes) -> Converted:
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise IngestError(path, "the presentation is encrypted (password-protected), or an old .ppt renamed; "
                                "save it as .pptx without a password to ingest it")
    refuse_zip_bomb(path, raw, "PPTX")
    from pptx import Presentation

    try:
        presentation = Presentation(io.BytesIO(raw))
    except Exception as exc:  # python-pptx raises zipfile, KeyError and XML errors for broken files
        raise IngestError(path, f"not a readable PPTX file ({type(exc).__name__}: {exc})") from None
    pages, hidden, warnings = [], 0, []
    for number, slide in enumerate(presentation.slides, start=1):
        if slide._element.get("show") == "0":  # noqa: SLF001 - python-pptx has no property for it
            hidden += 1
            pages.append("")  # the slide keeps its number: the next one is still slide N + 1
            continue
        try:
            pages.append(_slide(slide, number, warnings, path))
        except Exception as exc:  # one odd shape must not lose the deck
            warnings.append(f"{path}: slide {number} could not be read whole ({type(exc).__name__}: {exc})")
            pages.append("")
    return Converted(pages, paged=True, hidden=hidden, warnings=warnings)


def _slide(slide: Any, number: int, warnings: list[str], path: Path) -> str:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None and title_shape.has_text_frame \
        else ""
    parts = [f"# {title or f'Slide {number}'}"]
    for shape in _in_reading_order(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        try:
            parts += _shape(shape)
        except Exception as exc:  # one odd shape must not lose the slide
            warnings.append(f"{path}: slide {number}: a shape could not be read ({type(exc).__name__}: {exc})")
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        text = " ".join(notes.text.split()) if notes is not None else ""
        if text:
            parts.append(f"Notes: {text}")
    return "\n\n".join(part for part in parts if part.strip())


def _in_reading_order(shapes: Any) -> Iterator[Any]:
    placed = sorted(enumerate(shapes), key=lambda item: (item[1].top if item[1].top is not None else 0,
                                                         item[1].left if item[1].left is not None else 0, item[0]))
    for _, shape in placed:
        if hasattr(shape, "shapes"):  # a group: its members in their own order
            yield from _in_reading_order(shape.shapes)
        else:
            yield shape


def _shape(shape: Any) -> list[str]:
    if getattr(shape, "has_table", False) and shape.has_table:
        return [_table(shape.table)]
    if getattr(shape, "has_chart", False) and shape.has_chart:
        return [chart_table(shape.chart.part.blob)]
    if shape.has_text_frame:
        return [_paragraphs(shape)]
    return []


def _paragraphs(shape: Any) -> str:
    """Paragraphs and lists; a placeholder's body is bulleted unless a paragraph says otherwise."""
    # A body placeholder's paragraphs are bulleted by the master; a title or subtitle's are not.
    body = shape.is_placeholder and shape.placeholder_format.type not in (1, 3, 4)  # TITLE, CENTER_TITLE, SUBTITLE
    lines: list[str] = []
    counter = 0
    for paragraph in shape.text_frame.paragraphs:
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        properties = paragraph._p.pPr  # noqa: SLF001 - bullets live in the XML only
        numbered = properties is not None and properties.find(f"{_A}buAutoNum") is not None
        bulleted = properties is not None and properties.find(f"{_A}buChar") is not None
        plain = properties is not None and properties.find(f"{_A}buNone") is not None
        indent = "   " * paragraph.level
        if numbered:
            counter += 1
            lines.append(f"{indent}{counter}. {text}")
        elif bulleted or (body and not plain):
            counter = 0
            lines.append(f"{indent}- {text}")
        else:
            counter = 0
            lines.append(text if not lines else "\n" + text)
    return "\n".join(lines)


def _table(table: Any) -> str:
    rows = []
    for row in table.rows:
        rows.append([" ".join(cell.text.split()).replace("|", "\\|") for cell in row.cells])
    # A merged cell's text goes into every cell it covers, as the other readers do.
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            if cell.is_merge_origin:
                for dr in range(cell.span_height):
                    for dc in range(cell.span_width):
                        if r + dr < len(rows) and c + dc < len(rows[r + dr]):
                            rows[r + dr][c + dc] = rows[r][c]
    if not rows:
        return ""
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
