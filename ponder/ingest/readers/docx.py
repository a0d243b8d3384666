"""DOCX to Markdown through mammoth's semantic HTML (headings, lists, tables), then the HTML path."""

from __future__ import annotations

import io
from pathlib import Path

import mammoth

from ponder.ingest.readers import Converted, IngestError
from ponder.ingest.readers.html import html_to_markdown

# Word's Title style is the top heading to a reader; mammoth maps only Heading 1-6 by default. Headings
# move one level down under it, so "Title › Heading 1 › Heading 2" is the heading path.
_STYLE_MAP = "\n".join(
    ["p[style-name='Title'] => h1:fresh", "p[style-name='Subtitle'] => h2:fresh"]
    + [f"p[style-name='Heading {level}'] => h{min(level + 1, 6)}:fresh" for level in range(1, 7)]
)


def convert_docx(path: Path, raw: bytes) -> Converted:
    try:
        result = mammoth.convert_to_html(io.BytesIO(raw), style_map=_STYLE_MAP)
    except Exception as exc:  # mammoth raises zipfile, KeyError and XML errors for broken files
        raise IngestError(path, f"not a readable DOCX file ({type(exc).__name__}: {exc})") from None
    markdown, hidden = html_to_markdown(result.value)
    return Converted([markdown], hidden=hidden)
