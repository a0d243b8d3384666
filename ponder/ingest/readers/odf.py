"""OpenDocument text (ODT) and presentations (ODP) into Markdown, read from the package's
``content.xml`` with the standard library (spreadsheets, ODS, go through ``sheets.py``).

* **ODT**: headings by outline level (one level down under a Title paragraph, as DOCX's are),
  paragraphs, bulleted and numbered lists by their list style, tables with merged cells spread.
* **ODP**: a page per slide, headed by its title frame (``# Slide N`` without one); text frames,
  lists and tables in document order, then the speaker notes. Hidden slides are left out and counted.
* **Pictures** in either (``draw:image`` in a frame, the file inside the package) are figures through
  the figure path, after the paragraph anchoring them, with the frame's title or description as
  alt text; decorative and unreadable ones are counted, a logo on every slide skipped.

Example::

    converted = convert_odf(Path("minutes.odt"), raw)
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

from ponder.ingest.readers import Converted, IngestError, pipe_table
from ponder.ingest.readers.archive import refuse_zip_bomb
from ponder.ingest.readers.figures import drop_repeated, picture_figure

_NS = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
       "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
       "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
       "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
       "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
       "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
       "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"}
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def _tag(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def convert_odf(path: Path, raw: bytes, figures: bool = True) -> Converted:
    kind = path.suffix.lower().lstrip(".").upper()
    refuse_zip_bomb(path, raw, kind)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            if "META-INF/manifest.xml" in archive.namelist() and \
                    b"encryption-data" in archive.read("META-INF/manifest.xml"):
                raise IngestError(path, f"the {kind} file is encrypted (password-protected); save it without a "
                                        "password to ingest it")
            root = ElementTree.fromstring(archive.read("content.xml"))
            styles = _styles(root, archive)
            converted = Converted([])
            reader = _Reader(styles, _Pictures(archive, converted) if figures else None)
            presentation = root.find(".//office:presentation", _NS)
            if presentation is not None:
                converted.paged = True
                for number, slide in enumerate(presentation.iter(_tag("draw", "page")), start=1):
                    if styles.hidden_slide(slide):
                        converted.hidden += 1
                        converted.pages.append("")
                        continue
                    converted.pages.append(reader.slide(slide, number))
                converted.figures = drop_repeated(converted.figures, len(converted.pages), converted.figures_skipped,
                                                  where=lambda figure: figure.page)
                return converted
            body = root.find(".//office:text", _NS)
            if body is None:
                raise IngestError(path, f"no text in the {kind} file")
            converted.pages = ["\n\n".join(part for part in reader.blocks(body) if part.strip()) + "\n"]
            return converted
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile) as exc:
        raise IngestError(path, f"not a readable {kind} file ({type(exc).__name__}: {exc})") from None


class _Styles:
    """What the automatic styles say: a paragraph style's parent ("Title"), a list style's kind per
    level, and which slides' styles hide them."""

    def __init__(self, parents: dict[str, str], numbered: dict[tuple[str, int], bool], hidden: set[str]):
        self.parents, self.numbered, self.hidden = parents, numbered, hidden

    def lineage(self, name: str) -> list[str]:
        """The style and its ancestors: "P1", "Title", "Heading"."""
        chain = [name]
        while chain[-1] in self.parents and self.parents[chain[-1]] not in chain:
            chain.append(self.parents[chain[-1]])
        return chain

    def hidden_slide(self, slide: ElementTree.Element) -> bool:
        return slide.get(_tag("draw", "style-name"), "") in self.hidden


def _styles(root: ElementTree.Element, archive: zipfile.ZipFile) -> _Styles:
    trees = [root]
    if "styles.xml" in archive.namelist():
        trees.append(ElementTree.fromstring(archive.read("styles.xml")))
    parents, numbered, hidden = {}, {}, set()
    for tree in trees:
        for style in tree.iter(_tag("style", "style")):
            name, parent = style.get(_tag("style", "name"), ""), style.get(_tag("style", "parent-style-name"))
            if parent:
                parents[name] = parent
            properties = style.find("style:drawing-page-properties", _NS)
            if properties is not None and properties.get(_tag("presentation", "visibility")) == "hidden":
                hidden.add(name)
        for list_style in tree.iter(_tag("text", "list-style")):
            name = list_style.get(_tag("style", "name"), "")
            for level in list_style:
                depth = int(level.get(_tag("text", "level"), "1"))
                numbered[(name, depth)] = level.tag == _tag("text", "list-level-style-number")
    return _Styles(parents, numbered, hidden)


class _Pictures:
    """The package's pictures, each turned into a figure (its marker in the text) once asked for."""

    def __init__(self, archive: zipfile.ZipFile, converted: Converted):
        self.archive, self.converted = archive, converted

    def markers(self, element: ElementTree.Element, page: int | None) -> list[str]:
        found = []
        for frame in element.iter(_tag("draw", "frame")):
            image = frame.find("draw:image", _NS)
            source = image.get(_XLINK_HREF, "") if image is not None else ""
            if not source or "://" in source or source.startswith("/"):
                continue  # a linked picture outside the file is never fetched
            try:
                data = self.archive.read(source.removeprefix("./"))
            except KeyError:
                data = b""
            alt = " ".join(" ".join(frame.findtext(f"svg:{name}", "", _NS) or "" for name in ("title", "desc")).split())
            if (marker := picture_figure(data, self.converted, page=page, alt=alt)) is not None:
                found.append(marker)
        return found


