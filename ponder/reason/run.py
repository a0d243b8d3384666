"""The bookkeeping every mode shares while answering one question.

A :class:`Run` wraps the retriever and the model calls so that each one lands in the trace (with
its latency and tokens), in the per-stage timings and in the usage total; it keeps the passages
given to models in a :class:`PassageBook`, where a passage keeps its number however often it is
retrieved again; and it records every fallback (an unusable plan or grade) instead of crashing.
Modes only decide *what* to do; the Run makes it observable.

Example::

    run = Run(question, retrieve, context_tokens=3000)
    hits = run.retrieve(question)
    numbered = run.passages.number(run.pack(hits))
    generation = run.generate(llm, answer_messages(question, numbered, run.language), purpose="answer")
    return run.answer("direct", generation, numbered)
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import closing, contextmanager
from typing import Any, Callable, Iterator, Literal, NamedTuple, Sequence, TypeVar

from ponder.llm import Delta, Generation, Messages, OpenAICompatibleLLM, StructuredResult, ask_json
from ponder.reason.citations import resolve_citations
from ponder.text import detect_language, estimate_tokens
from ponder.types import Answer, Hit, Trace, TraceStep, Usage

Retrieve = Callable[[str], list[Hit]]
T = TypeVar("T")


class Progress(NamedTuple):
    """A step worth showing while an answer streams (a search made, a plan decided)."""

    text: str


#: Hears a streamed answer: the final calls' thinking and answer deltas, and progress between calls.
Listener = Callable[[Delta | Progress], None]


class Cancelled(RuntimeError):
    """Whoever asked stopped listening (a client disconnected); the question was abandoned."""


class PassageBook:
    """Passages shown to models during one question, each with a stable citation number."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._hits: list[Hit] = []

    def number(self, hits: list[Hit]) -> list[tuple[int, Hit]]:
        """``hits`` with their numbers; a passage seen before keeps its number."""
        numbered = []
        for hit in hits:
            if hit.chunk.id not in self._numbers:
                self._hits.append(hit)
                self._numbers[hit.chunk.id] = len(self._hits)
            numbered.append((self._numbers[hit.chunk.id], hit))
        return numbered

    def all(self) -> list[tuple[int, Hit]]:
        return list(enumerate(self._hits, start=1))

    def __len__(self) -> int:
        return len(self._hits)


