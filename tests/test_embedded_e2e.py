"""End to end on the real embedded model: llama.cpp server + Gemma 3 270M, offline.

The model is a small base model, so these tests check behaviour, not answer quality: the server
starts and stops, citations point at ingested chunks, timings and token counts are filled.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ponder import Ponder, load_config
from ponder.config import EmbeddedModelConfig
from ponder.llm import LocalServer, LocalServerError
from tests.conftest import EXAMPLES, write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ponder(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("embedded")
    instance = Ponder(load_config(env={}, overrides={"data_dir": str(data_dir)}))
    instance.ingest([EXAMPLES])
    yield instance
    instance.close()


@pytest.mark.parametrize("question, language", [
    ("How long is the oolong roasted?", "en"),
    ("青溪村图书馆每周哪天闭馆？", "zh"),
])
@pytest.mark.parametrize("style", ["auto", "generative"])
def test_answer_cites_ingested_chunks_with_timings_and_tokens(ponder: Ponder, question: str, language: str,
                                                               style: str) -> None:
    """The embedded base model answers extractively by default (auto): passage sentences quoted
    verbatim, with citations, which the grounding check finds supported; generative on request."""
    ponder.config.reason.answer_style = style
    try:
        answer = ponder.ask(question)
    finally:
        ponder.config.reason.answer_style = "auto"
    assert answer.language == language
    assert answer.hits, "retrieval found nothing"
    assert answer.citations, f"no citation for {answer.text!r}"
    hit_ids = {hit.chunk.id for hit in answer.hits}
    stored = {chunk.id: chunk for chunk in ponder.store.get_chunks([c.chunk_id for c in answer.citations])}
    for citation in answer.citations:
        assert citation.chunk_id in hit_ids and citation.chunk_id in stored
        assert citation.path == stored[citation.chunk_id].path and Path(citation.path).parent == EXAMPLES
    assert answer.timings["retrieve"] > 0 and answer.timings["answer"] > 0
    assert answer.thinking == ""  # a base model does not think aloud
    assert "<think>" not in answer.text
    assert answer.grounding is not None and answer.grounding.verdict != "not checked"
    assert answer.timings["grounding"] > 0
    if style == "generative":
        assert answer.model == "gemma-3-270m-q4_k_m"
        assert answer.usage.prompt_tokens > 100 and answer.usage.completion_tokens > 0
        assert not answer.usage.estimated  # llama.cpp reports usage
        generate = answer.trace.steps[-2]
        assert generate.stage == "llm" and generate.detail["purpose"] == "answer" and generate.detail["role"] == "chat"
        assert generate.detail["prompt"].rstrip().endswith("Answer:" if language == "en" else "回答：")
        return
    # A base model does not choose (it echoes the first candidate): the best-ranked sentence is quoted,
    # verbatim, with no model call, and a second only when it adds support (not the library's founding
    # year to "which day is it closed"); the grounding check finds them supported.
    assert not [s for s in answer.trace.steps if s.stage == "llm"] and answer.usage.total_tokens == 0
    extract = next(s for s in answer.trace.steps if s.stage == "extract")
    chosen = extract.detail["chosen"]
    assert extract.detail["chosen_by"] == "scorer" and chosen[0] == 1 and len(chosen) <= 2
    assert "1998" not in answer.text and "euros" not in answer.text
    quoted = [tuple(extract.detail["candidates"][number - 1][:2]) for number in chosen]
    assert answer.text == " ".join(f"{text} [{passage}]" for passage, text in quoted)
    assert all(text in answer.hits[passage - 1].chunk.text for passage, text in quoted)  # verbatim
    assert answer.grounding.verdict == "supported", answer.grounding


@pytest.mark.parametrize("mode", ["reasoner", "think-then-answer", "agentic", "corrective", "auto"])
@pytest.mark.parametrize("question", ["How long is the oolong roasted?", "青溪村图书馆每周哪天闭馆？"])
def test_every_mode_runs_on_the_embedded_model(ponder: Ponder, mode: str, question: str) -> None:
    """The 270M base model ignores instructions: every mode must still finish, with each step
    recorded, citations pointing at chunks it was given, budgets held — and, held to the schema by a
    grammar, its plans, grades and routes parse, so the loops really run."""
    answer = ponder.ask(question, mode=mode)
    calls = [s for s in answer.trace.walk() if s.stage == "llm"]
    assert all(c.detail["prompt_tokens"] > 0 and c.seconds > 0 for c in calls)
    assert answer.usage.prompt_tokens == sum(c.detail["prompt_tokens"] for c in calls)
    nothing_relevant = mode == "corrective" and not answer.hits  # every passage graded irrelevant: no answer
    quoted = [s for s in answer.trace.walk() if s.stage == "extract"]  # base model: the answer is quoted
    assert len(quoted) == (0 if nothing_relevant else 1) and "<think>" not in answer.text
    if mode in ("think-then-answer", "agentic", "corrective"):
        assert calls  # the reasoner's notes, the plans, the grades
    given = {hit.chunk.id for hit in answer.hits}
    stored = {chunk.id for chunk in ponder.store.get_chunks(list(given))}
    assert all(c.chunk_id in given for c in answer.citations) and given == stored
    structured = [c for c in calls if c.detail["purpose"] in ("plan", "grade", "route")]
    assert all(c.detail["format"] == "grammar" and c.detail["output"].startswith("{") for c in structured)
    assert not [f for f in answer.fallbacks if f.split(":")[0] in ("plan", "grade", "route")], answer.fallbacks
    if mode == "agentic":
        steps = [s for s in answer.trace.steps if s.stage.startswith("step ")]
        assert 1 <= len(steps) <= ponder.config.reason.max_steps
        searches = [s.detail["query"] for s in answer.trace.walk() if s.stage == "retrieve"]
        assert searches and all(q and not q.startswith("<") for q in searches)
    if mode == "auto":
        assert answer.route and answer.mode.startswith("auto → ")


def test_server_starts_once_and_stops_on_close(tmp_path: Path) -> None:
    instance = Ponder(load_config(env={}, overrides={"data_dir": str(tmp_path / "data")}))
    instance.ingest([EXAMPLES])
    first = instance.ask("Who must wear a life jacket?")
    assert "start_model" in first.timings and first.timings["start_model"] > 0
    server = instance.model("chat").endpoint
    pid = server.pid
    assert server.running and _alive(pid)
    second = instance.ask("Where is the first-aid kit kept?")
    assert "start_model" not in second.timings and server.pid == pid
    instance.close()
    assert not _alive(pid)


def test_the_embedded_server_answers_only_ponder(tmp_path: Path) -> None:
    """llama-server allows every origin; without its per-start key, a web page or another local
    program could use the model. The key travels in the environment, not on the command line."""
    import httpx

    config = EmbeddedModelConfig()
    server = LocalServer(config, log_path=tmp_path / "llama-server.log")
    try:
        url = server.url()
        body = {"prompt": "The capital of France is", "max_tokens": 2}
        stranger = httpx.post(url + "/completions", json=body, headers={"Origin": "http://evil.example"}, timeout=60)
        wrong = httpx.post(url + "/completions", json=body, headers={"Authorization": "Bearer guess"}, timeout=60)
        ponder = httpx.post(url + "/completions", json=body, headers={"Authorization": f"Bearer {server.api_key}"},
                            timeout=60)
        assert stranger.status_code == 401 and wrong.status_code == 401 and ponder.status_code == 200
        assert server.api_key not in Path(f"/proc/{server.pid}/cmdline").read_text(errors="replace")
        assert server.api_key not in (tmp_path / "llama-server.log").read_text(errors="replace")
    finally:
        server.close()


def test_a_crashed_server_gives_a_clear_error_and_is_restarted_for_the_next_request(tmp_path: Path) -> None:
    # generative: the default extractive answer would not call the model at all
    instance = Ponder(load_config(env={}, overrides={"data_dir": str(tmp_path / "data"),
                                                     "reason.answer_style": "generative"}))
    try:
        instance.ingest([EXAMPLES])
        instance.ask("Who must wear a life jacket?")
        server = instance.model("chat").endpoint
        killed = server.pid
        os.kill(killed, signal.SIGKILL)
        server._process.wait(timeout=10)
        with pytest.raises(LocalServerError, match=r"embedded model server exited with code -9; it is restarted for "
                                                   r"the next request; last lines of .*llama-server.log"):
            instance.ask("Where is the first-aid kit kept?")
        answer = instance.ask("Where is the first-aid kit kept?")  # on a new server
        assert answer.text and server.pid != killed and server.running
        assert (tmp_path / "data" / "run" / "llama-server.log").read_text().count("--- starting") == 2
    finally:
        instance.close()


def test_server_that_cannot_start_quotes_its_log(tmp_path: Path) -> None:
    not_a_model = write(tmp_path / "fake.gguf", "this is not a GGUF file")
    config = load_config(env={}, overrides={"data_dir": str(tmp_path / "data"),
                                            "embedded.model_path": str(not_a_model)})
    with Ponder(config) as instance:
        instance.ingest([EXAMPLES])
        with pytest.raises(LocalServerError, match=r"exited with code \d+ while starting; last lines of"):
            instance.ask("Who must wear a life jacket?")
    config = load_config(env={}, overrides={"data_dir": str(tmp_path / "data2"),
                                            "embedded.model_path": str(tmp_path / "missing.gguf")})
    with Ponder(config) as instance:
        instance.ingest([EXAMPLES])
        expected = r"model file not found: .*missing.gguf \(setting embedded.model_path\)"
        with pytest.raises(LocalServerError, match=expected):
            instance.ask("Who must wear a life jacket?")


def test_demo_command_runs_end_to_end(tmp_path: Path) -> None:
    """Run from elsewhere, over a demo index an older version wrote: the demo rebuilds the folder it
    owns, and cites the sample files by their own names."""
    old = tmp_path / "demo" / "ponder.db"
    old.parent.mkdir()
    with sqlite3.connect(old) as db:
        db.executescript("CREATE TABLE chunks (id TEXT); CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                         "INSERT INTO meta VALUES ('schema', '1');")
    result = subprocess.run([sys.executable, "-m", "ponder.cli", "--data-dir", str(tmp_path), "demo"],
                            capture_output=True, text=True, timeout=300, env={**os.environ}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "written by another version" in result.stderr and "rebuilding" in result.stderr
    out = result.stdout
    cited = [line.strip() for line in out.splitlines() if re.match(r"\s+\[\d+\] ", line)]
    assert cited and all(re.match(r"\[\d+\] examples/[\w-]+\.(md|pdf|html|docx|txt)\b", line) for line in cited), cited
    assert "4 ingested" in out
    assert out.count("Question:") == 2 and out.count("Answer") >= 2
    assert "Citations" in out or "No citations" in out
    assert "青溪村图书馆每周哪天闭馆？" in out
    assert "start_model" in out and "answer " in out and "prompt +" in out
    # the embedded model's answers are quoted passage sentences, which the check finds supported
    assert out.count("the answer is quoted from the passages") == 2 and out.count("Grounding: supported") == 2
    assert (tmp_path / "demo" / "ponder.db").is_file()


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    status = Path(f"/proc/{pid}/status")
    return not (status.is_file() and "zombie" in status.read_text())
