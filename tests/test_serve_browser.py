"""The web page served by ``ponder serve``, in headless Chromium: enter a key, upload a document,
ask, watch the thinking stream before the answer, click a citation to open the cited chunk, delete
the document. Screenshots go to test-artifacts/ and are checked not blank."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import pytest

from ponder.config import load_config
from ponder.serve.keys import KeyStore
from tests.browser import ARTIFACTS, chromium_page, not_blank
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response, stream_events
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_upload_ask_stream_and_open_a_citation_in_the_web_page(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    provider = FakeProvider().start()
    # Slow deltas, so that the page shows the thinking while the answer has not begun.
    provider.replies.append(Reply(events=stream_events(
        ["The oolong is roasted ", "for eight hours [1]."],
        ["Passage 1 is about ", "roasting oolong; ", "it says eight hours."]), event_delay_s=0.4))
    config = load_config(env={}, overrides={
        "data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25", "chat.base_url": provider.url,
        "chat.model": "fast-chat", "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner"})
    keys = KeyStore(tmp_path / "data" / "keys.db")
    secret = keys.create("browser", write=["default"])[1]
    keys.close()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with LiveServer(config) as server, chromium_page() as (page, errors):
            page.goto(server.url + "/")
            expect(page.locator("#job")).to_contain_text("Enter an API key")
            page.fill("#key", secret)
            page.press("#key", "Tab")  # the key is used once it changes
            expect(page.locator("#collection option")).to_have_text(["default"])
            expect(page.locator("#mode option", has_text="agentic")).to_have_count(1)

            page.set_input_files("#files", str(EXAMPLES / "tea-cooperative.md"))
            page.click("#upload")
            expect(page.locator("#job")).to_contain_text("tea-cooperative.md: ingested", timeout=60_000)
            expect(page.locator("#documents li")).to_contain_text(["tea-cooperative.md"])

            page.select_option("#mode", "reasoner")
            page.fill("#question", "How long is the oolong roasted?")
            page.click("#ask button")
            thinking, answer = page.locator(".thinking pre").first, page.locator(".answer").first
            expect(thinking).to_contain_text("Passage 1 is about", timeout=30_000)
            assert answer.inner_text() == ""  # thinking first, the answer not yet begun
            assert "› search: How long is the oolong roasted?" in thinking.inner_text()
            page.screenshot(path=str(ARTIFACTS / "web-thinking.png"))
            expect(answer).to_contain_text("for eight hours", timeout=30_000)
            citation = page.locator("a.cite", has_text="[1]").first
            expect(citation).to_be_visible(timeout=30_000)
            expect(answer).to_contain_text("Sources:")
            # The answer's entities drawn as a small graph: seeds from the question and the cited chunk.
            expect(page.locator("#entities svg circle.seed").first).to_be_visible(timeout=30_000)
            assert page.locator("#entities svg circle").count() >= 2 and page.locator("#entities svg line").count() >= 1
            seed_names = page.locator("#entities svg circle.seed title", has_text="Hollow Valley Tea Cooperative")
            expect(seed_names).to_have_count(1)
            citation.click()
            expect(page.locator("#chunk-location")).to_contain_text("tea-cooperative.md")
            expect(page.locator("#chunk pre")).to_contain_text("oolong")
            page.screenshot(path=str(ARTIFACTS / "web-answer.png"))
            expect(page.locator(".meta").first).to_contain_text("· supported")

            # An answer with a number no passage gives: highlighted, with the reason, and the verdict shown.
            # (the page sends the conversation: the question is made standalone first, then answered)
            provider.replies += [Reply(body=chat_response("How long is the oolong roasted?")),
                                 Reply(events=stream_events(["The oolong is roasted for 10 days [1]."]))]
            page.fill("#question", "How long is the oolong roasted, again?")
            page.click("#ask button")
            flagged = page.locator(".turn").nth(1).locator("mark.unsupported", has_text="10 days")
            expect(flagged).to_be_visible(timeout=30_000)
            assert flagged.get_attribute("title") == "no passage gives this number"
            expect(page.locator(".turn").nth(1).locator(".meta")).to_contain_text("unsupported")
            page.screenshot(path=str(ARTIFACTS / "web-unsupported.png"))

            page.locator("#documents li button", has_text="delete").click()
            expect(page.locator("#documents li")).to_have_count(0)
    finally:
        provider.stop()
    assert errors == []
    assert not_blank(ARTIFACTS / "web-thinking.png") and not_blank(ARTIFACTS / "web-answer.png")


@contextlib.contextmanager
def reader_page(tmp_path: Path, paths: list[Path], reply: str) -> Iterator[tuple[Any, list[str]]]:
    """The web page, signed in with a read key, over ``paths`` ingested; the model streams ``reply``.
    Yields the page and the errors it reported."""
    from playwright.sync_api import expect

    from ponder.api import Ponder

    provider = FakeProvider().start()
    provider.default = Reply(events=stream_events([reply]))
    config = load_config(env={}, overrides={
        "data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25", "chat.base_url": provider.url,
        "chat.model": "fast-chat"})
    with Ponder(config) as ponder:
        ponder.ingest(paths)
    keys = KeyStore(tmp_path / "data" / "keys.db")
    secret = keys.create("browser", read=["default"])[1]
    keys.close()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with LiveServer(config) as server, chromium_page() as (page, errors):
            page.goto(server.url + "/")
            page.fill("#key", secret)
            page.press("#key", "Tab")
            expect(page.locator("#collection option")).to_have_text(["default"])
            yield page, errors
    finally:
        provider.stop()


def test_a_cited_figure_shows_its_picture_in_the_citation_panel(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.figure_files import report_html

    with reader_page(tmp_path, [report_html(tmp_path / "html")], "The east leads [1][2][3].") as (page, errors):
        page.fill("#question", "Which region leads the quarterly sales chart?")
        page.click("#ask button")
        expect(page.locator("a.cite").first).to_be_visible(timeout=30_000)
        shown = []
        # [1] [2] [3], and again in the Sources list: the text, the chart, the remote map.
        for link in page.locator(".answer").first.locator("a.cite").all():
            page.evaluate("document.getElementById('chunk').replaceChildren()")  # so the wait sees this click
            link.click()
            expect(page.locator("#chunk pre")).to_be_visible()
            if page.locator("#figure-image").count():
                shown.append((link.inner_text(), page.locator("#figure figcaption").inner_text()))
                image = page.locator("#figure-image")
                expect(image).to_be_visible()
                assert image.evaluate("img => img.complete && img.naturalWidth") == 600
                assert image.get_attribute("alt") == "Figure 1: Quarterly sales by region"
                page.screenshot(path=str(ARTIFACTS / "web-figure.png"))
        # The Sources list under the answer repeats the links: one marker, clicked twice.
        assert {marker for marker, _ in shown} == {shown[0][0]} and shown[0][1] == "Figure 1"
    assert errors == []
    assert not_blank(ARTIFACTS / "web-figure.png")


def test_passages_that_disagree_are_shown_with_each_side(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.conftest import write
    from tests.test_conflicts import GLENDALE, TAMPA

    documents = [write(tmp_path / "docs" / "a.txt", TAMPA), write(tmp_path / "docs" / "b.txt", GLENDALE)]
    with reader_page(tmp_path, documents, "It was at Raymond James Stadium [1].") as (page, errors):
        page.fill("#question", "Where was Super Bowl 2021 played, at Raymond James Stadium?")
        page.click("#ask button")
        note = page.locator(".turn .conflict").first
        expect(note).to_contain_text("Passages disagree", timeout=30_000)
        expect(note).to_contain_text("Tampa, Florida")
        expect(note).to_contain_text("Glendale, Arizona")
        assert "Raymond James Stadium in Glendale" in note.get_attribute("title")
        expect(page.locator(".answer").first).to_contain_text("The passages disagree")
        page.screenshot(path=str(ARTIFACTS / "web-conflict.png"))
    assert errors == []
    assert not_blank(ARTIFACTS / "web-conflict.png")


def test_a_computed_number_shows_its_working_on_hover(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.conftest import write
    from tests.test_calculator import SALES

    documents = [write(tmp_path / "docs" / "sales.md", SALES)]
    with reader_page(tmp_path, documents, "Other fell by 12.6, from 56.7 to 44.1 [1].") as (page, errors):
        page.fill("#question", "What was the change in Other from 2018 to 2019?")
        page.click("#ask button")
        derived = page.locator(".answer").first.locator("span.derived", has_text="12.6")
        expect(derived).to_be_visible(timeout=30_000)
        assert derived.get_attribute("title") == "12.6 = 56.7 − 44.1 (from [1])"
        assert page.locator(".answer").first.locator("mark.unsupported").count() == 0
        page.screenshot(path=str(ARTIFACTS / "web-derived.png"))
    assert errors == []
    assert not_blank(ARTIFACTS / "web-derived.png")
