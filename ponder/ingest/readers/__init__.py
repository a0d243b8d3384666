"""Read one file into a :class:`~ponder.types.Document`.

Every structured format is converted to Markdown — headings as ``#``, tables as pipe tables — so one
chunker serves them all: PDF (pdfium's text under a layout model's blocks, or its text layer alone),
DOCX (mammoth), HTML (main content, then markdownify), spreadsheets and CSV (a section per sheet,
a table per block of cells, located by row), PPTX and ODP (a page per slide), ODT, EPUB (chapters in
spine order through the HTML path), e-mail (EML, MSG: headers, then the body; attachments handed back
to be documents of their own), images (a figure each, their words by OCR), Markdown as is. Plain
text stays plain.
Errors are :class:`IngestError` s whose message starts with the file's path. Text a human reader
would not see (hidden HTML, invisible PDF text, zero-width and bidi characters) is dropped and counted.

Example::

    raw = load_bytes(Path("handbook.pdf"), max_bytes=50 * 2**20)
    document, warnings = read_document(Path("handbook.pdf"), raw, ReadOptions())
    document.page_at(document.text.find("Safety"))  # 1
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Callable, Mapping

from ponder.ingest.readers.figures import FigureMarkers, FoundFigure, Skipped, place_figures, take_markers
from ponder.types import Document, content_id
from ponder.untrusted import strip_invisible


class IngestError(Exception):
    """A file cannot be ingested. The message starts with the file's path."""

    def __init__(self, path: PurePath | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def pipe_table(rows: list[list[str]]) -> str:
    """``rows`` (the first the header, cells already escaped) as a Markdown pipe table."""
    header, *body = rows
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(row) + " |" for row in body])


def require_ocr_engine(path: Path | str) -> None:
    """Refuse ``path`` when ``ingest.ocr`` asks for OCR that is not installed."""
    import importlib.util

    if importlib.util.find_spec("rapidocr_onnxruntime") is None:
        raise IngestError(path, "setting ingest.ocr is on but the OCR engine is not installed: "
                                "pip install 'ponder[ocr]' (rapidocr-onnxruntime, models included)")


@functools.lru_cache(maxsize=1)  # one engine per worker process: loading its models costs a second
def ocr_engine():
    """The OCR engine that reads scanned pages and image files (RapidOCR, loaded on first use)."""
    from ponder.ingest.figures import FigureOCR

    return FigureOCR()


class SkippedFile(IngestError):
    """Nothing to ingest, but nothing wrong either: callers skip the file with a warning."""


class UnsupportedFileType(SkippedFile):
    """The file's type has no reader."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read files; mirrors the ``[ingest]`` settings."""

    pdf_engine: str = "layout"
    pdf_passwords: Mapping[str, str] = field(default_factory=dict)
    ocr: bool = False
    figures: bool = True
    max_sheet_rows: int = 100_000

    def password_for(self, path: Path) -> str | None:
        """The configured password whose key (a file name, path or glob) matches ``path``."""
        for pattern, password in self.pdf_passwords.items():
            if fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(str(path), pattern):
                return password
        return None


@dataclass
class Converted:
    """A converter's output: the text of each page (one item for formats without pages)."""

    pages: list[str]
    paged: bool = False
    warnings: list[str] = field(default_factory=list)
    hidden: int = 0  # pieces of text dropped because a reader would not see them
    figures: list[FoundFigure] = field(default_factory=list)  # each stands at its marker in ``pages``
    markers: FigureMarkers = field(default_factory=FigureMarkers)
    figures_skipped: Skipped = field(default_factory=Skipped)
    # Formats located by row (spreadsheets, CSV): (offset in the one page, the row number found there).
    locations: list[tuple[int, int]] = field(default_factory=list)
    # Files inside this one that are documents of their own (an e-mail's attachments): (file name, bytes).
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    date: float | None = None  # the document's own date (an e-mail's sending), over the file's mtime
    sheets: int | None = None  # a workbook's sheets read: its page count, as slides are a deck's


