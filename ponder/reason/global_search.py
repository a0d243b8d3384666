"""``global``: answer a question about the corpus as a whole ("what are the main themes?") from the
entity graph's community reports, map-reduce, citing the chunks behind each report.

1. The most relevant top-level communities are found (:class:`~ponder.graph.reports.CommunityReports`).
2. With a chat model, each report without one gets a model-written summary, the first time a
   question needs it, cached for the next (LazyGraphRAG: nothing is summarised at ingest). The
   embedded base model cannot summarise; its reports stay extractive, and so does its answer
   (``reason.answer_style``): each report's topic, entities and best sentence, quoted and cited.
3. Map (chat models): the model lists each report's points that help with the question, scored;
   reports with nothing relevant are dropped. Reduce: the chat model answers from what is left.
4. A citation of a report becomes citations of the chunks it stands on (``source="community"``).

Example::

    answer = GlobalMode(models, config.reason, reports).run("What are the main themes?", search)
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from ponder.config import ReasonConfig
from ponder.graph.communities import summary_parts
from ponder.llm import Generation
from ponder.reason.base import Evidence, Mode, Models
from ponder.reason.prompts import LANGUAGES, Numbered, task_prompt
from ponder.reason.run import Run
from ponder.types import Answer, Chunk, Citation, Hit
from ponder.untrusted import neutralise

MAP_SCHEMA = {"type": "object", "properties": {"points": {"type": "array", "maxItems": 5, "items": {
    "type": "object", "properties": {"point": {"type": "string", "maxLength": 300},
                                     "score": {"type": "integer", "minimum": 0, "maximum": 100}},
    "required": ["point", "score"], "additionalProperties": False}}}, "required": ["points"],
    "additionalProperties": False}
REPORTS = 6


class Reports(Protocol):
    def search(self, query: str, top_k: int, model: str = "") -> list[Hit]: ...

    def sources(self, report_id: str) -> list[Chunk]: ...

    def material(self, report_id: str) -> str: ...

    def remember(self, report_id: str, model: str, summary: str) -> None: ...

    def cached(self, report_id: str, model: str) -> str | None: ...


class NoGraph(ValueError):
    """A corpus-wide question, but the entity graph is off."""


def _points(value: Any) -> list[tuple[str, float]]:
    if not isinstance(value, dict) or not isinstance(value.get("points"), list):
        raise ValueError('expected {"points": [...]}')
    points = [(str(p["point"]).strip(), float(p.get("score", 0))) for p in value["points"]
              if isinstance(p, dict) and str(p.get("point", "")).strip()]
    return [(point, score) for point, score in points if score > 0]


class GlobalMode(Mode):
    name = "global"

    def __init__(self, models: Models, settings: ReasonConfig, reports: Reports | None,
                 evidence: Evidence | None = None):
        super().__init__(models, settings, evidence)
        self.reports = reports

    def _reports(self) -> Reports:
        if self.reports is None:
            raise NoGraph("a corpus-wide (global) question needs the entity graph; set graph.extractor to nlp or llm")
        return self.reports

    def answer(self, run: Run) -> Answer:
        reports = self._reports()
        chat = self.models.chat
        writes = chat.prompt_style == "chat"
        model = chat.model if writes else ""
        hits = run.retrieve(run.question, source=lambda query: reports.search(query, REPORTS, model))
        if writes:
            hits = [self._summarised(run, hit) for hit in hits]
            hits = self._mapped(run, hits)
        numbered = run.passages.number(run.pack(hits))
        if not numbered:
            return self.nothing_found(run)
        generation = self._quoted(run, numbered) if self.extractive(chat) else self.write(run, chat, numbered,
                                                                                          "overview")
        answer = run.answer(self.name, generation, numbered)
        answer.citations = self._behind(answer.citations)
        return answer

    def _quoted(self, run: Run, numbered: Numbered) -> Generation:
        """The overview quoted, as extractive answers are (a base model asked to write one repeats
        the question): each report's name, its top entities and its most representative sentence."""
        started = time.perf_counter()
        lines = [LANGUAGES[run.language].quoted_overview]
        for n, hit in numbered:
            names, sentences = summary_parts(hit.chunk.text)
            topic = " · ".join(hit.chunk.heading_path) or " · ".join(names[:3])  # the community's top three
            more = [name for name in names[:8] if name not in topic]
            entities = f" ({', '.join(more)})" if more else ""
            sentence = neutralise(sentences[0]) if sentences else ""
            lines.append(f"- {neutralise(topic + entities)}: {sentence} [{n}]")
        return self.quoted(run, "\n".join(lines), started, reports=len(numbered), chosen_by="overview")

    def _summarised(self, run: Run, hit: Hit) -> Hit:
        """The hit with a model-written summary, written now if none is cached."""
        chat = self.models.chat
        report_id = hit.chunk.id
        if self._reports().cached(report_id, chat.model):
            return hit
        material = neutralise(self._reports().material(report_id))
        prompt = task_prompt(chat, "summarize", run.question, run.language, extra=material)
        summary = " ".join(run.generate(chat, prompt, purpose="summarize").text.split())
        if not summary:
            run.fallback(f"summarize: empty reply for {hit.chunk.path}; its extractive summary is used")
            return hit
        self._reports().remember(report_id, chat.model, summary)
        return _with_text(hit, summary)

    def _mapped(self, run: Run, hits: list[Hit]) -> list[Hit]:
        """Each report reduced to its points that help with the question; reports with none dropped.
        A report whose reply is unusable is kept whole (counted as a fallback)."""
        chat = self.models.chat
        kept = []
        for hit in hits:
            prompt = task_prompt(chat, "map", run.question, run.language, extra=neutralise(hit.chunk.text))
            result = run.ask_json(chat, prompt, schema=MAP_SCHEMA, validate=_points, purpose="map")
            if result.value is None:
                kept.append(hit)
            elif result.value:
                ranked = sorted(result.value, key=lambda pair: -pair[1])
                kept.append(_with_text(hit, "\n".join(f"- {point}" for point, _ in ranked)))
        run.note("map", reports=len(hits), kept=len(kept))
        return kept

    def _behind(self, citations: list[Citation]) -> list[Citation]:
        """Each cited report replaced by the chunks it stands on."""
        found: list[Citation] = []
        for citation in citations:
            for chunk in self._reports().sources(citation.chunk_id):
                source = "community" if citation.source == "model" else citation.source
                found.append(Citation(citation.marker, chunk.id, chunk.path, chunk.page, chunk.heading_path,
                                      source, chunk.page_end, chunk.figure))
        return found


def _with_text(hit: Hit, text: str) -> Hit:
    chunk = hit.chunk
    return Hit(Chunk(chunk.id, chunk.document_id, chunk.path, text, 0, len(text), heading_path=chunk.heading_path),
               hit.score, hit.retriever, hit.rank, hit.ranks)
