"""The default PDF engine (pypdfium2 + rapid-layout + pdfplumber): what it must do that the shared
documents do not pin down. PDFs are written here with PyMuPDF (a dev dependency only)."""

from __future__ import annotations

import sys
from pathlib import Path

import pymupdf
import pytest

from ponder.config import load_config
from ponder.ingest import IngestError, ReadOptions, read_document
from tests.conftest import read


def _table_ruled_across_only(path: Path) -> Path:
    """A table whose rows are ruled and whose columns are parted by inner lines, with no line down
    its outer sides (as many reports draw them)."""
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.insert_text((72, 80), "Quarterly revenue by region", fontsize=11)
    rows = [("Region", "Q1", "Q2"), ("North", "120", "135"), ("South", "98", "101"), ("East", "143", "150")]
    top = 100
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            page.insert_text((80 + c * 150, top + 16 + r * 24), cell, fontsize=10)
    for r in range(len(rows) + 1):
        page.draw_line((72, top + r * 24), (522, top + r * 24))
    for c in (1, 2):  # inner lines only
        page.draw_line((72 + c * 150, top), (72 + c * 150, top + len(rows) * 24))
    page.insert_text((72, top + len(rows) * 24 + 30), "The east grew fastest over the half year.", fontsize=11)
    pdf.save(path)
    return path


def test_a_table_without_outer_side_lines_keeps_its_first_and_last_columns(tmp_path: Path) -> None:
    document, _ = read(_table_ruled_across_only(tmp_path / "table.pdf"))
    assert "| Region | Q1 | Q2 |" in document.text
    for row in ("| North | 120 | 135 |", "| South | 98 | 101 |", "| East | 143 | 150 |"):
        assert row in document.text, document.text


def test_a_title_set_larger_in_the_bodys_font_is_a_heading_in_chinese_and_english(tmp_path: Path) -> None:
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.insert_text((72, 90), "二〇二四年度经营报告", fontname="china-s", fontsize=20)
    page.insert_textbox(pymupdf.Rect(72, 110, 520, 220), "本年度公司营业收入稳步增长，华东地区贡献最大。" * 4,
                        fontname="china-s", fontsize=10.5)
    page.insert_text((72, 260), "Outlook", fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 275, 520, 380), "Demand in the coming year is expected to hold. " * 4,
                        fontsize=10.5)
    pdf.save(tmp_path / "report.pdf")
    document, _ = read(tmp_path / "report.pdf")
    headings = [line.lstrip("# ") for line in document.text.splitlines() if line.startswith("#")]
    assert headings == ["二〇二四年度经营报告", "Outlook"], document.text
    assert "华东地区贡献最大" in document.text and "expected to hold" in document.text


def test_a_lone_title_at_the_top_of_a_page_is_kept(tmp_path: Path) -> None:
    """The layout model may box a page's title as a running header; set larger than the body, it
    stays, as the heading it is."""
    path = Path(__file__).parent / "data" / "injection" / "hidden.en.pdf"
    document, _ = read(path)
    assert document.text.startswith("## Greenfield pool\n\nThe Greenfield pool is open")
    assert document.hidden_removed == 3


def test_the_opt_in_engine_names_its_extra_when_pymupdf_is_missing(tmp_path: Path, monkeypatch) -> None:
    path = _table_ruled_across_only(tmp_path / "table.pdf")
    monkeypatch.setitem(sys.modules, "pymupdf", None)  # as on a default install: the import fails
    monkeypatch.delitem(sys.modules, "ponder.ingest.readers.pdf_pymupdf", raising=False)
    with pytest.raises(IngestError, match=r"ingest.pdf_engine = 'pymupdf' needs PyMuPDF \(AGPL-3.0\): "
                                          r"pip install 'ponder\[pymupdf\]'"):
        read_document(path, path.read_bytes(), ReadOptions(pdf_engine="pymupdf"))


def test_the_opt_in_engine_reads_the_same_table(tmp_path: Path) -> None:
    assert load_config(overrides={"ingest.pdf_engine": "pymupdf"}).ingest.pdf_engine == "pymupdf"
    document, _ = read(_table_ruled_across_only(tmp_path / "table.pdf"), pdf_engine="pymupdf")
    assert "North" in document.text and "143" in document.text
