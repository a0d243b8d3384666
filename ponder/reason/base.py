"""What every mode shares: the models it may call, the settings, and the steps they all use —
widening the query before retrieval (rewrite, decompose, HyDE) and writing a cited answer.

Every mode has the same interface: ``run(question, retrieve) -> Answer``, where ``retrieve`` maps
a query to hits (the configured hybrid search, filters applied). Modes that retrieve several
times (agentic, corrective) call it more than once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from ponder.config import ReasonConfig
from ponder.llm import Delta, Generation, OpenAICompatibleLLM
from ponder.reason.citations import citation
from ponder.reason.compute import compute, computed_answer, question_shape
from ponder.reason.conflicts import find_conflicts
from ponder.reason.extractive import SentenceScorer, choice_schema, chosen_numbers, scorer_picks
from ponder.reason.grounding import GroundingChecker
from ponder.reason.program import calculations as ask_calculations
from ponder.reason.prompts import (
    COMPLETION_STOP,
    LANGUAGES,
    NO_PASSAGES,
    Numbered,
    PassageImages,
    answer_completion,
    answer_messages,
    task_prompt,
)
from ponder.reason.run import Listener, Retrieve, Run
from ponder.retrieve import reciprocal_rank_fusion
from ponder.text import is_refusal
from ponder.types import Answer, Grounding, Hit, Turn, Usage
from ponder.untrusted import neutralise


@dataclass
class Models:
    chat: OpenAICompatibleLLM
    reasoner: OpenAICompatibleLLM


@dataclass
class Evidence:
    """What modes use on passages without a model: the grounding check every answer gets, and the
    sentence scorer that ranks candidates for extractive answers. Both can use the configured
    embedder; without it they work from words alone."""

    checker: GroundingChecker = field(default_factory=GroundingChecker)
    scorer: SentenceScorer = field(default_factory=SentenceScorer)
    images: PassageImages | None = None  # a figure passage's PNG, sent with it (reason.send_images); None: never


class Mode:
    """Base of the modes: subclasses set ``name`` and implement :meth:`answer`."""

    name = ""
    computes = False  # the reasoning modes: the model writes a numeric answer's arithmetic, Ponder evaluates it

    def __init__(self, models: Models, settings: ReasonConfig, evidence: Evidence | None = None):
        self.models = models
        self.settings = settings
        self.evidence = evidence or Evidence()

    def run(self, question: str, retrieve: Retrieve, history: Sequence[Turn] = (),
            listener: Listener | None = None, cancelled: threading.Event | None = None) -> Answer:
        """Answer ``question``; earlier ``history`` turns only make it standalone first (what "it"
        refers to). ``listener`` hears the answer stream; ``cancelled`` abandons it."""
        run = Run(question, retrieve, self.settings.context_tokens, listener, cancelled)
        if history:
            run.question = standalone_question(run, self.models.chat, history)
        return self.note_conflicts(run, self.ground(run, self.answer(run)))

    def answer(self, run: Run) -> Answer:
        raise NotImplementedError

    # -- shared steps ---------------------------------------------------------------------------
    def gather(self, run: Run, question: str) -> list[Hit]:
        """Retrieve for ``question``, widened first as ``reason.query`` says; several queries' hits
        are fused by reciprocal rank."""
        queries = expand_query(run, self.models.chat, question, self.settings.query)
        if len(queries) == 1:
            return run.retrieve(queries[0])
        found = {query: run.retrieve(query) for query in queries}
        by_id = {hit.chunk.id: hit for hits in found.values() for hit in hits}
        fused = reciprocal_rank_fusion({q: [h.chunk.id for h in hits] for q, hits in found.items()}, {}, k=60)
        return [by_id[chunk_id] for chunk_id, _ in fused]

    def passages_for_question(self, run: Run) -> Numbered:
        """The question's passages, gathered, packed into the context budget and numbered."""
        return run.passages.number(run.pack(self.gather(run, run.question)))

    def write(self, run: Run, llm: OpenAICompatibleLLM, numbered: Numbered, instruction: str,
              notes: str = "", purpose: str = "answer") -> Generation:
        """The cited answer from ``numbered`` passages (instruction: answer, reasoner or writer).
        Streamed to a listener; a ``think`` call (a draft for another model) streams as thinking."""
        stream: Literal["answer", "thinking"] = "thinking" if purpose == "think" else "answer"
        if purpose != "think":
            run.writer = (llm, instruction)
            if instruction != "overview" and self.extractive(llm):
                quoted = self.extract(run, llm, numbered)
                if quoted is not None:
                    return quoted
        if self.computes and self.settings.calculator and question_shape(run.question):
            notes = "\n\n".join(filter(None, [notes, self.calculations(run, llm, numbered)]))
        if llm.prompt_style == "completion":
            prompt: Any = answer_completion(run.question, numbered, run.language, notes)
            return run.generate(llm, prompt, purpose=purpose, stop=COMPLETION_STOP, stream=stream)
        return run.generate(llm, answer_messages(run.question, numbered, run.language, instruction, notes,
                                                 self.evidence.images), purpose=purpose, stream=stream)

    def calculations(self, run: Run, llm: OpenAICompatibleLLM, numbered: Numbered) -> str:
        """The arithmetic a numeric answer needs, written by the model and computed by Ponder
        (:mod:`ponder.reason.program`), as a block for whoever writes the answer; asked once per
        question, "" when nothing was computed."""
        if run.calculations is None:
            run.calculations = ask_calculations(run, llm, numbered)
        if not run.calculations:
            return ""
        return LANGUAGES[run.language].calculated + "\n" + "\n".join(run.calculations)

    def extractive(self, llm: OpenAICompatibleLLM) -> bool:
        style = self.settings.answer_style
        return style == "extractive" or (style == "auto" and llm.prompt_style == "completion")

    def extract(self, run: Run, llm: OpenAICompatibleLLM, numbered: Numbered) -> Generation | None:
        """The answer as the passage sentence(s) that answer the question, quoted with citations:
        a chat model chooses among the best-ranked candidates (held to their numbers; an unusable
        choice quotes the best-ranked one); for a base model the best-ranked are quoted. A numeric
        question whose operands the passages hold is computed instead, its working stated
        (:mod:`ponder.reason.compute`). None when the passages have no sentence to quote."""
        started = time.perf_counter()
        computed = compute(run.question, numbered) if self.settings.calculator else None
        if computed is not None:  # a numeric question the passages' tables or sentences answer by arithmetic
            return self.quoted(run, computed_answer(computed, run.language), started, stage="calculate",
                               shape=computed.shape, expression=computed.expression, result=computed.result_text(),
                               operands=[{"passage": o.marker, "label": o.label, "year": o.year, "written": o.text}
                                         for o in computed.operands])
        candidates = self.evidence.scorer.candidates(run.question, numbered)
        ranked_s = time.perf_counter() - started
        run.timings["answer"] += ranked_s  # ranking is part of answering (a chooser's call adds to it)
        if not candidates:
            run.fallback("extract: no sentence in the passages to quote; the model wrote the answer")
            return None
        picks, model, thinking = scorer_picks(run.question, candidates), "", ""
        chooser = "scorer"
        if len(candidates) > 1 and llm.prompt_style == "chat":
            chooser = "model"
            listed = "\n".join(f"[{i}] {neutralise(c.text)}" for i, c in enumerate(candidates, start=1))
            words = LANGUAGES[run.language]
            result = run.ask_json(llm, task_prompt(llm, "extract", run.question, run.language,
                                                   extra=f"{words.passages}\n{listed}"),
                                  schema=choice_schema(len(candidates)), validate=chosen_numbers(len(candidates)),
                                  purpose="answer", max_tokens=32)
            picks = result.value or [1]
            if result.generation:
                model, thinking = result.generation.model, result.generation.thinking
        text = " ".join(candidates[i - 1].quoted() for i in picks)
        return self.quoted(run, text, started, model, thinking,
                           candidates=[(c.passage, c.text, c.score) for c in candidates], chosen=picks,
                           chosen_by=chooser, seconds_ranking=round(ranked_s, 4))

    def quoted(self, run: Run, text: str, started: float, model: str = "", thinking: str = "",
               stage: str = "extract", **note: Any) -> Generation:
        """An answer quoted from the passages (or computed from them), not written: noted in the
        trace as ``stage``, streamed, and never asked again (asking again would give the same)."""
        run.writer = None
        run.note(stage, **note)
        if run.listener:
            run.listener(Delta("text", text))
        return Generation(text, thinking, Usage(), time.perf_counter() - started, model, "extractive")

    def ground(self, run: Run, answer: Answer) -> Answer:
        """Check ``answer`` against its passages and act as ``reason.on_unsupported`` says: flag,
        retry once naming what was unsupported, or refuse."""
        numbered = list(enumerate(answer.hits, start=1))
        grounding = self._check(run, answer, numbered)
        policy = self.settings.on_unsupported
        if grounding.verdict in ("supported", "not checked") or policy == "flag" or run.writer is None:
            answer.grounding = grounding
            return answer
        words = LANGUAGES[run.language]
        spans = "; ".join(dict.fromkeys(
            [f.text for f in grounding.flags] + [s.text for s in grounding.unsupported_sentences])) or answer.text
        if policy == "retry":
            llm, instruction = run.writer
            run.note("grounding", action="retry", verdict=grounding.verdict, spans=spans)
            if run.listener:  # the draft has streamed already: say why a second answer follows
                run.listener(Delta("text", words.revised.format(spans=spans)))
            generation = self.write(run, llm, numbered, instruction, notes=words.unsupported.format(spans=spans))
            retried = run.answer(answer.mode, generation, numbered, route=answer.route)
            retried.timings["grounding"] = answer.timings["grounding"]
            retried.grounding = self._check(run, retried, numbered)
            retried.grounding.action = "retried"
            return retried
        run.note("grounding", action="refuse", verdict=grounding.verdict, spans=spans, draft=answer.text)
        if run.listener:
            run.listener(Delta("text", words.revised.format(spans=spans) + words.refused.format(spans=spans)))
        answer.text = words.refused.format(spans=spans)
        answer.citations = []
        grounding.action = "refused"
        answer.grounding = grounding
        return answer

    def _check(self, run: Run, answer: Answer, numbered: Numbered) -> Grounding:
        # Calculations Ponder evaluated count as working shown (the check still recomputes them).
        working = "\n".join([answer.thinking, *(run.calculations or [])])
        grounding = self.evidence.checker.check(run.question, answer.text, numbered,
                                                [c.marker for c in answer.citations], working)
        answer.timings["grounding"] = answer.timings.get("grounding", 0.0) + grounding.seconds
        run.note("grounding", verdict=grounding.verdict, flags=[f.text for f in grounding.flags],
                 unsupported=[s.text for s in grounding.unsupported_sentences], seconds=round(grounding.seconds, 4))
        return grounding

    def note_conflicts(self, run: Run, answer: Answer) -> Answer:
        """When a cited passage and another given one state different values for the same thing,
        the answer says so after what it said, citing each side (after grounding: this is Ponder's
        sentence, not the model's, and the grounding offsets stay those of the text before it)."""
        if not answer.citations or is_refusal(answer.text):
            return answer
        numbered = list(enumerate(answer.hits, start=1))
        started = time.perf_counter()
        answer.conflicts = find_conflicts(run.question, numbered, [c.marker for c in answer.citations])
        answer.timings["grounding"] = answer.timings.get("grounding", 0.0) + time.perf_counter() - started
        if not answer.conflicts:
            return answer
        words = LANGUAGES[run.language]
        said = " ".join(words.disagree.format(sides=words.separator.join(
            words.side.format(n=side.marker, value=neutralise(side.value)) for side in conflict.sides))
            for conflict in answer.conflicts)
        run.note("conflicts", values=[[(s.marker, s.value) for s in c.sides] for c in answer.conflicts])
        if run.listener:
            run.listener(Delta("text", " " + said))
        answer.text = f"{answer.text} {said}"
        given, cited = dict(numbered), {c.marker for c in answer.citations}
        for side in (side for conflict in answer.conflicts for side in conflict.sides):
            if side.marker not in cited:  # the other side, cited by Ponder's sentence
                answer.citations.append(citation(side.marker, given[side.marker], "conflict"))
                cited.add(side.marker)
        return answer

    def nothing_found(self, run: Run) -> Answer:
        """No passage matched: say so rather than let a model invent an answer."""
        return run.answer(self.name, None, [], text=NO_PASSAGES[run.language], thinking="")