def _text(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.text import decode_text

    return Converted([decode_text(path, raw)])


def _pdf(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.pdf import convert_pdf

    return convert_pdf(path, raw, options)


def _docx(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.docx import convert_docx

    return convert_docx(path, raw, options.figures)


def _workbook(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.sheets import convert_workbook

    return convert_workbook(path, raw, options.max_sheet_rows, options.figures)


def _pptx(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.slides import convert_pptx

    return convert_pptx(path, raw, options.figures)


def _epub(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.epub import convert_epub

    return convert_epub(path, raw)


def _odf(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.odf import convert_odf

    return convert_odf(path, raw, options.figures)


def _email(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.email import convert_email

    return convert_email(path, raw, options.figures)


def _image(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.image import convert_image

    return convert_image(path, raw, options)


def _csv(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.sheets import convert_csv

    return convert_csv(path, raw, options.max_sheet_rows)


def _html(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    from ponder.ingest.readers.html import convert_html

    return convert_html(path, raw, options.figures)


# suffix -> (file type, converter). Converters import their libraries lazily: a folder of Markdown
# never pays for loading PDF layout models.
_CONVERTERS: dict[str, tuple[str, Callable[[Path, bytes, ReadOptions], Converted]]] = {
    ".txt": ("text", _text), ".text": ("text", _text),
    ".md": ("markdown", _text), ".markdown": ("markdown", _text),
    ".pdf": ("pdf", _pdf),
    ".docx": ("docx", _docx),
    ".html": ("html", _html), ".htm": ("html", _html), ".xhtml": ("html", _html),
    ".xlsx": ("xlsx", _workbook), ".xlsm": ("xlsx", _workbook), ".xls": ("xls", _workbook),
    ".xlsb": ("xls", _workbook), ".ods": ("ods", _workbook),
    ".csv": ("csv", _csv), ".tsv": ("csv", _csv),
    ".pptx": ("pptx", _pptx), ".epub": ("epub", _epub), ".odt": ("odt", _odf), ".odp": ("odp", _odf),
    ".eml": ("email", _email), ".msg": ("email", _email),
    **{suffix: ("image", _image) for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")},
}
SUPPORTED_SUFFIXES = frozenset(_CONVERTERS)


def check_supported(path: Path) -> None:
    if path.suffix.lower() not in _CONVERTERS:
        raise UnsupportedFileType(path, f"unsupported file type '{path.suffix.lower() or '(none)'}'; "
                                        f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")


def load_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing unsupported types and files over the size limit before reading."""
    check_supported(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(path, f"file is {size / 2**20:.1f} MB, over the limit of "
                                    f"{max_bytes / 2**20:.1f} MB (setting ingest.max_file_mb)")
        raw = path.read_bytes()
    except PermissionError:
        raise IngestError(path, "permission denied: cannot read the file") from None
    except OSError as exc:
        raise IngestError(path, f"cannot read file: {exc.strerror or exc}") from None
    if not raw.strip():
        raise SkippedFile(path, "file is empty")
    return raw


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def document_id(path: Path) -> str:
    return content_id(str(path.resolve()))


def read_document(path: Path, raw: bytes, options: ReadOptions) -> tuple[Document, list[str]]:
    """Convert ``raw`` (the bytes of ``path``) into a Document; also return warnings."""
    check_supported(path)
    file_type, convert = _CONVERTERS[path.suffix.lower()]
    converted = convert(path, raw, options)
    cleaned = [strip_invisible(page) for page in converted.pages]
    unmarked = [take_markers(page, converted.markers) for page, _ in cleaned]
    text, page_starts = _join_pages([page for page, _ in unmarked])
    page_numbers: tuple[int, ...] = ()
    if converted.locations:  # located by row: each row's offset starts a "page" numbered by the row
        page = unmarked[0][0]
        leading, length = len(page) - len(page.lstrip("\n")), len(page.strip("\n"))  # as _within_page, once
        page_starts = [min(max(at - leading, 0), length) for at, _ in converted.locations]
        page_numbers = tuple(row for _, row in converted.locations)
    invisible = sum(removed for _, removed in cleaned)
    by_marker = {figure.marker: figure for figure in converted.figures}
    placed = [(start + _within_page(page, at), by_marker.pop(marker))
              for start, (page, marks) in zip(page_starts, unmarked) for at, marker in marks if marker in by_marker]
    if not text.strip() and not placed:
        raise IngestError(path, "no text found in file")
    warnings = list(converted.warnings)
    if converted.hidden or invisible:
        warnings.append(f"{path}: dropped text a reader does not see: {converted.hidden} hidden piece(s), "
                        f"{invisible} zero-width or bidi control character(s)")
    document = Document(
        id=document_id(path),
        path=str(path.resolve()),
        content_hash=content_hash(raw),
        text=text,
        file_type=file_type,
        page_starts=tuple(page_starts) if converted.paged or page_numbers else (),
        page_numbers=page_numbers,
        page_count=len(converted.pages) if converted.paged else converted.sheets,
        modified=converted.date if converted.date is not None else _modified(path),
        hidden_removed=converted.hidden + invisible,
        attachments=tuple(converted.attachments),
    )
    figures = place_figures(text, placed, document.page_at)
    images = {seen.image: seen.png for _, seen in placed if seen.png}
    document = dataclasses.replace(document, figures=tuple(figures), images=images,
                                   figures_skipped=converted.figures_skipped.total)
    return document, warnings


def _modified(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:  # bytes given for a path that is not on disk (tests, benchmarks)
        return None


def _within_page(page: str, offset: int) -> int:
    """``offset`` in ``page`` as an offset into the page as joined (its outer newlines stripped)."""
    leading = len(page) - len(page.lstrip("\n"))
    return min(max(offset - leading, 0), len(page.strip("\n")))


def _join_pages(pages: list[str]) -> tuple[str, list[int]]:
    parts, starts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        piece = page.strip("\n") + "\n\n"
        parts.append(piece)
        offset += len(piece)
    return "".join(parts), starts
