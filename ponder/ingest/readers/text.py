"""Plain text and Markdown: decode the bytes, nothing else."""

from __future__ import annotations

from pathlib import Path

from ponder.ingest.readers import IngestError


def decode_text(path: Path, raw: bytes) -> str:
    """Decode bytes of a text file: UTF-8 (with or without BOM), then GB18030 (common for Chinese)."""
    if b"\x00" in raw[:8192]:
        raise IngestError(path, "binary content in a text file (NUL bytes); is the extension wrong?")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise IngestError(path, "not valid UTF-8 or GB18030 text; is it a binary file?")
