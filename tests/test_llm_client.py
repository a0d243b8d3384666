"""The OpenAI-compatible client against the response shapes of real providers (replayed locally)."""

from __future__ import annotations

import pytest

from ponder.llm import LLMError, OpenAICompatibleLLM, RemoteEndpoint
from tests.fake_provider import FakeProvider, Reply, chat_response


@pytest.fixture
def provider():
    fake = FakeProvider().start()
    yield fake
    fake.stop()


def _llm(provider: FakeProvider, **kwargs) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(RemoteEndpoint(provider.url), model="deepseek-reasoner", api_key="sk-test", **kwargs)


def test_deepseek_reasoning_content_and_usage(provider: FakeProvider) -> None:
    usage = {"prompt_tokens": 40, "completion_tokens": 90, "total_tokens": 130,
             "completion_tokens_details": {"reasoning_tokens": 72}}
    provider.replies.append(Reply(body=chat_response("It is 1889 [1].", "reasoning_content",
                                                     "Passage 1 says 1889.", usage)))
    generation = _llm(provider, temperature=0.6).chat([{"role": "user", "content": "When?"}], max_tokens=64)
    assert generation.text == "It is 1889 [1]." and generation.thinking == "Passage 1 says 1889."
    assert (generation.usage.prompt_tokens, generation.usage.completion_tokens,
            generation.usage.reasoning_tokens, generation.usage.estimated) == (40, 90, 72, False)
    request = provider.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["json"] == {"model": "deepseek-reasoner", "max_tokens": 64, "temperature": 0.6,
                               "messages": [{"role": "user", "content": "When?"}]}


def test_ollama_reasoning_field(provider: FakeProvider) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 9}
    provider.replies.append(Reply(body=chat_response("4", "reasoning", "2+2", usage)))
    generation = _llm(provider).chat([{"role": "user", "content": "2+2"}], max_tokens=16)
    assert (generation.text, generation.thinking) == ("4", "2+2")
    assert generation.usage.reasoning_tokens > 0 and generation.usage.estimated  # not reported: estimated


def test_vllm_without_parser_inline_tag_missing_opening(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body=chat_response("Thinking about rows.\n</think>\n\nThree rows.")))
    generation = _llm(provider).chat([{"role": "user", "content": "rows?"}], max_tokens=16)
    assert (generation.text, generation.thinking) == ("Three rows.", "Thinking about rows.")
    assert generation.usage.estimated and generation.usage.prompt_tokens > 0  # no usage reported


def test_completion_endpoint_for_base_models(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body={"object": "text_completion", "model": "gemma",
                                        "choices": [{"text": " eight hours [1].", "finish_reason": "stop"}],
                                        "usage": {"prompt_tokens": 120, "completion_tokens": 6}}))
    llm = _llm(provider, prompt_style="completion")
    generation = llm.complete("Passages: ...\nAnswer:", max_tokens=32, stop=["\n"])
    assert generation.text == "eight hours [1]." and generation.thinking == ""
    assert generation.model == "gemma" and generation.finish_reason == "stop"
    assert provider.requests[0]["path"] == "/v1/completions"
    assert provider.requests[0]["json"]["stop"] == ["\n"]
    assert "temperature" not in provider.requests[0]["json"]  # provider default unless configured


@pytest.mark.parametrize("reply, fragment", [
    (Reply(500, '{"error": {"message": "overloaded"}}'), "HTTP 500"),
    (Reply(401, '{"error": {"message": "Authentication Fails"}}'), "HTTP 401"),
    (Reply(200, '{"choices": [{"mess'), "not an OpenAI completion"),
    (Reply(200, {"choices": []}), "not an OpenAI completion"),
])
def test_misbehaving_endpoint_is_named(provider: FakeProvider, reply: Reply, fragment: str) -> None:
    provider.replies.append(reply)
    with pytest.raises(LLMError) as error:
        _llm(provider).chat([{"role": "user", "content": "x"}], max_tokens=8)
    message = str(error.value)
    assert fragment in message and provider.url in message and "deepseek-reasoner" in message


def test_timeout_names_the_setting(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body=chat_response("late"), delay_s=2.0))
    with pytest.raises(LLMError, match=r"within 0.5 s \(setting llm.timeout_s\)"):
        _llm(provider, timeout_s=0.5).chat([{"role": "user", "content": "x"}], max_tokens=8)


def test_unreachable_endpoint() -> None:
    llm = OpenAICompatibleLLM(RemoteEndpoint("http://127.0.0.1:9/v1"), model="m")
    with pytest.raises(LLMError, match=r"cannot reach http://127.0.0.1:9/v1/chat/completions \(model 'm'\)"):
        llm.chat([{"role": "user", "content": "x"}], max_tokens=8)
