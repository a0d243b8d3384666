"""Image files as documents: a figure each (a page each for a multi-page TIFF), their words read by
OCR into the text when ingest.ocr is on and a warning naming the setting when it is off; bad and
hostile images named."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ponder.ingest import IngestError, ReadOptions, read_document
from ponder.ingest.readers import SkippedFile
from tests.figure_files import CHART_WORDS, picture_png


def _receipt(lines: list[str], image_format: str = "PNG") -> bytes:
    image = Image.new("RGB", (700, 120 + 60 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for number, line in enumerate(lines):
        draw.text((40, 40 + 60 * number), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def _blank(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "black").save(out, format="PNG")
    return out.getvalue()


def _declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels and holds none."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


def _tiff(*pages: bytes) -> bytes:
    frames = [Image.open(io.BytesIO(page)).convert("RGB") for page in pages]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def test_an_image_without_ocr_is_a_figure_and_the_warning_names_the_setting() -> None:
    document, warnings = read_document(Path("chart.png"), picture_png(CHART_WORDS), ReadOptions())
    [figure] = document.figures
    assert figure.image and figure.alt == "chart.png" and document.file_type == "image"
    assert warnings == ["chart.png: an image's words are read into the document only by OCR, which is off "
                        "(setting ingest.ocr); indexed as a figure"]


@pytest.mark.slow
def test_with_ocr_an_images_words_are_its_text(make_ponder, tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    path = tmp_path / "docs" / "receipt.jpg"
    path.parent.mkdir()
    path.write_bytes(_receipt(["HARBOUR", "CAFE", "12.50"], "JPEG"))
    document, warnings = read_document(path, path.read_bytes(), ReadOptions(ocr=True))
    assert all(word in document.text for word in ("HARBOUR", "CAFE", "12.50")) and not warnings
    assert "12.50" in document.figures[0].text_in_image
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.ocr": True})
    assert ponder.ingest([path]).count("ingested") == 1
    hits = ponder.search("harbour cafe", top_k=5)
    assert any(hit.chunk.kind == "text" and "12.50" in hit.chunk.text for hit in hits)
    assert any(hit.chunk.location().endswith("receipt.jpg › Figure 1") for hit in hits)


def test_a_multi_page_tiff_is_a_page_per_image() -> None:
    raw = _tiff(picture_png(["PAGE ONE"]), picture_png(["PAGE TWO"]))
    document, _ = read_document(Path("scan.tiff"), raw, ReadOptions())
    assert document.page_count == 2 and [f.page for f in document.figures] == [1, 2]


@pytest.mark.parametrize("name, raw, error, problem", [
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, IngestError, "not a readable image"),
    ("icon.png", _blank(16, 16), SkippedFile, "too small to hold anything"),
    # A header declaring 100,000 × 100,000 pixels is refused before a pixel is decoded.
    ("bomb.png", _declaring(100_000, 100_000), IngestError, "(a decompression bomb?)"),
])
def test_bad_images_are_refused_with_the_file_named(name: str, raw: bytes, error: type, problem: str) -> None:
    with pytest.raises(error, match=re.escape(problem)) as caught:
        read_document(Path(name), raw, ReadOptions())
    assert str(caught.value).startswith(name)
