"""Figures as the readers find them: the picture's PNG crop, where it stands, and its words.

A converter puts a marker (:meth:`FigureMarkers.new`) in its page text where a figure stands and
hands back a :class:`FoundFigure`; :func:`place_figures` then takes the markers out of the text and
turns each into a :class:`~ponder.types.Figure` at that offset, with its caption and the sentences
that refer to it. Markers carry a random part drawn per file, so a document cannot forge one.

Pictures a reader does not look at are skipped and counted: decorative ones (smaller than
``MIN_SIDE_PX`` on a side: icons, rules, tracking pixels) and repeated ones (the same image on
``REPEATS`` pages or more, or everywhere: logos, letterheads).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from ponder.types import Figure

if TYPE_CHECKING:  # the readers package imports this module
    from ponder.ingest.readers import Converted

MIN_SIDE_PX = 48  # at 72 dpi for PDF (points); smaller pictures are decorative
REPEATS = 3  # on this many pages (or places) or more, a picture is a logo
MAX_SIDE_PX = 1024  # stored crops are scaled down to fit; enough for OCR and a vision model
MAX_SOURCE_PIXELS = 64_000_000  # a larger image is not decoded (a decompression bomb)
MAX_TEXT_CHARS = 2000  # of the text inside a picture kept in its passage

# A caption's start: "Figure 3", "Fig. 2.1", "Chart 4", "图3", "图表 2"; group 2 is the number.
CAPTION = re.compile(r"^\s*(?:\*\*|__)?\s*(Figure|Fig\.?|Chart|Diagram|Image|Plate|图表?|圖表?)\s*"
                      r"([0-9]+(?:[.\-][0-9]+)*)", re.IGNORECASE)
_SENTENCE = re.compile(r"[^\n。！？!?]*?(?:[。！？!?]|\.(?=\s)|\n|$)")


@dataclass
class FoundFigure:
    """A figure as a converter saw it; ``marker`` stands in the converter's text where it is."""

    marker: str
    png: bytes = b""
    width: int = 0
    height: int = 0
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    caption: str = ""
    alt: str = ""
    text_in_image: str = ""
    image: str = field(init=False)  # the PNG's hash, "" without one

    def __post_init__(self) -> None:
        self.image = image_hash(self.png) if self.png else ""


@dataclass
class FigureMarkers:
    """Markers for one file's figures, unforgeable by its content."""

    nonce: str = field(default_factory=lambda: secrets.token_hex(4))
    issued: int = 0

    def new(self) -> str:
        self.issued += 1
        return f"\ue000{self.nonce}:{self.issued}\ue001"

    def pattern(self) -> re.Pattern[str]:
        return re.compile(f"\\ue000{self.nonce}:(\\d+)\\ue001")


@dataclass
class Skipped:
    """Pictures left out, by why."""

    decorative: int = 0
    repeated: int = 0
    unreadable: int = 0

    @property
    def total(self) -> int:
        return self.decorative + self.repeated + self.unreadable


class UnreadableImage(Exception):
    """An image Pillow cannot decode, or one that declares more pixels than are ever decoded."""


def decoded_frames(data: bytes, frames: int = 1) -> tuple[list, int, int, int]:
    """The first ``frames`` frames of the image ``data`` (RGB, or RGBA where it has transparency),
    its width and height, and how many frames it has. A decompression bomb (over
    ``MAX_SOURCE_PIXELS``) is refused before a pixel is decoded."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_SOURCE_PIXELS:
                    raise Image.DecompressionBombError(f"{width:,} × {height:,} pixels")
                total = getattr(image, "n_frames", 1)
                decoded = []
                for index in range(min(total, frames)):  # an animation's first frame is the picture
                    image.seek(index)
                    decoded.append(image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImage(f"it declares more than the {MAX_SOURCE_PIXELS:,} pixels Ponder decodes "
                              "(a decompression bomb?)") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken or hostile images
        raise UnreadableImage(f"{type(exc).__name__}: {exc}") from None
    return decoded, width, height, total


def normalise_image(data: bytes) -> tuple[bytes, int, int] | None:
    """``data`` (PNG, JPEG, GIF, WebP, BMP, TIFF…) as a PNG at most ``MAX_SIDE_PX`` on a side, with
    its original width and height; None when it cannot be decoded."""
    try:
        (picture, *_), width, height, _ = decoded_frames(data)
    except UnreadableImage:
        return None
    return png_of(picture, MAX_SIDE_PX), width, height


def png_of(picture, side: int) -> bytes:  # noqa: ANN001 - a PIL image (Pillow is imported lazily)
    """``picture`` as a PNG at most ``side`` pixels on a side (``picture`` itself is left as it is)."""
    scaled = picture.copy()
    scaled.thumbnail((side, side))
    out = io.BytesIO()
    scaled.save(out, format="PNG")
    return out.getvalue()


def image_from_data_uri(uri: str) -> bytes | None:
    """The bytes of a ``data:image/...;base64,`` URI; None for anything else."""
    head, _, payload = uri.partition(",")
    if not head.startswith("data:image/") or ";base64" not in head:
        return None
    try:
        return base64.b64decode(payload, validate=False)
    except ValueError:
        return None


def image_hash(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


def is_decorative(width: float, height: float) -> bool:
    return width < MIN_SIDE_PX or height < MIN_SIDE_PX


def picture_figure(data: bytes, converted: Converted, page: int | None = None, alt: str = "",
                   shown: tuple[float, float] | None = None) -> str | None:
    """The marker for a figure of the picture ``data`` (PNG, JPEG…), its figure handed to
    ``converted``; None, counted in ``converted.figures_skipped``, when the picture is decorative or
    cannot be read. Decorative is judged by ``shown`` (the size it is shown at, in points) when
    given, before decoding; else by its own pixels."""
    if shown is not None and is_decorative(*shown):
        converted.figures_skipped.decorative += 1
        return None
    picture = normalise_image(data) if data else None
    if picture is None:
        converted.figures_skipped.unreadable += 1
        return None
    png, width, height = picture
    if shown is None and is_decorative(width, height):
        converted.figures_skipped.decorative += 1
        return None
    marker = converted.markers.new()
    converted.figures.append(FoundFigure(marker, png, width, height, page=page, alt=alt))
    return marker


def drop_repeated(found: list[FoundFigure], places: int, skipped: Skipped,
                  where: Callable[[FoundFigure], object]) -> list[FoundFigure]:
    """``found`` without pictures repeated in ``REPEATS`` places or more (or in every one of two or
    more): logos. ``where`` says a figure's place (its page; for formats without pages, itself)."""
    seen: dict[str, set[object]] = {}
    for figure in found:
        if figure.image:
            seen.setdefault(figure.image, set()).add(where(figure))
    repeated = {digest for digest, spots in seen.items()
                if len(spots) >= REPEATS or (places >= 2 and len(spots) >= places)}
    kept = [figure for figure in found if figure.image not in repeated]
    skipped.repeated += len(found) - len(kept)
    return kept


