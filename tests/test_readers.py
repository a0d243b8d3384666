"""Reader behaviours on small files made for each: merged table cells (HTML and DOCX), text in
DrawingML shapes and text boxes, checkbox state, charts' data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import read
from tests.office_files import cell, chart, chart_xml, paragraph, row, table, text_box, write_docx

_CHECKED_CONTROL = ('<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="1"/></w14:checkbox></w:sdtPr>'
                    '<w:sdtContent><w:r><w:t>☒</w:t></w:r></w:sdtContent></w:sdt>')
_EMPTY_FORM_FIELD = ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:default w:val="0"/>'
                     '</w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText> FORMCHECKBOX </w:instrText>'
                     '</w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>')


def _table_rows(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("|") and "---" not in line]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in rows]
    return [line for line in cells if any(line)]  # markdownify heads a table without <th> with an empty row


def test_html_merged_cells_are_spread_into_every_cell_they_cover(tmp_path: Path) -> None:
    page = tmp_path / "sales.html"
    page.write_text(
        "<table><tr><th>Region</th><th colspan='2'>Sales</th></tr>"
        "<tr><td rowspan='2'>North</td><td>Q1</td><td>10</td></tr><tr><td>Q2</td><td>20</td></tr>"
        "<tr><td>南方</td><td rowspan='9' colspan='2'>无数据</td></tr></table>", encoding="utf-8")
    document, _ = read(page)
    assert _table_rows(document.text) == [["Region", "Sales", "Sales"], ["North", "Q1", "10"],
                                          ["North", "Q2", "20"], ["南方", "无数据", "无数据"]]


def test_html_checkboxes_keep_their_state(tmp_path: Path) -> None:
    page = tmp_path / "list.html"
    page.write_text("<ul><li><input type='checkbox' checked> ship it</li><li><input type=CHECKBOX> test it</li></ul>",
                    encoding="utf-8")
    document, _ = read(page)
    assert "☑ ship it" in document.text and "☐ test it" in document.text


def test_docx_text_boxes_and_shapes_are_read_once_in_place(tmp_path: Path) -> None:
    body = (paragraph("Before the shapes.")
            + text_box(paragraph("Only in a DrawingML shape."),
                       table(row(cell(paragraph("Part")), cell(paragraph("Qty"))),
                             row(cell(paragraph("Bolt")), cell(paragraph("12")))))
            + text_box(paragraph("In a text box with a VML fallback."), fallback=True)
            + paragraph("After the shapes."))
    document, _ = read(write_docx(tmp_path / "shapes.docx", body))
    text = document.text
    for words in ("Before the shapes.", "Only in a DrawingML shape.", "In a text box with a VML fallback.",
                  "After the shapes."):
        assert text.count(words) == 1, words
    assert text.index("Before") < text.index("Only in") < text.index("VML fallback") < text.index("After")
    assert ["Bolt", "12"] in _table_rows(text)


def test_docx_checkbox_cells_keep_their_state(tmp_path: Path) -> None:
    wingdings_checked = '<w:r><w:sym w:font="Wingdings" w:char="F0FE"/></w:r>'
    wingdings_empty = '<w:r><w:sym w:font="Wingdings" w:char="F0A8"/></w:r>'
    body = table(row(cell(paragraph("Task")), cell(paragraph("control")), cell(paragraph("form field")),
                     cell(paragraph("wingdings ticked")), cell(paragraph("wingdings empty"))),
                 row(cell(paragraph("检查刹车")), cell(f"<w:p>{_CHECKED_CONTROL}</w:p>"),
                     cell(f"<w:p>{_EMPTY_FORM_FIELD}</w:p>"), cell(f"<w:p>{wingdings_checked}</w:p>"),
                     cell(f"<w:p>{wingdings_empty}</w:p>")))
    document, _ = read(write_docx(tmp_path / "checklist.docx", body))
    assert _table_rows(document.text)[1] == ["检查刹车", "☑", "☐", "☑", "☐"]


def test_docx_merged_cells_are_spread(tmp_path: Path) -> None:
    body = table(row(cell(paragraph("Region")), cell(paragraph("Sales"), '<w:gridSpan w:val="2"/>')),
                 row(cell(paragraph("North"), '<w:vMerge w:val="restart"/>'), cell(paragraph("Q1")),
                     cell(paragraph("10"))),
                 row(cell(paragraph(""), "<w:vMerge/>"), cell(paragraph("Q2")), cell(paragraph("20"))))
    document, _ = read(write_docx(tmp_path / "merged.docx", body))
    assert _table_rows(document.text) == [["Region", "Sales", "Sales"], ["North", "Q1", "10"], ["North", "Q2", "20"]]


def test_html_figure_holding_a_table_keeps_the_table(tmp_path: Path) -> None:
    page = tmp_path / "listing.html"
    page.write_text("<figure><table><tr><th>Part</th><th>Qty</th></tr><tr><td>Bolt</td><td>12</td></tr></table>"
                    "<figcaption>Table 1: Parts</figcaption></figure>", encoding="utf-8")
    document, _ = read(page)
    assert ["Bolt", "12"] in _table_rows(document.text) and "Table 1: Parts" in document.text
    assert document.figures == ()


def test_docx_charts_are_their_data_where_they_stand(tmp_path: Path) -> None:
    """A line chart was its caption alone: its cached data is the table a numeric question needs."""
    body = (paragraph("Revenue grew every quarter.") + f"<w:p>{chart('rId7')}</w:p>"
            + paragraph("Figure 1: 营业收入（万元）") + paragraph("After the chart."))
    xml = chart_xml("营业收入", ["Q1", "Q2", "Q3"], {"2023": [120, 130.5, 141], "2024": [150, 162, 170.25]})
    document, _ = read(write_docx(tmp_path / "report.docx", body, charts={"rId7": xml}))
    text = document.text
    assert "Chart: 营业收入" in text and "PONDERCHART" not in text
    assert _table_rows(text) == [["", "2023", "2024"], ["Q1", "120", "150"], ["Q2", "130.5", "162"],
                                 ["Q3", "141", "170.25"]]
    assert text.index("grew every quarter") < text.index("Chart: 营业收入") < text.index("Figure 1") < \
        text.index("After the chart")


def test_a_chart_token_in_a_documents_own_text_stays_text(tmp_path: Path) -> None:
    """The token standing for a chart is drawn per file: a document cannot forge one."""
    body = paragraph("PONDERCHART00000000N0 is just text.") + f"<w:p>{chart('rId7')}</w:p>"
    xml = chart_xml("Sales", ["Q1"], {"2023": [1]})
    document, _ = read(write_docx(tmp_path / "forged.docx", body, charts={"rId7": xml}))
    assert "PONDERCHART00000000N0 is just text." in document.text and "Chart: Sales" in document.text
