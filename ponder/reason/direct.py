"""``direct``: retrieve once, the chat model answers from the passages with citations.

The cheapest mode, and the right one for plain look-ups: a reasoning model adds latency and, on
simple facts, a tendency to elaborate beyond the passages.

Example::

    answer = DirectMode(models, config.reason).run("When was the cooperative founded?", search)
"""

from __future__ import annotations

from ponder.reason.base import Mode
from ponder.reason.run import Run
from ponder.types import Answer


class DirectMode(Mode):
    name = "direct"

    def answer(self, run: Run) -> Answer:
        numbered = self.passages_for_question(run)
        if not numbered:
            return self.nothing_found(run)
        return run.answer(self.name, self.write(run, self.models.chat, numbered, "answer"), numbered)
