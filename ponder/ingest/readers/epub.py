"""EPUB e-books: the chapters in spine order (the order a reader pages through), each through the
HTML reader, so the chapters' own headings make the heading path. The standard library reads the
package (a zip: ``META-INF/container.xml`` names the OPF file, whose manifest and spine list the
chapters); pictures are not read yet.

Example::

    converted = convert_epub(Path("handbook.epub"), raw)
"""

from __future__ import annotations

import io
import posixpath
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

from ponder.ingest.readers import Converted, IngestError
from ponder.ingest.readers.archive import refuse_zip_bomb
from ponder.ingest.readers.html import html_to_markdown
from ponder.ingest.readers.text import decode_text

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_HTML_TYPES = ("application/xhtml+xml", "text/html")


def convert_epub(path: Path, raw: bytes) -> Converted:
    refuse_zip_bomb(path, raw, "EPUB")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = _spine(archive)
            if set(names) & _encrypted(archive):  # DRM; an obfuscated font alone is listed there too
                raise IngestError(path, "the e-book's chapters are encrypted (DRM); it cannot be read")
            chapters = [(name, archive.read(name)) for name in names]
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile) as exc:
        raise IngestError(path, f"not a readable EPUB file ({type(exc).__name__}: {exc})") from None
    pages, hidden, warnings = [], 0, []
    for name, data in chapters:
        try:
            chapter = html_to_markdown(decode_text(Path(name), data), figures=False, whole=True)
        except IngestError as exc:
            warnings.append(f"{path}: chapter {name} skipped ({exc.problem})")
            continue
        pages += chapter.pages
        hidden += chapter.hidden
    return Converted(pages, hidden=hidden, warnings=warnings)


def _spine(archive: zipfile.ZipFile) -> list[str]:
    """The chapters' names in the zip, in reading order."""
    container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
    rootfile = container.find(f".//{_CONTAINER}rootfile")
    if rootfile is None:
        raise KeyError("META-INF/container.xml names no package file")
    package_name = rootfile.get("full-path", "")
    package = ElementTree.fromstring(archive.read(package_name))
    base = posixpath.dirname(package_name)
    manifest = {item.get("id"): item for item in package.iter(f"{_OPF}item")}
    names = []
    for reference in package.iter(f"{_OPF}itemref"):
        item = manifest.get(reference.get("idref"))
        if item is not None and item.get("media-type") in _HTML_TYPES:
            names.append(posixpath.normpath(posixpath.join(base, item.get("href", ""))))
    return names


def _encrypted(archive: zipfile.ZipFile) -> set[str]:
    """The parts ``META-INF/encryption.xml`` says are encrypted."""
    try:
        listing = ElementTree.fromstring(archive.read("META-INF/encryption.xml"))
    except KeyError:
        return set()
    return {reference.get("URI", "") for reference in listing.iter() if reference.tag.endswith("CipherReference")}
