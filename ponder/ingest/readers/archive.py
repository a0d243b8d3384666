"""Zip-based formats (DOCX, XLSX, XLSM): refuse a zip bomb before any library unpacks it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ponder.ingest.readers import IngestError

MAX_EXPANSION = 100  # Office XML compresses about 10:1; beyond 100:1 (and 100 MB) it is a bomb
MAX_EXPANDED_BYTES = 100 * 2**20


def refuse_zip_bomb(path: Path, raw: bytes, kind: str) -> None:
    """Refuse, before reading it, a ``kind`` file whose parts declare far more bytes than any
    document needs (the sizes in the zip directory; a part that lies about its size fails its CRC
    check when read)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise IngestError(path, f"not a readable {kind} file ({exc})") from None
    if expanded > MAX_EXPANDED_BYTES and expanded > MAX_EXPANSION * len(raw):
        raise IngestError(path, f"its {len(raw) / 2**20:.1f} MB unpack to {expanded / 2**20:,.0f} MB "
                                "(a zip bomb?); not read")
