"""`ponder eval` end to end against a replayed provider: scores, the report, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ponder import Ponder
from ponder.config import load_config
from ponder.evaluate import Dataset, EvalQuestion
from ponder.evaluate.report import aggregate, disagreements
from ponder.evaluate.runner import EvalRunner, System, read_results
from ponder.evaluate.scoring import Price
from tests.conftest import EXAMPLES, write
from tests.fake_provider import FakeProvider, Reply, chat_response

QUESTIONS = [
    {"id": "oolong", "question": "How long is the oolong roasted?", "answers": ["eight hours", "8 hours"],
     "relevant": ["tea-cooperative.md"], "type": "lookup"},
    {"id": "closed", "question": "青溪村图书馆每周哪天闭馆？", "answers": ["周一", "星期一"],
     "relevant": ["青溪图书馆.md"], "type": "lookup"},
    {"id": "jacket", "question": "Who must wear a life jacket?", "answers": ["everyone"], "type": "safety"},
]


def _dataset_file(tmp_path: Path) -> Path:
    return write(tmp_path / "qa.jsonl", "\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS))


def _env(provider: FakeProvider) -> dict[str, str]:
    return {"PONDER_CHAT__BASE_URL": provider.url, "PONDER_CHAT__MODEL": "deepseek-chat",
            "PONDER_RETRIEVE__MODE": "bm25", "PONDER_CHAT__RETRIES": "0"}


def test_scores_and_report_through_the_runner(tmp_path: Path) -> None:
    provider = FakeProvider().start()
    try:
        provider.default = Reply(body=chat_response("The oolong is roasted for eight hours [1].",
                                                    usage={"prompt_tokens": 1000, "completion_tokens": 100},
                                                    model="deepseek-chat"))
        settings = {"data_dir": str(tmp_path / "index"), "chat.base_url": provider.url, "chat.model": "deepseek-chat",
                    "retrieve.mode": "bm25", "prices": {"deepseek-chat": {"input": 0.27, "output": 1.10}}}
        with Ponder(load_config(env={}, overrides=settings)) as ponder:
            ponder.ingest([EXAMPLES])
        dataset = Dataset("qa", [EvalQuestion(q["id"], q["question"], q["answers"], frozenset(q.get("relevant", [])),
                                              q["type"]) for q in QUESTIONS])
        systems = [System("direct", "direct"), System("corrective", "corrective")]
        prices = {"deepseek-chat": Price(0.27, 1.10)}
        rows = EvalRunner(lambda s: load_config(env={}, overrides=settings | s.overrides), dataset, systems,
                          tmp_path / "out", prices=prices).run()
    finally:
        provider.stop()
    assert len(rows) == 6 and not any(row["error"] for row in rows)
    direct = {row["question_id"]: row["scores"] for row in rows if row["system"] == "direct"}
    assert direct["oolong"]["correct"] is True and direct["closed"]["correct"] is False
    assert direct["oolong"]["recall@5"] == 1.0 and direct["oolong"]["citation_precision"] == 1.0
    assert direct["oolong"]["cost"] == (1000 * 0.27 + 100 * 1.10) / 1e6
    assert direct["jacket"]["recall@5"] is None  # no relevant passages given for it
    table = aggregate(rows)
    assert table["direct"]["accuracy"] == 1 / 3 and table["direct"]["questions"] == 3
    assert table["direct"]["by_type"] == {"lookup": 0.5, "safety": 0.0}
    # corrective grades before answering: more calls, more tokens, for the same answers here
    assert table["direct"]["fallback_rate"] == 0.0 and table["corrective"]["tokens"] > table["direct"]["tokens"]
    assert disagreements(rows) == []  # same scripted answer everywhere
    # "eight hours" answers the oolong question from its passage; for the other two no passage says it
    verdicts = {row["question_id"]: row["answer"]["grounding"]["verdict"] for row in rows if row["system"] == "direct"}
    assert verdicts == {"oolong": "supported", "closed": "unsupported", "jacket": "unsupported"}
    assert table["direct"]["checked"] == 3 and table["direct"]["unsupported_rate"] == 2 / 3
    assert table["direct"]["accuracy_supported"] == 1.0 and table["direct"]["accuracy_unsupported"] == 0.0


def test_cli_eval_resumes_after_a_kill_without_asking_twice(tmp_path: Path) -> None:
    provider = FakeProvider().start()
    try:
        provider.default = Reply(body=chat_response("It is roasted for eight hours [1]."), delay_s=0.4)
        env = {**os.environ, **_env(provider)}
        command = [sys.executable, "-m", "ponder.cli", "eval", f"jsonl:{_dataset_file(tmp_path)}", "--out",
                   str(tmp_path / "out"), "--corpus", str(EXAMPLES), "--mode", "direct", "--mode", "reasoner"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        results = tmp_path / "out" / "results.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and (not results.is_file() or len(results.read_text().splitlines()) < 2):
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        answered_before = len(read_results(tmp_path / "out"))
        assert 2 <= answered_before < 6
        asked_before = len(provider.requests)

        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
    finally:
        provider.stop()
    rows = read_results(tmp_path / "out")
    assert sorted((r["system"], r["question_id"]) for r in rows) == sorted(
        (s, q["id"]) for s in ("direct", "reasoner") for q in QUESTIONS)
    # no question asked twice: the second run asked only for the ones not yet recorded (one may have
    # been in flight when the first was killed)
    asked_after = len(provider.requests) - asked_before
    assert 6 - answered_before <= asked_after <= 6 - answered_before + 1
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| direct |" in report and "| reasoner |" in report and "## Accuracy by question type" in report
    assert "wall time" in report and "## Configuration" in report and "![Accuracy vs. latency]" in report
    assert "## Grounding check" in report and "| unsupported |" in report
    # the killed run kept its time up to its last answer; the report's wall time counts both runs
    runs = (tmp_path / "out" / "runs.jsonl").read_text().splitlines()
    killed, resumed = (json.loads(line) for line in runs)
    assert 1 <= killed["asked"] <= answered_before and killed["seconds"] > 0
    assert resumed["asked"] == 6 - answered_before
    assert f"wall time {killed['seconds'] + resumed['seconds']:.0f} s" in report
    # asking again only redraws the report: nothing asked, no run recorded
    third = subprocess.run(command, env=env | {"PONDER_CHAT__BASE_URL": "http://127.0.0.1:9"},
                           capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and "0 asked" in third.stdout, third.stderr
    assert (tmp_path / "out" / "runs.jsonl").read_text().splitlines() == runs and len(runs) == 2
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4 and "src='http" not in page and "<th>direct</th>" in page
    for plot in ("accuracy_latency", "accuracy_tokens", "tokens", "accuracy_by_type"):
        assert (tmp_path / "out" / "plots" / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"


def test_report_marks_the_best_and_draws_the_budget_curve(tmp_path: Path) -> None:
    from ponder.evaluate.report import best_per_column, write_report

    def row(system: str, question: str, correct: bool, seconds: float, tokens: int) -> dict:
        scores = {"correct": correct, "refusal": False, "refusal_correct": None, "no_answer": False,
                  "fell_back": False, "fallbacks": 0, "invalid_citations": 0, "seconds": seconds,
                  "timings": {"retrieve": 0.01, "answer": seconds}, "prompt_tokens": tokens,
                  "completion_tokens": tokens // 10, "reasoning_tokens": tokens // 20, "tokens_estimated": False,
                  "cost": tokens * 1e-6, "steps": 1, "recall@5": 1.0, "recall@20": 1.0, "mrr@10": 1.0,
                  "citation_precision": 1.0, "citation_recall": 1.0}
        return {"system": system, "mode": system.split("@")[0], "question_id": question, "question": question,
                "type": "t", "error": None, "scores": scores, "answer": {"text": f"{system} says {question}"}}

    rows = [row(f"agentic@{n}", q, correct=(n >= 2 or q == "a"), seconds=n, tokens=1000 * n)
            for n in (1, 2, 4) for q in ("a", "b")] + [row("direct", q, q == "a", 0.5, 500) for q in ("a", "b")]
    silent = row("corrective", "b", False, 1, 100) | {"answer": {"text": ""}}
    failed = row("think-then-answer", "b", False, 1, 100) | {"answer": None, "error": "LLMError: timed out"}
    assert [d["answers"] for d in disagreements(rows + [silent, failed]) if d["question"] == "b"][0] == {
        **{f"agentic@{n}": f"agentic@{n} says b" for n in (1, 2, 4)}, "direct": "direct says b",
        "corrective": "(no answer)", "think-then-answer": "(error: LLMError: timed out)"}
    table = aggregate(rows)
    best = best_per_column(table)
    assert best["accuracy"] == {"agentic@2", "agentic@4"} and best["p50_s"] == {"direct"}
    markdown, page = write_report(rows, tmp_path, "[reason]\nmode = 'agentic'", "budgets",
                                  budgets={f"agentic@{n}": n for n in (1, 2, 4)})
    text = markdown.read_text(encoding="utf-8")
    assert "| agentic@2 | **1.000** |" in text and "| direct | 0.500 |" in text
    assert "Where the systems disagree (1 questions)" in text and "agentic@1 (wrong): agentic@1 says b" in text
    assert "class='best'" in page.read_text(encoding="utf-8")


def test_compare_flags_flips_and_uses_a_paired_bootstrap(tmp_path: Path) -> None:
    from ponder.evaluate.compare import bootstrap_interval, compare_runs

    def rows(correct: list[bool]) -> list[dict]:
        return [{"system": "direct", "question_id": str(i), "question": f"q{i}", "error": None,
                 "scores": {"correct": c, "recall@5": None, "seconds": 1.0, "prompt_tokens": 10,
                            "completion_tokens": 1}} for i, c in enumerate(correct)]

    before, after = rows([False] * 40), rows([True] * 30 + [False] * 10)
    report = compare_runs(before, after)
    assert "| direct | accuracy | 0.000 | 0.750 | +0.750 |" in report and "| yes |" in report
    assert "30 questions flipped." in report and "- direct: wrong → right: q0" in report
    noise = compare_runs(rows([True, False] * 20), rows([False, True] * 20))
    assert "| direct | accuracy | 0.500 | 0.500 | +0.000 |" in noise and "| no |" in noise
    low, high = bootstrap_interval([1.0, -1.0] * 50)
    assert low < 0 < high

    for name, data in (("before", before), ("after", after)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "results.jsonl").write_text("\n".join(json.dumps(r) for r in data), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "ponder.cli", "eval", "--compare", str(tmp_path / "before"),
                             str(tmp_path / "after")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "30 questions flipped." in result.stdout and "95% interval" in result.stdout


def test_judge_grades_apart_from_containment(tmp_path: Path) -> None:
    provider = FakeProvider().start()
    try:
        settings = {"data_dir": str(tmp_path / "index"), "chat.base_url": provider.url, "chat.model": "deepseek-chat",
                    "judge.base_url": provider.url, "judge.model": "judge-model", "retrieve.mode": "bm25"}
        with Ponder(load_config(env={}, overrides=settings)) as ponder:
            ponder.ingest([EXAMPLES])
        provider.replies += [Reply(body=chat_response("Roughly a third of a day [1].")),
                             Reply(body=chat_response('{"correct": true, "why": "8 hours is a third of a day"}'))]
        dataset = Dataset("qa", [EvalQuestion("oolong", "How long is the oolong roasted?", ["eight hours"])])
        [row] = EvalRunner(lambda s: load_config(env={}, overrides=settings), dataset, [System("direct", "direct")],
                           tmp_path / "out", judge=True).run()
    finally:
        provider.stop()
    assert row["scores"]["correct"] is False and row["scores"]["judge_correct"] is True
    judge_request = provider.requests[1]["json"]
    assert judge_request["model"] == "judge-model" and "Expected answer(s): eight hours" in judge_request[
        "messages"][0]["content"]
    table = aggregate([row])
    assert table["direct"]["judge_accuracy"] == 1.0 and table["direct"]["accuracy"] == 0.0


def test_questions_run_concurrently_and_failures_are_recorded(tmp_path: Path) -> None:
    provider = FakeProvider().start()
    try:
        settings = {"data_dir": str(tmp_path / "index"), "chat.base_url": provider.url, "chat.model": "m",
                    "chat.retries": 0, "retrieve.mode": "bm25"}
        with Ponder(load_config(env={}, overrides=settings)) as ponder:
            ponder.ingest([EXAMPLES])
        provider.default = Reply(body=chat_response("Eight hours [1]."), delay_s=0.3)
        provider.replies.append(Reply(500, "upstream exploded"))  # the first question asked fails
        questions = [EvalQuestion(str(i), f"How long is the oolong roasted? ({i})", ["eight hours"]) for i in range(6)]
        rows = EvalRunner(lambda s: load_config(env={}, overrides=settings), Dataset("qa", questions),
                          [System("direct", "direct")], tmp_path / "out", concurrency=3).run()
    finally:
        provider.stop()
    assert provider.max_in_flight == 3
    failed = [row for row in rows if row["error"]]
    assert len(rows) == 6 and len(failed) == 1 and "HTTP 500: upstream exploded" in failed[0]["error"]
    assert aggregate(rows)["direct"]["errors"] == 1 and aggregate(rows)["direct"]["accuracy"] == 1.0


def test_the_budget_curve_reuses_plain_agentic_at_the_configured_limit() -> None:
    from ponder.evaluate.runner import System, budget_curve

    every_mode = [System("direct", "direct"), System("agentic", "agentic")]
    assert budget_curve(every_mode, [1, 2, 4, 2], default_steps=4) == {"agentic@1": 1, "agentic@2": 2, "agentic": 4}
    assert budget_curve([System("direct", "direct")], [1, 4], default_steps=4) == {"agentic@1": 1, "agentic@4": 4}
    assert budget_curve(every_mode, [], default_steps=4) == {}


def test_systems_that_differ_only_in_reasoning_settings_share_their_models() -> None:
    from ponder.backends import Backends
    from ponder.config import load_config

    base = load_config(env={}, overrides={"data_dir": "/tmp/x"})
    budget = load_config(env={}, overrides={"data_dir": "/tmp/x", "reason.max_steps": 1, "reason.mode": "agentic"})
    other_model = load_config(env={}, overrides={"data_dir": "/tmp/x", "reasoner.model": "deepseek-reasoner",
                                                 "reasoner.base_url": "http://127.0.0.1:9/v1"})
    assert Backends.key(base) == Backends.key(budget)
    assert Backends.key(base) != Backends.key(other_model)


def test_plots_draw_chinese_labels_with_real_glyphs(tmp_path: Path) -> None:
    """Chinese system names and question types are drawn from a font that has their glyphs:
    matplotlib warns "Glyph … missing from font(s)" for each one it would draw as a box."""
    import warnings

    from matplotlib import font_manager

    from ponder.evaluate.plots import CJK_FONTS, draw_plots, font_families

    installed = [name for name in font_families() if name in CJK_FONTS]
    assert installed, ("no Chinese font installed: the README's test command installs fonts-wqy-microhei; "
                       f"any of {', '.join(CJK_FONTS)} will do")
    font = font_manager.get_font(font_manager.findfont(installed[0], fallback_to_default=False))
    assert all(font.get_char_index(ord(char)) for char in "中文事实问答")
    row = {"accuracy": 0.5, "p50_s": 1.0, "tokens": 900, "prompt_tokens": 800, "reasoning_tokens": 50,
           "completion_tokens": 100, "by_type": {"事实": 0.5, "多跳推理": 0.25}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = draw_plots({"中文直答": row, "agentic": row | {"accuracy": 0.75}}, tmp_path)
    assert set(drawn) == {"accuracy_latency", "accuracy_tokens", "tokens", "by_type"}
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
