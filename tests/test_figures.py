"""Figures as passages: found in PDF (both engines), DOCX and HTML files made for it, described
(caption, referring sentences, OCR, a vision model), stored once per image, retrieved, filtered,
cited with page and box, served as PNG (HTTP and MCP), sent to models that take images. The vision
model and the chat model are the replayed provider (a remote wire format)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from ponder.config import load_config
from ponder.ingest.readers.figures import REPEATS
from ponder.retrieve import Filter
from ponder.serve.keys import KeyStore
from tests.conftest import read
from tests.fake_provider import FakeProvider, Reply, chat_response
from tests.figure_files import CHART_WORDS, SCAN_WORDS, report_docx, report_html, report_pdf
from tests.live_server import LiveServer

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """report.pdf, report.docx and html/report.html (with chart.png beside it)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    report_pdf(corpus / "report.pdf")
    report_docx(corpus / "report.docx")
    report_html(corpus / "html")
    return corpus


@pytest.mark.parametrize("engine", ["layout", "text", "pymupdf"])
def test_pdf_figures_found_with_box_caption_references_and_logos_skipped(folder: Path, engine: str) -> None:
    document, _ = read(folder / "report.pdf", pdf_engine=engine)
    chart, scan = document.figures
    assert (chart.page, scan.page) == (1, 3)  # the image-only page is a figure too
    assert chart.bbox == pytest.approx((97, 240, 497, 507), abs=2)
    assert chart.caption == "Figure 1: Quarterly sales by region"
    assert chart.referred == ("As Figure 1 shows, the eastern region sold more than twice as much as the west in "
                              "the last quarter.",)
    assert document.page_at(chart.offset) == 1 and document.page_at(scan.offset) == 3
    assert document.figures_skipped == REPEATS  # the logo at the top of each of the three pages
    for figure in (chart, scan):
        png = document.images[figure.image]
        assert png.startswith(PNG) and max(figure.width, figure.height) <= 1024
    assert "\ue000" not in document.text  # the markers are gone from the text


def test_docx_figures_keep_alt_text_caption_and_reference_and_skip_icons(folder: Path) -> None:
    document, _ = read(folder / "report.docx")
    (chart,) = document.figures
    assert chart.alt == "柱状图：各地区季度销量" and chart.caption == "图1 各地区季度销量"
    assert chart.referred == ("如图1所示，东部地区的销量最高。",)
    assert (chart.width, chart.height) == (600, 400) and document.images[chart.image].startswith(PNG)
    assert document.figures_skipped == 1  # the 20-pixel icon
    assert document.text.index("如图1所示") < chart.offset < document.text.index("图1 各地区季度销量")


def test_html_figures_read_local_and_inline_images_never_remote_or_outside(folder: Path) -> None:
    document, _ = read(folder / "html" / "report.html")
    chart, remote = document.figures
    assert chart.caption == "Figure 1: Quarterly sales by region" and chart.alt == "bar chart of sales by region"
    assert chart.referred == ("As Figure 1 shows, the east leads.",)
    assert document.images[chart.image].startswith(PNG)
    assert remote.alt == "map of the sales regions" and remote.image == ""  # never fetched
    # Skipped: the inline logo (three times), the 16-pixel icon, and ../outside.png (outside the
    # page's folder, no alt text: nothing to say about it).
    assert document.figures_skipped == REPEATS + 2
    assert "Figure 1: Quarterly sales by region" in document.text  # the caption stays in the text


def test_figures_are_passages_found_filtered_cited_and_their_images_kept_once(folder: Path, make_ponder) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25"})
    report = ponder.ingest([folder])
    assert report.count("ingested") == 4, report.files  # the page's chart.png is a document of its own too
    assert report.figures.figures == 6 and report.figures.skipped == 3 + 1 + 5
    assert "6 figures" in report.summary()
    by_file = {Path(o.path).name: o.figures for o in report.files if o.status == "ingested"}
    assert by_file == {"report.pdf": 2, "report.docx": 1, "report.html": 2, "chart.png": 1}

    hits = ponder.search("EAST 420 quarterly sales", top_k=10, where=Filter(kind="figure"))
    assert hits and all(hit.chunk.kind == "figure" for hit in hits)
    pdf_chart = next(h.chunk for h in hits if h.chunk.path.endswith(".pdf") and h.chunk.page == 1)
    assert pdf_chart.text.startswith("Figure 1: Quarterly sales by region")
    assert "referred to: As Figure 1 shows" in pdf_chart.text
    assert pdf_chart.location().endswith("› Figure 1")
    assert all(hit.chunk.kind == "text" for hit in ponder.search("sales", top_k=20, where=Filter(kind="text")))

    scan = next(c for c in ponder.store.chunks_of(pdf_chart.document_id) if c.figure and c.page == 3)
    if ponder.pipeline._figure_ocr.available:  # the dev install has RapidOCR: the image-only page is read
        assert all(word in scan.text for word in SCAN_WORDS), scan.text
        assert "EAST" in pdf_chart.text
    images = ponder.data_dir / "figures"
    stored = {path.stem for path in images.glob("*.png")}
    # Five figures with a picture, three files: the PDF's two crops, and the one chart the DOCX, the
    # HTML page and chart.png itself share (same bytes, same hash).
    assert len(stored) == 3 and stored == ponder.store.image_hashes()
    assert ponder.figure_image(pdf_chart.id).read_bytes().startswith(PNG)

    assert ponder.ingest([folder]).count("unchanged") == 4
    ponder.remove([folder / "html"])
    assert {path.stem for path in images.glob("*.png")} == stored  # the DOCX still shows the shared chart
    ponder.remove([folder / "report.docx"])
    assert len(list(images.glob("*.png"))) == 2  # the shared chart went with its last document


