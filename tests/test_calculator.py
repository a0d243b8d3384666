"""The calculator: exact decimal arithmetic on numbers as reports write them, and a clear refusal
for anything that is not arithmetic — never a hang, never code run."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from ponder.reason.calculator import calculate, written


@pytest.mark.parametrize("expression, value", [
    ("1,496.5 − 1,202.9", "293.6"),
    ("(44.1 + 56.7) / 2", "50.4"),
    ("0.1 + 0.2", "0.3"),  # decimal, not binary floating point
    ("$1,452.4 - $1,146.2", "306.2"),
    ("3.5亿 + 2.1亿", "560000000.0"),
    ("（4.5 - 4）/ 4", "0.125"),
    ("-(0.9 + 0.1) / 2", "-0.5"),
    ("12% × 200", "24.00"),
    ("2 + 3 × 4", "14"),
])
def test_arithmetic_is_exact(expression: str, value: str) -> None:
    calculation = calculate(expression)
    assert calculation.ok and calculation.value == Decimal(value), calculation


@pytest.mark.parametrize("expression, refusal", [
    ("9**9**9", "powers"),
    ("2 ^ 1000", "powers"),
    ("__import__('os').system('true')", "names are not allowed ('__import__')"),
    ("rate + 2", "names are not allowed ('rate')"),
    ("0 / 0", "division by zero"),
    ("5 / 0", "division by zero"),
    ("(1 + 2", "unclosed parenthesis"),
    ("2 +", "ends early"),
    ("", "empty"),
    ("1 + " * 200 + "1", "longer than"),
    ("(" * 40 + "1" + ")" * 40, "nested deeper"),
    ("1 2", "unexpected"),
])
def test_what_is_not_arithmetic_is_refused_with_the_reason(expression: str, refusal: str) -> None:
    started = time.perf_counter()
    calculation = calculate(expression)
    assert not calculation.ok and refusal in calculation.refusal, calculation
    assert time.perf_counter() - started < 1  # refused, not worked on


@pytest.mark.parametrize("value, decimals, text", [
    (Decimal("293.60"), 2, "293.6"), (Decimal("-1234.5678"), 2, "-1,234.57"), (Decimal("24"), 2, "24"),
    (Decimal("0.125"), 4, "0.125"),
])
def test_results_are_written_at_their_rounding(value: Decimal, decimals: int, text: str) -> None:
    assert written(value, decimals) == text


# -- the calculator in the reasoning modes (program of thought), against a replayed model ------------
SALES = ("# Sales\n\nContract revenue, in millions.\n\n| Contract | 2019 | 2018 |\n|---|---|---|\n"
         "| Fixed price | 1,452.4 | 1,146.2 |\n| Other | 44.1 | 56.7 |\n| Total sales | 1,496.5 | 1,202.9 |\n")
CHANGE = "What was the change in Other from 2018 to 2019?"


@pytest.fixture
def ponder(make_ponder, provider, tmp_path):
    from tests.conftest import write

    instance = make_ponder(**{
        "retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
        "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner", "chat.retries": 0,
        "reasoner.retries": 0})
    instance.ingest([write(tmp_path / "docs" / "sales.md", SALES)])
    return instance


def _reply(content: str, thinking: str | None = None):
    from tests.fake_provider import Reply, chat_response

    return Reply(body=chat_response(content, "reasoning_content" if thinking else None, thinking,
                                    {"prompt_tokens": 100, "completion_tokens": 10}))


def test_the_reasoner_writes_the_arithmetic_and_ponder_computes_it(ponder, provider) -> None:
    provider.replies += [
        _reply('{"calculations": [{"what": "change in Other", "expression": "44.1 - 56.7"}, '
               '{"what": "a tower of powers", "expression": "9**9**9"}]}'),
        _reply("Other fell by 12.6, from 56.7 to 44.1 [1].", "Use the computed change."),
    ]
    answer = ponder.ask(CHANGE, mode="reasoner")
    calculate_request = provider.requests[0]["json"]
    assert calculate_request["model"] == "deepseek-reasoner"
    assert "| Other | 44.1 | 56.7 |" in calculate_request["messages"][-1]["content"]  # the whole table
    # deepseek-reasoner takes no response_format: the JSON is asked for in words and parsed from the reply
    assert '{"calculations": [' in calculate_request["messages"][-1]["content"]
    steps = [s.detail for s in answer.trace.steps if s.stage == "calculate"]
    assert steps[0] == {"what": "change in Other", "expression": "44.1 - 56.7", "result": "-12.6", "refusal": "",
                        "via": "json"}
    assert "tools" not in calculate_request  # DeepSeek's reasoner takes no tool calls
    assert steps[1]["result"] == "" and "powers are not supported" in steps[1]["refusal"]
    answer_prompt = provider.requests[1]["json"]["messages"][-1]["content"]
    assert "Ponder computed these exactly" in answer_prompt and "change in Other: 44.1 - 56.7 = -12.6" in answer_prompt
    assert "9**9**9" not in answer_prompt  # a refused expression gives the writer nothing
    assert answer.grounding.verdict == "supported"
    assert [(d.text, d.shown) for d in answer.grounding.derivations] == [("12.6", True)]


def test_an_unusable_calculation_reply_is_a_fallback_and_the_answer_is_still_written(ponder, provider) -> None:
    provider.replies += [_reply("I would subtract them."), _reply("Other fell by 12.6 [1].")]
    answer = ponder.ask(CHANGE, mode="reasoner")
    assert answer.text == "Other fell by 12.6 [1]." and any(f.startswith("calculate:") for f in answer.fallbacks)
    assert not [s for s in answer.trace.steps if s.stage == "calculate"]


@pytest.mark.parametrize("mode, settings", [("direct", {}), ("reasoner", {"reason.calculator": False})])
def test_look_ups_and_a_disabled_calculator_ask_for_no_arithmetic(make_ponder, provider, tmp_path, mode: str,
                                                                  settings: dict) -> None:
    from tests.conftest import write

    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner",
                            "chat.retries": 0, "reasoner.retries": 0, **settings})
    ponder.ingest([write(tmp_path / "docs" / "sales.md", SALES)])
    provider.replies.append(_reply("Other fell by 12.6 [1]."))
    ponder.ask(CHANGE, mode=mode)
    assert len(provider.requests) == 1 and "calculations" not in json.dumps(provider.requests[0]["json"])


def test_think_then_answer_computes_once_for_both_models(ponder, provider) -> None:
    provider.replies += [
        _reply('{"calculations": [{"what": "percentage change in total sales", '
               '"expression": "(1,496.5 - 1,202.9) / 1,202.9 * 100"}]}'),
        _reply("Total sales grew by about 24.4%.", "Compare 2019 with 2018."),
        _reply("Total sales grew by 24.41% [1]."),
    ]
    answer = ponder.ask("What was the percentage change in total sales from 2018 to 2019?", mode="think-then-answer")
    assert len(provider.requests) == 3
    for request in provider.requests[1:]:  # the reasoner thinking and the chat model writing both get the result
        assert "(1,496.5 - 1,202.9) / 1,202.9 * 100 = 24.4077" in request["json"]["messages"][-1]["content"]
    assert answer.grounding.verdict == "supported" and answer.grounding.derivations[0].shown


# -- as a tool, for endpoints that take OpenAI tool calls (vLLM, Ollama, SiliconFlow, OpenAI) ---------
def _tool_reply(*calls: tuple[str, str]):
    """A /chat/completions reply that calls tools, in the shape OpenAI documents (and vLLM, Ollama copy)."""
    from tests.fake_provider import Reply, chat_response

    body = chat_response(None, usage={"prompt_tokens": 100, "completion_tokens": 20}, model="qwq-32b")
    body["choices"][0]["message"]["tool_calls"] = [
        {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": arguments}}
        for n, (name, arguments) in enumerate(calls)]
    body["choices"][0]["finish_reason"] = "tool_calls"
    return Reply(body=body)


@pytest.fixture
def tool_ponder(make_ponder, provider, tmp_path):
    from tests.conftest import write

    instance = make_ponder(**{
        "retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
        "reasoner.base_url": provider.url, "reasoner.model": "qwq-32b", "chat.retries": 0, "reasoner.retries": 0})
    instance.ingest([write(tmp_path / "docs" / "sales.md", SALES)])
    return instance


def test_a_reasoner_that_takes_tools_calls_the_calculator_and_reads_its_results(tool_ponder, provider) -> None:
    provider.replies += [
        _tool_reply(("calculate", '{"what": "change in Other", "expression": "44.1 - 56.7"}'),
                    ("calculate", '{"what": "a tower", "expression": "9**9**9"}'),
                    ("search_web", '{"query": "Other"}')),
        _reply("done"),
        _reply("Other fell by 12.6, from 56.7 to 44.1 [1].", "Use the computed change."),
    ]
    answer = tool_ponder.ask(CHANGE, mode="reasoner")
    first, second, writing = (request["json"] for request in provider.requests)
    assert [tool["function"]["name"] for tool in first["tools"]] == ["calculate"]
    assert "| Other | 44.1 | 56.7 |" in first["messages"][-1]["content"]
    # The results go back as the tools' replies, after the turn that called them.
    assert second["messages"][-4]["tool_calls"][0]["function"]["arguments"] == (
        '{"what": "change in Other", "expression": "44.1 - 56.7"}')
    replies = {m["tool_call_id"]: m["content"] for m in second["messages"] if m["role"] == "tool"}
    assert replies["call_0"] == "-12.6" and "powers are not supported" in replies["call_1"]
    assert "no tool named 'search_web'" in replies["call_2"]
    steps = [s.detail for s in answer.trace.steps if s.stage == "calculate"]
    assert [(s["expression"], s["result"], s["via"]) for s in steps] == [
        ("44.1 - 56.7", "-12.6", "tool"), ("9**9**9", "", "tool"), ("", "", "tool")]
    assert "tools" not in writing and "change in Other: 44.1 - 56.7 = -12.6" in writing["messages"][-1]["content"]
    assert answer.grounding.verdict == "supported"
    calls = [s for s in answer.trace.steps if s.stage == "llm" and s.detail["purpose"] == "calculate"]
    assert len(calls) == 2 and answer.usage.prompt_tokens >= 300  # both calculate rounds are counted


def test_a_model_that_keeps_calling_tools_is_stopped(tool_ponder, provider) -> None:
    from ponder.reason.program import MAX_TOOL_ROUNDS

    provider.replies += [_tool_reply(("calculate", '{"expression": "44.1 - 56.7"}'))
                         for _ in range(MAX_TOOL_ROUNDS)] + [_reply("Other fell by 12.6 [1].")]
    answer = tool_ponder.ask(CHANGE, mode="reasoner")
    assert len(provider.requests) == MAX_TOOL_ROUNDS + 1 and answer.text == "Other fell by 12.6 [1]."


def test_an_endpoint_that_refuses_tools_is_asked_for_json_instead(tool_ponder, provider) -> None:
    from tests.fake_provider import Reply

    provider.replies += [
        Reply(400, {"error": {"message": "\"auto\" tool choice requires --enable-auto-tool-choice", "code": 400}}),
        _reply('{"calculations": [{"what": "change in Other", "expression": "44.1 - 56.7"}]}'),
        _reply("Other fell by 12.6 [1]."),
        _reply('{"calculations": []}'), _reply("Other was 44.1 in 2019 [1]."),
    ]
    answer = tool_ponder.ask(CHANGE, mode="reasoner")
    assert "tools" in provider.requests[0]["json"] and "tools" not in provider.requests[1]["json"]
    assert any("refused tool calls" in f and "enable-auto-tool-choice" in f for f in answer.fallbacks)
    assert [s.detail["via"] for s in answer.trace.steps if s.stage == "calculate"] == ["json"]
    tool_ponder.ask("What was the change in Other in 2019 from 2018?", mode="reasoner")
    assert "tools" not in provider.requests[3]["json"]  # not offered again to an endpoint that refused them
