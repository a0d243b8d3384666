"""`ask` through a configured endpoint (replayed provider shapes) and the CLI's errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ponder import NothingToSearch
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response


def _endpoint_settings(provider: FakeProvider) -> dict[str, str]:
    return {"chat.base_url": provider.url, "chat.model": "deepseek-reasoner"}


def test_reasoner_endpoint_answer_thinking_and_citations(make_ponder, provider: FakeProvider) -> None:
    ponder = make_ponder(**_endpoint_settings(provider))
    ponder.ingest([EXAMPLES])
    provider.replies.append(Reply(body=chat_response(
        "<think>Passage 1 says eight hours of charcoal roasting.</think>It is roasted for eight hours [1].",
        usage={"prompt_tokens": 700, "completion_tokens": 40})))
    answer = ponder.ask("How long is the oolong roasted?")

    assert answer.text == "It is roasted for eight hours [1]."
    assert answer.thinking == "Passage 1 says eight hours of charcoal roasting."
    assert answer.citations[0].source == "model"
    assert answer.citations[0].chunk_id == answer.hits[0].chunk.id
    assert "charcoal for eight hours" in ponder.store.get_chunks([answer.citations[0].chunk_id])[0].text
    assert answer.usage.prompt_tokens == 700 and answer.language == "en" and answer.mode == "direct"
    assert set(answer.timings) == {"retrieve", "answer", "grounding"} and all(t >= 0 for t in answer.timings.values())
    assert answer.grounding.verdict == "supported"

    # chat-style prompt: one user turn, no system prompt, numbered passages with sources, the question
    messages = provider.requests[0]["json"]["messages"]
    assert [m["role"] for m in messages] == ["user"]
    assert "[1] (" in messages[0]["content"] and "tea-cooperative.md" in messages[0]["content"]
    assert messages[0]["content"].rstrip().endswith("How long is the oolong roasted?")
    assert "cite" in messages[0]["content"]


def test_chinese_question_gets_chinese_prompt(make_ponder, provider: FakeProvider) -> None:
    ponder = make_ponder(**_endpoint_settings(provider))
    ponder.ingest([EXAMPLES])
    provider.replies.append(Reply(body=chat_response("每周一闭馆 [1]。", "reasoning_content", "资料1写明每周一闭馆。")))
    answer = ponder.ask("青溪村图书馆每周哪天闭馆？")
    assert answer.language == "zh" and answer.thinking == "资料1写明每周一闭馆。"
    assert "开放时间" in answer.citations[0].heading_path
    content = provider.requests[0]["json"]["messages"][0]["content"]
    assert "请只根据下面编号的资料回答问题" in content and "问题：青溪村图书馆每周哪天闭馆？" in content


def test_ask_with_docs_answers_only_from_those_docs(make_ponder, provider: FakeProvider, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "oolong.txt").write_text("Our oolong is roasted for two hours only.", encoding="utf-8")
    ponder = make_ponder(**_endpoint_settings(provider))
    ponder.ingest([EXAMPLES])
    provider.replies.append(Reply(body=chat_response("Two hours [1].")))
    answer = ponder.ask("How long is the oolong roasted?", docs=[other])
    assert {Path(h.chunk.path).parent for h in answer.hits} == {other.resolve()}
    assert list(answer.timings)[0] == "ingest"


def test_no_matching_passage_answers_without_calling_the_model(make_ponder, provider: FakeProvider) -> None:
    # BM25 alone: dense retrieval always finds nearest neighbours, however far (see retrieve.min_score)
    ponder = make_ponder(**_endpoint_settings(provider), **{"retrieve.mode": "bm25"})
    ponder.ingest([EXAMPLES])
    answer = ponder.ask("quantum chromodynamics lattice")
    assert answer.hits == [] and answer.citations == [] and "No passage" in answer.text
    assert provider.requests == []


def test_nothing_ingested_is_a_clear_error(make_ponder, tmp_path: Path) -> None:
    with pytest.raises(NothingToSearch, match="nothing is ingested in .*ponder ingest"):
        make_ponder().ask("anything?")
    with pytest.raises(NothingToSearch, match="nothing could be ingested from .*no such file"):
        make_ponder().ask("anything?", docs=[tmp_path / "missing"])


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "ponder.cli", "--data-dir", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})


def test_cli_ask_errors(tmp_path: Path, provider: FakeProvider) -> None:
    result = _cli(tmp_path, "ask", "anything?")
    assert result.returncode == 1 and "nothing is ingested" in result.stderr
    unreachable = {"PONDER_CHAT__BASE_URL": "http://127.0.0.1:9/v1", "PONDER_CHAT__MODEL": "r1"}
    result = _cli(tmp_path, "ask", "How long is the oolong roasted?", "--docs", str(EXAMPLES), env=unreachable)
    assert result.returncode == 1 and "cannot reach chat model 'r1' at http://127.0.0.1:9/v1" in result.stderr


def test_cli_ask_prints_thinking_answer_citations_and_timings(tmp_path: Path, provider: FakeProvider) -> None:
    env = {"PONDER_CHAT__BASE_URL": provider.url, "PONDER_CHAT__MODEL": "deepseek-reasoner"}
    provider.replies.append(Reply(body=chat_response("Eight hours [1].", "reasoning_content", "Check passage 1.",
                                                     {"prompt_tokens": 321, "completion_tokens": 12})))
    result = _cli(tmp_path, "ask", "How long is the oolong roasted?", "--docs", str(EXAMPLES), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("Thinking") < lines.index("Answer") < lines.index("Citations")
    assert "Check passage 1." in result.stdout and "Eight hours [1]." in result.stdout
    assert "[1] " in result.stdout and "tea-cooperative.md" in result.stdout and "Oolong" in result.stdout
    assert "ingest " in lines[-1] and "retrieve " in lines[-1] and "answer " in lines[-1]
    assert "321 prompt + 12 completion tokens" in lines[-1]
    assert "Grounding: supported (checked against the cited passages)" in result.stdout

    provider.replies.append(Reply(body=chat_response("Eight hours [1].", "reasoning_content", "hidden")))
    quiet = _cli(tmp_path, "ask", "How long is the oolong roasted?", "--no-thinking", env=env)
    assert "hidden" not in quiet.stdout and "Eight hours" in quiet.stdout

    provider.replies.append(Reply(body=chat_response("Eight hours [1].")))
    data = json.loads(_cli(tmp_path, "ask", "How long is the oolong roasted?", "--json", env=env).stdout)
    assert data["text"] == "Eight hours [1]." and data["citations"][0]["chunk_id"] == data["hits"][0]["chunk"]["id"]
    assert data["trace"]["steps"][0]["stage"] == "retrieve"

    # every call above is in the log, newest first
    logged = _cli(tmp_path, "log", "-n", "2", env=env)
    first, answer_line = logged.stdout.splitlines()[:2]
    assert "chat deepseek-reasoner answer" in first and "Eight hours [1]." in answer_line
    calls = json.loads(_cli(tmp_path, "log", "--json", env=env).stdout)
    assert len(calls) == 3 and calls[-1]["thinking"] == "Check passage 1." and calls[-1]["prompt_tokens"] == 321
    assert "oolong" in calls[0]["prompt"][0]["content"]
    full = _cli(tmp_path, "log", "-n", "1", "--full", env=env).stdout
    assert "prompt" in full and "How long is the oolong roasted?" in full

    provider.replies.append(Reply(body=chat_response("Ten days [1].")))
    flagged = _cli(tmp_path, "ask", "How long is the oolong roasted?", env=env)
    assert "Grounding: unsupported" in flagged.stdout
    assert "number Ten days: no passage gives this number" in flagged.stdout


def test_cli_search_shows_file_page_and_score(tmp_path: Path) -> None:
    assert _cli(tmp_path, "ingest", str(EXAMPLES)).returncode == 0
    result = _cli(tmp_path, "search", "life jacket wind")
    assert result.returncode == 0
    first, snippet = result.stdout.splitlines()[:2]
    assert "ashby-field-station.pdf p.1" in first and first.split()[1].replace(".", "").isdigit()
    assert "bm25 #1" in first and "dense #" in first and "life jacket" in snippet
    hits = json.loads(_cli(tmp_path, "search", "图书馆几点开门", "--json", "--glob", "*.md").stdout)
    assert hits and all(hit["path"].endswith(".md") for hit in hits)
    assert set(hits[0]["ranks"]) <= {"bm25", "dense"} and hits[0]["heading_path"][0] == "青溪村图书馆简介"
    assert json.loads(_cli(tmp_path, "search", "图书馆几点开门", "--json", "--before", "2000-01-01").stdout) == []
    assert json.loads(_cli(tmp_path, "search", "图书馆几点开门", "--json", "--after", "2000-01-01").stdout)
    bad = _cli(tmp_path, "search", "图书馆", "--after", "yesterday")
    assert bad.returncode == 2 and "--after" in bad.stderr and "YYYY-MM-DD" in bad.stderr


def test_snippet_centres_on_the_query_and_highlight_marks_terms() -> None:
    from ponder.cli import highlight, snippet

    text = "Intro. " * 40 + "The oolong is roasted over charcoal for eight hours." + " Outro." * 40
    cut = snippet(text, "how long is oolong roasted", width=80)
    assert "oolong is roasted" in cut and cut.startswith("…") and cut.endswith("…") and len(cut) == 82
    assert highlight("Oolong [tea] roasted", "oolong roasted") == (
        "[bold yellow]Oolong[/] \\[tea] [bold yellow]roasted[/]")
    assert "[bold yellow]闭馆[/]" in highlight("每周一闭馆整理图书", "哪天闭馆")


def test_cli_ask_docs_reports_bad_files_and_still_answers(tmp_path: Path, provider: FakeProvider) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "facts.txt").write_text("The ferry leaves at 7:15 every morning.", encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\x00\xff\x00 binary")
    provider.replies.append(Reply(body=chat_response("At 7:15 [1].")))
    env = {"PONDER_CHAT__BASE_URL": provider.url, "PONDER_CHAT__MODEL": "deepseek-chat"}
    result = _cli(tmp_path, "ask", "When does the ferry leave?", "--docs", str(folder), env=env)
    assert result.returncode == 0, result.stderr
    assert "failed:" in result.stderr and "broken.txt" in result.stderr
    assert "At 7:15 [1]." in result.stdout and "facts.txt" in result.stdout
