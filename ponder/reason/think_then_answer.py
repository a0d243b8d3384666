"""``think-then-answer``: the reasoner thinks over the passages; the chat model writes the answer.

The reasoner's thinking and/or its draft answer (``reason.handoff``) go to the faster chat model as
notes, with the same numbered passages, and it writes the final cited answer. The answer keeps the
reasoner's thinking; the writer's own thinking, if any, is dropped (never shown as the answer).

Example::

    answer = ThinkThenAnswerMode(models, config.reason).run("Why did sales fall in 2023?", search)
"""

from __future__ import annotations

from ponder.reason.base import Mode
from ponder.reason.prompts import LANGUAGES
from ponder.reason.run import Run
from ponder.types import Answer


class ThinkThenAnswerMode(Mode):
    name = "think-then-answer"
    computes = True

    def answer(self, run: Run) -> Answer:
        numbered = self.passages_for_question(run)
        if not numbered:
            return self.nothing_found(run)
        thought = self.write(run, self.models.reasoner, numbered, "reasoner", purpose="think")
        words = LANGUAGES[run.language]
        parts = []
        if self.settings.handoff in ("thinking", "both") and thought.thinking:
            parts.append(f"{words.notes}\n{thought.thinking}")
        if self.settings.handoff in ("draft", "both") and thought.text:
            parts.append(f"{words.draft}\n{thought.text}")
        if not parts:
            # A reasoner that returned neither: the chat model answers alone (counted, not hidden).
            run.fallback(f"think: the reasoner returned no {self.settings.handoff}; the chat model answered alone")
        final = self.write(run, self.models.chat, numbered, "writer" if parts else "answer", notes="\n\n".join(parts))
        return run.answer(self.name, final, numbered, thinking=thought.thinking)
