"""``corrective`` (CRAG-style): grade the retrieved passages; when too few are relevant, rewrite the
query and retrieve again; answer from the relevant passages only.

The chat model grades all passages in one call (JSON: the numbers of the relevant ones). A grade
that cannot be used keeps every passage (recorded as a fallback). After ``reason.retries`` rounds
without enough relevant passages, it answers from what it has — and with nothing relevant, says
the documents do not hold the answer instead of asking a model.

Example::

    answer = CorrectiveMode(models, config.reason).run("2023年的销量是多少？", search)
    [step.stage for step in answer.trace.steps]  # retrieve, llm (grade), llm (rewrite), retrieve, ...
"""

from __future__ import annotations

from typing import Any

from ponder.reason.base import Mode
from ponder.reason.prompts import task_prompt
from ponder.reason.run import Run
from ponder.types import Answer, Hit


def grade_schema(passages: int) -> dict[str, Any]:
    """Only the numbers of the passages given, each at most once in length (a grammar-held model
    cannot cite passage 9 of 5, nor list numbers forever)."""
    return {"type": "object", "properties": {"relevant": {
        "type": "array", "maxItems": passages, "items": {"type": "integer", "enum": list(range(1, passages + 1))}}},
        "required": ["relevant"], "additionalProperties": False}


def relevant_numbers(value: Any) -> list[int]:
    if isinstance(value, dict):
        value = value.get("relevant", value.get("相关"))
    if not isinstance(value, list):
        raise ValueError('expected {"relevant": [numbers]}')
    try:
        return [int(n) for n in value]
    except (TypeError, ValueError):
        raise ValueError(f"relevant passages must be numbers, got {value!r}") from None


class CorrectiveMode(Mode):
    name = "corrective"

    def answer(self, run: Run) -> Answer:
        query = run.question
        relevant: dict[str, Hit] = {}
        for attempt in range(self.settings.retries + 1):
            with run.group(f"round {attempt + 1}", query=query):
                hits = run.pack(self.gather(run, query))
                for hit in self._grade(run, hits):
                    relevant.setdefault(hit.chunk.id, hit)
            if len(relevant) >= self.settings.min_relevant or attempt == self.settings.retries:
                break
            query = self._rewrite(run, query)
        if not relevant:
            return self.nothing_found(run)
        numbered = run.passages.number(run.pack(list(relevant.values())))
        return run.answer(self.name, self.write(run, self.models.chat, numbered, "answer"), numbered)

    def _grade(self, run: Run, hits: list[Hit]) -> list[Hit]:
        if not hits:
            return []
        numbered = list(enumerate(hits, start=1))
        llm = self.models.chat
        result = run.ask_json(llm, task_prompt(llm, "grade", run.question, run.language, numbered),
                              schema=grade_schema(len(hits)), validate=relevant_numbers, purpose="grade",
                              max_tokens=128)
        if result.value is None:
            return hits  # ungraded: keep everything rather than lose the answer
        kept = [hit for number, hit in numbered if number in set(result.value)]
        run.note("grade", relevant=[h.chunk.id for h in kept], dropped=[h.chunk.id for h in hits if h not in kept])
        return kept

    def _rewrite(self, run: Run, query: str) -> str:
        llm = self.models.chat
        generation = run.generate(llm, task_prompt(llm, "rewrite", query, run.language), purpose="rewrite",
                                  stop=["\n"], max_tokens=64)
        rewritten = " ".join(generation.text.split())
        if not rewritten or rewritten == query:
            run.fallback("rewrite: no new query; retried with the question as asked")
            return run.question
        return rewritten
