"""Corpus-wide questions: the global mode answers map-reduce from community reports, writes each
report's summary once (cached), cites the chunks behind the reports, and auto routes to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.config import ReasonConfig
from ponder.reason import NoGraph, Router
from tests.conftest import write
from tests.fake_provider import FakeProvider, Reply, chat_response

CORPUS = {
    "tea.md": "# Hollow Valley Tea\n\nHollow Valley Tea roasts oolong over charcoal. Hollow Valley Tea sells to Ashby "
              "Market.\n",
    "market.md": "# Ashby Market\n\nAshby Market opens on Saturdays. Ashby Market buys from Hollow Valley Tea.\n",
    "rowing.md": "# Lake Bled\n\nLake Bled hosts the Bled Regatta. Julian Alps rowers train on Lake Bled.\n",
}


def text(content: str) -> Reply:
    return Reply(body=chat_response(content, model="fast-chat", usage={"prompt_tokens": 50, "completion_tokens": 20}))


@pytest.fixture
def ponder(make_ponder, provider: FakeProvider, tmp_path):
    for name, body in CORPUS.items():
        write(tmp_path / "docs" / name, body)
    instance = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                              "chat.retries": 0})
    instance.ingest([tmp_path / "docs"])
    return instance


def test_global_scope_summarises_maps_reduces_and_cites_the_chunks_behind(ponder, provider: FakeProvider):
    reports = len([c for c in ponder.communities() if c.level == 0])
    assert reports == 2  # tea and market together; the lake apart
    summaries = [text(f"Summary {n}: a group of topics.") for n in range(reports)]
    maps = [text(json.dumps({"points": [{"point": "Tea is roasted and sold at a market.", "score": 90}]})),
            text(json.dumps({"points": []}))]  # the second report does not help: dropped
    provider.replies += summaries + maps + [text("The documents are about tea and its market [1].")]
    answer = ponder.ask("What are the main themes?", scope="global")
    purposes = [step.detail["purpose"] for step in answer.trace.walk() if step.stage == "llm"]
    assert purposes == ["summarize"] * reports + ["map"] * reports + ["answer"]
    assert answer.mode == "global" and answer.text == "The documents are about tea and its market [1]."
    assert len(answer.hits) == 1 and answer.hits[0].chunk.id.startswith("community:")
    assert "Tea is roasted" in answer.hits[0].chunk.text
    cited = {Path(c.path).name for c in answer.citations}
    assert cited == {"tea.md", "market.md"} and {c.source for c in answer.citations} == {"community"}
    assert all(ponder.store.get_chunks([c.chunk_id]) for c in answer.citations)  # real chunks
    assert answer.usage.prompt_tokens == 50 * len(purposes)

    # The summaries are cached: the next global question writes none.
    provider.replies += [text(json.dumps({"points": [{"point": "Rowing on the lake.", "score": 70}]}))] * reports
    provider.replies.append(text("Rowing [1]."))
    again = ponder.ask("Give an overview of the documents", scope="global")
    assert [s.detail["purpose"] for s in again.trace.walk() if s.stage == "llm"] == ["map"] * reports + ["answer"]


def test_global_with_the_embedded_model_uses_extractive_reports(make_ponder, tmp_path):
    """No model summaries or map for a base model: the extractive report is the passage."""
    from ponder.graph.reports import CommunityReports

    for name, body in CORPUS.items():
        write(tmp_path / "docs" / name, body)
    ponder = make_ponder(**{"retrieve.mode": "bm25"})
    ponder.ingest([tmp_path / "docs"])
    reports = CommunityReports(ponder.graph, ponder._communities, ponder.store)
    hits = reports.search("What happens at Lake Bled?", top_k=2)
    assert "Lake Bled" in hits[0].chunk.heading_path[0] and "Bled Regatta" in hits[0].chunk.text
    assert [Path(c.path).name for c in reports.sources(hits[0].chunk.id)] == ["rowing.md"]


ZH_CORPUS = {
    "茶厂.md": "# 青溪茶厂\n\n青溪茶厂用炭火烘焙乌龙茶。青溪茶厂把茶卖给东湖集市。\n",
    "集市.md": "# 东湖集市\n\n东湖集市每周六开放。东湖集市从青溪茶厂进货。\n",
    "赛艇.md": "# 西湖赛艇\n\n西湖每年举办赛艇比赛。杭州赛艇队在西湖训练。\n",
}


@pytest.mark.parametrize("corpus, question, said", [
    (CORPUS, "What are the main themes of these documents?", "Quoted from the documents' main topics"),
    (ZH_CORPUS, "这些文档的主要主题是什么？", "以下摘自文档的主要主题"),
])
def test_a_base_model_answers_a_corpus_wide_question_by_quoting_the_reports(
        make_ponder, provider: FakeProvider, tmp_path, corpus: dict, question: str, said: str):
    """A base model asked to write an overview repeats the question: the answer is quoted instead —
    each main community's name, its top entities and a sentence of its documents, cited — and says so."""
    for name, body in corpus.items():
        write(tmp_path / "docs" / name, body)
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "base",
                            "chat.prompt_style": "completion"})
    ponder.ingest([tmp_path / "docs"])
    answer = ponder.ask(question, scope="global")
    assert provider.requests == [] and answer.usage.total_tokens == 0  # nothing written by a model
    lines = answer.text.split("\n")
    assert lines[0].startswith(said) and len(lines) == 1 + len(answer.hits) >= 3
    for n, (line, hit) in enumerate(zip(lines[1:], answer.hits), start=1):
        assert line.startswith(f"- {hit.chunk.heading_path[0]}") and line.endswith(f"[{n}]")
        quoted = line.split(": ", 1)[1].removesuffix(f" [{n}]")
        sources = ponder.store.get_chunks([c.chunk_id for c in answer.citations if c.marker == n])
        assert any(quoted in chunk.text for chunk in sources), (quoted, [c.text for c in sources])
    assert {Path(c.path).name for c in answer.citations} == set(corpus)
    assert question not in answer.text and answer.grounding.verdict == "supported"


def test_global_needs_the_graph(make_ponder, tmp_path, provider: FakeProvider):
    write(tmp_path / "docs" / "a.md", CORPUS["tea.md"])
    ponder = make_ponder(**{"retrieve.mode": "bm25", "graph.extractor": "none", "chat.base_url": provider.url,
                            "chat.model": "fast-chat"})
    ponder.ingest([tmp_path / "docs"])
    with pytest.raises(NoGraph, match="graph.extractor"):
        ponder.ask("What are the main themes?", scope="global")


@pytest.mark.parametrize("question, kind", [
    ("What are the main themes of these reports?", "overview"),
    ("Give me an overview of the documents", "overview"),
    ("请总结这些文档", "overview"),
    ("这些报告的主要内容是什么？", "overview"),
    ("这家公司的主要产品是什么？", "lookup"),  # bare 主要 is a look-up
    ("What was the overall revenue increase in 2023?", "numeric"),
])
def test_auto_routes_corpus_wide_questions_to_global(question: str, kind: str):
    route = Router(ReasonConfig()).route(question)
    assert route.kind == kind and (route.mode == "global") == (kind == "overview")
