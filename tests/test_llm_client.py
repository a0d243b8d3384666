"""The provider layer against the response shapes real providers document (replayed locally):
DeepSeek, Ollama, vLLM with and without a reasoning parser, llama.cpp — streamed and not, with
their failure modes: 429 with Retry-After, 5xx, malformed and truncated streams, hangs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ponder.config import load_config
from ponder.llm import (
    CallLog,
    LLMError,
    OpenAICompatibleLLM,
    ask_json,
    make_llm,
    parse_json_loosely,
    resolve_settings,
)
from tests.fake_provider import FakeProvider, Reply, chat_response, stream_events


def _llm(provider: FakeProvider | str, role: str = "reasoner", model: str = "deepseek-reasoner",
         log: CallLog | None = None, **settings: object) -> OpenAICompatibleLLM:
    url = provider if isinstance(provider, str) else provider.url
    overrides = {f"{role}.base_url": url, f"{role}.model": model, f"{role}.api_key": "sk-test"}
    overrides |= {key if key == "models" else f"{role}.{key}": value for key, value in settings.items()}
    config = load_config(env={}, overrides=overrides)
    return make_llm(config, role, local_server=lambda: pytest.fail("no embedded model here"), log=log)


USER = [{"role": "user", "content": "When?"}]


# -- non-streaming shapes ---------------------------------------------------------------------------
def test_deepseek_reasoning_content_usage_and_r1_conventions(provider: FakeProvider) -> None:
    usage = {"prompt_tokens": 40, "completion_tokens": 90, "total_tokens": 130,
             "completion_tokens_details": {"reasoning_tokens": 72}}
    provider.replies.append(Reply(body=chat_response("It is 1889 [1].", "reasoning_content",
                                                     "Passage 1 says 1889.", usage)))
    generation = _llm(provider).chat(USER, purpose="answer", max_tokens=64)
    assert generation.text == "It is 1889 [1]." and generation.thinking == "Passage 1 says 1889."
    assert (generation.usage.prompt_tokens, generation.usage.completion_tokens,
            generation.usage.reasoning_tokens, generation.usage.estimated) == (40, 90, 72, False)
    request = provider.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    # R1: temperature 0.6 by default for the reasoner, no system prompt
    assert request["json"] == {"model": "deepseek-reasoner", "max_tokens": 64, "temperature": 0.6,
                               "messages": USER}


def test_ollama_reasoning_field_and_estimated_reasoning_tokens(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body=chat_response("4", "reasoning", "2+2", {"prompt_tokens": 5,
                                                                                "completion_tokens": 9})))
    generation = _llm(provider, model="qwen3:8b").chat(USER, purpose="answer")
    assert (generation.text, generation.thinking) == ("4", "2+2")
    assert generation.usage.reasoning_tokens > 0 and generation.usage.estimated  # not reported: estimated
    assert provider.requests[0]["json"]["max_tokens"] == 2048  # the reasoner's budget


def test_vllm_without_parser_inline_tag_missing_opening(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body=chat_response("Thinking about rows.\n</think>\n\nThree rows.")))
    generation = _llm(provider, model="DeepSeek-R1-Distill-Qwen-7B").chat(USER, purpose="answer")
    assert (generation.text, generation.thinking) == ("Three rows.", "Thinking about rows.")
    assert generation.usage.estimated and generation.usage.prompt_tokens > 0  # no usage reported


def test_completion_endpoint_for_base_models(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body={"object": "text_completion", "model": "gemma",
                                        "choices": [{"text": " eight hours [1].", "finish_reason": "stop"}],
                                        "usage": {"prompt_tokens": 120, "completion_tokens": 6}}))
    llm = _llm(provider, role="chat", model="gemma", prompt_style="completion")
    generation = llm.complete("Passages: ...\nAnswer:", purpose="answer", max_tokens=32, stop=["\n"])
    assert generation.text == "eight hours [1]." and generation.thinking == ""
    assert generation.model == "gemma" and generation.finish_reason == "stop"
    assert provider.requests[0]["path"] == "/v1/completions"
    assert provider.requests[0]["json"]["stop"] == ["\n"]
    assert "temperature" not in provider.requests[0]["json"]  # a remote chat model: provider default


def test_earlier_reasoning_is_never_sent_back(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body=chat_response("Yes.")))
    history = [{"role": "user", "content": "Q1"},
               {"role": "assistant", "content": "<think>secret plan</think>A1", "reasoning_content": "more secrets"},
               {"role": "user", "content": "Q2"}]
    _llm(provider).chat(history, purpose="answer")
    sent = provider.requests[0]["json"]["messages"]
    assert sent == [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": "Q2"}]


def test_force_think_starts_the_answer_with_a_think_tag(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body=chat_response("weighing passages\n</think>\n\nFive [2].")))
    llm = _llm(provider, model="DeepSeek-R1-Distill-Llama-8B", models={"*distill*": {"force_think": True}})
    generation = llm.chat(USER, purpose="answer")
    assert (generation.text, generation.thinking) == ("Five [2].", "weighing passages")
    body = provider.requests[0]["json"]
    assert body["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False

    provider.replies.append(Reply(body={"choices": [{"text": "hmm</think>Five.", "finish_reason": "stop"}]}))
    completion = _llm(provider, model="r1-distill", prompt_style="completion",
                      models={"*distill*": {"force_think": True}})
    generation = completion.complete("Question: ...\nAnswer:", purpose="answer")
    assert provider.requests[1]["json"]["prompt"].endswith("Answer:<think>\n")
    assert (generation.text, generation.thinking) == ("Five.", "hmm")


# -- failures ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, fragment", [
    (Reply(500, '{"error": {"message": "overloaded"}}'), "HTTP 500"),
    (Reply(401, '{"error": {"message": "Authentication Fails"}}'), "HTTP 401"),
    (Reply(200, '{"choices": [{"mess'), "not an OpenAI completion"),
    (Reply(200, {"choices": []}), "not an OpenAI completion"),
])
def test_misbehaving_endpoint_is_named(provider: FakeProvider, reply: Reply, fragment: str) -> None:
    provider.replies.append(reply)
    with pytest.raises(LLMError) as error:
        _llm(provider, retries=0).chat(USER, purpose="answer")
    message = str(error.value)
    assert fragment in message and provider.url in message and "reasoner model 'deepseek-reasoner'" in message


def test_429_waits_as_told_by_retry_after_then_succeeds(provider: FakeProvider) -> None:
    provider.replies += [Reply(429, '{"error": "rate limited"}', headers={"Retry-After": "1"}),
                         Reply(503, "busy"), Reply(body=chat_response("ok"))]
    started = time.perf_counter()
    generation = _llm(provider, retries=2).chat(USER, purpose="answer")
    assert generation.text == "ok" and len(provider.requests) == 3
    assert time.perf_counter() - started >= 1.0  # honoured Retry-After


def test_endpoint_that_stays_down_is_named_after_the_retries(provider: FakeProvider) -> None:
    provider.replies += [Reply(503, "down")] * 3
    with pytest.raises(LLMError, match=r"reasoner model 'deepseek-reasoner' at .* answered HTTP 503"):
        _llm(provider, retries=2).chat(USER, purpose="answer")
    assert len(provider.requests) == 3


def test_a_hang_past_the_timeout_names_the_setting(provider: FakeProvider) -> None:
    provider.replies += [Reply(body=chat_response("late"), delay_s=2.0)] * 2
    started = time.perf_counter()
    with pytest.raises(LLMError, match=r"no answer from reasoner model .*waited 0.5 s; setting reasoner.timeout_s"):
        _llm(provider, timeout_s=0.5, retries=1).chat(USER, purpose="answer")
    assert len(provider.requests) == 2 and time.perf_counter() - started < 2.5


def test_unreachable_endpoint() -> None:
    with pytest.raises(LLMError, match=r"cannot reach chat model 'm' at http://127.0.0.1:9/v1/chat/completions"):
        _llm("http://127.0.0.1:9/v1", role="chat", model="m", retries=0).chat(USER, purpose="answer")


# -- streaming --------------------------------------------------------------------------------------
def _collect(stream) -> tuple[str, str]:
    deltas = list(stream)
    return ("".join(d.text for d in deltas if d.kind == "thinking"),
            "".join(d.text for d in deltas if d.kind == "text"))


def test_stream_deepseek_reasoning_then_content_with_usage(provider: FakeProvider) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 20, "completion_tokens_details": {"reasoning_tokens": 12}}
    provider.replies.append(Reply(events=stream_events(["Eight", " hours [1]."], ["Passage 1", " says eight."],
                                                       usage=usage)))
    stream = _llm(provider).stream_chat(USER, purpose="answer")
    deltas = list(stream)
    kinds = [d.kind for d in deltas]
    assert kinds == ["thinking", "thinking", "text", "text"]  # thinking first, then the answer
    generation = stream.generation
    assert (generation.text, generation.thinking) == ("Eight hours [1].", "Passage 1 says eight.")
    usage = generation.usage
    assert (usage.prompt_tokens, usage.reasoning_tokens, usage.estimated) == (11, 12, False)
    body = provider.requests[0]["json"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_ollama_reasoning_field(provider: FakeProvider) -> None:
    provider.replies.append(Reply(events=stream_events(["4"], ["2+2"], reasoning_field="reasoning")))
    stream = _llm(provider, model="qwen3").stream_chat(USER, purpose="answer")
    assert _collect(stream) == ("2+2", "4")
    assert stream.generation.usage.estimated  # no usage chunk: estimated


@pytest.mark.parametrize("pieces", [
    ["<thi", "nk>step", " one</th", "ink>\n\nAns", "wer [1]."],  # tags cut by chunk boundaries
    ["<think>", "step one", "</think>", "Answer [1]."],
    ["step", " one\n</", "think>", "Answer [1]."],  # vLLM without parser: opening tag missing
])
def test_stream_inline_think_tags_split_across_chunks(provider: FakeProvider, pieces: list[str]) -> None:
    provider.replies.append(Reply(events=stream_events(pieces)))
    stream = _llm(provider, model="DeepSeek-R1-Distill-Qwen-7B").stream_chat(USER, purpose="answer")
    thinking, text = _collect(stream)
    assert (thinking.strip(), text.strip()) == ("step one", "Answer [1].")
    assert (stream.generation.thinking, stream.generation.text) == ("step one", "Answer [1].")


def test_stream_completion_endpoint(provider: FakeProvider) -> None:
    events = [{"choices": [{"text": " eight", "finish_reason": None}]},
              {"choices": [{"text": " hours", "finish_reason": "stop"}]}, "data: [DONE]"]
    provider.replies.append(Reply(events=events))
    stream = _llm(provider, role="chat", model="gemma", prompt_style="completion").stream_complete(
        "Answer:", purpose="answer")
    assert _collect(stream)[1].strip() == "eight hours" and stream.generation.text == "eight hours"


@pytest.mark.parametrize("events, fragment", [
    (stream_events(["Eight"], done=False)[:2] + ['data: {"choices": [{"delta": {"content": "tru'],
     "malformed stream event"),
    (stream_events(["Eight", " hours"], done=False), "the stream ended before the answer was complete"),
    (stream_events(["Eight"], done=False) + ['data: {"error": {"message": "model overloaded"}}'],
     "failed mid-stream: model overloaded"),
    (stream_events(["x"], done=False)[:1] + ["data: [1, 2]"], "malformed stream event"),
])
def test_broken_streams_raise_a_clear_error_and_are_logged(provider: FakeProvider, tmp_path: Path,
                                                          events: list, fragment: str) -> None:
    provider.replies.append(Reply(events=events))
    log = CallLog(tmp_path / "calls.db")
    with pytest.raises(LLMError, match=fragment) as error:
        list(_llm(provider, log=log).stream_chat(USER, purpose="answer"))
    assert provider.url in str(error.value)
    [call] = log.recent()
    assert call.streamed and fragment in call.error


def test_stream_that_hangs_mid_way_times_out(provider: FakeProvider) -> None:
    provider.replies.append(Reply(events=stream_events(["Eight", " hours"]), event_delay_s=1.5))
    started = time.perf_counter()
    with pytest.raises(LLMError, match="the stream broke off"):
        list(_llm(provider, timeout_s=0.5).stream_chat(USER, purpose="answer"))
    assert time.perf_counter() - started < 3


def test_closing_a_stream_cancels_the_upstream_call(provider: FakeProvider, tmp_path: Path) -> None:
    provider.replies.append(Reply(events=stream_events(["word "] * 200), event_delay_s=0.02))
    log = CallLog(tmp_path / "calls.db")
    with _llm(provider, log=log).stream_chat(USER, purpose="answer") as stream:
        for _ in stream:
            break
    deadline = time.time() + 5
    while provider.disconnects == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert provider.disconnects == 1
    assert log.recent()[0].error == "cancelled" and stream.generation is None


# -- the call log ------------------------------------------------------------------------------------
def test_every_call_is_logged(provider: FakeProvider, tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.db")
    provider.replies += [Reply(body=chat_response("A [1].", "reasoning_content", "why",
                                                  {"prompt_tokens": 3, "completion_tokens": 4})),
                         Reply(400, "bad request")]
    llm = _llm(provider, log=log, retries=0)
    llm.chat(USER, purpose="answer")
    with pytest.raises(LLMError):
        llm.chat([{"role": "user", "content": "问题"}], purpose="grade")
    failed, ok = log.recent()
    assert (ok.role, ok.model, ok.purpose, ok.answer, ok.thinking) == ("reasoner", "deepseek-reasoner", "answer",
                                                                        "A [1].", "why")
    assert (ok.prompt, ok.prompt_tokens, ok.completion_tokens, ok.endpoint) == (
        USER, 3, 4, provider.url + "/chat/completions")
    assert failed.purpose == "grade" and "HTTP 400" in failed.error and failed.prompt[0]["content"] == "问题"
    assert log.recent(errors_only=True) == [failed]


# -- structured output -------------------------------------------------------------------------------
PLAN_SCHEMA = {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
               "required": ["steps"]}


def _steps(value: object) -> list[str]:
    if not isinstance(value, dict) or not isinstance(value.get("steps"), list):
        raise ValueError("expected an object with a list of steps")
    return [str(step) for step in value["steps"]]


def test_json_schema_refused_falls_back_to_json_mode_and_remembers(provider: FakeProvider) -> None:
    provider.replies += [Reply(400, '{"error": {"message": "response_format json_schema unsupported"}}'),
                         Reply(body=chat_response('{"steps": ["a", "b"]}')),
                         Reply(body=chat_response('{"steps": ["c"]}'))]
    llm = _llm(provider, role="chat", model="some-model", retries=0)
    result = ask_json(llm, USER, schema=PLAN_SCHEMA, validate=_steps, purpose="plan")
    assert result.value == ["a", "b"] and result.format == "json_object" and result.downgrades == ["json_schema"]
    first, second = provider.requests[0]["json"], provider.requests[1]["json"]
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"] == PLAN_SCHEMA
    assert second["response_format"] == {"type": "json_object"}
    again = ask_json(llm, USER, schema=PLAN_SCHEMA, validate=_steps, purpose="plan")
    assert again.value == ["c"] and not again.downgrades and len(provider.requests) == 3


def test_grammar_is_derived_from_the_schema_and_a_refusal_steps_down_in_order(provider: FakeProvider) -> None:
    """A llama.cpp server gets llama.cpp's grammar for the schema (chat and completion alike),
    with no room for free whitespace; a server that refuses it is asked with guided_json (vLLM),
    then json_schema, remembering each refusal."""
    provider.replies += [Reply(body={"choices": [{"text": '{"steps": ["a"]}', "finish_reason": "stop"}]}),
                         Reply(400, '{"error": {"message": "unknown field grammar"}}'),
                         Reply(422, '{"error": {"message": "unknown field guided_json"}}'),
                         Reply(body=chat_response('{"steps": ["b"]}'))]
    llm = _llm(provider, role="chat", model="local", retries=0,
               models={"local": {"structured_output": "grammar"}})
    result = ask_json(llm, "Steps?", schema=PLAN_SCHEMA, validate=_steps, purpose="plan")
    assert result.value == ["a"] and result.format == "grammar"
    grammar = provider.requests[0]["json"]["grammar"]
    assert grammar.startswith("%llguidance") and '"steps"' in grammar and '"whitespace_flexible":false' in grammar
    assert "response_format" not in provider.requests[0]["json"]
    chat = ask_json(llm, USER, schema=PLAN_SCHEMA, validate=_steps, purpose="plan")
    assert chat.value == ["b"] and chat.format == "json_schema" and chat.downgrades == ["grammar", "guided_json"]
    assert provider.requests[2]["json"]["guided_json"] == PLAN_SCHEMA
    assert provider.requests[3]["json"]["response_format"]["json_schema"]["schema"] == PLAN_SCHEMA
    assert llm.structured_output == "json_schema"


def test_embedded_model_defaults_to_a_grammar_and_endpoints_to_json_schema() -> None:
    config = load_config(env={}, overrides={"reasoner.base_url": "http://vllm:8000/v1", "reasoner.model": "qwq"})
    assert resolve_settings(config, "chat").structured_output == "grammar"  # no base_url: the embedded server
    assert resolve_settings(config, "reasoner").structured_output == "json_schema"


def test_deepseek_reasoner_gets_no_response_format_and_tolerant_parsing(provider: FakeProvider) -> None:
    provider.replies += [Reply(body=chat_response('Here is the plan:\n```json\n{"steps": ["x",],}\n```',
                                                  "reasoning_content", '{"steps": ["leaked"]}')),
                         Reply(body=chat_response("I cannot make a plan."))]
    llm = _llm(provider)
    result = ask_json(llm, USER, schema=PLAN_SCHEMA, validate=_steps, purpose="plan")
    assert result.value == ["x"] and "response_format" not in provider.requests[0]["json"]
    garbage = ask_json(llm, USER, schema=PLAN_SCHEMA, validate=_steps, purpose="plan")
    assert garbage.value is None and garbage.fell_back and "no JSON object" in garbage.error


@pytest.mark.parametrize("text, expected", [
    ('{"a": 1}', {"a": 1}),
    ('prose first {"a": "}"} then prose', {"a": "}"}),
    ("```json\n[1, 2,]\n```", [1, 2]),
    ('{"grades": [{"id": 1, "relevant": true},]}', {"grades": [{"id": 1, "relevant": True}]}),
    ('相关性：{"相关": [1, 3]}', {"相关": [1, 3]}),
])
def test_parse_json_loosely(text: str, expected: object) -> None:
    assert parse_json_loosely(text) == expected


def test_parse_json_loosely_names_what_it_saw() -> None:
    with pytest.raises(ValueError, match="no JSON object or array found in 'The answer is'"):
        parse_json_loosely("The answer is")
