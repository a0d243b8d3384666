"""Reason stage: turn a question and retrieved passages into a cited :class:`~ponder.types.Answer`.

Six modes, one interface (``run(question, retrieve) -> Answer``), chosen by name:

=====================  =============================================================================
``direct``             the chat model answers from the passages
``reasoner``           the reasoning model answers, weighing and discarding noisy passages
``think-then-answer``  the reasoner thinks; the chat model writes the answer from its notes
``agentic``            the reasoner plans sub-questions, retrieves per step, stops when it knows enough
``corrective``         passages are graded; too few relevant -> rewrite the query and retrieve again
``auto``               routes each question to one of the above, and says why
=====================  =============================================================================
"""

from __future__ import annotations

from typing import get_args

from ponder.config import ModeName, ReasonConfig
from ponder.reason.agentic import AgenticMode
from ponder.reason.auto import AutoMode, Route, Router
from ponder.reason.base import Mode, Models
from ponder.reason.corrective import CorrectiveMode
from ponder.reason.direct import DirectMode
from ponder.reason.reasoner import ReasonerMode
from ponder.reason.run import Cancelled, Listener, PassageBook, Progress, Retrieve, Run
from ponder.reason.think_then_answer import ThinkThenAnswerMode

MODE_NAMES: tuple[str, ...] = get_args(ModeName)
_MODES: dict[str, type[Mode]] = {mode.name: mode for mode in (
    DirectMode, ReasonerMode, ThinkThenAnswerMode, AgenticMode, CorrectiveMode)}

__all__ = [
    "AgenticMode", "AutoMode", "Cancelled", "CorrectiveMode", "DirectMode", "Listener", "MODE_NAMES", "Mode",
    "Models", "PassageBook", "Progress",
    "ReasonerMode", "Retrieve", "Route", "Router", "Run", "ThinkThenAnswerMode", "make_mode",
]


def make_mode(name: str, models: Models, settings: ReasonConfig) -> Mode:
    """The mode called ``name``; ValueError naming the valid modes otherwise."""
    if name == "auto":
        return AutoMode(models, settings, lambda chosen: make_mode(chosen, models, settings))
    if name not in _MODES:
        raise ValueError(f"unknown mode {name!r}; valid modes: {', '.join(MODE_NAMES)}")
    return _MODES[name](models, settings)
