"""The evaluation report opens in headless Chromium with no console errors and renders its table
and plots (a screenshot is kept in test-artifacts/ and checked not blank)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.evaluate.report import write_report
from tests.browser import ARTIFACTS, chromium_page, not_blank

pytestmark = pytest.mark.browser


def _rows() -> list[dict]:
    rows = []
    for system, right, seconds in (("direct", ("a",), 0.6), ("reasoner", ("a", "b"), 4.0),
                                   ("agentic@1", ("a",), 3.0), ("agentic@3", ("a", "b"), 9.0)):
        for question in ("a", "b"):
            scores = {"correct": question in right, "refusal": False, "refusal_correct": None, "no_answer": False,
                      "fell_back": False, "fallbacks": 0, "invalid_citations": 0, "seconds": seconds,
                      "timings": {"retrieve": 0.02, "answer": seconds}, "prompt_tokens": int(900 * seconds),
                      "completion_tokens": int(90 * seconds), "reasoning_tokens": int(60 * seconds),
                      "tokens_estimated": False, "cost": None, "steps": 1, "recall@5": 1.0, "recall@20": 1.0,
                      "mrr@10": 1.0, "citation_precision": 1.0, "citation_recall": 0.5}
            rows.append({"system": system, "mode": system.split("@")[0], "question_id": question,
                         "question": f"问题 {question}: how long is it roasted?", "type": "lookup", "error": None,
                         "scores": scores, "answer": {"text": f"{system}: eight hours <b>[1]</b>"}})
    return rows


def test_report_html_renders_in_chromium_without_errors(tmp_path: Path) -> None:
    _, page_path = write_report(_rows(), tmp_path, "[reason]\nmode = \"auto\"", "Ponder evaluation: 测试")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "eval-report.png"
    with chromium_page(width=1280) as (page, errors):
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("table th", has_text="reasoner").count() == 1
        images = page.locator("img")
        assert images.count() == 4
        assert all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 100") for i in range(4))
        assert "eight hours <b>[1]</b>" in page.inner_text("body")  # answers are escaped, not rendered
        page.screenshot(path=str(screenshot), full_page=True)
    assert errors == []
    assert not_blank(screenshot)