def take_markers(text: str, markers: FigureMarkers) -> tuple[str, list[tuple[int, str]]]:
    """``text`` without its figure markers, and each marker with its offset in that text."""
    parts, found, offset, last = [], [], 0, 0
    for match in markers.pattern().finditer(text):
        parts.append(text[last:match.start()])
        offset += match.start() - last
        last = match.end()
        found.append((offset, match.group(0)))
    parts.append(text[last:])
    return "".join(parts), found


def place_figures(text: str, placed: list[tuple[int, FoundFigure]],
                  page_at: Callable[[int], int | None]) -> list[Figure]:
    """The figures at their offsets in ``text``, numbered in reading order, each with a caption
    (found in the text beside it when the converter had none) and the sentences elsewhere that
    refer to it by number."""
    figures = []
    for number, (at, seen) in enumerate(sorted(placed, key=lambda item: item[0]), start=1):
        caption = seen.caption or _caption_beside(text, at)
        figures.append(Figure(
            number=number, offset=at, page=seen.page if seen.page is not None else page_at(at), bbox=seen.bbox,
            image=seen.image, width=seen.width, height=seen.height, caption=_plain(caption), alt=seen.alt.strip(),
            text_in_image=seen.text_in_image.strip()[:MAX_TEXT_CHARS],
        ))
    sentences = _sentences(text) if figures else []
    return [replace(figure, referred=_references(sentences, figure)) for figure in figures]


def _caption_beside(text: str, offset: int) -> str:
    """The first non-empty line after the figure (else the last one before it) when it reads as a
    caption ("Figure 3: …", "图3 …")."""
    after = next((line for line in text[offset:offset + 600].splitlines() if line.strip()), "")
    if CAPTION.match(_plain(after)):
        return _plain(after)
    before = next((line for line in reversed(text[max(0, offset - 600):offset].splitlines()) if line.strip()), "")
    return _plain(before) if CAPTION.match(_plain(before)) else ""


def _plain(line: str) -> str:
    return re.sub(r"[*_`]+", "", line).strip(" #>")


def _sentences(text: str) -> list[str]:
    """The text's sentences, plain, in order (read once for all of a document's figures)."""
    unwrapped = re.sub(r"(?<!\n)\n(?!\n)", " ", text)  # a line break inside a paragraph ends no sentence
    plain = (" ".join(_plain(sentence.group(0)).split()) for sentence in _SENTENCE.finditer(unwrapped))
    return [words for words in plain if words]


def _references(sentences: list[str], figure: Figure) -> tuple[str, ...]:
    """Up to three sentences, other than the caption, that name the figure by its caption's number."""
    match = CAPTION.match(figure.caption)
    if not match:
        return ()
    number = re.escape(match.group(2))
    mention = re.compile(rf"(?:\b(?:Figure|Fig\.?|Chart|Diagram)\s*{number}(?![0-9])|[图圖]表?\s*{number}(?![0-9]))",
                         re.IGNORECASE)
    found: list[str] = []
    for words in sentences:
        if mention.search(words) and not CAPTION.match(words) and words not in found:
            found.append(words)
            if len(found) == 3:
                break
    return tuple(found)
