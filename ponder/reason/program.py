"""Program of thought for the reasoning modes: the model writes the arithmetic a numeric answer
needs, Ponder's calculator (:mod:`ponder.reason.calculator`) evaluates it exactly, and the results
go to whoever writes the answer.

Two ways to ask, by what the endpoint takes (``tools`` in the model's settings):

* **a tool** — the model is offered a ``calculate`` function; each call is evaluated and its
  result (or the reason it was refused) sent back as the tool's reply, so the model can build on
  it or fix a bad expression, for up to :data:`MAX_TOOL_ROUNDS` rounds;
* **a structured step** — the model lists its expressions as JSON, held by the endpoint's
  constraint the way plans are (the embedded model, DeepSeek's reasoner, an endpoint that turned
  tools down).

Every calculation is a ``calculate`` step of the trace with its expression and result or refusal.

Example::

    lines = calculations(run, llm, numbered)   # ["change in Other: 44.1 - 56.7 = -12.6"]
"""

from __future__ import annotations

import json
from typing import Any

from ponder.llm import LLMError, OpenAICompatibleLLM
from ponder.reason.calculator import calculate, written
from ponder.reason.prompts import Numbered, task_completion, task_messages
from ponder.reason.run import Run

MAX_CALCULATIONS = 4
MAX_TOOL_ROUNDS = 3  # a model that keeps calling is stopped: each round is a model call
PASSAGE_CHARS = 4000  # a calculation needs its whole table
CALCULATE_TOOL: dict[str, Any] = {"type": "function", "function": {
    "name": "calculate",
    "description": ("Evaluate an arithmetic expression exactly (decimal arithmetic): numbers as the passages "
                    "write them, + - * / and parentheses; multiply by 100 for a percentage."),
    "parameters": {"type": "object", "properties": {
        "what": {"type": "string", "description": "what it computes, in the question's words"},
        "expression": {"type": "string", "description": "for example (1,496.5 - 1,202.9) / 1,202.9 * 100"}},
        "required": ["expression"]}}}
CALCULATION_SCHEMA = {"type": "object", "properties": {"calculations": {
    "type": "array", "maxItems": MAX_CALCULATIONS, "items": {
        "type": "object", "properties": {"what": {"type": "string", "maxLength": 120},
                                         "expression": {"type": "string", "minLength": 1, "maxLength": 200}},
        "required": ["what", "expression"], "additionalProperties": False}}},
    "required": ["calculations"], "additionalProperties": False}
_REFUSED_STATUSES = (400, 404, 422)  # how endpoints without function calling answer a request with tools


def calculations(run: Run, llm: OpenAICompatibleLLM, numbered: Numbered) -> list[str]:
    """The calculations the model asked for that the calculator could do, as "what: expression =
    result" lines."""
    if llm.tools and llm.prompt_style == "chat":
        try:
            return _by_tool(run, llm, numbered)
        except LLMError as exc:
            if exc.status not in _REFUSED_STATUSES:
                raise
            llm.tools = False  # not asked again with tools by this client
            run.fallback(f"calculate: the {llm.role} endpoint refused tool calls ({exc}); asked for JSON instead")
    return _by_structured_step(run, llm, numbered)


def _by_tool(run: Run, llm: OpenAICompatibleLLM, numbered: Numbered) -> list[str]:
    messages: list[dict[str, Any]] = task_messages("calculate_tool", run.question, run.language, numbered,
                                                   passage_chars=PASSAGE_CHARS)
    done: list[str] = []
    for _ in range(MAX_TOOL_ROUNDS):
        generation = run.generate(llm, messages, purpose="calculate", tools=[CALCULATE_TOOL])
        if not generation.tool_calls:
            break
        messages.append({"role": "assistant", "content": generation.text,
                         "tool_calls": [call.message() for call in generation.tool_calls]})
        for call in generation.tool_calls:
            what, expression, problem = _arguments(call.name, call.arguments)
            line, reply = _evaluate(run, what, expression, problem, via="tool")
            if line and len(done) < MAX_CALCULATIONS:
                done.append(line)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": reply})
    return done


def _by_structured_step(run: Run, llm: OpenAICompatibleLLM, numbered: Numbered) -> list[str]:
    if llm.prompt_style == "completion":
        prompt: Any = task_completion("calculate", run.question, run.language, numbered, passage_chars=PASSAGE_CHARS)
    else:
        prompt = task_messages("calculate", run.question, run.language, numbered, passage_chars=PASSAGE_CHARS)
    result = run.ask_json(llm, prompt, schema=CALCULATION_SCHEMA, validate=_listed, purpose="calculate",
                          max_tokens=300)
    lines = [_evaluate(run, what, expression, "", via="json")[0] for what, expression in result.value or []]
    return [line for line in lines if line]


def _evaluate(run: Run, what: str, expression: str, problem: str, via: str) -> tuple[str, str]:
    """The trace step for one calculation; its line for the answer writer ("" when refused) and the
    reply a tool call gets."""
    calculation = calculate(expression) if not problem else None
    refusal = problem or (calculation.refusal if calculation else "")
    shown = written(calculation.value, 4) if calculation and calculation.value is not None else ""
    run.note("calculate", what=what, expression=expression, result=shown, refusal=refusal, via=via)
    if calculation is None or not calculation.ok:
        return "", f"refused: {refusal}"
    return f"{what}: {expression} = {shown}", shown


def _arguments(name: str, arguments: str) -> tuple[str, str, str]:
    """(what, expression, problem) from a tool call; ``problem`` says why it cannot be evaluated."""
    if name != CALCULATE_TOOL["function"]["name"]:
        return "", "", f"no tool named {name!r}; the only tool is calculate"
    try:
        value = json.loads(arguments)
    except ValueError:
        return "", "", f"the arguments are not JSON: {arguments[:80]!r}"
    if not isinstance(value, dict) or not str(value.get("expression", "")).strip():
        return "", "", 'expected {"expression": "..."}'
    return str(value.get("what", "")).strip(), str(value["expression"]).strip(), ""


def _listed(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict) or not isinstance(value.get("calculations"), list):
        raise ValueError('expected {"calculations": [{"what": ..., "expression": ...}]}')
    found = [(str(item.get("what", "")).strip(), str(item["expression"]).strip()) for item in value["calculations"]
             if isinstance(item, dict) and str(item.get("expression", "")).strip()]
    return found[:MAX_CALCULATIONS]
