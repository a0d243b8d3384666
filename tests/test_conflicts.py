"""Passages that disagree: found without a model in English and Chinese, said in the answer with
each side cited, in every way an answer is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.evaluate.answers import flags_conflict
from ponder.reason.conflicts import disagree, find_conflicts
from tests.conftest import numbered_passages, write
from tests.fake_provider import FakeProvider, Reply, chat_response, stream_events

TAMPA = ("The game was played on February 7, 2021, at Raymond James Stadium in Tampa, Florida, the home stadium "
         "of the Buccaneers.")
GLENDALE = TAMPA.replace("Tampa, Florida", "Glendale, Arizona")
TOWER = "云栖塔建于1987年，塔高四十二米，是小镇最古老的建筑。"
TOWER_WRONG = TOWER.replace("1987", "1991")


@pytest.mark.parametrize("question, texts, values", [
    ("Where was Super Bowl 2021 held?", (TAMPA, "Tickets sold out in a day.", GLENDALE),
     {1: "Tampa, Florida", 3: "Glendale, Arizona"}),
    ("云栖塔是哪一年建成的？", (TOWER, TOWER_WRONG), {1: "1987", 2: "1991"}),
])
def test_two_passages_that_say_the_same_with_another_value_conflict(question: str, texts: tuple[str, ...],
                                                                    values: dict[int, str]) -> None:
    [conflict] = find_conflicts(question, numbered_passages(*texts), cited=[1])
    assert {side.marker: side.value for side in conflict.sides} == values
    assert all(side.value in side.sentence and side.chunk_id == f"c{side.marker}" for side in conflict.sides)


@pytest.mark.parametrize("sentence, other", [
    ("The oolong is roasted over charcoal for 8 hours every spring.",
     "The oolong is roasted over charcoal for eight hours every spring."),  # one value, written twice
    ("Revenue in 2022 was 5 million euros for the whole group.",
     "Revenue in 2023 was 6 million euros for the whole group."),  # two years, two figures: two statements
    ("Jul 11, 2021 ...", "Jul 10, 2021 ..."),  # dated snippets: too little in common to be a statement
    ("The museum opens at nine and the café opens at ten every day.",
     "The museum opens at nine and the shop closes at six every day."),  # a longer difference
    ("图书馆每周一闭馆整理图书。", "图书馆每周一闭馆整理图书。"),  # the same
])
def test_sentences_that_are_not_one_statement_with_two_values_do_not_conflict(sentence: str, other: str) -> None:
    assert disagree(sentence, other) is None


def test_sentences_that_do_not_bear_on_the_question_are_not_compared() -> None:
    assert find_conflicts("Who painted the Mona Lisa?", numbered_passages(TAMPA, GLENDALE), cited=[1]) == []
    assert find_conflicts("Where was Super Bowl 2021 held?", numbered_passages(TAMPA, GLENDALE), cited=[]) == []


@pytest.fixture
def disputed(make_ponder, provider: FakeProvider, tmp_path: Path):
    folder = tmp_path / "docs"
    write(folder / "report-a.txt", TAMPA)
    write(folder / "report-b.txt", GLENDALE)
    write(folder / "塔-甲.txt", TOWER)
    write(folder / "塔-乙.txt", TOWER_WRONG)

    def make(**settings: object):
        ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                                "chat.retries": 0, **settings})
        ponder.ingest([folder])
        return ponder
    return make


@pytest.mark.parametrize("question, said", [
    ("Where was Super Bowl 2021 played, at Raymond James Stadium?", "The passages disagree: "),
    ("云栖塔是哪一年建成的？", "资料之间不一致："),
])
def test_a_written_answer_citing_one_side_says_the_passages_disagree_and_cites_both(
        disputed, provider: FakeProvider, question: str, said: str) -> None:
    provider.respond = lambda request: Reply(events=stream_events(["It is ", "[1]."]))
    ponder = disputed()
    heard: list[str] = []
    answer = ponder.ask(question, mode="direct",
                        stream=lambda delta: heard.append(delta.text) if getattr(delta, "kind", "") == "text" else 0)
    [conflict] = answer.conflicts
    assert said in answer.text and flags_conflict(answer.text) and answer.text.startswith("It is [1].")
    for side in conflict.sides:
        assert f"[{side.marker}]" in answer.text and f"“{side.value}”" in answer.text
        assert answer.hits[side.marker - 1].chunk.id == side.chunk_id
    assert {c.marker for c in answer.citations} == {s.marker for s in conflict.sides}
    assert [c.source for c in answer.citations] == ["model", "conflict"]
    assert "".join(heard) == answer.text  # streamed as well
    assert all(s.end <= len("It is [1].") for s in answer.grounding.sentences)  # Ponder's sentence is not graded


def test_a_quoted_answer_quotes_both_sides(disputed) -> None:
    """A base model's quoted answer takes the other side as its second sentence and says so."""
    ponder = disputed(**{"chat.prompt_style": "completion"})
    answer = ponder.ask("Where was Super Bowl 2021 played, at Raymond James Stadium?", mode="direct")
    assert "Tampa, Florida" in answer.text and "Glendale, Arizona" in answer.text
    assert "The passages disagree: " in answer.text and len(answer.conflicts) == 1
    extract = next(s for s in answer.trace.steps if s.stage == "extract")
    assert extract.detail["chosen"] == [1, 2] and extract.detail["chosen_by"] == "scorer"


def test_the_cli_and_the_server_show_the_disagreement(disputed, provider: FakeProvider) -> None:
    from rich.console import Console
    from starlette.testclient import TestClient

    import ponder.cli.render as cli
    from ponder.serve.app import create_app
    from ponder.serve.keys import KeyStore
    from ponder.serve.openai_chat import ponder_extra

    provider.respond = lambda request: Reply(body=chat_response("It is [1]."))
    ponder = disputed()
    answer = ponder.ask("云栖塔是哪一年建成的？", mode="direct")
    extra = ponder_extra(answer, "default")
    assert [sorted(side["value"] for side in sides) for sides in extra["conflicts"]] == [["1987", "1991"]]
    sides = "; ".join(f"[{side.marker}] “{side.value}”" for side in answer.conflicts[0].sides)
    console = Console(record=True, width=200)
    original, cli.out = cli.out, console
    try:
        cli.print_answer(answer, show_thinking=False)
    finally:
        cli.out = original
    shown = console.export_text()
    assert f"Passages disagree: {sides}" in shown and "the other side of a disagreement" in shown
    keys = KeyStore(Path(ponder.config.data_path) / "keys.db")
    secret = keys.create("reader", read=["*"])[1]
    keys.close()
    with TestClient(create_app(ponder.config)) as client:
        reply = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"}, json={
            "model": "ponder:default:direct", "messages": [{"role": "user", "content": "云栖塔是哪一年建成的？"}]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "资料之间不一致" in body["choices"][0]["message"]["content"]
    assert [side["marker"] for side in body["ponder"]["conflicts"][0]] == [1, 2]
