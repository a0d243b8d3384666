"""PPTX slides into Markdown through python-pptx (MIT): one page per slide, so a chunk's page is
its slide number.

Each slide is a section headed by its title (``# Slide N`` when it has none); its shapes follow in
reading order (top to bottom, then left to right; groups opened): text boxes as paragraphs and
lists (bulleted or numbered as the slide shows them), tables as Markdown tables with merged cells
spread, charts as their own data — categories and series — in a table under the chart's title, so
a numeric question over a chart can be answered, pictures as figures (with their alt text; a
template's logo on every slide skipped). Speaker notes close the slide. Hidden slides are left out
and counted.

Example::

    converted = convert_pptx(Path("review.pptx"), raw)
    converted.pages[1].splitlines()[0]   # '# Q3 results'
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

from pptx.shapes.picture import Picture

from ponder.ingest.readers import Converted, IngestError, pipe_table
from ponder.ingest.readers.archive import refuse_zip_bomb
from ponder.ingest.readers.charts import chart_table
from ponder.ingest.readers.figures import drop_repeated, picture_figure

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_EMU_PER_POINT = 12_700


def convert_pptx(path: Path, raw: bytes, figures: bool = True) -> Converted:
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise IngestError(path, "the presentation is encrypted (password-protected), or an old .ppt renamed; "
                                "save it as .pptx without a password to ingest it")
    refuse_zip_bomb(path, raw, "PPTX")
    from pptx import Presentation

    try:
        presentation = Presentation(io.BytesIO(raw))
    except Exception as exc:  # python-pptx raises zipfile, KeyError and XML errors for broken files
        raise IngestError(path, f"not a readable PPTX file ({type(exc).__name__}: {exc})") from None
    converted = Converted([], paged=True)
    pictures = converted if figures else None
    for number, slide in enumerate(presentation.slides, start=1):
        if slide._element.get("show") == "0":  # noqa: SLF001 - python-pptx has no property for it
            converted.hidden += 1
            converted.pages.append("")  # the slide keeps its number: the next one is still slide N + 1
            continue
        try:
            converted.pages.append(_slide(slide, number, converted.warnings, path, pictures))
        except Exception as exc:  # one odd shape must not lose the deck
            converted.warnings.append(f"{path}: slide {number} could not be read whole ({type(exc).__name__}: {exc})")
            converted.pages.append("")
    # A picture on every slide, or on three or more, is the template's logo.
    converted.figures = drop_repeated(converted.figures, len(converted.pages), converted.figures_skipped,
                                      where=lambda figure: figure.page)
    return converted


def _slide(slide: Any, number: int, warnings: list[str], path: Path, pictures: Converted | None) -> str:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None and title_shape.has_text_frame \
        else ""
    parts = [f"# {title or f'Slide {number}'}"]
    for shape in _in_reading_order(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        try:
            parts += _shape(shape, number, pictures)
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


def _shape(shape: Any, number: int, pictures: Converted | None) -> list[str]:
    # By class: shape_type raises for a shape python-pptx does not recognise, whose text is still read below.
    if pictures is not None and isinstance(shape, Picture):
        return [_picture(shape, number, pictures)]
    if getattr(shape, "has_table", False) and shape.has_table:
        return [_table(shape.table)]
    if getattr(shape, "has_chart", False) and shape.has_chart:
        return [chart_table(shape.chart.part.blob)]
    if shape.has_text_frame:
        return [_paragraphs(shape)]
    return []


def _picture(shape: Any, number: int, converted: Converted) -> str:
    """A picture's marker, its figure handed to ``converted`` (decorative and unreadable ones counted)."""
    shown = ((shape.width or 0) / _EMU_PER_POINT, (shape.height or 0) / _EMU_PER_POINT)
    try:
        data = shape.image.blob
    except Exception:  # noqa: BLE001 - a picture whose part is missing or linked from outside the file
        data = b""
    alt = " ".join((shape._element.nvPicPr.cNvPr.get("descr") or "").split())  # noqa: SLF001 - alt text
    return picture_figure(data, converted, page=number, alt=alt, shown=shown) or ""


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
    return pipe_table(rows)
