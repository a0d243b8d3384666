"""Real documents from ../shared/data/docs: PDF (layout), DOCX, HTML, an encrypted PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.ingest import ReadOptions, chunk_document
from tests.conftest import read

pytestmark = pytest.mark.slow  # the PDF layout model takes a few seconds per document on 2 cores


def _docs(shared: Path) -> Path:
    return shared / "data" / "docs"


def test_pdf_tables_come_out_as_markdown_tables_kept_in_one_chunk(shared: Path) -> None:
    document, _ = read(_docs(shared) / "pdf" / "2305.03393v1-pg9.pdf")
    assert "|---|" in document.text.replace(" ", "") or "| --- |" in document.text
    chunks = chunk_document(document, 300, 40)
    table_chunks = [c for c in chunks if c.text.count("|") > 20]
    assert table_chunks, "the table did not survive chunking"
    for chunk in table_chunks:
        rows = [line for line in chunk.text.splitlines() if line.startswith("|")]
        assert len({row.count("|") for row in rows}) <= 2  # whole rows only, no row cut in half
    assert any("Hyper Parameter Optimization" in " › ".join(c.heading_path) for c in chunks)


def test_pdf_headings_and_page_ranges_in_reading_order(shared: Path) -> None:
    document, _ = read(_docs(shared) / "pdf" / "multi_page.pdf")
    chunks = chunk_document(document, 300, 40)
    assert len({c.heading_path for c in chunks}) >= 3
    pages = [c.page for c in chunks]
    assert pages == sorted(pages) and chunks[-1].page_end == document.page_count
    assert document.page_count == 5


def test_right_to_left_text_is_not_reversed(shared: Path) -> None:
    document, _ = read(_docs(shared) / "pdf" / "right_to_left_01.pdf")
    assert "البرمجة" in document.text  # "programming", in logical (not visual) order
    assert "ةجمربلا" not in document.text


def test_docx_headings_lists_and_tables(shared: Path) -> None:
    document, _ = read(_docs(shared) / "docx" / "word_sample.docx")
    chunks = chunk_document(document, 300, 40)
    assert ("Swimming in the lake", "Let’s swim!") in {c.heading_path[:2] for c in chunks}
    tables, _ = read(_docs(shared) / "docx" / "word_tables.docx")
    assert tables.text.count("| --- |") >= 2
    lists, _ = read(_docs(shared) / "docx" / "docx_lists.docx")
    assert "\n- " in lists.text or "\n1. " in lists.text


def test_html_main_content_headings_and_tables(shared: Path, tmp_path: Path) -> None:
    document, _ = read(_docs(shared) / "html" / "example_03.html")
    assert "## Introduction" in document.text and "| Header 1 | Header 2 | Header 3 |" in document.text
    page = tmp_path / "page.html"
    page.write_text("<html><body><nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav>"
                    "<header>Site banner</header><main><h1>Tea</h1><p>Oolong is roasted.</p></main>"
                    "<footer>Copyright 2026</footer><script>var x = 1;</script></body></html>", encoding="utf-8")
    document, _ = read(page)
    assert "# Tea" in document.text and "Oolong is roasted." in document.text
    for boilerplate in ("About us", "Site banner", "Copyright", "var x"):
        assert boilerplate not in document.text


def test_encrypted_pdf_needs_its_password(shared: Path, make_ponder) -> None:
    locked = _docs(shared) / "pdf_password" / "2206.01062_pg3.pdf"
    report = make_ponder().ingest([locked])
    message = report.files[0].message
    assert report.files[0].status == "failed"
    assert message.startswith(str(locked)) and "encrypted" in message and "pdf_passwords" in message
    wrong = make_ponder(**{"ingest.pdf_passwords": {"*.pdf": "nope"}})
    assert "password is wrong" in wrong.ingest([locked]).files[0].message
    document, _ = read(locked, pdf_passwords={"2206.01062_pg3.pdf": "1234"})
    assert len(document.text) > 1000
    assert ReadOptions(pdf_passwords={"*/pdf_password/*": "1234"}).password_for(locked) == "1234"


def test_every_shared_document_ingests(shared: Path, make_ponder) -> None:
    docs = _docs(shared)
    report = make_ponder(**{"retrieve.mode": "bm25"}).ingest([docs / "pdf", docs / "docx", docs / "html"])
    failed = [o.message for o in report.files if o.status == "failed"]
    assert not failed
    by_type = {Path(o.path).suffix for o in report.files if o.status == "ingested"}
    assert by_type == {".pdf", ".docx", ".html", ".md"}  # .md: the ground-truth files beside them
    assert all(o.chunks > 0 for o in report.files if o.status == "ingested")
