"""HTML to Markdown: keep the main content (headings, paragraphs, lists, tables), drop navigation.

Navigation, headers, footers, sidebars, forms, scripts and styles are removed; if the page marks its
main content (``<main>``, ``<article>``, ``role="main"``) only that is kept. markdownify then writes
Markdown with ATX headings and pipe tables. DOCX goes through here too (mammoth writes HTML).
"""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

from ponder.ingest.readers.text import decode_text

_BOILERPLATE_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                     "iframe", "svg", "button"]
_BOILERPLATE_ROLES = ["navigation", "banner", "contentinfo", "search", "complementary"]


def convert_html(path: Path, raw: bytes) -> str:
    return html_to_markdown(decode_text(path, raw))


def html_to_markdown(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for element in soup(_BOILERPLATE_TAGS):
        element.decompose()
    for element in soup.find_all(attrs={"role": _BOILERPLATE_ROLES}):
        element.decompose()
    main = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup
    markdown = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"]).convert_soup(main)
    lines = [line.rstrip() for line in markdown.splitlines()]
    return "\n".join(lines).strip() + "\n"
