"""Read one file into a :class:`~ponder.types.Document`: plain text, Markdown, PDF (text layer).

Each reader returns the document's full text cut into :class:`~ponder.types.Section` s (one per PDF
page, one per Markdown heading) and raises :class:`IngestError` naming the file when it cannot.

Example::

    doc, warnings = read_document(Path("handbook.pdf"))
    doc.sections[0].page  # 1
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

import pymupdf

from ponder.types import Document, Section, content_id


class IngestError(Exception):
    """A file cannot be ingested. The message starts with the file's path."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class SkippedFile(IngestError):
    """Nothing to ingest, but nothing wrong either: callers skip the file with a warning."""


class UnsupportedFileType(SkippedFile):
    """The file's type has no reader."""


TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | PDF_SUFFIXES


def read_document(path: Path, max_bytes: int | None = None) -> tuple[Document, list[str]]:
    """Read ``path`` into a Document; also return warnings (for example pages with no text)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileType(path, f"unsupported file type '{suffix or '(none)'}'; "
                                        f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(path, f"cannot read file: {exc.strerror or exc}") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise IngestError(path, f"file is {len(raw) / 2**20:.1f} MB, over the limit of "
                                f"{max_bytes / 2**20:.1f} MB (setting ingest.max_file_mb)")
    if not raw.strip():
        raise SkippedFile(path, "file is empty")

    reader: Callable[[Path, bytes], tuple[list[Section], int | None, list[str]]]
    if suffix in PDF_SUFFIXES:
        reader, file_type = _read_pdf, "pdf"
    elif suffix in MARKDOWN_SUFFIXES:
        reader, file_type = _read_markdown, "markdown"
    else:
        reader, file_type = _read_text, "text"
    sections, page_count, warnings = reader(path, raw)
    text = "".join(section.text for section in sections)
    if not text.strip():
        raise IngestError(path, "no text found in file")
    resolved = str(path.resolve())
    document = Document(
        id=content_id(resolved),
        path=resolved,
        content_hash=hashlib.sha256(raw).hexdigest(),
        text=text,
        sections=tuple(sections),
        page_count=page_count,
        file_type=file_type,
    )
    return document, warnings


def decode_text(path: Path, raw: bytes) -> str:
    """Decode bytes of a text file: UTF-8 (with or without BOM), then GB18030 (common for Chinese)."""
    if b"\x00" in raw[:8192]:
        raise IngestError(path, "binary content in a text file (NUL bytes); is the extension wrong?")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise IngestError(path, "not valid UTF-8 or GB18030 text; is it a binary file?")


def _read_text(path: Path, raw: bytes) -> tuple[list[Section], int | None, list[str]]:
    return [Section(text=decode_text(path, raw), start=0)], None, []


_ATX_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^(```|~~~)")


def _read_markdown(path: Path, raw: bytes) -> tuple[list[Section], int | None, list[str]]:
    """Cut Markdown at ATX headings (outside code fences); each section knows its heading path."""
    text = decode_text(path, raw)
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []  # (level, title) of the open headings
    section_start = 0
    offset = 0
    in_fence = False
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if _FENCE.match(stripped):
            in_fence = not in_fence
        match = None if in_fence else _ATX_HEADING.match(stripped)
        if match and offset > section_start:
            sections.append(Section(text[section_start:offset], section_start,
                                    heading_path=tuple(title for _, title in headings)))
            section_start = offset
        if match:
            level = len(match.group(1))
            headings = [(lvl, title) for lvl, title in headings if lvl < level]
            headings.append((level, match.group(2).strip()))
        offset += len(line)
    sections.append(Section(text[section_start:], section_start,
                            heading_path=tuple(title for _, title in headings)))
    return sections, None, []


def _read_pdf(path: Path, raw: bytes) -> tuple[list[Section], int | None, list[str]]:
    """Text layer of each page, one section per page (1-based page numbers)."""
    if b"%PDF-" not in raw[:1024]:  # MuPDF would happily open HTML or images handed over as .pdf
        raise IngestError(path, "not a readable PDF (no %PDF header; is the extension wrong?)")
    try:
        pdf = pymupdf.open(stream=raw, filetype="pdf")
    except Exception as exc:  # pymupdf raises its own FileDataError and others for broken files
        raise IngestError(path, f"not a readable PDF ({exc})") from None
    with pdf:
        if pdf.needs_pass:
            raise IngestError(path, "the PDF is encrypted with a password; encrypted PDFs are not supported yet")
        sections: list[Section] = []
        empty_pages: list[int] = []
        offset = 0
        for number, page in enumerate(pdf, start=1):
            page_text = page.get_text("text", sort=True).strip()
            if not page_text:
                empty_pages.append(number)
                continue
            page_text += "\n\n"
            sections.append(Section(page_text, offset, page=number))
            offset += len(page_text)
        page_count = pdf.page_count
    if not sections:
        raise IngestError(path, f"no text layer on any of its {page_count} page(s) "
                                "(a scanned document?); OCR is not available in this version")
    warnings = [f"{path}: page {number} has no text layer; OCR is off" for number in empty_pages]
    return sections, page_count, warnings
