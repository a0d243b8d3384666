"""The grounding check (numbers, names, sentence support) and what Ponder does with its verdict:
flag, retry or refuse; and extractive answers, which quote passage sentences instead of writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ponder.index.embedders import E5Embedder
from ponder.reason.grounding import GroundingChecker
from ponder.reason.numbers import read_numbers
from ponder.text import is_refusal
from tests.conftest import EXAMPLES, numbered_passages
from tests.fake_provider import FakeProvider, Reply, chat_response

LABELLED = Path(__file__).parent / "data" / "grounding_labelled.json"
OOLONG = "How long is the oolong roasted?"


@pytest.mark.parametrize("first, second", [
    ("8 hours", "eight hours"), ("8小时", "八个小时"), ("1,200 tonnes", "1200 tonnes"), ("一千二百", "1200"),
    ("2024年3月", "March 2024"), ("２０２４年３月", "2024年3月"), ("3.5万元", "35000元"), ("12%", "12 percent"),
    ("百分之十二", "12%"), ("$22 billion", "22 billion dollars"), ("二〇二一年", "2021年"),
    ("twenty-one", "21"), ("一万零六百五十一名", "10651名"),
])
def test_numbers_written_differently_support_each_other(first: str, second: str) -> None:
    checker = GroundingChecker()
    for answer, passage in ((first, second), (second, first)):
        grounding = checker.check("?", f"It is {answer} [1].", numbered_passages(passage), [1])
        assert read_numbers(answer) and grounding.flags == []
    assert {n.value for n in read_numbers(first)} == {n.value for n in read_numbers(second)}


def test_words_that_are_not_amounts_are_not_read_as_numbers() -> None:
    assert all(n.hedged for n in read_numbers("一些人统一了意见")) and read_numbers("It may rain") == []
    assert [n.hedged for n in read_numbers("one of them")] == [True]


@pytest.mark.parametrize("answer, flagged, why", [
    ("The oolong is roasted for 10 days [1].", "10 days", "no passage gives this number"),
    ("It is roasted for eight days [1].", "eight days", "the passages give eight only in hour"),
    ("乌龙茶烘焙十天 [2]。", "十天", "no passage gives this number"),
    ("Zhang Wei roasts it for eight hours [1].", "Zhang Wei", "no passage names it"),
])
def test_a_number_or_name_no_passage_gives_is_flagged_where_it_stands(answer: str, flagged: str, why: str) -> None:
    numbered = numbered_passages("The oolong is roasted over charcoal for eight hours.", "乌龙茶用木炭烘焙八个小时。")
    grounding = GroundingChecker().check(OOLONG, answer, numbered, cited=[1])
    assert grounding.verdict == "unsupported" and [f.text for f in grounding.flags] == [flagged]
    flag = grounding.flags[0]
    assert answer[flag.start:flag.end] == flagged and flag.why == why


def test_numbers_and_names_from_the_question_are_not_flagged_and_uncited_passages_still_count() -> None:
    numbered = numbered_passages("Mount Fuji is 3,776 metres high.", "The oolong is roasted for eight hours by Li Wei.")
    grounding = GroundingChecker().check("Did Li Wei roast it in 2024?", "In 2024 Li Wei roasted it for 8 hours [1].",
                                         numbered, cited=[1])
    assert grounding.flags == [] and grounding.against == "cited"


def test_a_refusal_is_not_checked() -> None:
    grounding = GroundingChecker().check(OOLONG, "The passages do not contain the answer.",
                                         numbered_passages("x y z"), [])
    assert grounding.verdict == "not checked" and is_refusal("资料不足以支持回答：十天 在资料中都没有出现。")


def test_sentences_without_support_are_listed_and_make_the_answer_partly_supported() -> None:
    numbered = numbered_passages(
        "The oolong is roasted over charcoal for eight hours. The cooperative was founded in 1952.")
    answer = "The oolong is roasted over charcoal for eight hours [1]. Its leaves are shipped mostly to Europe."
    grounding = GroundingChecker().check(OOLONG, answer, numbered, cited=[1])
    assert grounding.verdict == "partly supported"
    assert [s.supported for s in grounding.sentences] == [True, False]
    assert [s.text for s in grounding.unsupported_sentences] == ["Its leaves are shipped mostly to Europe."]
    assert [f.text for f in grounding.flags] == ["Europe"]


def test_a_markdown_heading_is_never_quoted_as_an_answer() -> None:
    from ponder.reason.extractive import SentenceScorer

    numbered = numbered_passages("### Oolong roasting\n\nThe oolong is roasted over charcoal for eight hours.")
    assert [c.text for c in SentenceScorer().candidates(OOLONG, numbered)] == [
        "The oolong is roasted over charcoal for eight hours."]


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder()


def test_precision_and_recall_on_the_hand_labelled_answers(e5: E5Embedder) -> None:
    """64 answers over 16 passages (8 English, 8 Chinese): supported, a wrong number, a wrong name,
    a number written differently. The check, with the bundled embedder as in a hybrid index, must
    tell the wrong from the right, and flag the wrong span itself."""
    cases = json.loads(LABELLED.read_text())["cases"]
    vectors = {case["passage"]: e5.embed_passages([case["passage"]])[0] for case in cases}
    predicted, labelled, spans_found, wrong = [], [], 0, 0
    for case in cases:
        numbered = numbered_passages(case["passage"])

        def similarity(text: str, chunk_ids: list[str], passage: str = case["passage"]) -> list[float]:
            return [float(np.dot(vectors[passage], e5.embed_query(text)))] * len(chunk_ids)

        checker = GroundingChecker(similarity)
        for answer in case["answers"]:
            grounding = checker.check(case["question"], answer["text"], numbered, cited=[1])
            bad = answer["kind"] in ("wrong number", "wrong name")
            predicted.append(grounding.verdict != "supported")
            labelled.append(bad)
            if bad:
                wrong += 1
                spans_found += any(answer["span"] in f.text or f.text in answer["span"] for f in grounding.flags)
    assert len(labelled) >= 60 and sum(labelled) == wrong == 32
    true_positives = sum(p and t for p, t in zip(predicted, labelled))
    precision = true_positives / sum(predicted)
    recall = true_positives / sum(labelled)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert spans_found / wrong >= 0.95


# -- what the answer does with the verdict, against a replayed provider -----------------------------
@pytest.fixture
def ask(make_ponder, provider: FakeProvider):
    def make(**settings: object):
        ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                                "chat.retries": 0, **settings})
        ponder.ingest([EXAMPLES])
        return ponder
    return make


def _reply(content: str) -> Reply:
    return Reply(body=chat_response(content, usage={"prompt_tokens": 100, "completion_tokens": 10}))


def test_flag_keeps_the_answer_and_marks_it(ask, provider: FakeProvider) -> None:
    provider.replies.append(_reply("The oolong is roasted for 10 days [1]."))
    answer = ask().ask(OOLONG, mode="direct")
    assert answer.text == "The oolong is roasted for 10 days [1]." and answer.grounding.verdict == "unsupported"
    assert [f.text for f in answer.grounding.flags] == ["10 days"] and answer.timings["grounding"] > 0
    assert len(provider.requests) == 1


def test_retry_names_the_unsupported_spans_and_checks_the_new_answer(ask, provider: FakeProvider) -> None:
    provider.replies += [_reply("The oolong is roasted for 10 days [1]."), _reply("Eight hours [1].")]
    answer = ask(**{"reason.on_unsupported": "retry"}).ask(OOLONG, mode="direct")
    retry_prompt = provider.requests[1]["json"]["messages"][-1]["content"]
    assert "no passage supports: 10 days" in retry_prompt and "charcoal" in retry_prompt
    assert answer.text == "Eight hours [1]." and answer.citations
    assert answer.grounding.verdict == "supported" and answer.grounding.action == "retried"
    assert answer.usage.prompt_tokens == 200
    assert [s.detail.get("action") for s in answer.trace.steps if s.stage == "grounding"] == [None, "retry", None]


def test_refuse_answers_that_the_passages_do_not_support_it(ask, provider: FakeProvider) -> None:
    provider.replies.append(_reply("The oolong is roasted for 10 days [1]."))
    answer = ask(**{"reason.on_unsupported": "refuse"}).ask(OOLONG, mode="direct")
    assert is_refusal(answer.text) and "10 days" in answer.text and answer.citations == []
    assert answer.grounding.action == "refused"
    draft = next(s for s in answer.trace.steps if s.detail.get("action") == "refuse")
    assert draft.detail["draft"] == "The oolong is roasted for 10 days [1]."


def test_extractive_answer_quotes_the_sentence_the_model_picks_among_candidates(ask, provider) -> None:
    provider.replies.append(_reply('{"sentences": [1]}'))
    answer = ask(**{"reason.answer_style": "extractive"}).ask(OOLONG, mode="direct")
    request = provider.requests[0]["json"]
    schema = request["response_format"]["json_schema"]["schema"]
    candidates = next(s for s in answer.trace.steps if s.stage == "extract").detail["candidates"]
    assert schema["properties"]["sentences"]["items"]["enum"] == list(range(1, len(candidates) + 1))
    passage, sentence, *_ = candidates[0]
    assert "eight hours" in sentence and answer.text == f"{sentence} [{passage}]"
    assert sentence in answer.hits[passage - 1].chunk.text  # verbatim
    assert answer.grounding.verdict == "supported" and answer.citations[0].marker == passage


def test_extractive_answer_falls_back_to_the_best_ranked_sentence(ask, provider: FakeProvider) -> None:
    provider.replies.append(_reply("I think the second one."))
    answer = ask(**{"reason.answer_style": "extractive"}).ask(OOLONG, mode="direct")
    candidates = next(s for s in answer.trace.steps if s.stage == "extract").detail["candidates"]
    assert answer.text.startswith(candidates[0][1]) and "eight hours" in answer.text
    assert answer.fallbacks and answer.fallbacks[0].startswith("answer: unusable reply")


def test_a_streamed_retry_says_why_a_second_answer_follows(ask, provider: FakeProvider) -> None:
    from tests.fake_provider import stream_events

    provider.replies += [Reply(events=stream_events(["The oolong is roasted ", "for 10 days [1]."])),
                         Reply(events=stream_events(["Eight hours [1]."]))]
    heard: list[str] = []
    answer = ask(**{"reason.on_unsupported": "retry"}).ask(
        OOLONG, mode="direct", stream=lambda delta: heard.append(getattr(delta, "text", "")))
    streamed = "".join(heard)
    assert streamed.index("10 days") < streamed.index("(Revised: no passage supports 10 days.)") < \
        streamed.index("Eight hours [1].")
    assert answer.text == "Eight hours [1]." and answer.grounding.action == "retried"
