"""Talk to any OpenAI-compatible endpoint over HTTP: the embedded llama.cpp server or a user's own.

``chat`` posts to ``/chat/completions`` (instruction-tuned models); ``complete`` posts to
``/completions`` with a raw prompt (base models such as the embedded Gemma 3 270M, which has no chat
template). Both return a :class:`Generation` with the thinking already separated from the answer and
token usage filled, estimated where the provider reports none.

Example::

    llm = OpenAICompatibleLLM(RemoteEndpoint("https://api.deepseek.com/v1"), model="deepseek-reasoner",
                              api_key="sk-...")
    generation = llm.chat([{"role": "user", "content": "1+1?"}], max_tokens=256)
    generation.text, generation.thinking
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from ponder.llm.thinking import split_thinking
from ponder.text import estimate_tokens
from ponder.types import Usage


class LLMError(RuntimeError):
    """A model call failed; the message names the endpoint and the model."""


class Endpoint(Protocol):
    """Where an OpenAI-compatible API lives. ``url()`` may start a local server on first use and
    raises with a clear message when that server is not (or no longer) running."""

    def url(self) -> str: ...

    def ensure_started(self) -> float:
        """Start what needs starting; return the seconds it took (0 when nothing had to start)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RemoteEndpoint:
    base_url: str

    def url(self) -> str:
        return self.base_url.rstrip("/")

    def ensure_started(self) -> float:
        return 0.0

    def close(self) -> None:
        """Nothing to release: the remote server is not ours."""


@dataclass
class Generation:
    """One model call's result. ``text`` is the answer alone; ``thinking`` the reasoning, if any."""

    text: str
    thinking: str
    usage: Usage
    seconds: float
    model: str
    finish_reason: str | None


class OpenAICompatibleLLM:
    def __init__(
        self,
        endpoint: Endpoint,
        model: str,
        api_key: str = "",
        timeout_s: float = 120.0,
        prompt_style: Literal["chat", "completion"] = "chat",
        temperature: float | None = None,
    ):
        self.endpoint = endpoint
        self.model = model
        self.prompt_style = prompt_style
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout_s, headers=headers)
        self._timeout_s = timeout_s

    def close(self) -> None:
        self._http.close()
        self.endpoint.close()

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int, stop: list[str] | None = None) -> Generation:
        prompt_text = "\n".join(m["content"] for m in messages)
        body = self._body(max_tokens, stop) | {"messages": messages}
        return self._call("/chat/completions", body, prompt_text, _chat_choice)

    def complete(self, prompt: str, *, max_tokens: int, stop: list[str] | None = None) -> Generation:
        body = self._body(max_tokens, stop) | {"prompt": prompt}
        return self._call("/completions", body, prompt, _completion_choice)

    def _body(self, max_tokens: int, stop: list[str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if stop:
            body["stop"] = stop
        return body

    def _call(self, path: str, body: dict[str, Any], prompt_text: str, read_choice: Any) -> Generation:
        url = self.endpoint.url() + path
        where = f"{url} (model '{self.model}')"
        started = time.perf_counter()
        try:
            response = self._http.post(url, json=body)
        except httpx.TimeoutException:
            raise LLMError(f"no answer from {where} within {self._timeout_s:g} s (setting llm.timeout_s)") from None
        except httpx.TransportError as exc:
            self.endpoint.url()  # a crashed local server raises its own, clearer error here
            raise LLMError(f"cannot reach {where}: {exc}") from None
        seconds = time.perf_counter() - started
        if response.status_code >= 400:
            raise LLMError(f"{where} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            payload = response.json()
            choice = payload["choices"][0]
            content, reasoning = read_choice(choice)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"{where} sent a response that is not an OpenAI completion ({exc!r}): "
                           f"{response.text[:300]}") from None
        text, thinking = split_thinking(content, reasoning)
        return Generation(
            text=text,
            thinking=thinking,
            usage=_usage(payload.get("usage"), prompt_text, (content or "") + (reasoning or ""), thinking),
            seconds=seconds,
            model=payload.get("model") or self.model,
            finish_reason=choice.get("finish_reason"),
        )


def _chat_choice(choice: dict[str, Any]) -> tuple[str | None, str | None]:
    message = choice["message"]
    return message.get("content"), message.get("reasoning_content") or message.get("reasoning")


def _completion_choice(choice: dict[str, Any]) -> tuple[str | None, str | None]:
    return choice["text"], None


def _usage(reported: dict[str, Any] | None, prompt_text: str, output_text: str, thinking: str) -> Usage:
    """Usage as reported; what the provider leaves out is estimated and marked so."""
    if not reported or "prompt_tokens" not in reported or "completion_tokens" not in reported:
        return Usage(estimate_tokens(prompt_text), estimate_tokens(output_text),
                     estimate_tokens(thinking), estimated=True)
    details = reported.get("completion_tokens_details") or {}
    reasoning_tokens = details.get("reasoning_tokens")
    return Usage(
        prompt_tokens=int(reported["prompt_tokens"]),
        completion_tokens=int(reported["completion_tokens"]),
        reasoning_tokens=int(reasoning_tokens) if reasoning_tokens is not None else estimate_tokens(thinking),
        estimated=reasoning_tokens is None and bool(thinking),
    )