class Run:
    """One question being answered. With a ``listener`` the calls that write the answer stream to
    it; setting ``cancelled`` abandons the question at the next step (a stream stops at once)."""

    def __init__(self, question: str, retrieve: Retrieve, context_tokens: int = 3000,
                 listener: Listener | None = None, cancelled: threading.Event | None = None):
        self.question = question
        self.language = detect_language(question)
        self.context_tokens = context_tokens
        self.passages = PassageBook()
        self.trace = Trace()
        self.usage = Usage()
        self.timings: dict[str, float] = defaultdict(float)
        self.fallbacks: list[str] = []
        self.listener = listener
        self.cancelled = cancelled or threading.Event()
        self._retrieve = retrieve
        self._group: TraceStep | None = None
        # The model and instruction that wrote the final answer (a grounding retry asks them again).
        self.writer: tuple[OpenAICompatibleLLM, str] | None = None
        # Reasoning modes: the calculations Ponder evaluated for the answer ("what: expression = result");
        # None until asked for, once per question.
        self.calculations: list[str] | None = None

    # -- steps ----------------------------------------------------------------------------------
    def retrieve(self, query: str, source: Retrieve | None = None) -> list[Hit]:
        """Hits for ``query`` from the question's retriever, or from ``source`` (community reports)."""
        self._check_cancelled()
        started = time.perf_counter()
        hits = (source or self._retrieve)(query)
        seconds = time.perf_counter() - started
        self.timings["retrieve"] += seconds
        self._add(TraceStep("retrieve", seconds, {"query": query, "chunk_ids": [h.chunk.id for h in hits],
                                                   "paths": [h.chunk.path for h in hits],
                                                   "scores": [h.score for h in hits]}))
        self.progress(f"search: {query} ({len(hits)} passages)")
        return hits

    def generate(self, llm: OpenAICompatibleLLM, prompt: Messages | str, *, purpose: str,
                 stop: list[str] | None = None, max_tokens: int | None = None,
                 stream: Literal["answer", "thinking"] | None = None,
                 tools: list[dict[str, Any]] | None = None) -> Generation:
        """One model call; chat messages or, for base models, a completion prompt. ``max_tokens``
        caps base models only: they do not stop on their own, while a chat model that thinks
        before a short reply needs its role's whole budget. ``stream`` (when someone listens):
        pass the deltas on as they are (``answer``) or all as thinking (a draft nobody should
        mistake for the answer). ``tools``: functions a chat model may call (never streamed)."""
        self._check_cancelled()
        max_tokens = _base_model_cap(llm, max_tokens)
        if stream and self.listener and not tools:
            generation = self._stream(llm, prompt, purpose, stop, max_tokens, stream)
        elif isinstance(prompt, str):
            generation = llm.complete(prompt, purpose=purpose, stop=stop, max_tokens=max_tokens)
        else:
            generation = llm.chat(prompt, purpose=purpose, stop=stop, max_tokens=max_tokens, tools=tools)
        self._record_call(llm, purpose, prompt, generation)
        return generation

    def _stream(self, llm: OpenAICompatibleLLM, prompt: Messages | str, purpose: str, stop: list[str] | None,
                max_tokens: int | None, how: Literal["answer", "thinking"]) -> Generation:
        assert self.listener is not None
        if isinstance(prompt, str):
            stream = llm.stream_complete(prompt, purpose=purpose, stop=stop, max_tokens=max_tokens)
        else:
            stream = llm.stream_chat(prompt, purpose=purpose, stop=stop, max_tokens=max_tokens)
        with closing(stream):  # closing early cancels the call upstream
            for delta in stream:
                self._check_cancelled()
                self.listener(delta if how == "answer" else Delta("thinking", delta.text))
        assert stream.generation is not None
        return stream.generation

    def progress(self, text: str) -> None:
        if self.listener:
            self.listener(Progress(text))

    def ask_json(self, llm: OpenAICompatibleLLM, prompt: Messages | str, *, schema: dict[str, Any],
                 validate: Callable[[Any], T], purpose: str, max_tokens: int | None = None) -> StructuredResult[T]:
        """Structured output; an unusable reply is recorded as a fallback and ``value`` is None.
        ``max_tokens`` caps base models only, as in :meth:`generate`."""
        started = time.perf_counter()
        result = ask_json(llm, prompt, schema=schema, validate=validate, purpose=purpose,
                          max_tokens=_base_model_cap(llm, max_tokens))
        if result.generation is not None:
            self._record_call(llm, purpose, prompt, result.generation, format=result.format,
                              downgrades=result.downgrades)
        else:
            self.timings[purpose] += time.perf_counter() - started
        if result.value is None:
            self.fallback(f"{purpose}: {result.error}")
        return result

    def fallback(self, what: str) -> None:
        self.fallbacks.append(what)
        self._add(TraceStep("fallback", 0.0, {"what": what}))

    @contextmanager
    def group(self, name: str, **detail: Any) -> Iterator[TraceStep]:
        """Nest the steps inside (say, one agentic step) under one trace node."""
        step = TraceStep(name, 0.0, detail)
        self._add(step)
        outer, self._group = self._group, step
        started = time.perf_counter()
        try:
            yield step
        finally:
            step.seconds = time.perf_counter() - started
            self._group = outer

    def note(self, stage: str, **detail: Any) -> None:
        """A decision worth seeing in the trace (a route, a plan, a grade)."""
        self._add(TraceStep(stage, 0.0, detail))

    # -- context --------------------------------------------------------------------------------
    def pack(self, hits: list[Hit], budget: int | None = None) -> list[Hit]:
        """The hits that fit the context budget, most relevant first; repeated texts dropped."""
        budget = self.context_tokens if budget is None else budget
        kept: list[Hit] = []
        seen: set[str] = set()
        used = 0
        for hit in hits:
            key = " ".join(hit.chunk.text.split())
            cost = estimate_tokens(hit.chunk.text)
            if key in seen or (kept and used + cost > budget):
                continue
            kept.append(hit)
            seen.add(key)
            used += cost
        return kept

    # -- result ---------------------------------------------------------------------------------
    def answer(self, mode: str, generation: Generation | None, numbered: Sequence[tuple[int, Hit]],
               text: str | None = None, thinking: str | None = None, route: str = "") -> Answer:
        """The final Answer: citations checked against the passages this answer was written from."""
        raw = text if text is not None else (generation.text if generation else "")
        cleaned, citations, invalid = resolve_citations(raw, numbered)
        if invalid:
            self.note("citations", removed=invalid, reason="no passage with these numbers was given")
        return Answer(
            question=self.question, text=cleaned,
            thinking=thinking if thinking is not None else (generation.thinking if generation else ""),
            citations=citations, hits=[hit for _, hit in numbered], usage=self.usage, timings=dict(self.timings),
            mode=mode, model=generation.model if generation else "", language=self.language, trace=self.trace,
            route=route, fallbacks=self.fallbacks, invalid_citations=invalid,
        )

    # -- internals ------------------------------------------------------------------------------
    def _check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled(f"stopped answering {self.question!r}: nobody is listening")

    def _record_call(self, llm: OpenAICompatibleLLM, purpose: str, prompt: Messages | str,
                     generation: Generation, **extra: Any) -> None:
        self.usage.add(generation.usage)
        self.timings[purpose] += generation.seconds
        usage = generation.usage
        self._add(TraceStep("llm", generation.seconds, {
            "role": llm.role, "model": generation.model, "purpose": purpose, "prompt": prompt,
            "output": generation.text, "thinking": generation.thinking, "finish_reason": generation.finish_reason,
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "reasoning_tokens": usage.reasoning_tokens, "tokens_estimated": usage.estimated, **extra,
        }))

    def _add(self, step: TraceStep) -> None:
        (self._group.children if self._group else self.trace.steps).append(step)


def _base_model_cap(llm: OpenAICompatibleLLM, max_tokens: int | None) -> int | None:
    return max_tokens if llm.prompt_style == "completion" else None
