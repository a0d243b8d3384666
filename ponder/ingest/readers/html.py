"""HTML to Markdown: keep the main content (headings, paragraphs, lists, tables), drop navigation.

Navigation, headers, footers, sidebars, forms, scripts and styles are removed; if the page marks its
main content (``<main>``, ``<article>``, ``role="main"``) only that is kept. markdownify then writes
Markdown with ATX headings and pipe tables. DOCX goes through here too (mammoth writes HTML).
Elements hidden from a reader (``hidden``, ``aria-hidden="true"``, inline ``display:none``,
``visibility:hidden``, ``font-size:0``, ``opacity:0``) are dropped and counted: a page must not
carry instructions for the model that its reader cannot see. Stylesheets are not evaluated.

Pictures become figures (``<figure>`` with its ``<figcaption>``, or an ``<img>`` with its alt text):
images inline as ``data:`` URIs (DOCX's, through mammoth) or files beside the page are read; a
remote image is never fetched, so such a figure has its caption and alt text only.

A Markdown table has no merged cells, so a cell spanning rows or columns (``rowspan``, ``colspan``)
is written into every cell it covers, as a reader sees it. Checkboxes become ☐ and ☑.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

from ponder.ingest.readers import Converted
from ponder.ingest.readers.figures import (
    FoundFigure,
    drop_repeated,
    image_from_data_uri,
    is_decorative,
    normalise_image,
)
from ponder.ingest.readers.text import decode_text

_BOILERPLATE_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                     "iframe", "svg", "button"]
_BOILERPLATE_ROLES = ["navigation", "banner", "contentinfo", "search", "complementary"]
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])"
                           r"|opacity\s*:\s*0(?![.\d]*[1-9])", re.IGNORECASE)
MAX_SPAN = 1000  # HTML's own limit for colspan; rowspan is capped alike
MAX_SPREAD_CELLS = 50_000  # a table that would grow past this by spreading its spans keeps them unspread
MAX_LOCAL_IMAGE_BYTES = 20 * 2**20  # a picture file beside the page, larger than this, is not read


def convert_html(path: Path, raw: bytes, figures: bool = True) -> Converted:
    return html_to_markdown(decode_text(path, raw), path.parent if figures else None, figures=figures)


def html_to_markdown(html: str, folder: Path | None = None, figures: bool = True, whole: bool = False) -> Converted:
    """The page's main content as Markdown (one page), with the hidden elements dropped counted and
    its figures found (pictures from ``data:`` URIs, and from files under ``folder`` when given).
    ``whole``: the whole body, for pages that are all content (an e-book's chapter of articles)."""
    converted = Converted([])
    soup = BeautifulSoup(html, "html.parser")
    # A web page's header and footer are its site's; an e-book section's <header> holds its title.
    for element in soup([tag for tag in _BOILERPLATE_TAGS if not (whole and tag in ("header", "footer"))]):
        element.decompose()
    for element in soup.find_all(role=_BOILERPLATE_ROLES):
        element.decompose()
    hidden = 0
    for element in soup.find_all(_is_hidden):
        if element.decomposed:  # inside an element already dropped
            continue
        hidden += bool(element.get_text(strip=True))
        element.decompose()
    for table in soup.find_all("table"):
        _spread_merged_cells(table)
    for box in soup.find_all("input", attrs={"type": re.compile("^checkbox$", re.IGNORECASE)}):
        box.replace_with("☑" if box.has_attr("checked") else "☐")
    main = (None if whole else soup.find("main") or soup.find(role="main") or soup.find("article")) \
        or soup.body or soup
    if figures:
        _mark_figures(main, folder, converted)
    markdown = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"]).convert_soup(main)
    lines = [line.rstrip() for line in markdown.splitlines()]
    converted.pages = ["\n".join(lines).strip() + "\n"]
    converted.hidden = hidden
    return converted


def _mark_figures(main, folder: Path | None, converted: Converted) -> None:  # noqa: ANN001 - a bs4 Tag
    """Replace each ``<img>`` in ``main`` by a figure marker; one inside a ``<figure>`` takes its
    ``<figcaption>`` as caption (which stays in the text, as does whatever else the ``<figure>``
    holds: a table, a code listing). Decorative and unreadable pictures are counted."""
    found: list[FoundFigure] = []
    for image in main.find_all("img"):
        holder = image.find_parent("figure")
        caption = holder.find("figcaption") if holder is not None else None
        figure = _figure(image, folder, converted, caption.get_text(" ", strip=True) if caption else "")
        if figure is None:
            image.decompose()
        else:
            found.append(figure)
            image.replace_with(figure.marker)
    # A dropped figure's marker stays in the text: read_document takes every marker out.
    converted.figures.extend(drop_repeated(found, 0, converted.figures_skipped, where=id))


def _figure(image, folder: Path | None, converted: Converted, caption: str) -> FoundFigure | None:  # noqa: ANN001
    """The figure for one ``<img>`` (None: decorative, or nothing to say about it)."""
    alt = str(image.get("alt") or image.get("title") or "").strip()
    width, height = (_pixels(image.get(side)) for side in ("width", "height"))
    if width is not None and height is not None and is_decorative(width, height):
        converted.figures_skipped.decorative += 1
        return None
    data = _image_bytes(str(image.get("src") or ""), folder)
    picture = normalise_image(data) if data else None
    if picture is not None and is_decorative(picture[1], picture[2]):
        converted.figures_skipped.decorative += 1
        return None
    if picture is None and not (alt or caption):
        converted.figures_skipped.unreadable += 1
        return None
    png, width, height = picture or (b"", 0, 0)
    return FoundFigure(converted.markers.new(), png, width, height, caption=caption, alt=alt)


def _pixels(value: object) -> int | None:
    text = str(value or "").strip().removesuffix("px")
    return int(text) if text.isdigit() else None


def _image_bytes(source: str, folder: Path | None) -> bytes | None:
    """A picture's bytes: a ``data:`` URI, or a file under ``folder`` (never outside it, never the
    network)."""
    if source.startswith("data:"):
        return image_from_data_uri(source)
    remote = re.match(r"^[a-z][a-z0-9+.-]*:", source, re.IGNORECASE) or source.startswith("//")
    if folder is None or not source or remote:
        return None
    try:
        base = folder.resolve()
        target = (base / source.split("?", 1)[0].split("#", 1)[0]).resolve()
        if not target.is_relative_to(base) or not target.is_file() or target.stat().st_size > MAX_LOCAL_IMAGE_BYTES:
            return None
        return target.read_bytes()
    except OSError:
        return None


def _is_hidden(element) -> bool:  # noqa: ANN001 - a bs4 Tag
    return (element.has_attr("hidden") or str(element.get("aria-hidden", "")).lower() == "true"
            or bool(_HIDING_STYLE.search(str(element.get("style", "")))))


def _span(cell, name: str) -> int:  # noqa: ANN001 - a bs4 Tag
    value = str(cell.get(name, "1")).strip()
    return min(max(int(value), 1), MAX_SPAN) if value.isdigit() else 1


def _spread_merged_cells(table) -> None:  # noqa: ANN001 - a bs4 Tag
    """Write a cell that spans rows or columns into every cell it covers, so each row has its cells
    in their columns (markdownify would shift the cells of the rows below a ``rowspan``)."""
    rows = [row for row in table.find_all("tr") if row.find_parent("table") is table]
    cells = [row.find_all(["td", "th"], recursive=False) for row in rows]
    if not any(cell.has_attr("rowspan") or cell.has_attr("colspan") for row in cells for cell in row):
        return
    if sum(_span(cell, "rowspan") * _span(cell, "colspan") for row in cells for cell in row) > MAX_SPREAD_CELLS:
        return
    below: dict[int, tuple[object, int]] = {}  # column -> (cell spanning into the rows below, rows left)
    for row, row_cells in zip(rows, cells):
        spread, column = [], 0
        for cell in [*row_cells, None]:
            while column in below or (cell is None and any(c >= column for c in below)):
                if column in below:
                    source, left = below.pop(column)
                    spread.append(copy.copy(source))
                    if left > 1:
                        below[column] = (source, left - 1)
                else:  # a short row before a column still spanned from above
                    spread.append(Tag(name="td"))
                column += 1
            if cell is None:
                break
            width, height = _span(cell, "colspan"), _span(cell, "rowspan")
            del cell["colspan"], cell["rowspan"]
            for offset in range(width):
                spread.append(cell if offset == 0 else copy.copy(cell))
                if height > 1:
                    below[column + offset] = (cell, height - 1)
            column += width
        for cell in row_cells:
            cell.extract()
        for cell in spread:
            row.append(cell)
