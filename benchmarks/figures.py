"""Figures: found, read, and what they cost at ingest, on ../shared/data/docs (issue 20).

1. **Found** — per format, the figures Ponder's readers find against the ground truth's
   ``<!-- image -->`` markers (docling's conversions), counted per file: a file with 3 markers and
   2 figures found gives 2 true positives and 1 miss; one with 1 marker and 3 found, 1 true
   positive and 2 false. Pictures skipped as decorative (tiny) or repeated (logos) are listed apart.
2. **Read** — OCR text F1 on the PDF figures whose region has a text layer (vector diagrams and
   labelled charts): the words RapidOCR reads from the PNG crop against the words of the PDF's own
   text layer inside the figure's box (lower-cased, tokens of letters and digits).
3. **Cost** — ingest time added per figure on the offline path: the shared documents ingested with
   the default settings (hybrid retrieval, the bundled embedder, the nlp graph) with
   ``ingest.figures`` off and on (OCR on), the difference divided by the figures indexed. Goal:
   at most 0.5 s per figure on 2 cores.
4. **Cached** — with a replayed vision model (tests/fake_provider.py, the one fake: a remote wire
   format), the requests per distinct image on a first ingest, and after every file is rewritten.

    python benchmarks/figures.py
"""

from __future__ import annotations

import collections
import io
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pypdfium2
from common import REPO, header, shared_dir
from PIL import Image

from ponder import Ponder, load_config
from ponder.ingest import ReadOptions, read_document
from ponder.ingest.figures import FigureOCR

sys.path.insert(0, str(REPO))
from tests.fake_provider import FakeProvider, Reply, chat_response  # noqa: E402 - the replayed provider

FORMATS = {"pdf": "pdf/groundtruth/{stem}.md", "docx": "docx/groundtruth/{name}.md",
           "html": "html/groundtruth/{name}.md"}


def documents(root: Path) -> dict[str, list[tuple[Path, Path]]]:
    found = {}
    for kind, pattern in FORMATS.items():
        found[kind] = [(path, root / pattern.format(stem=path.stem, name=path.name))
                       for path in sorted((root / kind).glob(f"*.{kind}"))]
    return found


def found_versus_truth(corpora: dict[str, list[tuple[Path, Path]]]) -> None:
    print("## 1. Figures found against the ground truth's `<!-- image -->` markers\n")
    print("| format | files | markers | found | true pos. | recall | precision | skipped (decorative / repeated / "
          "unreadable) | per file: found/markers |")
    print("|---|---|---|---|---|---|---|---|---|")
    pooled = collections.Counter()
    for kind, files in corpora.items():
        counts = collections.Counter()
        per_file = []
        for source, truth in files:
            document, _ = read_document(source, source.read_bytes(), ReadOptions())
            markers = truth.read_text(encoding="utf-8").count("<!-- image -->")
            found = len(document.figures)
            counts.update(files=1, markers=markers, found=found, hits=min(markers, found),
                          skipped=document.figures_skipped)
            if markers or found:
                per_file.append(f"{source.stem[:18]} {found}/{markers}")
        pooled.update(counts)
        print(f"| {kind} | {counts['files']} | {counts['markers']} | {counts['found']} | {counts['hits']} | "
              f"{_ratio(counts['hits'], counts['markers'])} | {_ratio(counts['hits'], counts['found'])} | "
              f"{counts['skipped']} | {', '.join(per_file)} |")
    print(f"| **all** | {pooled['files']} | {pooled['markers']} | {pooled['found']} | {pooled['hits']} | "
          f"**{_ratio(pooled['hits'], pooled['markers'])}** | **{_ratio(pooled['hits'], pooled['found'])}** | "
          f"{pooled['skipped']} | |")


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.2f}" if whole else "–"


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _f1(predicted: list[str], expected: list[str]) -> float:
    p, e = collections.Counter(predicted), collections.Counter(expected)
    common = sum((p & e).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(e.values())
    return 2 * precision * recall / (precision + recall)


def ocr_quality(pdfs: list[Path]) -> None:
    print("\n## 2. OCR on figures that contain text (PDF figures with a text layer inside their box)\n")
    ocr = FigureOCR()
    if not ocr.available:
        print("RapidOCR is not installed (pip install 'ponder[ocr]'): skipped.")
        return
    ocr.read(_blank_png())  # load the models
    scores, seconds, words = [], [], 0
    for path in pdfs:
        for png, reference in _pdf_figures(path):
            expected = _tokens(reference)
            if len(expected) < 3:  # no real text inside
                continue
            started = time.perf_counter()
            read = ocr.read(png)
            seconds.append(time.perf_counter() - started)
            scores.append(_f1(_tokens(read), expected))
            words += len(expected)
    if not scores:
        print("no PDF figure with a text layer")
        return
    print(f"- figures with text: {len(scores)} ({words} words in their text layers)")
    print(f"- **OCR text F1: mean {sum(scores) / len(scores):.2f}**, median {sorted(scores)[len(scores) // 2]:.2f}, "
          f"min {min(scores):.2f}")
    print(f"- OCR time per figure: mean {sum(seconds) / len(seconds):.2f} s, max {max(seconds):.2f} s "
          "(RapidOCR alone, after loading)")


def _pdf_figures(path: Path) -> list[tuple[bytes, str]]:
    """(PNG crop, the text layer's words inside its box) for each figure of a PDF."""
    document, _ = read_document(path, path.read_bytes(), ReadOptions())
    found = []
    pdf = pypdfium2.PdfDocument(path)
    for figure in document.figures:
        if figure.page is None or figure.bbox is None or not figure.image:
            continue
        page = pdf[figure.page - 1]
        left, top, right, bottom = figure.bbox  # from the page's top left; pdfium counts from its bottom
        height = page.get_height()
        words = page.get_textpage().get_text_bounded(left, height - bottom, right, height - top)
        found.append((document.images[figure.image], " ".join(words.split())))
    pdf.close()
    return found


def _blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format="PNG")
    return out.getvalue()


