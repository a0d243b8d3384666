"""DOCX to Markdown through mammoth's semantic HTML (headings, lists, tables), then the HTML path
(pictures come through it as ``data:`` URIs with their alt text, and become figures there).

Three things mammoth leaves out are put back: text in DrawingML shapes and text boxes that have no
VML fallback (their paragraphs and tables are moved after the paragraph anchoring the shape, where
a reader meets them), charts (their cached data as a table where the chart stands:
:mod:`ponder.ingest.readers.charts`), and checkbox state (content controls, form fields and
Wingdings boxes all become ☐ or ☑).
"""

from __future__ import annotations

import io
import re
import secrets
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import mammoth

from ponder.ingest.readers import Converted, IngestError
from ponder.ingest.readers.archive import refuse_zip_bomb
from ponder.ingest.readers.charts import CHART_RELATIONSHIP, chart_table, related_parts
from ponder.ingest.readers.html import html_to_markdown

# Word's Title style is the top heading to a reader; mammoth maps only Heading 1-6 by default. Headings
# move one level down under it, so "Title › Heading 1 › Heading 2" is the heading path.
_STYLE_MAP = "\n".join(
    ["p[style-name='Title'] => h1:fresh", "p[style-name='Subtitle'] => h2:fresh"]
    + [f"p[style-name='Heading {level}'] => h{min(level + 1, 6)}:fresh" for level in range(1, 7)]
)


def convert_docx(path: Path, raw: bytes, figures: bool = True) -> Converted:
    refuse_zip_bomb(path, raw, "DOCX")
    try:
        prepared, charts = _prepared(raw)
        result = mammoth.convert_to_html(io.BytesIO(prepared), style_map=_STYLE_MAP)
    except Exception as exc:  # mammoth raises zipfile, KeyError and XML errors for broken files
        raise IngestError(path, f"not a readable DOCX file ({type(exc).__name__}: {exc})") from None
    converted = html_to_markdown(_CHECKBOX_GLYPHS.sub(lambda m: _CHECKBOX_STATE[m.group()], result.value),
                                 figures=figures)
    for token, table in charts.items():  # each chart's data where the chart stands
        converted.pages = [page.replace(token, f"\n\n{table}\n\n") for page in converted.pages]
    return converted


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
# Checkbox glyphs as mammoth writes them (Wingdings boxes, a checked content control's ☒).
_CHECKBOX_STATE = {"🗹": "☑", "🗷": "☑", "⌧": "☑", "☒": "☑", "🞎": "☐", "🞏": "☐"}
_CHECKBOX_GLYPHS = re.compile("|".join(_CHECKBOX_STATE))


def _prepared(raw: bytes) -> tuple[bytes, dict[str, str]]:
    """The DOCX with what mammoth would skip put where it reads it: text boxes lifted out of their
    shapes, and each chart replaced by a token (drawn per file, so no document can forge one) that
    stands for its data table. Unchanged when there is neither."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        try:
            xml = archive.read("word/document.xml")
        except KeyError:
            return raw, {}  # mammoth names what is missing
        if b"txbxContent" not in xml and b"drawingml/2006/chart" not in xml:
            return raw, {}
        for _, (prefix, uri) in ElementTree.iterparse(io.BytesIO(xml), events=["start-ns"]):
            ElementTree.register_namespace(prefix, uri)
        root = ElementTree.fromstring(xml)
        parents = {child: parent for parent in root.iter() for child in parent}
        moved = _lift_text_boxes(root, parents)
        charts = _mark_charts(root, parents, archive)
        if not moved and not charts:
            return raw, {}
        rewritten = io.BytesIO()
        with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as out:
            for info in archive.infolist():
                data = ElementTree.tostring(root, xml_declaration=True, encoding="UTF-8") \
                    if info.filename == "word/document.xml" else archive.read(info)
                out.writestr(info, data)
        return rewritten.getvalue(), charts


def _lift_text_boxes(root: ElementTree.Element, parents: dict) -> int:
    """Move each text box mammoth would skip (a DrawingML shape without a VML fallback) out of its
    shape to just after the paragraph anchoring it; how many were moved."""
    moved = 0
    for box in list(root.iter(f"{_W}txbxContent")):
        if _read_by_mammoth(box, parents):
            continue
        anchor = box
        while anchor in parents and not (anchor.tag == f"{_W}p" and parents[anchor].tag != f"{_W}txbxContent"):
            anchor = parents[anchor]
        if anchor not in parents:
            continue
        holder = parents[anchor]
        position = list(holder).index(anchor) + 1
        for offset, block in enumerate(list(box)):
            box.remove(block)
            holder.insert(position + offset, block)
            parents[block] = holder
        moved += 1
    return moved


def _mark_charts(root: ElementTree.Element, parents: dict, archive: zipfile.ZipFile) -> dict[str, str]:
    """Replace each chart's drawing (with its alternate content, if any) by a token in its run;
    token -> the chart's data table."""
    parts = related_parts(archive, "word/document.xml", CHART_RELATIONSHIP)
    nonce = secrets.token_hex(4)
    charts: dict[str, str] = {}
    for chart in list(root.iter(f"{_CHART}chart")):
        part = parts.get(chart.get(f"{_R}id", ""))
        container = chart
        while container in parents and parents[container].tag != f"{_W}r":
            container = parents[container]
        if part is None or container not in parents:
            continue
        try:
            table = chart_table(archive.read(part))
        except KeyError:
            continue
        run = parents[container]
        token = f"PONDERCHART{nonce}N{len(charts)}"
        text = ElementTree.Element(f"{_W}t")
        text.text = token
        run[list(run).index(container)] = text
        charts[token] = table
    return charts


def _read_by_mammoth(box: ElementTree.Element, parents: dict) -> bool:
    """Whether mammoth reads this text box already: it is in a VML fallback, or in a DrawingML
    choice whose fallback has the text (mammoth reads the fallback and skips the choice)."""
    node = box
    while node in parents:
        node = parents[node]
        if node.tag == f"{_MC}Fallback":
            return True
        if node.tag == f"{_MC}AlternateContent":
            fallback = node.find(f"{_MC}Fallback")
            return fallback is not None and fallback.find(f".//{_W}txbxContent") is not None
    return node.tag == "{urn:schemas-microsoft-com:vml}textbox"
