"""``auto``: route each question to the mode that suits it, and say why.

Questions about the corpus as a whole (themes, overall, 总结, 主要) go to ``global``, numeric
computation and comparisons to ``reasoner``, multi-hop questions to ``agentic``,
analysis (why / how / impact) to ``think-then-answer``, and plain look-ups to ``direct`` — where a
reasoning model only adds latency and a temptation to embellish. The mapping is ``[reason.routes]``;
the cue words are built in for English and Chinese and extended by ``routes.extra_cues``. With
``reason.router = "llm"`` the chat model classifies instead, and the rules decide when its reply
is unusable (counted as a fallback). The reason is kept in ``Answer.route``.

Example::

    route = Router(config.reason).route("2023年比2022年增长了多少？")
    route.kind, route.mode, route.why  # numeric, reasoner, "numeric: cue '多少' ..."
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ponder.config import CueKind, ReasonConfig
from ponder.reason.base import Evidence, Mode, Models
from ponder.reason.prompts import task_prompt
from ponder.reason.run import Run
from ponder.types import Answer

KINDS: tuple[CueKind, ...] = ("numeric", "comparison", "overview", "multi_hop", "analysis")  # in routing order
CUES: dict[str, list[str]] = {
    "overview": ["main themes", "themes", "main topics", "key topics", "overall", "overview", "summarize",
                 "summarise", "in general", "across the documents", "all the documents", "these documents",
                 # Bare "主要" is too common in look-ups ("主要成分是什么"); these forms ask about the whole.
                 "主题", "总结", "概括", "概述", "综述", "整体", "总体", "主要内容", "主要讲", "主要观点", "主要问题"],
    "numeric": ["how many", "how much", "total", "sum", "average", "percent", "percentage", "ratio",
                "difference", "increase", "decrease", "grew", "growth", "calculate", "combined", "per cent",
                "多少", "几个", "几次", "几年", "合计", "总共", "一共", "平均", "百分之", "比例", "增长", "下降",
                "增加", "减少", "差距",
                "计算", "占比", "倍"],
    "comparison": ["compare", "compared", "versus", "vs", "more than", "less than", "higher", "lower", "larger",
                   "smaller", "better", "worse", "which is", "difference between", "earlier", "later",
                   "比较", "相比", "对比", "更高", "更低", "更多", "更少", "更大", "更小", "哪个", "哪一个", "还是",
                   "区别", "不同"],
    "multi_hop": ["both", "and also", "of the company that", "the person who", "the one that", "whose",
                  "同时", "并且", "以及", "分别", "所在的", "的创始人"],
    "analysis": ["why", "how does", "how did", "explain", "analyse", "analyze", "impact", "effect", "cause",
                 "reason", "implication", "evaluate", "assess", "trend",
                 "为什么", "为何", "原因", "分析", "影响", "如何", "怎样", "评价", "趋势", "意义", "解释"],
}
ROUTE_SCHEMA = {"type": "object", "properties": {"kind": {"type": "string", "enum": [*KINDS, "lookup"]},
                                                 "why": {"type": "string", "maxLength": 200}},
                "required": ["kind", "why"], "additionalProperties": False}
_NUMBERS = re.compile(r"\d[\d,.]*\s*%?")


@dataclass(frozen=True)
class Route:
    kind: str  # numeric, comparison, multi_hop, analysis or lookup
    mode: str
    why: str


class Router:
    def __init__(self, settings: ReasonConfig):
        self.settings = settings
        self.cues = {kind: CUES[kind] + settings.routes.extra_cues.get(kind, []) for kind in KINDS}

    def route(self, question: str) -> Route:
        """The first kind (in order numeric, comparison, overview, multi-hop, analysis) with a cue in the
        question."""
        lowered = question.lower()
        for kind in KINDS:
            for cue in self.cues[kind]:
                if _has_cue(lowered, cue.lower()):
                    return self._route(kind, f"{kind}: cue {cue!r}")
        if len(_NUMBERS.findall(question)) >= 2:
            return self._route("numeric", "numeric: several figures in the question")
        return self._route("lookup", "lookup: no cue for computation, comparison, multi-hop or analysis")

    def _route(self, kind: str, why: str) -> Route:
        return Route(kind, getattr(self.settings.routes, kind), why)


def _has_cue(text: str, cue: str) -> bool:
    if cue.isascii():  # whole words for English; Chinese has no spaces to find words by
        return re.search(rf"\b{re.escape(cue)}\b", text) is not None
    return cue in text


def _route_kind(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict) or value.get("kind") not in (*KINDS, "lookup"):
        raise ValueError(f"kind must be one of {', '.join((*KINDS, 'lookup'))}")
    return value["kind"], str(value.get("why") or "")


class AutoMode(Mode):
    name = "auto"

    def __init__(self, models: Models, settings: ReasonConfig, make_mode: Callable[[str], Mode],
                 evidence: Evidence | None = None):
        super().__init__(models, settings, evidence)
        self.router = Router(settings)
        self._make_mode = make_mode

    def answer(self, run: Run) -> Answer:
        route = self.router.route(run.question)
        if self.settings.router == "llm":
            route = self._classify(run) or route
        run.note("route", kind=route.kind, mode=route.mode, why=route.why)
        chosen = self._make_mode(route.mode)
        answer = chosen.answer(run)
        answer.mode = f"auto → {route.mode}"
        answer.route = route.why
        return answer

    def _classify(self, run: Run) -> Route | None:
        llm = self.models.chat
        result = run.ask_json(llm, task_prompt(llm, "route", run.question, run.language), schema=ROUTE_SCHEMA,
                              validate=_route_kind, purpose="route", max_tokens=96)
        if result.value is None:
            return None  # the rules decide; the fallback is recorded
        kind, why = result.value
        return Route(kind, getattr(self.settings.routes, kind), f"{kind}: classified by the chat model"
                                                                f"{' — ' + why if why else ''}")