def ingest_cost(root: Path) -> None:
    print("\n## 3. Ingest time added per figure (offline path: default settings, OCR on)\n")
    folder = Path(tempfile.mkdtemp(prefix="ponder-figures-"))
    try:
        corpus = folder / "docs"
        for kind in FORMATS:
            shutil.copytree(root / kind, corpus / kind, ignore=shutil.ignore_patterns("groundtruth"))
        warm = Ponder(load_config(env={}, overrides={"data_dir": str(folder / "warm")}))
        warm.ingest([corpus / "html"])  # loads the embedder and starts the workers' imports once
        warm.close()
        runs = {}
        for figures in (False, True):
            with Ponder(load_config(env={}, overrides={"data_dir": str(folder / f"figures-{figures}"),
                                                       "ingest.figures": figures})) as ponder:
                started = time.perf_counter()
                report = ponder.ingest([corpus])
                runs[figures] = (time.perf_counter() - started, report)
        (off, _), (on, report) = runs[False], runs[True]
        tally = report.figures
        print("| figures | ingest (s) | chunks | figures indexed | OCR runs | OCR time (s) |")
        print("|---|---|---|---|---|---|")
        for figures, (seconds, run) in runs.items():
            chunks = sum(o.chunks for o in run.files if o.status == "ingested")
            print(f"| {'on' if figures else 'off'} | {seconds:.1f} | {chunks} | {run.figures.figures} | "
                  f"{run.figures.ocr_runs} | {run.figures.ocr_seconds:.1f} |")
        per_figure = (on - off) / tally.figures if tally.figures else 0.0
        print(f"\n- **added per figure: {per_figure:.2f} s** ({on - off:.1f} s over {tally.figures} figures; "
              f"goal <= 0.5 s); OCR alone {tally.ocr_seconds / max(tally.ocr_runs, 1):.2f} s per OCR'd figure")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def vision_cache(root: Path) -> None:
    print("\n## 4. A replayed vision model: requests per image, and after every file is rewritten\n")
    provider = FakeProvider().start()
    provider.respond = lambda body: Reply(body=chat_response("A figure.", model="vision-model",
                                                             usage={"prompt_tokens": 800, "completion_tokens": 60}))
    folder = Path(tempfile.mkdtemp(prefix="ponder-vision-"))
    try:
        corpus = folder / "docs"
        for kind in FORMATS:
            shutil.copytree(root / kind, corpus / kind, ignore=shutil.ignore_patterns("groundtruth"))
        settings = {"data_dir": str(folder / "data"), "retrieve.mode": "bm25", "vision.base_url": provider.url,
                    "vision.model": "vision-model", "ingest.figure_ocr": False}
        with Ponder(load_config(env={}, overrides=settings)) as ponder:
            first = ponder.ingest([corpus])
            images = len(ponder.store.image_hashes())
        asked = len(provider.requests)
        for path in corpus.rglob("*"):
            if path.is_file():
                _rewrite(path)
        with Ponder(load_config(env={}, overrides=settings)) as ponder:
            second = ponder.ingest([corpus])
        print(f"- first ingest: {first.figures.figures} figures, {images} distinct images, **{asked} vision "
              f"requests**, {first.figures.vision_cached} answered from the cache, "
              f"{first.figures.vision_usage.total_tokens} tokens")
        print(f"- every file rewritten and ingested again: {second.count('ingested')} re-read, "
              f"**{len(provider.requests) - asked} new vision requests**, {second.figures.vision_cached} from "
              "the cache")
    finally:
        provider.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _rewrite(path: Path) -> None:
    """New bytes, the same content: a newline after a PDF's or a page's end, a DOCX zipped anew."""
    if path.suffix == ".docx":
        with zipfile.ZipFile(path) as old:
            parts = [(info, old.read(info)) for info in old.infolist()]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as new:
            for info, data in parts:
                info.compress_type = zipfile.ZIP_STORED
                new.writestr(info, data)
    else:
        path.write_bytes(path.read_bytes() + b"\n")


def main() -> None:
    header("Figures: found, read, cost (../shared/data/docs)")
    root = shared_dir() / "data" / "docs"
    corpora = documents(root)
    found_versus_truth(corpora)
    ocr_quality([path for path, _ in corpora["pdf"]])
    ingest_cost(root)
    vision_cache(root)


if __name__ == "__main__":
    main()
