"""Reason stage: turn a question and retrieved passages into a cited :class:`~ponder.types.Answer`.

Seven modes, one interface (``run(question, retrieve) -> Answer``), chosen by name:

=====================  =============================================================================
``direct``             the chat model answers from the passages
``reasoner``           the reasoning model answers, weighing and discarding noisy passages
``think-then-answer``  the reasoner thinks; the chat model writes the answer from its notes
``agentic``            the reasoner plans sub-questions, retrieves per step, stops when it knows enough
``corrective``         passages are graded; too few relevant -> rewrite the query and retrieve again
``global``             a question about the whole corpus, answered map-reduce from community reports
``auto``               routes each question to one of the above, and says why
=====================  =============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from ponder.config import ModeName, ReasonConfig
from ponder.reason.agentic import AgenticMode, Leads
from ponder.reason.auto import AutoMode, Route, Router
from ponder.reason.base import Evidence, Mode, Models
from ponder.reason.corrective import CorrectiveMode
from ponder.reason.direct import DirectMode
from ponder.reason.global_search import GlobalMode, NoGraph, Reports
from ponder.reason.reasoner import ReasonerMode
from ponder.reason.run import Cancelled, Listener, PassageBook, Progress, Retrieve, Run
from ponder.reason.think_then_answer import ThinkThenAnswerMode

MODE_NAMES: tuple[str, ...] = get_args(ModeName)
# The modes that need nothing but the models and the settings.
_MODES: dict[str, type[Mode]] = {mode.name: mode for mode in (
    DirectMode, ReasonerMode, ThinkThenAnswerMode, CorrectiveMode)}

__all__ = [
    "AgenticMode", "AutoMode", "Cancelled", "CorrectiveMode", "DirectMode", "Evidence", "GlobalMode", "GraphAccess",
    "Leads", "Listener", "MODE_NAMES", "Mode", "Models", "NoGraph", "PassageBook", "Progress", "Reports",
    "ReasonerMode", "Retrieve", "Route", "Router", "Run", "ThinkThenAnswerMode", "make_mode",
]


@dataclass(frozen=True)
class GraphAccess:
    """What modes may ask of the entity graph: community reports (``global`` answers from them) and
    leads, the names in passages found so far (``agentic`` offers them to its planner)."""

    reports: Reports
    leads: Leads


def make_mode(name: str, models: Models, settings: ReasonConfig, graph: GraphAccess | None = None,
              evidence: Evidence | None = None) -> Mode:
    """The mode called ``name``; ValueError naming the valid modes otherwise. ``graph`` is None when
    the entity graph is off; ``evidence`` (grounding check, sentence scorer) defaults to words alone."""
    if name == "auto":
        return AutoMode(models, settings, lambda chosen: make_mode(chosen, models, settings, graph, evidence),
                        evidence)
    if name == "global":
        return GlobalMode(models, settings, graph.reports if graph else None, evidence)
    if name == "agentic":
        return AgenticMode(models, settings, graph.leads if graph else None, evidence)
    if name not in _MODES:
        raise ValueError(f"unknown mode {name!r}; valid modes: {', '.join(MODE_NAMES)}")
    return _MODES[name](models, settings, evidence)