class _Reader:
    def __init__(self, styles: _Styles, pictures: _Pictures | None = None):
        self.styles = styles
        self.pictures = pictures
        self.page: int | None = None  # the slide being read
        self.titled = False  # a Title paragraph was seen: headings move one level down
        self.counted: dict[tuple[str, int], int] = {}
        self.last_list = ""  # the last number given in each list style and level

    def blocks(self, parent: ElementTree.Element) -> list[str]:
        parts = []
        for element in parent:
            if element.tag == _tag("text", "h"):
                level = int(element.get(_tag("text", "outline-level"), "1")) + self.titled
                parts.append("#" * min(level, 6) + " " + _text(element))
            elif element.tag == _tag("text", "p"):
                lineage = self.styles.lineage(element.get(_tag("text", "style-name"), ""))
                text = _text(element)
                if "Subtitle" in lineage and text:
                    parts.append("## " + text)
                elif "Title" in lineage and text:
                    self.titled = True
                    parts.append("# " + text)
                else:
                    parts.append(text)
                if self.pictures is not None:  # pictures anchored in the paragraph, after its text
                    parts += self.pictures.markers(element, self.page)
            elif element.tag == _tag("text", "list"):
                style = element.get(_tag("text", "style-name"), "") or self.last_list
                self.last_list = style  # a list without a style of its own continues the one before
                parts.append("\n".join(self._list(element, 1, style)))
            elif element.tag == _tag("table", "table"):
                parts.append(_table(element))
            elif element.tag in (_tag("text", "section"), _tag("draw", "text-box")):
                parts += self.blocks(element)
            elif element.tag == _tag("draw", "frame"):
                if self.pictures is not None and element.find("draw:image", _NS) is not None:
                    parts += self.pictures.markers(element, self.page)
                parts += self.blocks(element)
        return parts

    def _list(self, element: ElementTree.Element, depth: int, style: str) -> list[str]:
        lines = []
        # A list that continues the one before it (text:continue-numbering) goes on counting.
        counter = self.counted.get((style, depth), 0) if element.get(_tag("text", "continue-numbering")) == "true" \
            or element.get(_tag("text", "continue-list")) else 0
        numbered = self.styles.numbered.get((style, depth), False)
        for item in element.findall("text:list-item", _NS):
            for child in item:
                if child.tag == _tag("text", "list"):
                    lines += self._list(child, depth + 1, child.get(_tag("text", "style-name"), style))
                elif child.tag in (_tag("text", "p"), _tag("text", "h")) and (text := _text(child)):
                    counter += 1
                    lines.append("    " * (depth - 1) + (f"{counter}. " if numbered else "- ") + text)
        self.counted[(style, depth)] = counter
        return lines

    def slide(self, slide: ElementTree.Element, number: int) -> str:
        self.page = number
        title, parts = "", []
        for frame in slide.findall("draw:frame", _NS) + slide.findall("draw:custom-shape", _NS):
            if frame.get(_tag("presentation", "class")) == "title" and not title:
                title = " ".join(_text(p) for p in frame.iter(_tag("text", "p"))).strip()
                continue
            if self.pictures is not None and frame.find("draw:image", _NS) is not None:
                parts += self.pictures.markers(frame, self.page)
            parts += self.blocks(frame)
        notes = slide.find("presentation:notes", _NS)
        if notes is not None:
            text = " ".join(_text(p) for p in notes.iter(_tag("text", "p"))).strip()
            if text:
                parts.append(f"Notes: {text}")
        return "\n\n".join([f"# {title or f'Slide {number}'}", *(part for part in parts if part.strip())])


def _text(element: ElementTree.Element) -> str:
    """The element's text with ODF's spaces, tabs and line breaks; annotations left out."""
    pieces: list[str] = []

    def walk(node: ElementTree.Element) -> None:
        if node.tag == _tag("office", "annotation"):
            return
        if node.tag == _tag("text", "s"):
            pieces.append(" " * int(node.get(_tag("text", "c"), "1")))
        elif node.tag in (_tag("text", "tab"), _tag("text", "line-break")):
            pieces.append(" ")
        if node.text and node.tag != _tag("text", "s"):
            pieces.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                pieces.append(child.tail)

    walk(element)
    return " ".join("".join(pieces).split())


def _table(table: ElementTree.Element) -> str:
    rows: list[list[str]] = []
    spans: list[tuple[int, int, int, int]] = []  # row, column, rows, columns of a merged cell
    for row in table.iter(_tag("table", "table-row")):
        cells: list[str] = []
        for cell in row:
            if cell.tag not in (_tag("table", "table-cell"), _tag("table", "covered-table-cell")):
                continue
            repeat = min(int(cell.get(_tag("table", "number-columns-repeated"), "1")), 256)
            text = _text(cell)
            across = int(cell.get(_tag("table", "number-columns-spanned"), "1"))
            down = int(cell.get(_tag("table", "number-rows-spanned"), "1"))
            if across > 1 or down > 1:
                spans.append((len(rows), len(cells), down, across))
            cells += [text.replace("|", "\\|")] * repeat
        rows.append(cells)
    for top, left, down, across in spans:  # a merged cell's text in every cell it covers
        for r in range(top, min(top + down, len(rows))):
            for c in range(left, min(left + across, len(rows[r]))):
                rows[r][c] = rows[top][left]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    while width and not any(len(row) >= width and row[width - 1] for row in rows):
        width -= 1  # the empty columns an office suite repeats to the sheet's edge
    rows = [row[:width] + [""] * (width - len(row[:width])) for row in rows]
    return pipe_table(rows)