def standalone_question(run: Run, llm: OpenAICompatibleLLM, history: Sequence[Turn], turns: int = 6) -> str:
    """The latest question rewritten to stand alone, from the last ``turns`` turns of the
    conversation. A model that returns nothing usable leaves the question as asked, preceded by the
    user's previous question (so "and the price?" still searches near what was discussed)."""
    words = LANGUAGES[run.language]
    lines = [f"{turn.role}: {' '.join(turn.text.split())[:400]}" for turn in history[-turns:]]
    prompt = task_prompt(llm, "contextualize", run.question, run.language,
                         extra=f"{words.conversation}\n" + "\n".join(lines))
    generation = run.generate(llm, prompt, purpose="contextualize", stop=["\n"], max_tokens=64)
    rewritten = " ".join(generation.text.split())
    if not rewritten or len(rewritten) > 4 * len(run.question) + 200:
        previous = next((turn.text for turn in reversed(history) if turn.role == "user"), "")
        rewritten = f"{' '.join(previous.split())[:200]} {run.question}".strip()
        run.fallback("contextualize: no usable rewrite; searched with the previous question and this one")
    run.note("contextualize", asked=run.question, standalone=rewritten)
    return rewritten


QUERY_SCHEMA = {"type": "object", "properties": {"questions": {
    "type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "string", "minLength": 1, "maxLength": 200}}},
    "required": ["questions"], "additionalProperties": False}


def _questions(value: Any) -> list[str]:
    if not isinstance(value, dict) or not isinstance(value.get("questions"), list):
        raise ValueError('expected {"questions": [...]}')
    questions = [str(q).strip() for q in value["questions"] if str(q).strip()]
    if not questions:
        raise ValueError("no sub-questions")
    return questions[:4]


def expand_query(run: Run, llm: OpenAICompatibleLLM, question: str, how: str) -> list[str]:
    """The queries to retrieve with: the question itself; or also its rewrite, its sub-questions,
    or a hypothetical answer passage (HyDE)."""
    if how == "none":
        return [question]
    if how == "decompose":
        result = run.ask_json(llm, task_prompt(llm, "decompose", question, run.language), schema=QUERY_SCHEMA,
                              validate=_questions, purpose="decompose", max_tokens=256)
        return [question, *(q for q in result.value or [] if q != question)]
    generation = run.generate(llm, task_prompt(llm, how, question, run.language), purpose=how,
                              stop=["\n"] if how == "rewrite" else None, max_tokens=64 if how == "rewrite" else 200)
    text = " ".join(generation.text.split())
    if not text:
        run.fallback(f"{how}: empty reply; searched with the question as asked")
        return [question]
    # The question stays among the queries: a bad rewrite or passage then costs recall, not everything.
    return [text, question] if how == "rewrite" else [question, text]
