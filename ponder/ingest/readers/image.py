"""Image files (PNG, JPEG, TIFF, WebP, BMP, GIF) as documents: a photographed receipt, a scanned
page, a chart someone saved.

Each image (each page of a multi-page TIFF) is a page whose figure is the picture itself, through
the figure path like any document's figure: stored, described by a vision model when one is
configured, cited as ``receipt.jpg › Figure 1``. With ``ingest.ocr`` on, the picture's words are
read by OCR (RapidOCR, the ``ocr`` extra) into the page's text, so they are chunked, searched and
quoted like any text; with it off, a warning says so and names the setting.

Example::

    converted = convert_image(Path("receipt.jpg"), raw, ReadOptions(ocr=True))
    converted.pages[0]   # '<figure marker>\\n\\n合计 ¥128.00 …'
"""

from __future__ import annotations

from pathlib import Path

from ponder.ingest.readers import Converted, IngestError, ReadOptions, SkippedFile, ocr_engine, require_ocr_engine
from ponder.ingest.readers.figures import (
    MAX_SIDE_PX,
    MAX_TEXT_CHARS,
    FoundFigure,
    UnreadableImage,
    decoded_frames,
    is_decorative,
    png_of,
)

MAX_PAGES = 200  # frames of a multi-page TIFF read; the rest are named in a warning
OCR_SIDE_PX = 2048  # OCR reads the page at most this large on a side: small print stays legible


def convert_image(path: Path, raw: bytes, options: ReadOptions) -> Converted:
    if options.ocr:
        require_ocr_engine(path)
    multipage = path.suffix.lower() in (".tif", ".tiff")  # a GIF's or WebP's frames are motion, not pages
    try:
        decoded, width, height, pages = decoded_frames(raw, MAX_PAGES if multipage else 1)
    except UnreadableImage as exc:
        raise IngestError(path, f"not a readable image ({exc})") from None
    if is_decorative(width, height):
        raise SkippedFile(path, f"the image is {width} × {height} pixels: too small to hold anything")
    converted = Converted([], paged=len(decoded) > 1)
    if multipage and pages > MAX_PAGES:
        converted.warnings.append(f"{path}: {pages - MAX_PAGES} page(s) beyond the first {MAX_PAGES} not read")
    ocr = ocr_engine() if options.ocr else None
    for number, frame in enumerate(decoded, start=1):
        words = ocr.read(png_of(frame, OCR_SIDE_PX)) if ocr is not None else ""
        text = words
        if options.figures:
            marker = converted.markers.new()
            converted.figures.append(FoundFigure(marker, png_of(frame, MAX_SIDE_PX), frame.width, frame.height,
                                                 page=number if converted.paged else None, alt=path.name,
                                                 text_in_image=words[:MAX_TEXT_CHARS]))
            text = f"{marker}\n\n{words}"
        converted.pages.append(text)
    if ocr is None:
        converted.warnings.append(f"{path}: an image's words are read into the document only by OCR, which is off "
                                  "(setting ingest.ocr); indexed as a figure")
    if not options.figures and not any(page.strip() for page in converted.pages):
        raise IngestError(path, "nothing to index: OCR is off (setting ingest.ocr) and so are figures "
                                "(setting ingest.figures)")
    return converted