def test_ocr_runs_once_per_image_and_figures_can_be_turned_off(folder: Path, make_ponder, tmp_path: Path) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25"})
    if not ponder.pipeline._figure_ocr.available:
        pytest.skip("rapidocr-onnxruntime is not installed (pip install 'ponder[ocr]')")
    first = ponder.ingest([folder / "report.pdf"])
    assert first.figures.ocr_runs == 2 and first.figures.ocr_cached == 0
    copy = shutil.copy(folder / "report.pdf", tmp_path / "copy.pdf")  # another file, the same pictures
    second = ponder.ingest([copy])
    assert second.figures.ocr_runs == 0 and second.figures.ocr_cached == 2

    plain = make_ponder(tmp_path / "plain", **{"retrieve.mode": "bm25", "ingest.figures": False})
    report = plain.ingest([folder])
    assert report.figures.figures == 0 and not list((tmp_path / "plain").glob("figures/*.png"))
    assert all(chunk.figure is None for doc in plain.documents() for chunk in plain.store.chunks_of(doc.id))


def _vision_config(tmp_path: Path, provider: FakeProvider, **overrides: object):
    return load_config(env={}, overrides={
        "data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25", "ingest.figure_ocr": False,
        "vision.base_url": provider.url, "vision.model": "qwen2.5-vl", "vision.retries": 0,
        "prices": {"qwen2.5-vl": {"input": 1.0, "output": 4.0}}, **overrides})


