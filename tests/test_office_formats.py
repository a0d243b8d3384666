"""Spreadsheets, CSV and slides: a section per sheet or slide, a table per block of cells, hidden
parts left out and counted, comments and notes kept, rows and slides as provenance; Chinese and
English; bad files named."""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment

from ponder.ingest import IngestError, ReadOptions, read_document
from tests.conftest import write


def _budget() -> bytes:
    """A Chinese workbook as finance teams keep one: a title and unit over the table, a merged
    header, a hidden row and column, a hidden sheet, a date, a comment, a second table beside."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "预算"
    sheet["A1"] = "2023年部门预算"
    sheet["A2"] = "单位：万元"
    sheet.append([])
    for row in (["项目", "2023年", "2022年", "备注", "内部编号"], ["营业收入", 45000, 40000.0, "含税", "X-1"],
                ["研发投入", 3500, 2800, "", "X-2"], ["差旅费", 120, 95, "已冻结", "X-3"],
                ["销售费用", 2100.5, 1900, "", "X-4"], ["更新日期", datetime.datetime(2024, 1, 31), None, "", ""]):
        sheet.append(row)
    sheet.merge_cells("B3:C3")
    sheet["B3"] = "金额"
    sheet.row_dimensions[7].hidden = True  # 差旅费
    sheet.column_dimensions["E"].hidden = True  # 内部编号
    sheet["A5"].comment = Comment("含增值税", "王芳")
    sheet["H4"], sheet["I4"] = "季度", "收入"  # a second table beside the first
    sheet["H5"], sheet["I5"] = "Q1", 11000
    secret = workbook.create_sheet("内部")
    secret["A1"] = "不应被索引"
    secret.sheet_state = "hidden"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _read(name: str, raw: bytes, **options: object):
    return read_document(Path(name), raw, ReadOptions(**options))


def test_a_workbook_is_a_section_per_sheet_and_a_table_per_block() -> None:
    document, warnings = _read("budget.xlsx", _budget())
    text = document.text
    assert text.startswith("## 预算\n\n2023年部门预算\n\n单位：万元\n\n")
    # The merged cell spreads over the two columns it covers; the header's second row follows it.
    assert ("|  | 金额 | 金额 |  |\n|---|---|---|---|\n| 项目 | 2023年 | 2022年 | 备注 |\n"
            "| 营业收入 | 45000 | 40000 | 含税 |") in text
    assert "| 销售费用 | 2100.5 | 1900 |  |" in text and "| 更新日期 | 2024-01-31 |" in text
    assert "| 季度 | 收入 |\n|---|---|\n| Q1 | 11000 |" in text  # the table beside is its own
    assert "Note on A5 (王芳): 含增值税" in text
    # Hidden: the row, the column and the sheet are not indexed, and are counted.
    assert "差旅费" not in text and "X-1" not in text and "不应被索引" not in text
    assert document.hidden_removed == 3 and any("3 hidden piece(s)" in w for w in warnings)


def test_each_line_knows_its_row_and_a_chunk_cites_sheet_and_rows(make_ponder, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Q3"
    sheet.append(["Region", "Month", "Revenue"])
    for n in range(2, 402):
        sheet.append([f"Region {n}", "2024-07", n * 10])
    path = tmp_path / "docs" / "budget.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.tokenizer": "estimate"})
    ponder.ingest([path])
    chunks = ponder.store.chunks_of(ponder.store.documents()[0].id)
    assert len(chunks) > 3
    for position, chunk in enumerate(chunks):
        numbers = [int(n) for n in re.findall(r"\| Region (\d+) \|", chunk.text)]
        assert "| Region | Month | Revenue |\n|---|---|---|\n" in chunk.text  # the header row in every chunk
        first = 1 if position == 0 else min(numbers)  # the first chunk holds the header row, row 1
        assert chunk.heading_path == ("Q3",) and (chunk.page, chunk.page_end) == (first, max(numbers))
        assert chunk.location().endswith(f"budget.xlsx › Q3 › rows {chunk.page}-{chunk.page_end}")
    [hit] = [h for h in ponder.search("Region 250", top_k=1)]
    assert hit.chunk.page <= 250 <= hit.chunk.page_end


def test_a_question_over_a_chinese_spreadsheet_is_answered_from_its_sheet_and_rows(make_ponder, provider,
                                                                                 tmp_path: Path) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "chat.retries": 0, "reason.answer_style": "extractive"})
    path = tmp_path / "docs" / "budget.xlsx"
    path.parent.mkdir(parents=True)
    path.write_bytes(_budget())
    ponder.ingest([path])
    answer = ponder.ask("2023年营业收入比2022年增长多少？", mode="direct")
    assert answer.text == "营业收入从2022年到2023年的变化为 45000 − 40000 = 5,000 [1]。"
    [cited] = answer.citations
    assert cited.path.endswith("budget.xlsx") and cited.heading_path == ("预算",) and cited.page is not None
    assert "budget.xlsx › 预算 › rows" in answer.hits[0].chunk.location()
    assert answer.grounding.verdict == "supported" and provider.requests == []


@pytest.mark.parametrize("raw, expected", [
    ("项目,2023年,2022年\n营业收入,\"45,000\",\"40,000\"\n".encode("gbk"), "| 营业收入 | 45,000 | 40,000 |"),
    ("\ufeffName;Note\nAda;\"line one\nline two\"\nBob\n".encode("utf-8"), "| Ada | line one line two |\n| Bob |  |"),
    ("a\tb\n1\t2\n".encode("utf-16"), "| a | b |\n|---|---|\n| 1 | 2 |"),
    ("城市|人口\n上海|2487\n".encode("utf-8"), "| 上海 | 2487 |"),
])
def test_csv_encoding_delimiter_quotes_and_ragged_rows_are_read(raw: bytes, expected: str) -> None:
    document, _ = _read("export.csv", raw)
    assert expected in document.text and document.page_numbers[0] == 1


def test_a_csv_row_knows_its_line_even_after_a_quoted_newline() -> None:
    document, _ = _read("notes.csv", b'id,text\n1,"two\nlines"\n2,plain\n')
    offset = document.text.index("| 2 | plain |")
    assert document.page_at(offset) == 4  # the record that ends on the file's fourth line


@pytest.mark.parametrize("name, raw, problem", [
    ("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "encrypted (password-protected)"),
    ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a readable XLSX file"),
    ("broken.ods", b"not an ods", "not a readable workbook"),
    ("binary.csv", b"\xff\xfe\xff" + bytes(range(128, 256)) * 3, "cannot tell the CSV's encoding"),
])
def test_bad_spreadsheets_are_refused_with_the_file_named(name: str, raw: bytes, problem: str) -> None:
    with pytest.raises(IngestError, match=re.escape(problem)) as caught:
        _read(name, raw)
    assert str(caught.value).startswith(name)


@pytest.mark.parametrize("name", ["bomb.xlsx", "bomb.xlsm", "bomb.xlsb", "bomb.ods", "bomb.pptx", "bomb.epub",
                                  "bomb.odt", "bomb.odp", "bomb.docx"])
def test_a_zip_bomb_of_every_zip_based_format_is_refused_before_it_is_unpacked(name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content.xml", b"\x00" * (150 * 2**20))
    with pytest.raises(IngestError, match="zip bomb") as caught:
        _read(name, buffer.getvalue())
    assert str(caught.value).startswith(name)


def test_rows_beyond_the_limit_are_left_out_with_a_warning_naming_the_setting() -> None:
    raw = ("n,v\n" + "".join(f"{n},{n * 2}\n" for n in range(1, 21))).encode()
    document, warnings = _read("big.csv", raw, max_sheet_rows=5)
    assert "| 4 | 8 |" in document.text and "| 5 | 10 |" not in document.text
    assert any("16 row(s) beyond the limit of 5" in w and "ingest.max_sheet_rows" in w for w in warnings)


def test_opendocument_and_excel_97_sheets_are_read(shared) -> None:
    path = shared / "data" / "docs" / "odf" / "odf_table_with_title_01.ods"
    document, _ = read_document(path, path.read_bytes(), ReadOptions())
    assert document.text.startswith("## Sheet1\n\nNumber of freshwater ducks per year\n\n| Year | Freshwater Ducks |")
    assert document.page_at(document.text.index("| 2024 | 180 |")) == 10  # the title is in B2, the table from B4


def test_a_workbooks_charts_are_their_data_under_their_titles_on_their_sheet(shared) -> None:
    path = shared / "data" / "docs" / "xlsx" / "xlsx_03_chartsheet.xlsx"
    document, _ = read_document(path, path.read_bytes(), ReadOptions())
    chart = document.text.index("## Duck Chart\n\nChart: Wild Duck Observations by Year\n\n"
                                "|  | Freshwater Ducks | Saltwater Ducks |\n|---|---|---|\n| 2019 | 120 | 80 |")
    assert "| 2024 | 180 | 130 |" in document.text[chart:]
    assert document.page_at(chart + 40) is not None  # located by row like the sheet's cells


def test_threaded_comments_keep_their_authors_times_and_replies(shared) -> None:
    path = shared / "data" / "docs" / "xlsx" / "xlsx_comments.xlsx"
    document, _ = read_document(path, path.read_bytes(), ReadOptions())
    assert ("Note on F7 (Jane Smith (JS), 2026-06-18 17:12): Minimum number of saltwater ducks; reply "
            "(Marcus Sterling (MS), 2026-06-18 17:15): I never thought it would be so low") in document.text
    assert "Note on A1 (John Reviewer): Why Python specifically?" in document.text  # a legacy comment as before


def test_a_sheets_pictures_are_figures_located_by_row() -> None:
    from openpyxl.drawing.image import Image as SheetImage

    from tests.figure_files import CHART_WORDS, picture_png

    workbook = openpyxl.load_workbook(io.BytesIO(_budget()))
    workbook["预算"].add_image(SheetImage(io.BytesIO(picture_png(CHART_WORDS))), "G12")
    buffer = io.BytesIO()
    workbook.save(buffer)
    document, _ = _read("budget.xlsx", buffer.getvalue())
    [figure] = document.figures
    assert figure.image and document.page_at(figure.offset) == 12
    assert _read("budget.xlsx", buffer.getvalue(), figures=False)[0].figures == ()


def test_reingesting_a_changed_workbook_replaces_only_it(make_ponder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    path = docs / "budget.xlsx"
    docs.mkdir()
    path.write_bytes(_budget())
    other = write(docs / "notes.md", "# Notes\n\nThe budget is reviewed in March.\n")
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.tokenizer": "estimate"})
    ponder.ingest([path, other])
    before = {d.path: d.content_hash for d in ponder.store.documents()}
    workbook = openpyxl.load_workbook(path)
    workbook["预算"]["B5"] = 46000
    workbook.save(path)
    report = ponder.ingest([path, other])
    after = {d.path: d.content_hash for d in ponder.store.documents()}
    assert after[str(other.resolve())] == before[str(other.resolve())]
    assert after[str(path.resolve())] != before[str(path.resolve())]
    changed = next(d for d in ponder.store.documents() if d.path == str(path.resolve()))
    assert any("46000" in c.text for c in ponder.store.chunks_of(changed.id))
    assert len(ponder.store.documents()) == 2 and report is not None


# -- slides -----------------------------------------------------------------------------------------
def _deck() -> bytes:
    """A Chinese and English deck: a title slide, bullets, a table with a merged header, a chart, notes,
    and a hidden slide between."""
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "第三季度经营回顾"
    first.placeholders[1].text_frame.text = "营业收入同比增长12.5%"
    first.placeholders[1].text_frame.add_paragraph().text = "研发投入3,500万元"
    first.notes_slide.notes_text_frame.text = "先讲收入，再讲成本。"
    hidden = deck.slides.add_slide(deck.slide_layouts[5])
    hidden.shapes.title.text = "Draft numbers"
    hidden._element.set("show", "0")
    third = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    third.shapes.title.text = "Revenue by region"
    table = third.shapes.add_table(3, 3, Inches(0.5), Inches(1.5), Inches(6), Inches(1.2)).table
    for r, row in enumerate([["Region", "2024", ""], ["APAC", "120", "130"], ["EMEA", "95", "101"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 1).merge(table.cell(0, 2))
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("APAC", (120, 130.5))
    chart = third.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(0.5), Inches(3), Inches(6), Inches(3),
                                   data).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = "APAC revenue"
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def test_a_deck_is_a_page_per_slide_with_tables_charts_and_notes() -> None:
    document, _ = _read("review.pptx", _deck())
    text = document.text
    assert text.startswith("# 第三季度经营回顾\n\n- 营业收入同比增长12.5%\n- 研发投入3,500万元\n\n"
                           "Notes: 先讲收入，再讲成本。")
    assert "| Region | 2024 | 2024 |\n|---|---|---|\n| APAC | 120 | 130 |" in text  # the merged header spread
    assert "Chart: APAC revenue\n\n|  | APAC |\n|---|---|\n| Q1 | 120 |\n| Q2 | 130.5 |" in text
    assert "Draft numbers" not in text and document.hidden_removed == 1
    assert document.page_count == 3 and document.page_at(text.index("# Revenue by region")) == 3  # numbers kept


def test_a_decks_pictures_are_figures_and_its_logo_is_skipped() -> None:
    from pptx import Presentation
    from pptx.util import Inches

    from tests.figure_files import CHART_WORDS, logo_png, picture_png

    deck = Presentation()
    for number in range(3):
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        slide.shapes.title.text = f"Slide {number + 1} title"
        slide.shapes.add_picture(io.BytesIO(logo_png()), Inches(8), Inches(0.2), Inches(1.5))  # the template's
    chart = deck.slides[1].shapes.add_picture(io.BytesIO(picture_png(CHART_WORDS)), Inches(1), Inches(2), Inches(6))
    chart._element.nvPicPr.cNvPr.set("descr", "各地区季度销量柱状图")
    buffer = io.BytesIO()
    deck.save(buffer)
    document, _ = _read("review.pptx", buffer.getvalue())
    [figure] = document.figures
    assert figure.page == 2 and figure.alt == "各地区季度销量柱状图" and figure.image
    assert document.figures_skipped == 3  # the logo on every slide


def test_a_shape_python_pptx_does_not_recognise_keeps_its_text(shared) -> None:
    path = shared / "data" / "docs" / "pptx" / "powerpoint_unrecognized_shape.pptx"
    document, warnings = read_document(path, path.read_bytes(), ReadOptions())
    assert "Text in an unrecognized shape" in document.text and warnings == []


def test_a_slide_chunk_is_cited_by_its_slide(make_ponder, tmp_path: Path) -> None:
    path = tmp_path / "docs" / "review.pptx"
    path.parent.mkdir(parents=True)
    path.write_bytes(_deck())
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.tokenizer": "estimate"})
    ponder.ingest([path])
    [hit] = ponder.search("APAC revenue chart", top_k=1)
    assert hit.chunk.page == 3 and hit.chunk.location().endswith("review.pptx slide 3 Revenue by region")


@pytest.mark.parametrize("raw, problem", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "encrypted (password-protected)"),
    (b"PK\x03\x04 broken", "not a readable PPTX file"),
])
def test_bad_decks_are_refused_with_the_file_named(raw: bytes, problem: str) -> None:
    with pytest.raises(IngestError, match=re.escape(problem)) as caught:
        _read("deck.pptx", raw)
    assert str(caught.value).startswith("deck.pptx")


# -- e-books ----------------------------------------------------------------------------------------
def _epub(encrypted: bool = False) -> bytes:
    """An e-book whose spine reads the chapters in another order than the manifest lists them."""
    chapter = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
               '<section><header><h2>{title}</h2></header><p>{text}</p></section></body></html>')
    files = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>',
        "OEBPS/content.opf": '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<manifest><item id="two" href="text/two.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="one" href="text/one.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="css" href="style.css" media-type="text/css"/></manifest>'
        '<spine><itemref idref="one"/><itemref idref="two"/></spine></package>',
        "OEBPS/text/one.xhtml": chapter.format(title="第一章 入职须知", text="新员工须在入职后30天内完成安全培训。"),
        "OEBPS/text/two.xhtml": chapter.format(title="Chapter 2: Expenses", text="Claims are filed within 60 days."),
        "OEBPS/style.css": "p { margin: 0 }",
    }
    if encrypted:
        files["META-INF/encryption.xml"] = (
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
            '<enc:CipherReference URI="OEBPS/text/one.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_an_ebook_is_its_chapters_in_spine_order_with_their_titles_as_headings() -> None:
    document, _ = _read("handbook.epub", _epub())
    assert document.text == ("## 第一章 入职须知\n\n新员工须在入职后30天内完成安全培训。\n\n"
                             "## Chapter 2: Expenses\n\nClaims are filed within 60 days.\n\n")


@pytest.mark.parametrize("raw, problem", [
    (_epub(encrypted=True), "encrypted (DRM)"),
    (b"PK\x03\x04 broken", "not a readable EPUB file"),
])
def test_bad_ebooks_are_refused_with_the_file_named(raw: bytes, problem: str) -> None:
    with pytest.raises(IngestError, match=re.escape(problem)) as caught:
        _read("book.epub", raw)
    assert str(caught.value).startswith("book.epub")


# -- OpenDocument text and slides ---------------------------------------------------------------------
def _odt(body: str, manifest: str = "", files: dict[str, bytes] | None = None) -> bytes:
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
               'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
               'xmlns:xlink="http://www.w3.org/1999/xlink" '
               'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"><office:automatic-styles>'
               '<style:style style:name="P1" style:family="paragraph" style:parent-style-name="Title"/>'
               '<text:list-style style:name="L1"><text:list-level-style-number text:level="1"/>'
               '<text:list-level-style-bullet text:level="2"/></text:list-style></office:automatic-styles>'
               f'<office:body><office:text>{body}</office:text></office:body></office:document-content>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        if manifest:
            archive.writestr("META-INF/manifest.xml", manifest)
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_opendocuments_pictures_are_figures_after_their_paragraph() -> None:
    from tests.figure_files import CHART_WORDS, picture_png

    frame = ('<draw:frame><draw:image xlink:href="Pictures/chart.png"/><svg:title>各地区季度销量</svg:title>'
             '</draw:frame>')
    body = (f'<text:p>如图1所示，东部地区的销量最高。{frame}</text:p><text:p>图1 各地区季度销量</text:p>'
            '<text:p><draw:frame><draw:image xlink:href="https://example.com/remote.png"/></draw:frame></text:p>')
    document, _ = _read("report.odt", _odt(body, files={"Pictures/chart.png": picture_png(CHART_WORDS)}))
    [figure] = document.figures  # the remote picture is never fetched
    assert figure.alt == "各地区季度销量" and figure.image and figure.caption.startswith("图1")
    assert document.text.index("销量最高") <= figure.offset <= document.text.index("图1 各地区")
    assert _read("report.odt", _odt(body, files={"Pictures/chart.png": picture_png(CHART_WORDS)}),
                 figures=False)[0].figures == ()


def test_an_opendocument_text_keeps_headings_lists_and_merged_tables() -> None:
    body = ('<text:p text:style-name="P1">会议纪要</text:p><text:h text:outline-level="1">预算</text:h>'
            '<text:p>研发投入<text:s text:c="2"/>3,500万元。</text:p>'
            '<text:list text:style-name="L1"><text:list-item><text:p>收入</text:p><text:list>'
            '<text:list-item><text:p>国内</text:p></text:list-item></text:list></text:list-item>'
            '<text:list-item><text:p>成本</text:p></text:list-item></text:list>'
            '<table:table><table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>金额</text:p>'
            '</table:table-cell><table:covered-table-cell/></table:table-row><table:table-row>'
            '<table:table-cell><text:p>2023年</text:p></table:table-cell><table:table-cell><text:p>2022年</text:p>'
            '</table:table-cell></table:table-row></table:table>')
    document, _ = _read("minutes.odt", _odt(body))
    assert document.text == ("# 会议纪要\n\n## 预算\n\n研发投入 3,500万元。\n\n1. 收入\n    - 国内\n2. 成本\n\n"
                             "| 金额 | 金额 |\n|---|---|\n| 2023年 | 2022年 |\n\n")


def test_opendocument_slides_are_a_page_each(shared) -> None:
    path = shared / "data" / "docs" / "odf" / "odf_presentation_01.odp"
    document, _ = read_document(path, path.read_bytes(), ReadOptions())
    assert document.page_count == 3 and document.text.startswith("# Test Table Slide\n\nWith footnote\n\n|  | Class1")
    assert document.page_at(document.text.index("# Second slide title")) == 2
    assert "Notes: Some notes on the second slide." in document.text


def test_an_encrypted_opendocument_is_refused_with_the_file_named() -> None:
    manifest = ('<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                '<manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/>'
                '</manifest:file-entry></manifest:manifest>')
    with pytest.raises(IngestError, match=r"^minutes\.odt: the ODT file is encrypted"):
        _read("minutes.odt", _odt("<text:p>x</text:p>", manifest))


def test_docs_counts_a_decks_slides_and_a_workbooks_sheets(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ponder.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "review.pptx").write_bytes(_deck())
    (docs / "budget.xlsx").write_bytes(_budget())
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data")]
    env = {"PONDER_RETRIEVE__MODE": "bm25", "COLUMNS": "250"}
    ingested = runner.invoke(app, base + ["ingest", str(docs)], env=env)
    assert ingested.exit_code == 0 and "(3 slides," in ingested.output and "(1 sheet," in ingested.output
    listing = runner.invoke(app, base + ["docs"], env=env).output
    assert "chunks, 3 slides (pptx" in listing and "chunks, 1 sheet (xlsx" in listing  # the hidden sheet not counted
