"""Structured output (plans, grades, routes) that survives every provider and every model.

Asked for in the best way the endpoint accepts, most constraining first:

================  ==================================================================================
``grammar``       the embedded llama.cpp server (its default): the grammar llama.cpp itself derives
                  from the JSON schema (llguidance in the bundled build); the model cannot write
                  anything else, base models included
``guided_json``   vLLM and SGLang: the schema as ``guided_json``
``json_schema``   OpenAI-style APIs, Ollama, llama-server: ``response_format: json_schema`` (chat);
                  ``json_schema`` in a completion request (llama-server)
``json_object``   JSON mode (DeepSeek's chat model); nothing for completion prompts
``text``          no constraint; the reply is parsed tolerantly
================  ==================================================================================

A format the endpoint turns down (HTTP 400/422) is dropped for this model from then on, for the
next one in that order. Whatever comes back is parsed
tolerantly: thinking removed, code fences and prose around the JSON ignored, trailing commas
forgiven. A reply that still does not parse, or does not validate, is a :class:`StructuredResult`
with ``value=None`` and the reason: callers degrade gracefully and count it; they never crash.

Example::

    result = ask_json(llm, messages, schema={"type": "object", ...}, validate=Plan.from_json,
                      purpose="plan")
    plan = result.value or Plan.single_step(question)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Generic, TypeVar

from ponder.llm.client import Generation, LLMError, Messages, OpenAICompatibleLLM
from ponder.llm.settings import StructuredOutput

T = TypeVar("T")
FORMAT_ORDER: tuple[StructuredOutput, ...] = ("grammar", "guided_json", "json_schema", "json_object", "text")
REJECTED_STATUS = {400, 422}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


@dataclass
class StructuredResult(Generic[T]):
    value: T | None
    generation: Generation | None
    format: str  # the response format that produced it
    downgrades: list[str] = field(default_factory=list)  # formats the endpoint refused on the way
    error: str | None = None  # why value is None

    @property
    def fell_back(self) -> bool:
        return self.value is None


def ask_json(llm: OpenAICompatibleLLM, prompt: Messages | str, *, schema: dict[str, Any],
             validate: Callable[[Any], T], purpose: str, max_tokens: int | None = None) -> StructuredResult[T]:
    """Ask ``llm`` for JSON matching ``schema``; ``validate`` turns the parsed JSON into ``T`` or
    raises ValueError. ``prompt`` is chat messages, or a completion prompt for base models."""
    downgrades: list[str] = []
    chat = isinstance(prompt, list)
    while True:
        chosen = llm.structured_output
        constraint = _constraint(chosen, schema, purpose, chat)
        if constraint is None and chosen not in ("text", "json_object"):  # a grammar we cannot derive here
            downgrades.append(chosen)
            llm.structured_output = _next_format(chosen)
            continue
        used = chosen if constraint else "text"
        try:
            if isinstance(prompt, list):
                generation = llm.chat(prompt, purpose=purpose, max_tokens=max_tokens, constraint=constraint)
            else:
                generation = llm.complete(str(prompt), purpose=purpose, max_tokens=max_tokens, constraint=constraint)
        except LLMError as exc:
            if exc.status in REJECTED_STATUS and constraint:
                downgrades.append(chosen)
                llm.structured_output = _next_format(chosen)
                continue
            return StructuredResult(None, None, used, downgrades, error=str(exc))
        try:
            value = validate(parse_json_loosely(generation.text))
        except ValueError as exc:
            return StructuredResult(None, generation, used, downgrades, error=f"unusable reply: {exc}")
        return StructuredResult(value, generation, used, downgrades)


def _next_format(chosen: StructuredOutput) -> StructuredOutput:
    return FORMAT_ORDER[min(FORMAT_ORDER.index(chosen) + 1, len(FORMAT_ORDER) - 1)]


def _constraint(chosen: str, schema: dict[str, Any], purpose: str, chat: bool) -> dict[str, Any] | None:
    """The request fields that ask for ``schema`` in format ``chosen``; None: nothing to send."""
    if chosen == "grammar":
        grammar = llama_grammar(json.dumps(schema))  # key order kept: the grammar writes properties in it
        return {"grammar": grammar} if grammar else None
    if chosen == "guided_json":
        return {"guided_json": schema}
    if chosen == "json_schema":
        if chat:
            return {"response_format": {"type": "json_schema", "json_schema": {"name": purpose, "schema": schema}}}
        return {"json_schema": schema}
    if chosen == "json_object" and chat:
        return {"response_format": {"type": "json_object"}}
    return None


@lru_cache(maxsize=256)
def llama_grammar(schema_json: str) -> str | None:
    """The grammar for a JSON schema by llama.cpp's own converter, the one the embedded server was
    built with (``xllamacpp``); None where that package is not installed."""
    try:
        from xllamacpp import json_schema_to_grammar
    except ImportError:
        return None
    # llguidance lets JSON hold any whitespace, and a base model held to it can write newlines
    # until max_tokens; fix the separators to those of the prompts' worked examples instead.
    layout = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}
    return str(json_schema_to_grammar(json.loads(schema_json) | {"x-guidance": layout}))


def parse_json_loosely(text: str) -> Any:
    """The first JSON object or array in ``text``; ValueError naming what was wrong when none parses."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        for start, char in enumerate(candidate):
            if char not in "{[":
                continue
            end = _matching_close(candidate, start)
            if end is None:
                continue
            snippet = candidate[start:end + 1]
            for attempt in (snippet, _TRAILING_COMMA.sub(r"\1", snippet)):
                try:
                    return json.loads(attempt)
                except ValueError:
                    pass
    preview = " ".join(text.split())[:120]
    raise ValueError(f"no JSON object or array found in {preview!r}")


def _matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at ``start``, skipping brackets inside strings."""
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index
    return None
