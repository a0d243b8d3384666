"""HTML to Markdown: keep the main content (headings, paragraphs, lists, tables), drop navigation.

Navigation, headers, footers, sidebars, forms, scripts and styles are removed; if the page marks its
main content (``<main>``, ``<article>``, ``role="main"``) only that is kept. markdownify then writes
Markdown with ATX headings and pipe tables. DOCX goes through here too (mammoth writes HTML).
Elements hidden from a reader (``hidden``, ``aria-hidden="true"``, inline ``display:none``,
``visibility:hidden``, ``font-size:0``, ``opacity:0``) are dropped and counted: a page must not
carry instructions for the model that its reader cannot see. Stylesheets are not evaluated.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

from ponder.ingest.readers import Converted
from ponder.ingest.readers.text import decode_text

_BOILERPLATE_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                     "iframe", "svg", "button"]
_BOILERPLATE_ROLES = ["navigation", "banner", "contentinfo", "search", "complementary"]
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])"
                           r"|opacity\s*:\s*0(?![.\d]*[1-9])", re.IGNORECASE)


def convert_html(path: Path, raw: bytes) -> Converted:
    markdown, hidden = html_to_markdown(decode_text(path, raw))
    return Converted([markdown], hidden=hidden)


def html_to_markdown(html: str) -> tuple[str, int]:
    """The page's main content as Markdown, and how many hidden elements with text were dropped."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup(_BOILERPLATE_TAGS):
        element.decompose()
    for element in soup.find_all(attrs={"role": _BOILERPLATE_ROLES}):
        element.decompose()
    hidden = 0
    for element in soup.find_all(_is_hidden):
        if element.decomposed:  # inside an element already dropped
            continue
        hidden += bool(element.get_text(strip=True))
        element.decompose()
    main = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup
    markdown = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"]).convert_soup(main)
    lines = [line.rstrip() for line in markdown.splitlines()]
    return "\n".join(lines).strip() + "\n", hidden


def _is_hidden(element) -> bool:  # noqa: ANN001 - a bs4 Tag
    return (element.has_attr("hidden") or str(element.get("aria-hidden", "")).lower() == "true"
            or bool(_HIDING_STYLE.search(str(element.get("style", "")))))
