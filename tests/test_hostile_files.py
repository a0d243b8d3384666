"""Hostile and broken files: decompression bombs, absurd nesting, lying page counts, huge images
and lines, and mutated copies of real documents. Each is named in the report, the rest of the
batch is ingested, nothing indexed before is lost or duplicated, and no file holds the ingest
longer than ``ingest.file_timeout_s`` or more memory than ``ingest.worker_memory_mb``."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pymupdf
import pytest

from tests.conftest import EXAMPLES, write

_CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                  'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                  'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
         'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def zip_bomb_docx(path: Path, megabytes: int) -> Path:
    """A valid DOCX whose one paragraph repeats to ``megabytes`` of XML, deflated to about 1/400."""
    block = ("<w:p><w:r><w:t>" + "a" * 1000 + "</w:t></w:r></w:p>").encode() * 1000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                       b'wordprocessingml/2006/main"><w:body>')
            for _ in range(megabytes):
                part.write(block)
            part.write(b"</w:body></w:document>")
    return path


def pdf_declaring_pages(path: Path, pages: int) -> Path:
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "One real page.")
    raw = document.tobytes(deflate=False)
    path.write_bytes(raw.replace(b"/Count 1", f"/Count {pages}".encode()))
    return path


def pdf_with_wide_image(path: Path, width: int) -> Path:
    document = pymupdf.open()
    page = document.new_page()
    image = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, width, 500), 0)
    image.clear_with(255)
    page.insert_image(page.rect, pixmap=image)
    page.insert_text((72, 72), "A page with a very wide image.")
    document.save(path, deflate=True)
    return path


@pytest.mark.slow
def test_bombs_are_named_and_the_batch_goes_on(make_ponder, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    zip_bomb_docx(folder / "bomb.docx", 400)
    write(folder / "deep.html", "<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>")
    pdf_declaring_pages(folder / "pages.pdf", 100_000)
    pdf_with_wide_image(folder / "wide.pdf", 50_000)
    write(folder / "line.txt", "word " * (20 * 2**20 // 5))  # 20 MB on one line
    write(folder / "good.md", "# Good\n\nThe oolong is roasted for eight hours.\n")
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.file_timeout_s": 20})
    before = ponder.ingest([EXAMPLES])
    report = ponder.ingest([folder])
    outcome = {Path(o.path).name: (o.status, o.message) for o in report.files}
    assert outcome["good.md"][0] == "ingested" and outcome["wide.pdf"][0] == "ingested"
    assert outcome["bomb.docx"] == ("failed", f"{folder / 'bomb.docx'}: its 0.9 MB unpack to 394 MB "
                                              "(a zip bomb?); not read")
    assert outcome["deep.html"] == ("failed", f"{folder / 'deep.html'}: structure nested too deeply to convert")
    assert outcome["pages.pdf"][0] == "failed" and "pages" in outcome["pages.pdf"][1]
    assert outcome["line.txt"] == ("failed", f"{folder / 'line.txt'}: took longer than 20 s to convert; "
                                             "skipped (setting ingest.file_timeout_s)")
    assert report.seconds < 120
    # what was indexed before is all there, once
    documents = ponder.documents()
    assert sorted(d.path for d in documents) == sorted([*(o.path for o in before.files), str(folder / "good.md"),
                                                        str(folder / "wide.pdf")])
    assert ponder.search("oolong roasted eight hours")


def test_a_file_over_the_memory_cap_fails_alone_and_names_the_setting(make_ponder, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(folder / "big.txt", "word " * (40 * 2**20 // 5))
    write(folder / "small.txt", "A small note about green tea.\n")
    # 300 MB converts a small file (measured: a child's base is ~200 MB with the estimate tokenizer)
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.tokenizer": "estimate", "ingest.worker_memory_mb": 300,
                            "ingest.workers": 1})
    report = ponder.ingest([folder])
    outcome = {Path(o.path).name: (o.status, o.message) for o in report.files}
    assert outcome["small.txt"][0] == "ingested"
    assert outcome["big.txt"][0] == "failed" and "ingest.worker_memory_mb" in outcome["big.txt"][1]


def _mutate(raw: bytes, rng: random.Random) -> bytes:
    """One of the mutations a fuzzer makes: flipped bytes, a truncation, a duplicated or deleted span."""
    data = bytearray(raw)
    kind = rng.choice(["flip", "truncate", "duplicate", "delete"])
    if kind == "flip":
        for _ in range(rng.randint(1, 50)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "truncate":
        del data[rng.randint(1, len(data) - 1):]
    else:
        start = rng.randrange(len(data))
        span = data[start:start + rng.randint(1, 4096)]
        data[start:start] = span if kind == "duplicate" else b""
        if kind == "delete":
            del data[start:start + len(span)]
    return bytes(data)


@pytest.mark.slow
def test_mutated_documents_never_stop_the_batch_or_corrupt_the_index(make_ponder, shared: Path,
                                                                   tmp_path: Path) -> None:
    rng = random.Random(18)
    docs = shared / "data" / "docs"
    sources = [p for kind in ("pdf", "docx", "html") for p in sorted((docs / kind).glob(f"*.{kind}"))]
    sources += [EXAMPLES / "tea-cooperative.md", EXAMPLES / "notes-on-rag.txt"]
    folder = tmp_path / "mutants"
    folder.mkdir()
    for number in range(48):
        source = sources[number % len(sources)]
        (folder / f"{number:02d}-{source.name}").write_bytes(_mutate(source.read_bytes(), rng))
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.file_timeout_s": 60, "ingest.workers": 2})
    ponder.ingest([EXAMPLES])
    kept = {d.path: d.content_hash for d in ponder.documents()}
    report = ponder.ingest([folder])
    assert len(report.files) == 48 and {o.status for o in report.files} <= {"ingested", "failed", "skipped"}
    for outcome in report.files:
        assert outcome.status == "ingested" or outcome.message.startswith(outcome.path), outcome
    assert report.count("ingested") >= 10  # most mutations leave a readable document
    documents = {d.path: d.content_hash for d in ponder.documents()}
    assert {path: documents[path] for path in kept} == kept
    assert len(documents) == len(kept) + report.count("ingested")
    chunk_ids = [c.id for d in ponder.documents() for c in ponder.store.chunks_of(d.id)]
    assert len(chunk_ids) == len(set(chunk_ids))
