"""PDF to Markdown, page by page.

Two engines (setting ``ingest.pdf_engine``), chosen by measurement (benchmarks/ingest_quality.py):

* ``layout`` (default): pymupdf4llm with PyMuPDF's layout model (shipped in the ``pymupdf-layout``
  wheel, no download). Reading order across columns, headings, tables as Markdown tables, page
  headers and footers dropped.
* ``text``: PyMuPDF's text layer in reading order. Over ten times faster; no headings, no tables.

Encrypted PDFs open with a password from ``ingest.pdf_passwords``. Pages without a text layer are
reported; with ``ingest.ocr`` on (and ``rapidocr-onnxruntime`` installed) they are OCR'd.

Text a reader cannot see is removed before conversion and counted: render mode 3 (invisible), white
or fully transparent text, and text under 1 pt. Invisible text over an image is kept: that is how
scanned documents carry their OCR layer. So is white text on a dark filled shape.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import pymupdf

from ponder.ingest.readers import Converted, IngestError, ReadOptions


def convert_pdf(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    if options.ocr and importlib.util.find_spec("rapidocr_onnxruntime") is None:
        raise IngestError(path, "setting ingest.ocr is on but the OCR engine is not installed: "
                                "pip install 'ponder[ocr]' (rapidocr-onnxruntime, models included)")
    if b"%PDF-" not in raw[:1024]:  # MuPDF would happily open HTML or images handed over as .pdf
        raise IngestError(path, "not a readable PDF (no %PDF header; is the extension wrong?)")
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
        try:
            pages = _layout_pages(pdf, options.ocr, text_layer) if options.pdf_engine == "layout" else text_layer
        except Exception as exc:  # a damaged page can make the layout engine fail mid-document
            raise IngestError(path, f"PDF conversion failed ({type(exc).__name__}: {exc})") from None
    note = "OCR'd" if options.ocr else "OCR is off"
    return Converted(pages, paged=True, warnings=[f"{path}: page {number} has no text; {note}" for number in empty],
                     hidden=hidden)


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


def _layout_pages(pdf: pymupdf.Document, ocr: bool, text_layer: list[str]) -> list[str]:
    import pymupdf4llm

    # pymupdf4llm prints parser notes ("Using RapidOCR…") through PyMuPDF's message channel and
    # print(): route the first to logging and swallow the second, so `--json` output stays JSON.
    pymupdf.set_messages(pylogging=True)

    def convert(pages: list[int] | None, keep_headers: bool) -> list[str]:
        with contextlib.redirect_stdout(io.StringIO()):
            chunks = pymupdf4llm.to_markdown(pdf, pages=pages, page_chunks=True, header=keep_headers,
                                             footer=keep_headers, use_ocr=ocr, show_progress=False)
        return [chunk["text"] for chunk in chunks]

    pages = convert(None, keep_headers=False)
    # The layout model drops what it takes for running headers and footers. Where that emptied a
    # page (a lone line on it, say), convert that page again keeping them, and failing that use the
    # text layer: a page is never lost.
    emptied = [number for number, text in enumerate(pages) if not text.strip()]
    if emptied:
        for number, text in zip(emptied, convert(emptied, keep_headers=True)):
            pages[number] = text if text.strip() else text_layer[number]
    return pages
