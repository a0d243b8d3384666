"""Spreadsheets and CSV into Markdown tables, each row keeping its number for provenance.

* **Workbooks**: XLSX and XLSM through openpyxl (MIT: cached values of formulas, hidden rows and
  columns, merged cells, comments); XLS, XLSB and ODS through python-calamine (MIT, a Rust reader:
  hidden sheets, merged cells where the format records them). Each visible sheet is a section
  headed by its name; each table on it — a block of cells set apart by empty rows and columns —
  a Markdown table whose first row is its header; a lone cell (a title, "单位：万元") a line of text.
  Hidden sheets, rows and columns are left out and counted, like hidden HTML text; dates are
  written as dates, whole numbers without ".0"; merged cells spread their value over the cells
  they cover; charts (a worksheet's or a chart sheet's) follow the tables as their own data under
  their titles (:mod:`ponder.ingest.readers.charts`), then its pictures as figures; comments close
  the sheet as notes.
* **CSV / TSV**: encoding detected (UTF-8 with or without BOM, UTF-16 by its BOM, GB18030 — which
  covers GBK), the delimiter sniffed among , ; tab | (a .tsv is tab-separated), quoted cells kept
  whole, ragged rows padded; one table.

Every table line and title carries its row number (the sheet's row, the CSV's line), so a chunk's
provenance is the sheet and the rows it covers: ``budget.xlsx › Q3 › rows 41–80``. A sheet longer
than ``ingest.max_sheet_rows`` is cut there, with a warning that names the setting.

Example::

    converted = convert_workbook(Path("budget.xlsx"), raw, max_rows=100_000)
    converted.pages[0].splitlines()[0]   # '## Q3'
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ponder.ingest.readers import Converted, IngestError
from ponder.ingest.readers.archive import refuse_zip_bomb
from ponder.ingest.readers.charts import CHART_RELATIONSHIP, DRAWING_RELATIONSHIP, chart_table, related_parts
from ponder.ingest.readers.figures import drop_repeated, picture_figure
from ponder.untrusted import strip_invisible

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted OOXML file is an OLE container, not a zip
_DELIMITERS = ",;\t|"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_XDR = "{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}"
_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_CHARTSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet"
_THREADED_RELATIONSHIP = "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment"
_TC = "{http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments}"
# What Excel writes into the legacy copy of a threaded comment, before the comment itself.
_THREADED = re.compile(r"^\[Threaded comment\].*?Learn more: \S+\s*(?:Comment: )?")


@dataclass
class Sheet:
    """A sheet as read: its rows (number, cell texts) with hidden rows and columns left out."""

    name: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (row, "Note on B3 (author): text")
    hidden: int = 0  # columns and invisible characters left out
    hidden_rows: set[int] = field(default_factory=set)
    contiguous: bool = False  # rows follow one another whatever their numbers (a CSV's records and lines)
    cut: int = 0  # rows beyond the row limit
    charts: list[tuple[int, str]] = field(default_factory=list)  # (anchor row, the chart's data as Markdown)
    pictures: list[tuple[int, bytes]] = field(default_factory=list)  # (anchor row, the image's bytes)


# -- workbooks ------------------------------------------------------------------------------------
def convert_workbook(path: Path, raw: bytes, max_rows: int, figures: bool = True) -> Converted:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        if raw.startswith(_OLE):
            raise IngestError(path, "the workbook is encrypted (password-protected); save it without a password "
                                    "to ingest it")
        refuse_zip_bomb(path, raw, suffix[1:].upper())
        sheets, hidden_sheets = _openpyxl_sheets(path, raw, max_rows)
    else:
        if raw.startswith(b"PK"):  # XLSB and ODS are zips too; XLS is an OLE file
            refuse_zip_bomb(path, raw, suffix[1:].upper())
        sheets, hidden_sheets = _calamine_sheets(path, raw, max_rows)
    return _converted(path, sheets, hidden_sheets, headed=True, figures=figures)


def _openpyxl_sheets(path: Path, raw: bytes, max_rows: int) -> tuple[list[Sheet], int]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(raw), data_only=True)  # data_only: formulas' cached values
    except Exception as exc:  # openpyxl raises zipfile, KeyError and XML errors for broken files
        raise IngestError(path, f"not a readable workbook ({type(exc).__name__}: {exc})") from None
    sheets, hidden_sheets = [], 0
    package = _from_package(raw)
    for name in workbook.sheetnames:
        worksheet = workbook[name]
        if worksheet.sheet_state != "visible":
            hidden_sheets += 1
            continue
        drawn = package.get(worksheet.title, _Drawn())
        sheet = Sheet(worksheet.title, charts=drawn.charts)
        if not hasattr(worksheet, "merged_cells"):  # a chart sheet: its charts alone
            sheets.append(sheet)
            continue
        for image in getattr(worksheet, "_images", []):  # noqa: SLF001 - openpyxl keeps a sheet's pictures here
            anchor = getattr(getattr(image, "anchor", None), "_from", None)
            try:
                sheet.pictures.append((anchor.row + 1 if anchor is not None else 1, image._data()))  # noqa: SLF001
            except Exception:  # noqa: BLE001, S112 - a picture whose part is missing: the sheet's cells still count
                continue
        hidden_columns = {column for dimension in worksheet.column_dimensions.values() if dimension.hidden
                          for column in range(dimension.min or 0, (dimension.max or 0) + 1)}
        merged = {(row, column): worksheet.cell(cells.min_row, cells.min_col).value
                  for cells in worksheet.merged_cells.ranges
                  for row in range(cells.min_row, cells.max_row + 1)
                  for column in range(cells.min_col, cells.max_col + 1)}
        # The cells the file holds: a sheet's declared size can be a million empty rows ("A1:C1048496").
        by_row: dict[int, dict[int, Any]] = {}
        for (row, column), cell in sorted(worksheet._cells.items()):  # noqa: SLF001 - openpyxl's cell store
            by_row.setdefault(row, {})[column] = cell
        width = max((column for cells in by_row.values() for column in cells), default=0)
        columns = [column for column in range(1, width + 1) if column not in hidden_columns]  # gaps part tables
        sheet.hidden += len(hidden_columns & {column for cells in by_row.values() for column in cells})
        for number, row in by_row.items():
            dimension = worksheet.row_dimensions.get(number)
            if dimension is not None and dimension.hidden:
                sheet.hidden_rows.add(number)
                continue
            shown = [row[column] for column in columns if column in row]
            _add_row(sheet, number, [merged.get((number, column), row[column].value if column in row else None)
                                     for column in columns], max_rows)
            for cell in shown:
                if cell.coordinate in drawn.threads:  # a threaded comment: its authors, times and replies
                    sheet.notes.append((number, f"Note on {cell.coordinate}{drawn.threads[cell.coordinate]}"))
                elif cell.comment is not None:
                    author = cell.comment.author.strip() if cell.comment.author else ""
                    author = "" if author.startswith("tc=") else f" ({author})"  # a threaded comment's id
                    text = _THREADED.sub("", " ".join(cell.comment.text.split()))
                    sheet.notes.append((number, f"Note on {cell.coordinate}{author}: {text}"))
        sheets.append(sheet)
    return sheets, hidden_sheets


def _calamine_sheets(path: Path, raw: bytes, max_rows: int) -> tuple[list[Sheet], int]:
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except python_calamine.PasswordError:
        raise IngestError(path, "the workbook is encrypted (password-protected); save it without a password "
                                "to ingest it") from None
    except Exception as exc:  # calamine's errors for broken or mislabelled files
        raise IngestError(path, f"not a readable workbook ({type(exc).__name__}: {exc})") from None
    sheets, hidden_sheets = [], 0
    for metadata in workbook.sheets_metadata:
        if metadata.visible != python_calamine.SheetVisibleEnum.Visible or \
                metadata.typ != python_calamine.SheetTypeEnum.WorkSheet:
            hidden_sheets += metadata.visible != python_calamine.SheetVisibleEnum.Visible
            continue
        try:
            worksheet = workbook.get_sheet_by_name(metadata.name)
            grid = worksheet.to_python(skip_empty_area=False)
        except Exception as exc:
            raise IngestError(path, f"sheet {metadata.name!r} cannot be read ({type(exc).__name__}: {exc})") from None
        merged: dict[tuple[int, int], Any] = {}
        for (top, left), (bottom, right) in worksheet.merged_cell_ranges or []:
            value = grid[top][left] if top < len(grid) and left < len(grid[top]) else None
            merged |= {(row, column): value for row in range(top, bottom + 1) for column in range(left, right + 1)}
        sheet = Sheet(metadata.name)
        for index, row in enumerate(grid):
            _add_row(sheet, index + 1, [merged.get((index, column), value) for column, value in enumerate(row)],
                     max_rows)
        sheets.append(sheet)
    return sheets, hidden_sheets


@dataclass
class _Drawn:
    """What a sheet holds beyond its cells that openpyxl does not read: charts, threaded comments."""

    charts: list[tuple[int, str]] = field(default_factory=list)  # (anchor row, the chart's data table)
    threads: dict[str, str] = field(default_factory=dict)  # cell -> " (author, time): text; reply (…): …"


def _from_package(raw: bytes) -> dict[str, _Drawn]:
    """Each sheet's charts (worksheets' drawings and chart sheets alike) and threaded comments (with
    their authors, from the workbook's person list), found through the package's relationships."""
    found: dict[str, _Drawn] = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        try:
            workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        except (KeyError, ElementTree.ParseError):
            return found
        parts = {**related_parts(archive, "xl/workbook.xml", _WORKSHEET),
                 **related_parts(archive, "xl/workbook.xml", _CHARTSHEET)}
        people = _people(archive)
        for sheet in workbook.iter(f"{_MAIN}sheet"):
            part = parts.get(sheet.get(f"{_R}id", ""))
            if part is None:
                continue
            drawn = found.setdefault(sheet.get("name", ""), _Drawn())
            for drawing in related_parts(archive, part, DRAWING_RELATIONSHIP).values():
                drawn.charts += _charts(archive, drawing)
            for comments in related_parts(archive, part, _THREADED_RELATIONSHIP).values():
                drawn.threads |= _threads(archive, comments, people)
    return found


def _charts(archive: zipfile.ZipFile, drawing: str) -> list[tuple[int, str]]:
    charts = related_parts(archive, drawing, CHART_RELATIONSHIP)
    try:
        anchors = ElementTree.fromstring(archive.read(drawing))
    except (KeyError, ElementTree.ParseError):
        return []
    found = []
    for anchor in anchors:
        row = anchor.find(f"{_XDR}from/{_XDR}row")
        for chart in anchor.iter(f"{_CHART}chart"):
            target = charts.get(chart.get(f"{_R}id", ""))
            table = chart_table(archive.read(target)) if target in archive.namelist() else ""
            if table:
                found.append((int(row.text or 0) + 1 if row is not None else 1, table))
    return found


def _people(archive: zipfile.ZipFile) -> dict[str, str]:
    """Threaded comments' authors: person id -> display name."""
    people: dict[str, str] = {}
    for name in archive.namelist():
        if name.startswith("xl/persons/") and name.endswith(".xml"):
            try:
                listing = ElementTree.fromstring(archive.read(name))
            except ElementTree.ParseError:
                continue
            people |= {person.get("id", ""): person.get("displayName", "") for person in listing.iter(f"{_TC}person")}
    return people


def _threads(archive: zipfile.ZipFile, part: str, people: dict[str, str]) -> dict[str, str]:
    """A sheet's threaded comments, each cell's thread as one note: the first comment and its replies,
    each with its author and time."""
    try:
        listing = ElementTree.fromstring(archive.read(part))
    except (KeyError, ElementTree.ParseError):
        return {}
    threads: dict[str, list[str]] = {}
    for comment in listing.iter(f"{_TC}threadedComment"):
        written = comment.find(f"{_TC}text")
        text = " ".join("".join(written.itertext()).split()) if written is not None else ""
        when = (comment.get("dT") or "")[:16].replace("T", " ")
        who = ", ".join(part for part in (people.get(comment.get("personId", ""), ""), when) if part)
        said = f" ({who}): {text}" if who else f": {text}"
        entries = threads.setdefault(comment.get("ref", ""), [])
        entries.append(said if not comment.get("parentId") or not entries else f" reply{said}")
    return {cell: ";".join(entries) for cell, entries in threads.items() if cell}


# -- CSV ------------------------------------------------------------------------------------------
def convert_csv(path: Path, raw: bytes, max_rows: int) -> Converted:
    text = _decode(path, raw)
    sample = text[:65536]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
        except csv.Error:  # one column, or too little to tell
            delimiter = ","
    sheet = Sheet(path.name, contiguous=True)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for record in reader:
            _add_row(sheet, reader.line_num, record, max_rows)
    except csv.Error as exc:
        raise IngestError(path, f"not readable as CSV at line {reader.line_num} ({exc})") from None
    return _converted(path, [sheet], 0, headed=False)


def _decode(path: Path, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: Iterable[str] = ("utf-16",)
    elif len(raw) > 3 and raw[1:2] == b"\x00" and raw[3:4] == b"\x00":  # UTF-16 without its BOM
        encodings = ("utf-16-le",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(path, "cannot tell the CSV's encoding (tried UTF-8, UTF-16 and GB18030/GBK); "
                            "save it as UTF-8")


# -- one sheet to Markdown ------------------------------------------------------------------------
def _add_row(sheet: Sheet, number: int, values: list[Any], max_rows: int) -> None:
    if len(sheet.rows) >= max_rows:
        sheet.cut += any(value not in (None, "") for value in values)
        return
    cells = []
    for value in values:
        text, removed = strip_invisible(_cell_text(value))
        sheet.hidden += removed
        cells.append(text)
    sheet.rows.append((number, cells))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return " ".join(str(value).split()).replace("|", "\\|")


def _blocks(sheet: Sheet) -> list[list[tuple[int, list[str]]]]:
    """The tables of a sheet: groups of filled cells that touch (side by side, or one above the
    other with no empty or absent row between; hidden rows do not part them), each taken as its
    bounding box, boxes that overlap merged; in reading order."""
    rows = sheet.rows
    touching = [i + 1 < len(rows) and (sheet.contiguous or all(row in sheet.hidden_rows
                                                               for row in range(rows[i][0] + 1, rows[i + 1][0])))
                for i in range(len(rows))]
    filled = {(i, j) for i, (_, cells) in enumerate(rows) for j, cell in enumerate(cells) if cell}
    boxes: list[list[int]] = []  # [top, left, bottom, right], inclusive
    seen: set[tuple[int, int]] = set()
    for start in sorted(filled):
        if start in seen:
            continue
        seen.add(start)
        stack, box = [start], [start[0], start[1], start[0], start[1]]
        while stack:
            i, j = stack.pop()
            box = [min(box[0], i), min(box[1], j), max(box[2], i), max(box[3], j)]
            neighbours = [(i, j - 1), (i, j + 1)] + ([(i + 1, j)] if touching[i] else []) + (
                [(i - 1, j)] if i and touching[i - 1] else [])
            for cell in neighbours:
                if cell in filled and cell not in seen:
                    seen.add(cell)
                    stack.append(cell)
        boxes.append(box)
    merged = True
    while merged:  # boxes that overlap are one table (a header cell above a gap, a ragged edge)
        merged = False
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                one, other = boxes[a], boxes[b]
                if one[0] <= other[2] and other[0] <= one[2] and one[1] <= other[3] and other[1] <= one[3]:
                    boxes[a] = [min(one[0], other[0]), min(one[1], other[1]), max(one[2], other[2]),
                                max(one[3], other[3])]
                    del boxes[b]
                    merged = True
                    break
            if merged:
                break
    blocks = []
    for top, left, bottom, right in sorted(boxes):
        block = [(rows[i][0], [rows[i][1][j] if j < len(rows[i][1]) else "" for j in range(left, right + 1)])
                 for i in range(top, bottom + 1)]
        blocks.append([(number, cells) for number, cells in block if any(cells)])
    return blocks


def _converted(path: Path, sheets: list[Sheet], hidden_sheets: int, headed: bool, figures: bool = False) -> Converted:
    converted = Converted([])
    parts: list[str] = []
    locations: list[tuple[int, int]] = []
    offset = 0
    warnings = []

    def add(text: str, row: int) -> None:
        nonlocal offset
        locations.append((offset, row))
        parts.append(text)
        offset += len(text)

    for sheet in sheets:
        if not any(any(cells) for _, cells in sheet.rows) and not sheet.charts and not sheet.pictures:
            continue
        if headed:
            add(f"## {sheet.name}\n\n", sheet.rows[0][0] if sheet.rows else 1)
        # A CSV is one table (its empty lines are not gaps between tables).
        blocks = [[row for row in sheet.rows if any(row[1])]] if sheet.contiguous else _blocks(sheet)
        for block in blocks:
            if len(block) <= 3 and all(sum(1 for cell in cells if cell) == 1 for _, cells in block):
                for number, cells in block:  # a title, a unit over a table: lines, not a table
                    add(next(cell for cell in cells if cell) + "\n\n", number)
                continue
            width = max(len(cells) for _, cells in block)  # ragged rows padded
            (first, header), *body = [(number, cells + [""] * (width - len(cells))) for number, cells in block]
            add("| " + " | ".join(header) + " |\n", first)
            parts.append("|" + "---|" * len(header) + "\n")
            offset += len(parts[-1])
            for number, cells in body:
                add("| " + " | ".join(cells) + " |\n", number)
            parts.append("\n")
            offset += 1
        last = max((number for number, _ in sheet.rows), default=1)
        for row, table in sheet.charts:  # after the tables, located no earlier than their last row
            add(table + "\n\n", max(row, last))
        for row, data in sheet.pictures if figures else []:
            if (marker := picture_figure(data, converted)) is not None:
                add(marker + "\n\n", max(row, last))
        for row, note in sheet.notes:
            add(note + "\n\n", row)
        if sheet.cut:
            warnings.append(f"{path}: sheet {sheet.name!r}: {sheet.cut:,} row(s) beyond the limit of "
                            f"{len(sheet.rows):,} not indexed (setting ingest.max_sheet_rows)")
    converted.pages = ["".join(parts)]
    converted.warnings = warnings
    converted.hidden = hidden_sheets + sum(sheet.hidden + len(sheet.hidden_rows) for sheet in sheets)
    converted.locations = locations
    converted.sheets = len(sheets) if headed else None
    converted.figures = drop_repeated(converted.figures, 0, converted.figures_skipped, where=id)
    return converted

