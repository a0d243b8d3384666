"""``agentic`` (Chain-of-RAG / DeepRAG style): the reasoner plans sub-questions, retrieves for each,
reads what it found, and decides whether to search again or answer.

It starts with a search for the question itself (``reason.search_question_first``). Each step is
one planning call to the reasoner, which sees the question, every passage found so far (numbered
once: a passage keeps its number when found again) and the searches made; it replies
``{"action": "search", "query": ...}`` or ``{"action": "answer"}``. The loop is bounded by
``reason.max_steps`` and by a token budget over all calls (``reason.max_step_tokens``); when either
runs out it answers with what it has. A plan that cannot be used is recorded as a fallback: with
nothing found yet it searches the question itself, otherwise it answers. Only the plan's JSON is
read; the planner's thinking never reaches the next step. With the entity graph on, the planner
is also shown the names the passages found so far mention and the question does not: the next
hop of a multi-hop question is often one of them.

Example::

    answer = AgenticMode(models, config.reason).run("Who founded the company that makes X?", search)
    [s.stage for s in answer.trace.steps]  # ["retrieve", "step 1", "step 2", "llm"] (steps: plan + retrieve)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ponder.config import ReasonConfig
from ponder.reason.base import Evidence, Mode, Models
from ponder.reason.prompts import LANGUAGES, task_prompt
from ponder.reason.run import Run
from ponder.types import Answer
from ponder.untrusted import neutralise

PLAN_MAX_TOKENS = 256  # for base models, which do not stop by themselves
# Flat (no oneOf) so that every provider's JSON-schema mode takes it; bounded, so that a model held to
# it by a grammar cannot write forever. An "answer" plan leaves the query empty.
PLAN_SCHEMA = {
    "type": "object",
    "properties": {"action": {"type": "string", "enum": ["search", "answer"]},
                   "query": {"type": "string", "maxLength": 200}},
    "required": ["action", "query"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Plan:
    action: str  # "search" or "answer"
    query: str = ""

    @staticmethod
    def from_json(value: Any) -> Plan:
        if not isinstance(value, dict):
            raise ValueError('expected {"action": "search" | "answer", "query": ...}')
        action = str(value.get("action", "")).strip().lower()
        query = " ".join(str(value.get("query") or "").split())
        if action == "search" and query and not (query.startswith("<") and query.endswith(">")):
            return Plan("search", query)  # (a "<placeholder>" is the prompt's template copied, not a query)
        if action == "answer":
            return Plan("answer")
        raise ValueError(f"not a usable plan: {value!r}")


Leads = Callable[[str, list[str], int], list[str]]  # (question, chunk ids found, how many) -> names to follow
LEADS = 5


class AgenticMode(Mode):
    name = "agentic"
    computes = True

    def __init__(self, models: Models, settings: ReasonConfig, leads: Leads | None = None,
                 evidence: Evidence | None = None):
        super().__init__(models, settings, evidence)
        self.leads = leads

    def answer(self, run: Run) -> Answer:
        asked: list[str] = []
        if self.settings.search_question_first:  # what one search finds, whatever the planner writes
            asked.append(run.question)
            run.passages.number(run.pack(self.gather(run, run.question)))
        stopped = "the planner chose to answer"
        for step in range(1, self.settings.max_steps + 1):
            if run.usage.total_tokens >= self.settings.max_step_tokens:
                stopped = f"token budget spent ({run.usage.total_tokens} of {self.settings.max_step_tokens})"
                break
            with run.group(f"step {step}"):
                plan = self._plan(run, asked)
                if plan.action == "answer":
                    break
                if plan.query in asked:
                    stopped = f"the planner repeated a search ({plan.query!r})"
                    break
                asked.append(plan.query)
                run.passages.number(run.pack(self.gather(run, plan.query)))
        else:
            stopped = f"step limit reached ({self.settings.max_steps})"
        run.note("stop", reason=stopped, searches=asked, passages=len(run.passages))
        numbered = self._final_passages(run)
        if not numbered:
            return self.nothing_found(run)
        final = self.write(run, self.models.reasoner, numbered, "reasoner")
        return run.answer(self.name, final, numbered)

    def _plan(self, run: Run, asked: list[str]) -> Plan:
        llm = self.models.reasoner
        words = LANGUAGES[run.language]
        extra = f"{words.asked}\n" + "\n".join(f"- {q}" for q in asked) if asked else ""
        names = self.leads(run.question, [hit.chunk.id for _, hit in run.passages.all()], LEADS) if self.leads else []
        names = [name for name in names if name not in asked]
        if names:  # the entity graph's hint: what the passages name that the question does not
            extra = "\n\n".join(part for part in (extra, f"{words.leads} " + "; ".join(map(neutralise, names))) if part)
        prompt = task_prompt(llm, "plan", run.question, run.language, run.passages.all(), extra)
        result = run.ask_json(llm, prompt, schema=PLAN_SCHEMA, validate=Plan.from_json, purpose="plan",
                              max_tokens=PLAN_MAX_TOKENS)
        if result.value is not None:
            run.note("plan", action=result.value.action, query=result.value.query)
            return result.value
        # Unusable plan: search the question itself first; once something is found, answer.
        return Plan("search", run.question) if not asked else Plan("answer")

    def _final_passages(self, run: Run) -> list[tuple[int, Any]]:
        """The passages found, in the order found, within the context budget, keeping the numbers
        the planner saw them under."""
        found = run.passages.all()
        kept = {hit.chunk.id for hit in run.pack([hit for _, hit in found])}
        return [(number, hit) for number, hit in found if hit.chunk.id in kept]