def test_a_vision_model_describes_each_image_once_logged_and_cached(folder: Path, tmp_path: Path,
                                                                     provider: FakeProvider) -> None:
    from ponder.api import Ponder

    provider.respond = lambda body: Reply(body=chat_response(
        "A bar chart of quarterly sales: east 420, west 180.", model="qwen2.5-vl",
        usage={"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}))
    with Ponder(_vision_config(tmp_path, provider)) as ponder:
        report = ponder.ingest([folder])
        # Five figures with a picture, three distinct images (the DOCX, the HTML page and chart.png
        # share one); the remote map has none. One call per image: later uses of the chart are cached.
        assert len(provider.requests) == 3
        assert (report.figures.vision_calls, report.figures.vision_cached) == (3, 2)
        assert report.figures.vision_usage.prompt_tokens == 900
        assert report.figures.vision_cost == pytest.approx((900 * 1.0 + 60 * 4.0) / 1e6)
        assert "3 described by the vision model (960 tokens, $0.0011)" in report.summary()
        request = provider.requests[0]["json"]
        parts = request["messages"][0]["content"]
        assert request["model"] == "qwen2.5-vl" and parts[0]["type"] == "text"
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
        assert base64.b64decode(parts[1]["image_url"]["url"].split(",", 1)[1]).startswith(PNG)
        chart = ponder.search("east 420 west 180", top_k=3, where=Filter(kind="figure"))[0].chunk
        assert "description: A bar chart of quarterly sales" in chart.text
        assert chart.figure.described_by == "qwen2.5-vl"

    logged = sqlite3.connect(tmp_path / "data" / "calls.db").execute(
        "SELECT prompt FROM calls WHERE purpose='describe figure'").fetchall()
    assert len(logged) == 3
    assert all(len(prompt) < 2000 and "sha256" in prompt for (prompt,) in logged)  # no base64 in the log

    report_pdf(folder / "report.pdf")  # rewritten: new bytes, the same pictures
    (folder / "report.docx").write_bytes((folder / "report.docx").read_bytes())  # touched only
    with Ponder(_vision_config(tmp_path, provider)) as ponder:
        again = ponder.ingest([folder])
    assert len(provider.requests) == 3  # nothing asked again
    assert again.figures.vision_calls == 0


def test_a_failing_vision_model_leaves_the_document_pending_and_the_next_ingest_asks_again(
        folder: Path, tmp_path: Path, provider: FakeProvider) -> None:
    from ponder.api import Ponder

    provider.default = Reply(500, {"error": {"message": "model overloaded"}})
    with Ponder(_vision_config(tmp_path, provider)) as ponder:
        report = ponder.ingest([folder / "report.docx"])
        assert report.count("ingested") == 1 and report.figures.vision_failures == 1
        assert any(w.startswith(f"{folder / 'report.docx'}: Figure 1 not described, the vision model failed")
                   and "model overloaded" in w for w in report.warnings)
        chunks = ponder.store.chunks_of(report.files[0].document_id)
        assert any(c.figure and c.figure.description == "" for c in chunks)  # the text is indexed anyway
    provider.default = None
    provider.respond = lambda body: Reply(body=chat_response("两根柱子，东部更高。", model="qwen2.5-vl"))
    with Ponder(_vision_config(tmp_path, provider)) as ponder:
        again = ponder.ingest([folder / "report.docx"])
        assert again.count("ingested") == 1 and again.figures.vision_calls == 1
        chunks = ponder.store.chunks_of(again.files[0].document_id)
        assert any(c.figure and "描述: 两根柱子" in c.text for c in chunks)
        assert ponder.ingest([folder / "report.docx"]).count("unchanged") == 1


def test_send_images_puts_a_cited_figures_picture_beside_its_passage(folder: Path, tmp_path: Path,
                                                                     provider: FakeProvider) -> None:
    from ponder.api import Ponder

    settings = {"data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25", "chat.base_url": provider.url,
                "chat.model": "gpt-4o", "chat.retries": 0}
    provider.default = Reply(body=chat_response("The east sold most [1].", model="gpt-4o"))
    with Ponder(load_config(env={}, overrides=settings)) as ponder:
        ponder.ingest([folder / "html" / "report.html"])
        answer = ponder.ask("Which region sold most in the quarterly sales chart?", where=Filter(kind="figure"))
        assert answer.citations[0].figure is not None and answer.citations[0].figure.number == 1
        content = provider.requests[-1]["json"]["messages"][0]["content"]
        assert isinstance(content, str)  # off by default: the description stands for the picture
    with Ponder(load_config(env={}, overrides={**settings, "reason.send_images": True})) as ponder:
        ponder.ask("Which region sold most in the quarterly sales chart?", where=Filter(kind="figure"))
    parts = provider.requests[-1]["json"]["messages"][0]["content"]
    images = [part for part in parts if part["type"] == "image_url"]
    labels = [part["text"] for part in parts[1:] if part["type"] == "text"]
    assert len(images) == 1 and labels == ["The picture of passage [1]:"]  # the remote map has no picture
    assert images[0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_the_server_serves_a_figures_image_under_the_same_keys(folder: Path, tmp_path: Path,
                                                               provider: FakeProvider) -> None:
    config = load_config(env={}, overrides={"data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25",
                                            "chat.base_url": provider.url, "chat.model": "fast-chat"})
    from ponder.api import Ponder

    with Ponder(config) as ponder:
        ponder.ingest([folder / "report.pdf"])
    other = tmp_path / "data" / "collections" / "other" / "index"
    with Ponder(config.model_copy(update={"data_dir": str(other)})) as ponder:
        ponder.ingest([folder / "html"])
    keys = KeyStore(tmp_path / "data" / "keys.db")
    reader = keys.create("reader", read=["default"])[1]
    keys.close()
    with LiveServer(config) as server:
        auth = {"Authorization": f"Bearer {reader}"}
        hits = httpx.post(f"{server.url}/v1/collections/default/search", headers=auth,
                          json={"query": "Quarterly sales by region EAST", "top_k": 10}).json()["data"]
        figure = next(hit for hit in hits if hit["type"] == "figure" and hit["page"] == 1)
        only = httpx.post(f"{server.url}/v1/collections/default/search", headers=auth,
                          json={"query": "Quarterly sales by region EAST", "type": "figure"}).json()["data"]
        assert only and {hit["type"] for hit in only} == {"figure"}
        wrong = httpx.post(f"{server.url}/v1/collections/default/search", headers=auth,
                           json={"query": "x", "type": "x"})
        assert wrong.status_code == 400 and "'type' must be 'figure' or 'text'" in wrong.json()["error"]["message"]
        assert figure["figure"]["label"] == "Figure 1 (p.1)" and figure["figure"]["bbox"][0] == pytest.approx(97, abs=2)
        image = httpx.get(server.url + figure["figure"]["image_url"], headers=auth)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(PNG)
        assert httpx.get(server.url + figure["figure"]["image_url"]).status_code == 401
        text = next(hit for hit in hits if hit["type"] == "text")
        refused = httpx.get(f"{server.url}{text['url']}/image", headers=auth)
        assert refused.status_code == 404 and "not a figure" in refused.json()["error"]["message"]
        # The same path into a collection this key may not read is refused before any lookup.
        elsewhere = figure["figure"]["image_url"].replace("/default/", "/other/")
        assert httpx.get(server.url + elsewhere, headers=auth).status_code in (403, 404)


def test_mcp_returns_a_figure_as_image_content(folder: Path, tmp_path: Path) -> None:
    from mcp import Client

    from ponder.api import Ponder
    from ponder.serve.mcp import build_mcp

    config = load_config(env={}, overrides={"data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25"})
    with Ponder(config) as ponder:
        ponder.ingest([folder / "report.docx"])

    async def run() -> None:
        async with Client(build_mcp(config)) as client:
            assert "figure" in {tool.name for tool in (await client.list_tools()).tools}
            hits = (await client.call_tool("search", {"query": "各地区季度销量", "top_k": 5})).structured_content
            chart = next(hit for hit in hits["result"] if hit["type"] == "figure")
            only = await client.call_tool("search", {"query": "各地区季度销量", "type": "figure"})
            assert [hit["chunk_id"] for hit in only.structured_content["result"]] == [chart["chunk_id"]]
            shown = await client.call_tool("figure", {"chunk_id": chart["chunk_id"]})
            image, about = shown.content
            assert image.type == "image" and image.mime_type == "image/png"
            assert base64.b64decode(image.data).startswith(PNG)
            assert json.loads(about.text)["caption"] == "图1 各地区季度销量"
            text = next(hit for hit in hits["result"] if hit["type"] == "text")
            refused = await client.call_tool("figure", {"chunk_id": text["chunk_id"]})
            assert refused.is_error
    asyncio.run(run())


@pytest.mark.slow
def test_figures_in_the_shared_documents(shared: Path) -> None:
    docs = shared / "data" / "docs"
    pictures, _ = read(docs / "pdf" / "picture_classification.pdf")
    assert [f.caption for f in pictures.figures] == ["Figure 1: This is an example image.",
                                                     "Figure 2: This is an example image."]
    handbook, _ = read(docs / "pdf" / "amt_handbook_sample.pdf")
    nuts = next(f for f in handbook.figures if f.caption.startswith("Figure 7-26"))
    assert "Elastic stop nut" in nuts.text_in_image  # the picture's own text layer
    assert nuts.referred and "Figure 7-26" in nuts.referred[0]
    word, _ = read(docs / "docx" / "word_sample.docx")
    assert len(word.figures) == 1 and word.figures[0].image
    html, _ = read(docs / "html" / "html_rich_table_cells.html")
    assert len(html.figures) + html.figures_skipped >= 1
    assert CHART_WORDS  # (the small files above come from tests/figure_files.py)


def test_an_index_written_before_figures_is_upgraded_in_place(folder: Path, tmp_path: Path, make_ponder) -> None:
    """Schema 4 had no figure column: it is added on open, and what was indexed stays searchable."""
    ponder = make_ponder(**{"retrieve.mode": "bm25", "ingest.figures": False})
    ponder.ingest([folder / "report.docx"])
    ponder.close()
    db = sqlite3.connect(tmp_path / "data" / "ponder.db")
    db.execute("ALTER TABLE chunks DROP COLUMN figure")
    db.execute("UPDATE meta SET value='4' WHERE key='schema'")
    db.commit()
    db.close()
    reopened = make_ponder(**{"retrieve.mode": "bm25"})
    assert reopened.search("东部地区的销量", top_k=1)[0].chunk.figure is None
    assert reopened.ingest([folder / "report.pdf"]).figures.figures == 2
    schema = sqlite3.connect(tmp_path / "data" / "ponder.db").execute("SELECT value FROM meta WHERE key='schema'")
    assert schema.fetchone()[0] == "5"


def test_a_picture_declaring_ten_billion_pixels_is_not_decoded(tmp_path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = PNG + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    page = tmp_path / "bomb.html"
    page.write_text(f"<p>Before.</p><img src='data:image/png;base64,{base64.b64encode(bomb).decode()}'>"
                    "<img src='data:image/png;base64,bm90IGFuIGltYWdl' alt='a broken picture'><p>After.</p>",
                    encoding="utf-8")
    document, _ = read(page)
    (broken,) = document.figures  # the bomb had nothing else to say; the broken one has its alt text
    assert broken.alt == "a broken picture" and broken.image == "" and document.figures_skipped == 1
