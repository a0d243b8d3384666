"""Scanned pages: reported when OCR is off, read by RapidOCR (models in its wheel) when it is on."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from tests.conftest import read

pytestmark = pytest.mark.slow


def _scanned_pdf(path: Path, text: str, font: str = "helv") -> Path:
    """A PDF whose only page is a picture of ``text``: no text layer, as from a scanner."""
    source = pymupdf.open()
    page = source.new_page()
    page.insert_textbox(pymupdf.Rect(72, 250, 520, 500), text, fontsize=16, fontname=font)
    picture = page.get_pixmap(dpi=150)
    scan = pymupdf.open()
    scan.new_page(width=page.rect.width, height=page.rect.height).insert_image(page.rect, pixmap=picture)
    scan.save(path)
    assert not scan[0].get_text().strip()
    return path


def test_scanned_page_without_ocr_is_reported(make_ponder, tmp_path: Path) -> None:
    scan = _scanned_pdf(tmp_path / "scan.pdf", "The ferry leaves the harbour at seven.")
    report = make_ponder().ingest([scan])
    assert report.files[0].status == "failed"
    assert "no text layer" in report.files[0].message and "OCR is off (setting ingest.ocr)" in report.files[0].message


def test_ocr_reads_english_and_chinese_scans(tmp_path: Path) -> None:
    english = _scanned_pdf(tmp_path / "en.pdf", "Timetable\n\nThe ferry leaves the harbour at seven in the morning.")
    document, warnings = read(english, ocr=True)
    assert "ferry leaves the harbour at seven" in document.text
    assert warnings == [f"{english}: page 1 has no text; OCR'd"]
    chinese = _scanned_pdf(tmp_path / "zh.pdf", "渡轮每天早上七点离开港口。", font="china-s")
    document, _ = read(chinese, ocr=True)
    assert "渡轮" in document.text and "港口" in document.text
