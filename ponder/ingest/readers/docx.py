"""DOCX to Markdown through mammoth's semantic HTML (headings, lists, tables), then the HTML path."""

from __future__ import annotations

import io
import zipfile
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


MAX_EXPANSION = 100  # a DOCX's XML compresses about 10:1; beyond 100:1 (and 100 MB) it is a bomb
MAX_EXPANDED_BYTES = 100 * 2**20


def convert_docx(path: Path, raw: bytes) -> Converted:
    _refuse_zip_bomb(path, raw)
    try:
        result = mammoth.convert_to_html(io.BytesIO(raw), style_map=_STYLE_MAP)
    except Exception as exc:  # mammoth raises zipfile, KeyError and XML errors for broken files
        raise IngestError(path, f"not a readable DOCX file ({type(exc).__name__}: {exc})") from None
    markdown, hidden = html_to_markdown(result.value)
    return Converted([markdown], hidden=hidden)


def _refuse_zip_bomb(path: Path, raw: bytes) -> None:
    """Refuse, before reading it, a DOCX whose parts declare far more bytes than any document needs
    (the sizes in the zip directory; a part that lies about its size fails its CRC check when read)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise IngestError(path, f"not a readable DOCX file ({exc})") from None
    if expanded > MAX_EXPANDED_BYTES and expanded > MAX_EXPANSION * len(raw):
        raise IngestError(path, f"its {len(raw) / 2**20:.1f} MB unpack to {expanded / 2**20:,.0f} MB "
                                "(a zip bomb?); not read")
