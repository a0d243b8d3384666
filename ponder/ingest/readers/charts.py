"""Charts in Office files (DOCX, PPTX, XLSX) as their own data: the chart part's cached categories and
series as a Markdown table under the chart's title, so a numeric question over a chart has numbers
to compute with. One reader of DrawingML chart XML (``c:chartSpace``) serves the three formats;
each format's reader finds its chart parts through the package's relationships
(:func:`related_parts`).

Example::

    chart_table(archive.read("word/charts/chart1.xml"))
    # 'Chart: Revenue\\n\\n|  | 2023 | 2024 |\\n|---|---|---|\\n| Q1 | 120 | 130.5 |'
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ElementTree
import zipfile

from ponder.ingest.readers import pipe_table

_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CHART_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart"
DRAWING_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing"
MAX_POINTS = 10_000  # a chart's categories read; a chart is a summary, not a data dump


def chart_table(xml: bytes) -> str:
    """The chart's title line and its data table; "" when the XML is no chart."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return ""
    chart = root.find(f"{_C}chart")
    if chart is None:
        return ""
    title = _title(chart)
    categories: dict[int, str] = {}
    series: list[tuple[str, dict[int, str]]] = []
    plot_area = chart.find(f"{_C}plotArea")
    for plot in list(plot_area) if plot_area is not None else []:
        if not plot.tag.endswith("Chart"):
            continue
        for serie in plot.findall(f"{_C}ser"):
            name = " ".join(_texts(serie.find(f"{_C}tx"))) or f"Series {len(series) + 1}"
            for kind in ("cat", "xVal"):
                if not categories and (found := _points(serie.find(f"{_C}{kind}"))):
                    categories = found
            values = _points(serie.find(f"{_C}val")) or _points(serie.find(f"{_C}yVal"))
            series.append((name, values))
    head = f"Chart: {title}" if title else "Chart"
    if not series:
        return head if title else ""
    indexes = sorted(set(categories) | {index for _, values in series for index in values})[:MAX_POINTS]
    rows = [[""] + [_cell(name) for name, _ in series]]
    rows += [[_cell(categories.get(index, str(index + 1)))] + [_number(values.get(index, "")) for _, values in series]
             for index in indexes]
    return f"{head}\n\n{pipe_table(rows)}"


def related_parts(archive: zipfile.ZipFile, part: str, relationship: str) -> dict[str, str]:
    """The parts ``part`` refers to by ``relationship`` type: relationship id -> part name."""
    folder, name = posixpath.split(part)
    try:
        rels = ElementTree.fromstring(archive.read(posixpath.join(folder, "_rels", name + ".rels")))
    except (KeyError, ElementTree.ParseError):
        return {}
    found = {}
    for relation in rels.iter(f"{_RELS}Relationship"):
        target = relation.get("Target", "")
        if relation.get("Type") != relationship or relation.get("TargetMode") == "External" or not target:
            continue
        found[relation.get("Id", "")] = target.lstrip("/") if target.startswith("/") else \
            posixpath.normpath(posixpath.join(folder, target))
    return found


def _title(chart: ElementTree.Element) -> str:
    title = chart.find(f"{_C}title")
    return " ".join(" ".join(_texts(title)).split()) if title is not None else ""


def _texts(element: ElementTree.Element | None) -> list[str]:
    """The text of a title or series name: rich text runs (a:t) or a cached string (c:v)."""
    if element is None:
        return []
    runs = [node.text or "" for node in element.iter(f"{_A}t")]
    return runs if runs else [node.text or "" for node in element.iter(f"{_C}v")]


def _points(element: ElementTree.Element | None) -> dict[int, str]:
    """A cache's points by index (``c:pt idx``), from a string or number cache or literal."""
    if element is None:
        return {}
    points: dict[int, str] = {}
    for point in element.iter(f"{_C}pt"):
        value = point.find(f"{_C}v")
        try:
            index = int(point.get("idx", ""))
        except ValueError:
            continue
        if value is not None and index < MAX_POINTS:
            points.setdefault(index, value.text or "")
    return points


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return _cell(text)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
