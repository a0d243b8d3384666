"""The ``direct`` mode: retrieve once, let the model answer from the passages, resolve citations.

Every mode has the same shape: ``run(question, retrieve) -> Answer``, where ``retrieve`` maps a
query to hits. Modes that retrieve several times (agentic, corrective) call it more than once.

Example::

    mode = DirectMode(llm, max_tokens=512)
    answer = mode.run("When was the cooperative founded?", lambda q: retriever.search(q, 5))
"""

from __future__ import annotations

import time
from typing import Callable

from ponder.llm import Generation, OpenAICompatibleLLM
from ponder.reason.citations import resolve_citations
from ponder.reason.prompts import COMPLETION_STOP, NO_PASSAGES, chat_messages, completion_prompt
from ponder.text import detect_language
from ponder.types import Answer, Hit, Trace, Usage

Retrieve = Callable[[str], list[Hit]]


class DirectMode:
    name = "direct"

    def __init__(self, llm: OpenAICompatibleLLM):
        self.llm = llm

    def run(self, question: str, retrieve: Retrieve) -> Answer:
        language = detect_language(question)
        trace = Trace()

        started = time.perf_counter()
        hits = retrieve(question)
        retrieve_s = time.perf_counter() - started
        trace.add("retrieve", retrieve_s, query=question, chunk_ids=[hit.chunk.id for hit in hits],
                  scores=[hit.score for hit in hits])

        if not hits:  # nothing to ground an answer in: say so rather than let the model invent one
            return Answer(question=question, text=NO_PASSAGES[language], thinking="", citations=[], hits=[],
                          usage=Usage(), timings={"retrieve": retrieve_s, "generate": 0.0}, mode=self.name,
                          model=self.llm.model, language=language, trace=trace)

        started = time.perf_counter()
        generation, prompt = self._generate(question, hits, language)
        generate_s = time.perf_counter() - started
        text, citations, invalid = resolve_citations(generation.text, hits)
        trace.add("generate", generate_s, prompt_style=self.llm.prompt_style, prompt=prompt,
                  raw_output=generation.text, thinking=generation.thinking,
                  finish_reason=generation.finish_reason, invalid_citation_markers=invalid)

        return Answer(
            question=question, text=text, thinking=generation.thinking, citations=citations, hits=hits,
            usage=generation.usage, timings={"retrieve": retrieve_s, "generate": generate_s},
            mode=self.name, model=generation.model, language=language, trace=trace,
        )

    def _generate(self, question: str, hits: list[Hit], language: str) -> tuple[Generation, object]:
        if self.llm.prompt_style == "completion":
            prompt = completion_prompt(question, hits, language)
            return self.llm.complete(prompt, purpose="answer", stop=COMPLETION_STOP), prompt
        messages = chat_messages(question, hits, language)
        return self.llm.chat(messages, purpose="answer"), messages
