"""The reasoning modes, driven through Ponder.ask against a replayed provider (the remote wire format
is the only fake): which calls each mode makes, to which role, what it passes on, how it degrades."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from ponder.config import load_config
from ponder.reason import MODE_NAMES, Router
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response


@pytest.fixture
def ponder(make_ponder, provider: FakeProvider):
    instance = make_ponder(**{
        "retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
        "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner", "chat.retries": 0,
        "reasoner.retries": 0, "reason.search_question_first": False,  # agentic: the planner's searches only
    })
    instance.ingest([EXAMPLES])
    return instance


def reply(content: str, thinking: str | None = None, usage: dict | None = None) -> Reply:
    usage = usage or {"prompt_tokens": 100, "completion_tokens": 10}
    return Reply(body=chat_response(content, "reasoning_content" if thinking else None, thinking, usage))


def sent(provider: FakeProvider, index: int) -> tuple[str, str]:
    """(model, user turn) of the index-th request."""
    body = provider.requests[index]["json"]
    return body["model"], body["messages"][-1]["content"]


OOLONG = "How long is the oolong roasted?"


def test_direct_uses_the_chat_model_once(ponder, provider: FakeProvider) -> None:
    provider.replies.append(reply("Eight hours [1]."))
    answer = ponder.ask(OOLONG, mode="direct")
    assert len(provider.requests) == 1 and sent(provider, 0)[0] == "fast-chat"
    assert answer.mode == "direct" and answer.citations[0].chunk_id == answer.hits[0].chunk.id
    assert [s.stage for s in answer.trace.steps] == ["retrieve", "llm", "grounding"]
    assert answer.grounding.verdict == "supported" and answer.grounding.against == "cited"


def test_reasoner_judges_passages_and_keeps_thinking_apart(ponder, provider: FakeProvider) -> None:
    provider.replies.append(reply("Eight hours [1][9].", "Passage 1 is about oolong; passage 2 is noise."))
    answer = ponder.ask(OOLONG, mode="reasoner")
    model, prompt = sent(provider, 0)
    assert model == "deepseek-reasoner" and "judge each passage's relevance and reliability" in prompt
    assert provider.requests[0]["json"]["temperature"] == 0.6 and provider.requests[0]["json"]["max_tokens"] == 2048
    assert answer.text == "Eight hours [1]." and answer.thinking.startswith("Passage 1 is about oolong")
    assert answer.invalid_citations == [9]  # [9] was never given: removed and counted
    assert any(s.stage == "citations" and s.detail["removed"] == [9] for s in answer.trace.steps)


@pytest.mark.parametrize("handoff, expect_thinking, expect_draft", [
    ("both", True, True), ("thinking", True, False), ("draft", False, True),
])
def test_think_then_answer_hands_the_reasoning_to_the_chat_model(make_ponder, provider: FakeProvider, handoff: str,
                                                                 expect_thinking: bool, expect_draft: bool) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner",
                            "reason.handoff": handoff})
    ponder.ingest([EXAMPLES])
    provider.replies += [reply("Draft: eight hours [1].", "Roasting is described in passage 1."),
                         reply("The oolong is roasted for eight hours [1].", "writer's own thoughts")]
    answer = ponder.ask(OOLONG, mode="think-then-answer")
    (reasoner_model, _), (chat_model, writer_prompt) = sent(provider, 0), sent(provider, 1)
    assert (reasoner_model, chat_model) == ("deepseek-reasoner", "fast-chat")
    assert ("Roasting is described in passage 1." in writer_prompt) == expect_thinking
    assert ("Draft: eight hours [1]." in writer_prompt) == expect_draft
    assert "An analyst has studied" in writer_prompt
    assert answer.thinking == "Roasting is described in passage 1."  # the reasoner's, not the writer's
    assert answer.text == "The oolong is roasted for eight hours [1]." and answer.citations
    assert set(answer.timings) == {"retrieve", "think", "answer", "grounding"}
    assert answer.usage.prompt_tokens == 200


def test_agentic_plans_retrieves_per_step_and_keeps_citation_numbers(ponder, provider: FakeProvider) -> None:
    provider.replies += [
        reply('{"action": "search", "query": "oolong roasting"}', 'I might say {"action": "answer"} later'),
        reply('{"action": "search", "query": "oolong charcoal roasting hours"}'),
        reply('{"action": "answer"}'),
        reply("Eight hours [1].", "passage 1 settles it"),
    ]
    answer = ponder.ask(OOLONG, mode="agentic")
    assert [s.stage for s in answer.trace.steps] == ["step 1", "step 2", "step 3", "stop", "llm", "grounding"]
    step1 = answer.trace.steps[0]
    assert [c.stage for c in step1.children] == ["llm", "plan", "retrieve"]
    assert step1.children[2].detail["query"] == "oolong roasting"  # the JSON, not the thinking, was read
    # the second plan saw the first search's passages, numbered, and the searches made so far
    _, second_plan = sent(provider, 1)
    assert "[1] " in second_plan and "- oolong roasting" in second_plan
    # a passage found by both searches keeps its number: the final prompt numbers each passage once
    _, final_prompt = sent(provider, 3)
    numbers = [line.split("]")[0] for line in final_prompt.splitlines() if line.startswith("[")]
    assert numbers == sorted(set(numbers), key=lambda n: int(n[1:]))
    assert answer.citations[0].chunk_id == answer.hits[0].chunk.id and answer.citations[0].marker == 1
    assert answer.trace.steps[3].detail["reason"] == "the planner chose to answer"
    assert not answer.fallbacks


def test_agentic_is_bounded_by_steps_and_tokens(make_ponder, provider: FakeProvider) -> None:
    settings = {"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                "reason.max_steps": 2, "reason.search_question_first": False}
    ponder = make_ponder(**settings)
    ponder.ingest([EXAMPLES])
    provider.replies += [reply('{"action": "search", "query": "oolong"}'),
                         reply('{"action": "search", "query": "roasting"}'), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="agentic")
    assert len(provider.requests) == 3
    assert answer.trace.steps[2].detail["reason"] == "step limit reached (2)"

    ponder = make_ponder(**(settings | {"reason.max_steps": 10, "reason.max_step_tokens": 500}))
    ponder.ingest([EXAMPLES])
    big = {"prompt_tokens": 400, "completion_tokens": 200}
    provider.replies += [reply('{"action": "search", "query": "oolong"}', usage=big), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="agentic")
    assert len(provider.requests) == 5
    assert answer.trace.steps[1].detail["reason"] == "token budget spent (600 of 500)"


def test_agentic_starts_from_a_search_for_the_question_itself(make_ponder, provider: FakeProvider) -> None:
    """By default the loop first searches the question (a weak planner's first query can lose what
    it said): the first plan already sees those passages, searching the question again is a repeat,
    and an unusable first plan answers from them."""
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "chat.retries": 0})
    ponder.ingest([EXAMPLES])
    provider.replies += [reply('{"action": "search", "query": "charcoal"}'),
                         reply(json.dumps({"action": "search", "query": OOLONG})), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="agentic")
    assert [s.stage for s in answer.trace.steps][:3] == ["retrieve", "step 1", "step 2"]
    assert answer.trace.steps[0].detail["query"] == OOLONG
    _, first_plan = sent(provider, 0)
    assert "[1] " in first_plan and f"- {OOLONG}" in first_plan
    assert [s.detail["query"] for s in answer.trace.walk() if s.stage == "retrieve"] == [OOLONG, "charcoal"]
    assert answer.trace.steps[3].detail["reason"] == f"the planner repeated a search ({OOLONG!r})"

    provider.replies += [reply("Let me think."), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="agentic")
    assert answer.fallbacks[0].startswith("plan: unusable reply") and answer.text == "Eight hours [1]."
    assert [s.detail["query"] for s in answer.trace.walk() if s.stage == "retrieve"] == [OOLONG]


def test_agentic_survives_unusable_plans(ponder, provider: FakeProvider) -> None:
    provider.replies += [reply("Let me think about which passage to look for."),  # no JSON: search the question
                         reply('{"action": "dance"}'),  # not a plan: answer with what was found
                         reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="agentic")
    assert len(answer.fallbacks) == 2 and answer.fallbacks[0].startswith("plan: unusable reply")
    retrievals = [s for s in answer.trace.walk() if s.stage == "retrieve"]
    assert [r.detail["query"] for r in retrievals] == [OOLONG]
    assert answer.text == "Eight hours [1]." and answer.citations


def test_corrective_rewrites_when_too_few_passages_are_relevant(ponder, provider: FakeProvider) -> None:
    provider.replies += [reply('{"relevant": []}'), reply("oolong roasting duration charcoal"),
                         reply('{"relevant": [1, 2]}'), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="corrective")
    assert [s.stage for s in answer.trace.steps] == ["round 1", "llm", "round 2", "llm", "grounding"]
    assert [s.detail["purpose"] for s in answer.trace.walk() if s.stage == "llm"] == [
        "grade", "rewrite", "grade", "answer"]
    assert answer.trace.steps[2].detail["query"] == "oolong roasting duration charcoal"
    grade_request = provider.requests[0]["json"]
    assert grade_request["response_format"]["type"] == "json_schema"
    assert len(answer.hits) == 2 and answer.text == "Eight hours [1]."


def test_corrective_keeps_everything_when_the_grade_is_unusable(ponder, provider: FakeProvider) -> None:
    provider.replies += [reply("Passages 1 and 2 look relevant."), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="corrective")
    assert answer.fallbacks and answer.fallbacks[0].startswith("grade:")
    [retrieved] = [s for s in answer.trace.walk() if s.stage == "retrieve"]
    assert [h.chunk.id for h in answer.hits] == retrieved.detail["chunk_ids"] and answer.citations


def test_corrective_with_nothing_relevant_says_so_without_answering(make_ponder, provider: FakeProvider) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "reason.retries": 0})
    ponder.ingest([EXAMPLES])
    provider.replies.append(reply('{"relevant": []}'))
    answer = ponder.ask(OOLONG, mode="corrective")
    assert len(provider.requests) == 1 and "nothing to answer from" in answer.text and not answer.citations


@pytest.mark.parametrize("question, kind, mode", [
    ("How much more oolong than green tea did the cooperative sell?", "numeric", "reasoner"),
    ("Which is older, the library or the cooperative?", "comparison", "reasoner"),
    ("Why did the cooperative switch to charcoal roasting?", "analysis", "think-then-answer"),
    ("Who leads the company whose tea won the 2019 prize?", "multi_hop", "agentic"),
    ("When was the cooperative founded?", "lookup", "direct"),
    ("青溪村图书馆一共有多少册藏书？", "numeric", "reasoner"),
    ("图书馆和茶厂相比，哪个更早成立？", "comparison", "reasoner"),
    ("为什么图书馆周一闭馆？", "analysis", "think-then-answer"),
    ("图书馆几点开门？", "lookup", "direct"),
])
def test_router_rules_explain_themselves(question: str, kind: str, mode: str) -> None:
    route = Router(load_config(env={}).reason).route(question)
    assert (route.kind, route.mode) == (kind, mode) and route.why.startswith(kind)


def test_router_cues_and_routes_are_configurable() -> None:
    settings = load_config(env={}, overrides={"reason.routes.lookup": "reasoner",
                                              "reason.routes.extra_cues": {"analysis": ["pros and cons"]}}).reason
    assert Router(settings).route("When was it founded?").mode == "reasoner"
    assert Router(settings).route("List the pros and cons of charcoal").kind == "analysis"


def test_auto_routes_and_records_why(ponder, provider: FakeProvider) -> None:
    provider.replies.append(reply("Eight hours [1]."))
    answer = ponder.ask(OOLONG, mode="auto")
    assert answer.mode == "auto → direct" and answer.route.startswith("lookup")
    assert answer.trace.steps[0].stage == "route" and sent(provider, 0)[0] == "fast-chat"

    # A numeric question: the reasoner first writes the arithmetic, Ponder computes it, then it answers.
    provider.replies += [reply('{"calculations": [{"what": "two batches", "expression": "2 * 8"}]}'),
                         reply("Sixteen hours in total [1].", "2 x 8")]
    answer = ponder.ask("How many hours of roasting do two batches of oolong take in total?", mode="auto")
    assert answer.mode == "auto → reasoner" and sent(provider, 1)[0] == sent(provider, 2)[0] == "deepseek-reasoner"
    assert [s.detail["result"] for s in answer.trace.steps if s.stage == "calculate"] == ["16"]


def test_llm_router_falls_back_to_the_rules(make_ponder, provider: FakeProvider) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "reason.router": "llm"})
    ponder.ingest([EXAMPLES])
    provider.replies += [reply('{"kind": "analysis", "why": "asks for a cause"}'), reply("Draft [1].", "notes"),
                         reply("Because [1]."), reply("a reasoning model would say"), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="auto")
    assert answer.mode == "auto → think-then-answer"
    assert "classified by the chat model — asks for a cause" in answer.route
    answer = ponder.ask(OOLONG, mode="auto")
    assert answer.mode == "auto → direct" and answer.fallbacks[0].startswith("route:")


@pytest.mark.parametrize("how, expected_queries", [
    ("rewrite", ["oolong roasting time", OOLONG]),
    ("hyde", [OOLONG, "The oolong is roasted over charcoal for eight hours."]),
])
def test_query_rewrite_and_hyde_search_with_more_than_the_question(make_ponder, provider: FakeProvider, how: str,
                                                                  expected_queries: list[str]) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "reason.query": how})
    ponder.ingest([EXAMPLES])
    provider.replies += [reply(expected_queries[0] if how == "rewrite" else expected_queries[1]),
                         reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="direct")
    assert [s.detail["query"] for s in answer.trace.steps if s.stage == "retrieve"] == expected_queries
    assert answer.trace.steps[0].detail["purpose"] == how


def test_decompose_searches_each_sub_question(make_ponder, provider: FakeProvider) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "deepseek-chat",
                            "reason.query": "decompose"})
    ponder.ingest([EXAMPLES])
    provider.replies += [reply('{"questions": ["When does the library open?", "Which day is it closed?"]}'),
                         reply("It opens at 9 and closes Mondays [1][2].")]
    answer = ponder.ask("When does the library open and which day is it closed?", mode="direct")
    queries = [s.detail["query"] for s in answer.trace.steps if s.stage == "retrieve"]
    assert queries[1:] == ["When does the library open?", "Which day is it closed?"]
    assert provider.requests[0]["json"]["response_format"] == {"type": "json_object"}  # DeepSeek: JSON mode


@pytest.mark.parametrize("mode", [m for m in MODE_NAMES if m != "auto"])
def test_chinese_questions_get_chinese_prompts_in_every_mode(ponder, provider: FakeProvider, mode: str) -> None:
    provider.replies += [reply('{"action": "answer"}' if mode == "agentic" else '{"relevant": [1]}')] * 3
    provider.replies += [reply("每周一闭馆 [1]。")] * 3
    provider.default = reply("每周一闭馆 [1]。")  # global: a summary and a map call per community report
    ponder.ask("青溪村图书馆每周哪天闭馆？", mode=mode)
    for request in provider.requests:
        content = request["json"]["messages"][-1]["content"]
        assert "问题：" in content and ("请" in content or "只回复" in content), content[:200]


def test_internal_calls_never_read_reasoning(ponder, provider: FakeProvider) -> None:
    """A grader that 'thinks' relevant passages in its reasoning but answers none: the reasoning is
    not parsed, so the grade is the empty list and the mode goes on from the answer alone."""
    provider.replies += [reply('{"relevant": []}', '{"relevant": [1, 2, 3]}'), reply("oolong roasting"),
                         reply('{"relevant": [1]}', "fine"), reply("Eight hours [1].")]
    answer = ponder.ask(OOLONG, mode="corrective")
    grades = [s.detail for s in answer.trace.walk() if s.stage == "grade"]
    assert grades[0]["relevant"] == [] and len(grades[1]["relevant"]) == 1


def test_unknown_mode_names_the_valid_ones(ponder) -> None:
    with pytest.raises(ValueError, match="unknown mode 'fast'; valid modes: direct, reasoner"):
        ponder.ask(OOLONG, mode="fast")


def test_cli_mode_and_trace_tree(tmp_path: Path, provider: FakeProvider) -> None:
    from tests.test_ask import _cli

    env = {"PONDER_CHAT__BASE_URL": provider.url, "PONDER_CHAT__MODEL": "fast-chat",
           "PONDER_RETRIEVE__MODE": "bm25", "PONDER_REASON__MIN_RELEVANT": "1"}
    assert _cli(tmp_path, "ingest", str(EXAMPLES), env=env).returncode == 0
    provider.replies += [reply('{"relevant": [1]}'), reply("Eight hours [1].")]
    result = _cli(tmp_path, "ask", OOLONG, "--mode", "corrective", "--trace", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("Trace") < out.index("round 1") < out.index("grade chat") < out.index("Answer")
    assert "retrieve 'How long is the oolong roasted?'" in out and "corrective ·" in out
    bad = _cli(tmp_path, "ask", OOLONG, "--mode", "fast", env=env)
    assert bad.returncode == 2 and "valid modes" in bad.stderr and "think-then-answer" in bad.stderr
    provider.replies += [reply("Eight hours [1].", "thinking")]
    data = json.loads(_cli(tmp_path, "ask", OOLONG, "--mode", "reasoner", "--json", env=env).stdout)
    assert data["mode"] == "reasoner" and data["thinking"] == "thinking" and data["fallbacks"] == []


def test_a_listener_hears_progress_thinking_and_answer_in_order(make_ponder, provider: FakeProvider) -> None:
    from ponder.llm import Delta
    from ponder.reason import Progress
    from tests.fake_provider import stream_events

    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner"})
    ponder.ingest([EXAMPLES])
    provider.replies += [Reply(events=stream_events(["Draft: eight", " hours."], ["Passage 1 ", "says so."])),
                         Reply(events=stream_events(["Eight hours", " [1]."]))]
    heard: list = []
    answer = ponder.ask(OOLONG, mode="think-then-answer", stream=heard.append)
    assert isinstance(heard[0], Progress) and heard[0].text.startswith(f"search: {OOLONG}")
    deltas = [item for item in heard if isinstance(item, Delta)]
    # The reasoner's thinking and its draft both stream as thinking; only the writer's text is the answer.
    assert "".join(d.text for d in deltas if d.kind == "thinking") == "Passage 1 says so.Draft: eight hours."
    assert "".join(d.text for d in deltas if d.kind == "text") == "Eight hours [1]."
    assert answer.text == "Eight hours [1]." and answer.thinking == "Passage 1 says so."
    assert all(request["json"]["stream"] for request in provider.requests)


def test_cancelling_mid_stream_stops_the_upstream_call(ponder, provider: FakeProvider) -> None:
    from ponder.reason import Cancelled
    from tests.fake_provider import stream_events

    provider.replies.append(Reply(events=stream_events([f"word{i} " for i in range(200)]), event_delay_s=0.02))
    cancelled = threading.Event()

    def listener(item) -> None:
        if getattr(item, "kind", "") == "text":
            cancelled.set()  # the client went away after the first answer delta

    with pytest.raises(Cancelled):
        ponder.ask(OOLONG, mode="direct", stream=listener, cancelled=cancelled)
    deadline = time.monotonic() + 5
    while not provider.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert provider.disconnects == 1
    assert ponder.call_log.recent(1)[0].error == "cancelled"


def test_earlier_turns_make_the_question_standalone_before_retrieval(ponder, provider: FakeProvider) -> None:
    from ponder.types import Turn

    provider.replies += [reply("How long is the oolong roasted?"), reply("Eight hours [1].")]
    history = [Turn("user", "Tell me about the oolong."), Turn("assistant", "It is a roasted tea [1].")]
    answer = ponder.ask("How long is it roasted?", mode="direct", history=history)
    model, prompt = sent(provider, 0)
    assert model == "fast-chat" and "Conversation so far:" in prompt and "assistant: It is a roasted tea" in prompt
    assert answer.trace.steps[0].stage == "llm" and answer.trace.steps[0].detail["purpose"] == "contextualize"
    assert answer.trace.steps[2].detail["query"] == "How long is the oolong roasted?"
    assert answer.question == "How long is the oolong roasted?"


def test_an_unusable_standalone_rewrite_falls_back_to_the_previous_question(ponder, provider: FakeProvider) -> None:
    from ponder.types import Turn

    provider.replies += [reply(""), reply("Eight hours [1].")]
    answer = ponder.ask("how long is it roasted?", mode="direct", history=[Turn("user", "什么是乌龙茶？")])
    assert answer.question == "什么是乌龙茶？ how long is it roasted?"
    assert answer.fallbacks and answer.fallbacks[0].startswith("contextualize")
