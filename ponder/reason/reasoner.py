"""``reasoner``: the reasoning model answers, told to judge each passage and discard the noise.

Retrieval returns near-misses, stale and contradicting passages; R1-class models are good at
weighing them when asked to. The thinking comes back separately and is kept apart from the answer.

Example::

    answer = ReasonerMode(models, config.reason).run("Which plant grew faster, and by how much?", search)
    answer.thinking  # the reasoner's weighing of the passages
"""

from __future__ import annotations

from ponder.reason.base import Mode
from ponder.reason.run import Run
from ponder.types import Answer


class ReasonerMode(Mode):
    name = "reasoner"
    computes = True

    def answer(self, run: Run) -> Answer:
        numbered = self.passages_for_question(run)
        if not numbered:
            return self.nothing_found(run)
        return run.answer(self.name, self.write(run, self.models.reasoner, numbered, "reasoner"), numbered)
