"""TAT-QA in `ponder eval`: its raw JSON as a corpus and questions, its own scores (exact match and
numeracy F1 with the scale), and the calculator's effect measured against a replayed model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.config import load_config
from ponder.evaluate import load_dataset
from ponder.evaluate.report import aggregate, write_report
from ponder.evaluate.runner import EvalRunner, System
from ponder.evaluate.tatqa import tatqa_scores
from tests.fake_provider import FakeProvider, Reply, chat_response

CONTEXT = {
    "table": {"uid": "t1", "table": [["", "2019", "2018"], ["Fixed Price", "$ 1,452.4", "$ 1,146.2"],
                                     ["Other", "44.1", "56.7"], ["Total sales", "$ 1,496.5", "$ 1,202.9"]]},
    "paragraphs": [{"uid": "p1", "order": 1, "text": "Sales are shown in millions. Fixed price contracts are most "
                                                     "of the company's revenue."}],
    "questions": [
        {"uid": "q-change", "order": 1, "question": "What was the change in Other from 2018 to 2019?",
         "answer": -12.6, "derivation": "44.1-56.7", "answer_type": "arithmetic", "answer_from": "table",
         "scale": "million"},
        {"uid": "q-span", "order": 2, "question": "What are most of the company's revenue?",
         "answer": ["Fixed price contracts"], "derivation": "", "answer_type": "span", "answer_from": "text",
         "scale": ""},
    ],
}


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "tatqa_mini.json"
    path.write_text(json.dumps([CONTEXT]), encoding="utf-8")
    return path


def test_a_context_is_one_markdown_document_and_its_questions_keep_their_gold_record(tmp_path: Path) -> None:
    dataset = load_dataset(f"tatqa:{_file(tmp_path)}")
    [(passage_id, text)] = dataset.corpus.items()
    assert "| Other | 44.1 | 56.7 |" in text and "Sales are shown in millions." in text
    change, span = dataset.questions
    assert change.relevant == {passage_id} and change.type == "arithmetic/table" and span.type == "span/text"
    assert change.gold["scale"] == "million" and change.answers == ["-12.6"]


def test_the_shared_dev_set_loads(shared: Path) -> None:
    dataset = load_dataset("tatqa:dev", shared=shared)
    assert len(dataset.corpus) == 278 and len(dataset.questions) == 1668
    assert sum(q.gold["answer_type"] == "arithmetic" for q in dataset.questions) == 718


@pytest.mark.parametrize("answer, gold, em", [
    ("The change in Other from 2018 to 2019 is 44.1 − 56.7 = -12.6 [1].", (-12.6, ""), 1.0),
    ("Other fell by 12.6 [1].", (-12.6, ""), 0.0),  # the sign is the answer
    ("It grew by $293.6 million [1].", (293600, "thousand"), 1.0),  # scales applied before comparing
    ("It grew by 293.6 [1].", (293.6, "million"), 1.0),  # no scale written: the table's
    ("The percentage change is (1,496.5 − 1,202.9) / 1,202.9 = 24.41% [1].", (24.41, "percent"), 1.0),
    ("The percentage change is 24.4% [1].", (24.41, "percent"), 0.0),  # compared at two decimals
    ("No passage gives it.", (24.41, "percent"), 0.0),
])
def test_arithmetic_answers_are_read_and_scored_as_tatqa_does(answer: str, gold: tuple[float, str], em: float) -> None:
    record = {"answer": gold[0], "answer_type": "arithmetic", "scale": gold[1], "answer_from": "table",
              "question": "What is the change from 2018 to 2019?"}
    scores = tatqa_scores(answer, record)
    assert scores["em"] == em and scores["f1"] == em


def test_span_answers_get_the_bag_f1() -> None:
    record = {"answer": ["Fixed price contracts"], "answer_type": "span", "scale": "", "answer_from": "text"}
    assert tatqa_scores("Fixed price contracts [1].", record) == {"em": 1.0, "f1": 1.0, "predicted":
                                                                  "Fixed price contracts.", "scale": ""}
    quoted = tatqa_scores("Fixed price contracts are most of the company's revenue [1].", record)
    assert quoted["em"] == 0.0 and 0.5 < quoted["f1"] < 1.0


def test_the_calculator_against_quoting_on_tatqa(tmp_path: Path) -> None:
    provider = FakeProvider().start()
    try:
        provider.default = Reply(body=chat_response('{"sentences": [1]}', model="fast-chat"))
        dataset = load_dataset(f"tatqa:{_file(tmp_path)}")
        settings = {"data_dir": str(tmp_path / "index"), "chat.base_url": provider.url, "chat.model": "fast-chat",
                    "chat.retries": 0, "retrieve.mode": "bm25", "reason.answer_style": "extractive"}
        corpus = dataset.write_corpus(tmp_path / "corpus")
        from ponder import Ponder

        with Ponder(load_config(env={}, overrides=settings)) as ponder:
            ponder.ingest([corpus])
        systems = [System("direct", "direct"), System("direct+no-calculator", "direct", {"reason.calculator": False})]
        rows = EvalRunner(lambda s: load_config(env={}, overrides=settings | s.overrides), dataset, systems,
                          tmp_path / "out").run()
    finally:
        provider.stop()
    scores = {(row["system"], row["question_id"]): row["scores"] for row in rows}
    assert scores[("direct", "q-change")]["correct"] is True and scores[("direct", "q-change")]["predicted"] == "-12.6"
    assert scores[("direct+no-calculator", "q-change")]["correct"] is False
    table = aggregate(rows)
    assert table["direct"]["by_type"]["arithmetic/table"] == 1.0
    assert table["direct+no-calculator"]["by_type"]["arithmetic/table"] == 0.0
    assert table["direct"]["numbers_derived"] > 0 and table["direct"]["f1"] is not None
    markdown, _ = write_report(rows, tmp_path / "out", "", "TAT-QA mini")
    report = markdown.read_text(encoding="utf-8")
    assert "## Numeracy F1 by question type (TAT-QA)" in report and "numbers written | derived | unsupported" in report
