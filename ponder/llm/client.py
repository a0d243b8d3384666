"""Talk to any OpenAI-compatible endpoint over HTTP: the embedded llama.cpp server or a user's own.

``chat`` posts to ``/chat/completions`` (instruction-tuned and reasoning models); ``complete`` posts
to ``/completions`` with a raw prompt (base models such as the embedded Gemma 3 270M, which has no
chat template). ``stream_chat`` / ``stream_complete`` do the same over server-sent events and yield
thinking and answer deltas as they come. Every result is a :class:`Generation` with the thinking
separated from the answer and token usage filled (estimated, and marked so, where the provider
reports none). Retries, timeouts and errors follow :mod:`ponder.http`; every call is logged.

Conventions for reasoning models (DeepSeek's R1 guidance): no system prompt (callers put every
instruction in the user turn), earlier turns' reasoning is never sent back, and with
``force_think`` the answer is made to start with ``<think>\\n``.

Example::

    llm = OpenAICompatibleLLM(RemoteEndpoint("https://api.deepseek.com/v1"),
                              resolve_settings(config, "reasoner"), api_key="sk-...")
    generation = llm.chat([{"role": "user", "content": "1+1?"}], purpose="answer")
    generation.text, generation.thinking, generation.usage
    for delta in (stream := llm.stream_chat(messages, purpose="answer")):
        print(delta.kind, delta.text)
    stream.generation
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Protocol

import httpx

from ponder.http import RemoteError, body_excerpt, send_with_retries
from ponder.llm.calllog import CallLog, LoggedCall
from ponder.llm.settings import ModelSettings
from ponder.llm.thinking import OPEN_TAG, Delta, ThinkingSplitter, split_thinking
from ponder.text import estimate_tokens
from ponder.types import Usage

Messages = list[dict[str, Any]]


class LLMError(RemoteError):
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


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked to call (OpenAI's ``tool_calls``): ``arguments`` as the JSON text it wrote."""

    id: str
    name: str
    arguments: str

    def message(self) -> dict[str, Any]:
        """As the assistant turn that made it is sent back."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class Generation:
    """One model call's result. ``text`` is the answer alone; ``thinking`` the reasoning, if any;
    ``tool_calls`` the functions it asked for, when it was offered tools."""

    text: str
    thinking: str
    usage: Usage
    seconds: float
    model: str
    finish_reason: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)


class OpenAICompatibleLLM:
    def __init__(self, endpoint: Endpoint, settings: ModelSettings, *, model: str | None = None,
                 api_key: str = "", log: CallLog | None = None):
        self.endpoint = endpoint
        self.settings = settings
        self.model = model or settings.model
        self.log = log
        # Degrades (json_schema -> json_object -> text) when the endpoint turns a format down.
        self.structured_output = settings.structured_output
        self.tools = settings.tools  # turned off when the endpoint refuses a request with tools
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=settings.timeout_s, headers=headers)

    @property
    def role(self) -> str:
        return self.settings.role

    @property
    def prompt_style(self) -> str:
        return self.settings.prompt_style

    def close(self) -> None:
        self._http.close()
        self.endpoint.close()

    # -- calls ----------------------------------------------------------------------------------
    def chat(self, messages: Messages, *, purpose: str, max_tokens: int | None = None,
             stop: list[str] | None = None, constraint: dict[str, Any] | None = None,
             tools: list[dict[str, Any]] | None = None) -> Generation:
        """``constraint``: request fields that constrain the output (``response_format``,
        ``grammar``, ``guided_json``), built by :mod:`ponder.llm.structured`; ``tools``: functions
        the model may call (OpenAI's ``tools``), its calls in ``Generation.tool_calls``."""
        body, prompt = self._chat_body(messages, max_tokens, stop, constraint)
        return self._call("/chat/completions", body | ({"tools": tools} if tools else {}), prompt, purpose)

    def complete(self, prompt: str, *, purpose: str, max_tokens: int | None = None,
                 stop: list[str] | None = None, constraint: dict[str, Any] | None = None) -> Generation:
        body, record = self._completion_body(prompt, max_tokens, stop)
        return self._call("/completions", body | (constraint or {}), record, purpose)

    def stream_chat(self, messages: Messages, *, purpose: str, max_tokens: int | None = None,
                    stop: list[str] | None = None) -> GenerationStream:
        body, prompt = self._chat_body(messages, max_tokens, stop, None)
        return GenerationStream(self, "/chat/completions", body, prompt, purpose)

    def stream_complete(self, prompt: str, *, purpose: str, max_tokens: int | None = None,
                        stop: list[str] | None = None) -> GenerationStream:
        body, record = self._completion_body(prompt, max_tokens, stop)
        return GenerationStream(self, "/completions", body, record, purpose)

    # -- request bodies -------------------------------------------------------------------------
    def _chat_body(self, messages: Messages, max_tokens: int | None, stop: list[str] | None,
                   constraint: dict[str, Any] | None) -> tuple[dict[str, Any], Messages]:
        messages = without_reasoning(messages)
        body = self._body(max_tokens, stop)
        if self.settings.force_think:
            # vLLM / SGLang continue a final assistant message with these flags; Ollama does so as is.
            messages = [*messages, {"role": "assistant", "content": OPEN_TAG + "\n"}]
            body |= {"continue_final_message": True, "add_generation_prompt": False}
        return body | (constraint or {}) | {"messages": messages}, messages

    def _completion_body(self, prompt: str, max_tokens: int | None,
                         stop: list[str] | None) -> tuple[dict[str, Any], str]:
        if self.settings.force_think:
            prompt += OPEN_TAG + "\n"
        return self._body(max_tokens, stop) | {"prompt": prompt}, prompt

    def _body(self, max_tokens: int | None, stop: list[str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens or self.settings.max_tokens}
        if self.settings.temperature is not None:
            body["temperature"] = self.settings.temperature
        if stop:
            body["stop"] = stop
        return body

    # -- transport ------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return self.endpoint.url() + path

    def _describe(self) -> str:
        return f"{self.role} model '{self.model}'"

    def _open(self, path: str, body: dict[str, Any], stream: bool, entry: LoggedCall) -> httpx.Response:
        url = entry.endpoint = self._url(path)

        def send() -> httpx.Response:
            return self._http.send(self._http.build_request("POST", url, json=body), stream=stream)

        try:
            return send_with_retries(send, url=url, what=self._describe(), retries=self.settings.retries,
                                     timeout_hint=f"waited {self.settings.timeout_s:g} s; setting "
                                                  f"{self.role}.timeout_s")
        except RemoteError as exc:
            if exc.status is None:
                self.endpoint.url()  # a crashed local server raises its own, clearer error here
            raise LLMError(str(exc), status=exc.status) from None

    def _call(self, path: str, body: dict[str, Any], prompt: Any, purpose: str) -> Generation:
        started = time.perf_counter()
        entry = self._entry(purpose, prompt, streamed=False)
        try:
            response = self._open(path, body, stream=False, entry=entry)
            try:
                payload = response.json()
                choice = payload["choices"][0]
                content, reasoning = _read_choice(choice)
                tool_calls = [ToolCall(str(call.get("id", "")), call["function"]["name"],
                                       call["function"].get("arguments") or "{}")
                              for call in (choice.get("message") or {}).get("tool_calls") or []]
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise LLMError(f"{self._describe()} at {entry.endpoint} sent a response that is not an OpenAI "
                               f"completion ({exc!r}): {body_excerpt(response)}") from None
        except LLMError as exc:
            self._record(replace(entry, error=str(exc), seconds=time.perf_counter() - started))
            raise
        generation = self._generation(content, reasoning, payload.get("usage"), prompt,
                                      time.perf_counter() - started, payload.get("model"), choice.get("finish_reason"))
        generation.tool_calls = tool_calls
        self._record_generation(entry, generation)
        return generation

    def _generation(self, content: str | None, reasoning: str | None, usage: dict[str, Any] | None, prompt: Any,
                    seconds: float, model: str | None, finish_reason: str | None) -> Generation:
        if self.settings.force_think and content and OPEN_TAG not in content:
            content = OPEN_TAG + content  # we opened the thought in the prompt
        text, thinking = split_thinking(content, reasoning)
        output = (content or "") + (reasoning or "")
        return Generation(text=text, thinking=thinking, usage=_usage(usage, _prompt_text(prompt), output, thinking),
                          seconds=seconds, model=model or self.model, finish_reason=finish_reason)

    # -- log ------------------------------------------------------------------------------------
    def _entry(self, purpose: str, prompt: Any, streamed: bool) -> LoggedCall:
        return LoggedCall(role=self.role, model=self.model, endpoint="", purpose=purpose, prompt=_loggable(prompt),
                          streamed=streamed)

    def _record_generation(self, entry: LoggedCall, generation: Generation) -> None:
        usage = generation.usage
        calls = "\n".join(f"{call.name}({call.arguments})" for call in generation.tool_calls)
        self._record(replace(entry, answer=generation.text or calls, thinking=generation.thinking,
                             prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                             reasoning_tokens=usage.reasoning_tokens, tokens_estimated=usage.estimated,
                             seconds=generation.seconds, finish_reason=generation.finish_reason,
                             model=generation.model))

    def _record(self, entry: LoggedCall) -> None:
        if self.log is not None:
            self.log.record(entry)


class GenerationStream:
    """A streamed call: iterate for :class:`Delta`s; ``generation`` is set once the stream ends.

    Closing it early (or breaking out of a ``with`` block) closes the HTTP response, which cancels
    the request upstream; the call is logged as cancelled.
    """

    def __init__(self, llm: OpenAICompatibleLLM, path: str, body: dict[str, Any], prompt: Any, purpose: str):
        self._llm = llm
        self._path = path
        self._body = body | {"stream": True, "stream_options": {"include_usage": True}}
        self._prompt = prompt
        self._entry = llm._entry(purpose, prompt, streamed=True)
        self._response: httpx.Response | None = None
        self._started = 0.0
        self._done = False
        self.generation: Generation | None = None

    def __enter__(self) -> GenerationStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        if not self._done:
            self._done = True
            self._llm._record(replace(self._entry, error="cancelled", seconds=time.perf_counter() - self._started))

    def __iter__(self) -> Iterator[Delta]:
        llm = self._llm
        self._started = time.perf_counter()
        splitter = ThinkingSplitter(starts_thinking=llm.settings.force_think or llm.role == "reasoner")
        content, reasoning, usage, model, finish_reason = [], [], None, None, None
        try:
            self._response = llm._open(self._path, self._body, stream=True, entry=self._entry)
            saw_end = False
            where = f"{llm._describe()} at {self._entry.endpoint}"
            for event in _server_sent_events(self._response, where):
                if event is None:
                    saw_end = True
                    break
                usage = event.get("usage") or usage
                model = event.get("model") or model
                for choice in event.get("choices") or []:
                    finish_reason = choice.get("finish_reason") or finish_reason
                    piece, thought = _read_delta(choice)
                    if thought:
                        splitter.reasoning_seen()
                        reasoning.append(thought)
                        yield Delta("thinking", thought)
                    if piece:
                        content.append(piece)
                        yield from splitter.feed(piece)
            if not saw_end and finish_reason is None:
                raise LLMError(f"{where}: the stream ended before the "
                               f"answer was complete")
            yield from splitter.finish()
        except LLMError as exc:
            self._fail(str(exc))
            raise
        except httpx.HTTPError as exc:  # a timeout or a dropped connection mid-stream
            message = f"{llm._describe()} at {self._entry.endpoint}: the stream broke off ({exc!r})"
            self._fail(message)
            raise LLMError(message) from None
        finally:
            if self._response is not None:
                self._response.close()
        self.generation = llm._generation("".join(content), "".join(reasoning), usage, self._prompt,
                                          time.perf_counter() - self._started, model, finish_reason)
        self._done = True
        llm._record_generation(self._entry, self.generation)

    def _fail(self, message: str) -> None:
        self._done = True
        self._llm._record(replace(self._entry, error=message, seconds=time.perf_counter() - self._started))


def _server_sent_events(response: httpx.Response, where: str) -> Iterator[dict[str, Any] | None]:
    """The JSON events of an SSE body; ``None`` for ``data: [DONE]``. Comments (keep-alives) skipped."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, ": keep-alive" comments, "event:" names
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            yield None
            return
        try:
            event = json.loads(data)
        except ValueError:
            raise LLMError(f"{where} sent a malformed stream event: {data[:200]}") from None
        if not isinstance(event, dict):
            raise LLMError(f"{where} sent a malformed stream event: {data[:200]}")
        if event.get("error"):
            error = event["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise LLMError(f"{where} failed mid-stream: {message}")
        yield event


def without_reasoning(messages: Messages) -> Messages:
    """The conversation as a model should see it: earlier assistant turns keep their answer only
    (DeepSeek rejects ``reasoning_content`` in input; R1 is told never to read its old thoughts)."""
    cleaned = []
    for message in messages:
        if message.get("role") == "assistant":
            answer, _ = split_thinking(message.get("content") or "")
            # A turn that called tools keeps its calls: the tool results that follow answer them.
            message = {"role": "assistant", "content": answer} | (
                {"tool_calls": message["tool_calls"]} if message.get("tool_calls") else {})
        cleaned.append(message)
    return cleaned


def _read_choice(choice: dict[str, Any]) -> tuple[str | None, str | None]:
    if "message" in choice:
        message = choice["message"]
        return message.get("content"), message.get("reasoning_content") or message.get("reasoning")
    return choice["text"], None


def _read_delta(choice: dict[str, Any]) -> tuple[str | None, str | None]:
    if "delta" in choice:
        delta = choice["delta"] or {}
        return delta.get("content"), delta.get("reasoning_content") or delta.get("reasoning")
    return choice.get("text"), None


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(_content_text(m.get("content")) for m in prompt)


def _content_text(content: Any) -> str:
    """A message's text; of a list of content parts (text and images), the text parts."""
    if isinstance(content, list):
        return "\n".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return str(content or "")


def _loggable(prompt: Any) -> Any:
    """The prompt as the call log keeps it: an image sent inline is logged by its size and hash,
    not as megabytes of base64."""
    if isinstance(prompt, str) or not any(isinstance(m.get("content"), list) for m in prompt):
        return prompt
    logged = []
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            content = [_image_reference(part) if isinstance(part, dict) and part.get("type") == "image_url" else part
                       for part in content]
        logged.append({**message, "content": content})
    return logged


def _image_reference(part: dict[str, Any]) -> dict[str, Any]:
    url = str((part.get("image_url") or {}).get("url") or "")
    if not url.startswith("data:"):
        return part
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return {"type": "image_url",
            "image_url": {"url": f"{url.partition(',')[0]},… ({len(url):,} characters, sha256 {digest})"}}


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
