"""Figures after conversion: their images kept, their words read, their passages written.

The readers find figures (:mod:`ponder.ingest.readers.figures`); here, in the ingesting process,
each one gets what it can be found by:

1. its **caption** and the **sentences referring to it** (found by the reader);
2. the **text inside the image**: the PDF's own text layer when the picture has one, else OCR
   (RapidOCR, when ``rapidocr-onnxruntime`` is installed and ``ingest.figure_ocr`` is on);
3. a **description by a vision model** when a ``[vision]`` role is configured.

OCR results and descriptions are cached by image hash (and model) in ``figures/cache.db``, so the
same picture is read once, whatever file it is in and however often it is re-ingested. The crops
themselves are kept as ``figures/<hash>.png`` beside the index; a picture no chunk names any more
is deleted by :meth:`FigureLibrary.prune`.

Example::

    library = FigureLibrary(data_dir / "figures")
    figures = describe_figures(document, library, FigureOCR(), vision=None, tally=FigureTally())
    chunks = figure_chunks(document, figures)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ponder.ingest.chunker import heading_path_at
from ponder.text import detect_language, png_data_uri
from ponder.types import Chunk, Document, Figure, FigureTally

PENDING = ":figures-pending"  # appended to a document's content hash while a figure waits for its description


def stored_image(folder: Path, digest: str) -> Path | None:
    """The PNG kept in ``folder`` for the image hash ``digest``; None when there is none (or
    ``digest`` is not a hash). Readers that hold no :class:`FigureLibrary` (the CLI, after the
    index is closed) find images here too."""
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        return None
    path = folder / f"{digest}.png"
    return path if path.is_file() else None


class FigureLibrary:
    """The figures' PNG crops by hash, and the cache of what was read from them."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(folder / "cache.db", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS ocr (image TEXT PRIMARY KEY, text TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS descriptions (image TEXT NOT NULL, model TEXT NOT NULL, "
            "text TEXT NOT NULL, PRIMARY KEY (image, model));")

    def image_path(self, digest: str) -> Path | None:
        """The stored PNG of ``digest``; None when there is none (or ``digest`` is not a hash)."""
        return stored_image(self.folder, digest)

    def save(self, images: dict[str, bytes]) -> None:
        for digest, png in images.items():
            path = self.folder / f"{digest}.png"
            if not path.exists():
                partial = path.with_suffix(".part")
                partial.write_bytes(png)
                partial.replace(path)  # never a half-written image under the real name

    def prune(self, keep: set[str]) -> int:
        """Delete the stored images not in ``keep``; return how many."""
        removed = 0
        for path in self.folder.glob("*.png"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def cached_ocr(self, digest: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM ocr WHERE image=?", (digest,)).fetchone()
        return row[0] if row else None

    def remember_ocr(self, digest: str, text: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO ocr VALUES (?,?)", (digest, text))

    def cached_description(self, digest: str, model: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM descriptions WHERE image=? AND model=?",
                                   (digest, model)).fetchone()
        return row[0] if row else None

    def remember_description(self, digest: str, model: str, text: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO descriptions VALUES (?,?,?)", (digest, model, text))

    def close(self) -> None:
        self._db.close()


class FigureOCR:
    """RapidOCR over figure crops, loaded on first use; ``available`` is false when it is not
    installed. Detection works on the image scaled to fit 960 px (not RapidOCR's default of
    stretching the short side to 736 px): a figure's text is large, and this is 2.5 times faster."""

    def __init__(self) -> None:
        self._engine: Any = None  # RapidOCR, loaded on first use
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        import importlib.util

        return importlib.util.find_spec("rapidocr_onnxruntime") is not None

    def read(self, png: bytes) -> str:
        with self._lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                self._engine = RapidOCR(det_limit_type="max", det_limit_side_len=960)
            lines, _ = self._engine(png)
        return "\n".join(line[1] for line in lines or [] if line[1].strip())


VISION_PROMPT = {
    "en": ("Describe this figure from a document so that someone searching the document can find it. Say what "
           "kind of figure it is, what it shows, and write out every label, number and trend you can read. "
           "Plain sentences, no preamble."),
    "zh": ("请描述文档中的这张图，使检索文档的人能找到它：说明图的类型和内容，并写出能读到的所有标签、数字和趋势。"
           "直接用句子描述，不要开场白。"),
}


def describe_figures(document: Document, library: FigureLibrary, ocr: FigureOCR | None, vision, tally: FigureTally,
                     warnings: list[str] | None = None) -> tuple[Figure, ...]:
    """``document``'s figures with the text inside each image (OCR where the reader found none) and a
    vision model's description (``vision``: an OpenAI-compatible client, or None), both cached by
    image hash. A vision call that fails leaves that figure undescribed, with a warning."""
    library.save(document.images)
    language = detect_language(document.text[:4000])
    described: list[Figure] = []
    for figure in document.figures:
        png = document.images.get(figure.image, b"")
        if png and not figure.text_in_image and ocr is not None:
            figure = replace(figure, text_in_image=_ocr(library, ocr, figure.image, png, tally))
        if png and vision is not None:
            figure = _describe(library, vision, figure, png, language, tally, warnings, document.path)
        described.append(figure)
    tally.figures += len(described)
    tally.skipped += document.figures_skipped
    return tuple(described)


def _ocr(library: FigureLibrary, ocr: FigureOCR, digest: str, png: bytes, tally: FigureTally) -> str:
    cached = library.cached_ocr(digest)
    if cached is not None:
        tally.ocr_cached += 1
        return cached
    started = time.perf_counter()
    text = ocr.read(png)
    tally.ocr_seconds += time.perf_counter() - started
    tally.ocr_runs += 1
    library.remember_ocr(digest, text)
    return text


def _describe(library: FigureLibrary, vision, figure: Figure, png: bytes, language: str, tally: FigureTally,
              warnings: list[str] | None, path: str) -> Figure:
    from ponder.llm import LLMError

    cached = library.cached_description(figure.image, vision.model)
    if cached is not None:
        tally.vision_cached += 1
        return replace(figure, description=cached, described_by=vision.model)
    prompt = VISION_PROMPT["zh" if language == "zh" else "en"]
    if figure.caption:
        prompt += f"\n\n{'图注' if language == 'zh' else 'Caption'}: {figure.caption}"
    content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": png_data_uri(png)}}]
    try:
        generation = vision.chat([{"role": "user", "content": content}], purpose="describe figure")
    except LLMError as exc:
        tally.vision_failures += 1
        if warnings is not None:
            warnings.append(f"{path}: {figure.label()} not described, the vision model failed ({exc}); the next "
                            f"ingest asks again")
        return figure
    tally.vision_calls += 1
    tally.vision_seconds += generation.seconds
    tally.vision_usage.add(generation.usage)
    text = generation.text.strip()
    library.remember_description(figure.image, vision.model, text)
    return replace(figure, description=text, described_by=vision.model)


def needs_description(figures: tuple[Figure, ...], vision) -> bool:
    """Whether a figure with an image still waits for the vision model (its call failed)."""
    return vision is not None and any(figure.image and not figure.description for figure in figures)


_LABELS = {
    # Lower case: a capitalised label would read as a name to the entity extractor.
    "en": {"figure": "Figure", "alt": "alt text", "referred": "referred to", "inside": "text in the figure",
           "description": "description"},
    "zh": {"figure": "图", "alt": "替代文字", "referred": "正文提及", "inside": "图中文字", "description": "描述"},
}


def figure_passage(figure: Figure, language: str) -> str:
    """The passage a figure is found and cited by: caption, alt text, the sentences referring to it,
    the text inside it, its description; each labelled, in the document's language."""
    labels = _LABELS["zh" if language == "zh" else "en"]
    lines = [figure.caption or f"{labels['figure']} {figure.number}"]
    if figure.alt and figure.alt != figure.caption:
        lines.append(f"{labels['alt']}: {figure.alt}")
    if figure.referred:
        lines.append(f"{labels['referred']}: " + " ".join(figure.referred))
    if figure.text_in_image:
        lines.append(f"{labels['inside']}: " + " ".join(figure.text_in_image.split()))
    if figure.description:
        lines.append(f"{labels['description']}: {figure.description}")
    return "\n".join(lines)


def figure_chunks(document: Document, figures: tuple[Figure, ...]) -> list[Chunk]:
    """One chunk per figure, at the figure's place in the document (``start == end``)."""
    language = detect_language(document.text[:4000])
    chunks = []
    for figure in figures:
        text = figure_passage(figure, language)
        chunks.append(Chunk(
            id=Chunk.make_id(document.id, figure.offset, figure.offset, f"figure {figure.number}\n{text}"),
            document_id=document.id, path=document.path, text=text, start=figure.offset, end=figure.offset,
            page=figure.page, page_end=figure.page, heading_path=heading_path_at(document, figure.offset),
            figure=figure,
        ))
    return chunks
