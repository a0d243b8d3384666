"""The opt-in PDF engine (``ingest.pdf_engine = "pymupdf"``): pymupdf4llm with PyMuPDF's layout
model (the ``pymupdf-layout`` wheel, no download). Reading order across columns, headings, tables
as Markdown tables, page headers and footers dropped. PyMuPDF is AGPL-3.0 (or a commercial licence
from Artifex), so it is not installed by default: ``pip install 'ponder[pymupdf]'``.

Encrypted PDFs, scanned pages (OCR with ``use_ocr``), figures and hidden text are handled as the
default engine (``pdf.py``) handles them, with PyMuPDF's own calls: the picture boxes of the layout
model are cropped, the text inside a picture goes to the figure, and invisible, white, transparent
or sub-point text is redacted before conversion, except over an image or a dark filled shape.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pymupdf

from ponder.ingest.readers import Converted, IngestError, ReadOptions
from ponder.ingest.readers.figures import CAPTION, MAX_SIDE_PX, FoundFigure, drop_repeated, is_decorative

_PICTURE_TEXT = re.compile(r"<!--\s*(?:Start|End) of picture text\s*-->|<br\s*/?>")


def convert_pdf_pymupdf(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    """``pdf.convert_pdf`` on PyMuPDF, once the file was checked to be a PDF."""
    try:
        pdf = pymupdf.open(stream=raw, filetype="pdf")
    except Exception as exc:  # pymupdf raises its own FileDataError and others for broken files
        raise IngestError(path, f"not a readable PDF ({exc})") from None
    with pdf:
        _unlock(path, pdf, options)
        if pdf.page_count == 0:
            raise IngestError(path, "the PDF has no pages")
        hidden = sum(_remove_invisible_text(page) for page in pdf)
        empty = [number for number, page in enumerate(pdf, start=1) if not page.get_text("text").strip()]
        if len(empty) == pdf.page_count and not options.ocr:  # OCR or nothing: skip the layout work
            raise IngestError(path, f"no text layer on any of its {pdf.page_count} page(s) (a scanned document?); "
                                    "OCR is off (setting ingest.ocr)")
        text_layer = _text_pages(pdf)
        converted = Converted([], paged=True, hidden=hidden)
        try:
            scanned = {number - 1 for number in empty} if options.ocr else set()
            converted.pages = _layout_pages(pdf, options.ocr, text_layer, converted if options.figures else None,
                                            scanned)
        except Exception as exc:  # a damaged page can make the layout engine fail mid-document
            raise IngestError(path, f"PDF conversion failed ({type(exc).__name__}: {exc})") from None
        converted.figures = drop_repeated(converted.figures, pdf.page_count, converted.figures_skipped,
                                          where=lambda f: f.page)
    note = "OCR'd" if options.ocr else "OCR is off"
    converted.warnings = [f"{path}: page {number} has no text; {note}" for number in empty]
    return converted


def _remove_invisible_text(page: pymupdf.Page) -> int:
    """Redact the text spans on ``page`` a reader cannot see; return how many."""
    hidden, unseen = [], []  # unseen: invisible or white, hidden unless it lies on an image or a dark shape
    for span in page.get_texttrace():
        rect = pymupdf.Rect(span["bbox"])
        if span["size"] < 1 or span.get("opacity", 1) == 0:
            hidden.append(rect)
        elif span["type"] == 3 or min(span.get("color") or (0,)) > 0.95:
            unseen.append(rect)
    if unseen:  # images and drawings are read only for pages that need them: get_drawings is not cheap
        backdrops = [pymupdf.Rect(image["bbox"]) for image in page.get_image_info()]
        backdrops += [drawing["rect"] for drawing in page.get_drawings()
                      if drawing.get("fill") and min(drawing["fill"]) < 0.9]
        hidden += [rect for rect in unseen if not any(rect.intersects(backdrop) for backdrop in backdrops)]
    for rect in hidden:
        page.add_redact_annot(rect)
    if hidden:
        page.apply_redactions(images=pymupdf.PDF_REDACT_IMAGE_NONE, graphics=pymupdf.PDF_REDACT_LINE_ART_NONE)
    return len(hidden)


def _unlock(path: Path, pdf: pymupdf.Document, options: ReadOptions) -> None:
    if not pdf.needs_pass:
        return
    password = options.password_for(path)
    if password is None:
        raise IngestError(path, f"the PDF is encrypted; give its password in the config, e.g. "
                                f"[ingest.pdf_passwords] \"{path.name}\" = \"...\"")
    if not pdf.authenticate(password):
        raise IngestError(path, "the PDF is encrypted and the configured password is wrong "
                                "(setting ingest.pdf_passwords)")


def _text_pages(pdf: pymupdf.Document) -> list[str]:
    return [page.get_text("text", sort=True) for page in pdf]


def _layout_pages(pdf: pymupdf.Document, ocr: bool, text_layer: list[str], figures: Converted | None,
                  scanned: set[int]) -> list[str]:
    """Each page's Markdown. ``scanned``: pages OCR'd for want of a text layer, whose pictures keep
    their OCR text in the page as well (that text is the page)."""
    import pymupdf4llm

    # pymupdf4llm prints parser notes ("Using RapidOCR…") through PyMuPDF's message channel and
    # print(): route the first to logging and swallow the second, so `--json` output stays JSON.
    pymupdf.set_messages(pylogging=True)

    def convert(pages: list[int] | None, keep_headers: bool) -> list[str]:
        with contextlib.redirect_stdout(io.StringIO()):
            chunks = pymupdf4llm.to_markdown(pdf, pages=pages, page_chunks=True, header=keep_headers,
                                             footer=keep_headers, use_ocr=ocr, show_progress=False)
        if figures is None or pages is not None:  # a page converted again keeps its first figures
            return [chunk["text"] for chunk in chunks]
        return [_picture_figures(pdf[number], chunk["text"], chunk.get("page_boxes") or [], figures,
                                 keep_text=number in scanned)
                for number, chunk in enumerate(chunks)]

    pages = convert(None, keep_headers=False)
    # The layout model drops what it takes for running headers and footers. Where that emptied a
    # page (a lone line on it, say), convert that page again keeping them, and failing that use the
    # text layer: a page is never lost. Its figures (their markers) stay as first found.
    pattern = figures.markers.pattern() if figures is not None else re.compile("(?!)")
    emptied = [number for number, text in enumerate(pages) if not pattern.sub("", text).strip()]
    if emptied:
        for number, text in zip(emptied, convert(emptied, keep_headers=True)):
            marks = "".join(f"\n\n{match.group(0)}" for match in pattern.finditer(pages[number]))
            pages[number] = (text if text.strip() else text_layer[number]) + marks
    return pages


def _picture_figures(page: pymupdf.Page, text: str, boxes: list[dict], converted: Converted,
                     keep_text: bool = False) -> str:
    """``text`` (the page's Markdown) with each of the layout model's picture boxes replaced by a
    figure marker; the picture's own text goes to the figure (and, with ``keep_text``, stays in the
    page too), the caption box beside it is its caption (and stays in the text). Every edit is
    worked out on the text as converted, then applied from the end, so no offset moves."""
    edits: list[tuple[int, int, str]] = []
    pictures = [box for box in boxes if box.get("class") == "picture"]
    for box in pictures:
        start, end = box["pos"]
        neighbours = [b["pos"] for b in boxes if b.get("class") == "caption" and abs(b["index"] - box["index"]) == 1]
        caption = text[neighbours[0][0]:neighbours[0][1]].strip() if neighbours else None
        figure = _crop(page, pymupdf.Rect(box["bbox"]), converted, caption)
        if figure is None:
            continue
        inside = _PICTURE_TEXT.sub("\n", text[start:end])
        figure.text_in_image = "\n".join(line.strip() for line in inside.splitlines() if line.strip())
        kept = f"{inside.strip()}\n" if keep_text else ""
        edits.append((start, end, f"\n{figure.marker}\n{kept}"))
        converted.figures.append(figure)
    for at, figure in _unlabelled_images(page, boxes, converted):
        edits.append((at, at, f"\n{figure.marker}\n"))
        converted.figures.append(figure)
    for start, end, replacement in sorted(edits, reverse=True):
        text = f"{text[:start]}{replacement}{text[end:]}"
    return text


def _unlabelled_images(page: pymupdf.Page, boxes: list[dict], converted: Converted) -> list[tuple[int, FoundFigure]]:
    """Embedded images the layout model did not label as pictures (a cover photo, a picture behind
    a table's place), each to be marked after the last box that starts above it. Images inside a
    picture or table box are that box's."""
    covered = [pymupdf.Rect(box["bbox"]) for box in boxes if box.get("class") in ("picture", "table")]
    found = []
    for info in page.get_image_info():
        area = pymupdf.Rect(info["bbox"]) & page.rect
        if area.is_empty or any(_mostly_inside(area, box) for box in covered):
            continue
        figure = _crop(page, area, converted)
        if figure is None:
            continue
        above = [box["pos"][1] for box in boxes if box["bbox"][1] <= area.y0]
        found.append((max(above, default=0), figure))
        covered.append(area)  # the same image drawn twice is one figure
    return found


def _mostly_inside(inner: pymupdf.Rect, outer: pymupdf.Rect) -> bool:
    overlap = inner & outer
    return not overlap.is_empty and overlap.get_area() >= 0.5 * inner.get_area()


def _crop(page: pymupdf.Page, area: pymupdf.Rect, converted: Converted,
          caption: str | None = None) -> FoundFigure | None:
    """The picture in ``area`` rendered as a PNG (None, and counted, when it is decorative), with
    ``caption``, or failing one the caption line next to it on the page."""
    if area.is_empty or is_decorative(area.width, area.height):
        converted.figures_skipped.decorative += 1
        return None
    zoom = min(2.0, (MAX_SIDE_PX - 2) / max(area.width, area.height))  # the pixel box rounds outwards
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=area, alpha=False)
    return FoundFigure(converted.markers.new(), pixmap.tobytes("png"), pixmap.width, pixmap.height,
                       page=page.number + 1, bbox=(round(area.x0, 1), round(area.y0, 1),
                                                   round(area.x1, 1), round(area.y1, 1)),
                       caption=caption if caption is not None else _caption_near(page, area))


def _caption_near(page: pymupdf.Page, area: pymupdf.Rect, reach: float = 40) -> str:
    """A caption line ("Figure 3: …", "图3 …") just below the picture, else just above it."""
    for band in (pymupdf.Rect(area.x0, area.y1, area.x1, area.y1 + reach),
                 pymupdf.Rect(area.x0, area.y0 - reach, area.x1, area.y0)):
        for line in page.get_text("text", clip=band & page.rect).splitlines():
            if CAPTION.match(line):
                return line.strip()
    return ""
