"""Structured output (plans, grades, routes) that survives every provider and every model.

Asked for in the best way the endpoint accepts: a JSON schema (``response_format: json_schema``),
else JSON mode (``json_object``; DeepSeek's chat model), else plain text. A format the endpoint
turns down (HTTP 400/422) is dropped for this model from then on. Whatever comes back is parsed
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
from typing import Any, Callable, Generic, TypeVar

from ponder.llm.client import Generation, LLMError, Messages, OpenAICompatibleLLM

T = TypeVar("T")
FORMAT_ORDER = ("json_schema", "json_object", "text")
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
    while True:
        chosen = llm.structured_output if isinstance(prompt, list) else "text"
        try:
            if isinstance(prompt, str):
                generation = llm.complete(prompt, purpose=purpose, max_tokens=max_tokens)
            else:
                generation = llm.chat(prompt, purpose=purpose, max_tokens=max_tokens,
                                      response_format=_response_format(chosen, schema, purpose))
        except LLMError as exc:
            if exc.status in REJECTED_STATUS and chosen != "text":
                downgrades.append(chosen)
                llm.structured_output = FORMAT_ORDER[FORMAT_ORDER.index(chosen) + 1]
                continue
            return StructuredResult(None, None, chosen, downgrades, error=str(exc))
        try:
            value = validate(parse_json_loosely(generation.text))
        except ValueError as exc:
            return StructuredResult(None, generation, chosen, downgrades, error=f"unusable reply: {exc}")
        return StructuredResult(value, generation, chosen, downgrades)


def _response_format(chosen: str, schema: dict[str, Any], purpose: str) -> dict[str, Any] | None:
    if chosen == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": purpose, "schema": schema}}
    if chosen == "json_object":
        return {"type": "json_object"}
    return None


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
