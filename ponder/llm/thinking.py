"""Separate a reasoning model's thinking from its answer, whatever shape the provider sends.

Shapes handled:

* a separate field: ``reasoning_content`` (DeepSeek, vLLM with a reasoning parser, llama.cpp's
  server) or ``reasoning`` (Ollama, OpenRouter);
* inline ``<think>…</think>`` before the answer (vLLM without a parser, raw R1 distills);
* the closing tag alone (R1 distills whose chat template already opened ``<think>``);
* an opening tag never closed (generation cut off mid-thought): all of it is thinking;
* no thinking at all: empty thinking, not an error.

Streams get the same treatment incrementally from :class:`ThinkingSplitter`, which also copes with a
tag cut in two by the chunk boundary (``"<thi"`` + ``"nk>"``).

Example::

    >>> split_thinking("step 1, step 2</think>The answer is 4.")
    ('The answer is 4.', 'step 1, step 2')
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"
_BLOCK = re.compile(re.escape(OPEN_TAG) + r"(.*?)" + re.escape(CLOSE_TAG), re.DOTALL)


def split_thinking(content: str | None, reasoning: str | None = None) -> tuple[str, str]:
    """Return ``(answer, thinking)``, both stripped; the answer never contains think tags."""
    content = content or ""
    thoughts = [reasoning.strip()] if reasoning and reasoning.strip() else []

    # Closing tag with no opening before it: the template opened <think> for the model.
    close_at = content.find(CLOSE_TAG)
    open_at = content.find(OPEN_TAG)
    if close_at != -1 and (open_at == -1 or open_at > close_at):
        thoughts.append(content[:close_at])
        content = content[close_at + len(CLOSE_TAG):]

    thoughts.extend(match.group(1) for match in _BLOCK.finditer(content))
    content = _BLOCK.sub("", content)

    # An opening tag never closed: the generation stopped while still thinking.
    open_at = content.find(OPEN_TAG)
    if open_at != -1:
        thoughts.append(content[open_at + len(OPEN_TAG):])
        content = content[:open_at]

    thinking = "\n\n".join(t.strip() for t in thoughts if t.strip())
    return content.replace(CLOSE_TAG, "").strip(), thinking


class Delta(NamedTuple):
    """A piece of a streamed generation: thinking or answer text."""

    kind: Literal["thinking", "text"]
    text: str


class ThinkingSplitter:
    """Split streamed content into thinking and answer deltas as it arrives.

    ``starts_thinking``: the output begins inside a thought without an opening tag (an R1 distill
    whose template opened ``<think>``, or a forced ``<think>\\n`` prefix). Once a provider sends
    a separate reasoning field, content is answer only (:meth:`reasoning_seen`). Live deltas are
    a best effort for display; :func:`split_thinking` over the whole output is the final word
    (an output that never closes its thought, say, turns out to have been the answer).
    """

    def __init__(self, starts_thinking: bool = False):
        self._starts_thinking = starts_thinking
        self._state: Literal["start", "thinking", "text"] = "start"
        self._pending = ""

    def reasoning_seen(self) -> None:
        if self._state in ("start", "thinking") and not self._pending.strip():
            self._state = "text"

    def feed(self, piece: str) -> list[Delta]:
        buffer = self._pending + piece
        self._pending = ""
        deltas: list[Delta] = []
        while buffer:
            if self._state == "start":
                stripped = buffer.lstrip()
                if not stripped or (OPEN_TAG.startswith(stripped) and stripped != OPEN_TAG):
                    self._pending = buffer  # too early to tell
                    break
                if stripped.startswith(OPEN_TAG):
                    buffer = stripped[len(OPEN_TAG):]
                    self._state = "thinking"
                else:
                    self._state = "thinking" if self._starts_thinking else "text"
                continue
            tags = (CLOSE_TAG,) if self._state == "thinking" else (OPEN_TAG, CLOSE_TAG)
            found = [(buffer.find(tag), tag) for tag in tags if tag in buffer]
            if found:
                at, tag = min(found)
                deltas.append(Delta(self._state, buffer[:at]))
                buffer = buffer[at + len(tag):]
                if tag == OPEN_TAG:
                    self._state = "thinking"
                elif self._state == "thinking":
                    self._state = "text"
                # a stray </think> in the answer (its opening was never seen) is dropped
                continue
            keep = _partial_tag_suffix(buffer, tags)
            deltas.append(Delta(self._state, buffer[: len(buffer) - keep]))
            self._pending = buffer[len(buffer) - keep:]
            break
        return [d for d in deltas if d.text]

    def finish(self) -> list[Delta]:
        """Whatever was held back waiting to see whether it was a tag."""
        rest, self._pending = self._pending, ""
        kind: Literal["thinking", "text"] = "thinking" if self._state == "thinking" else "text"
        return [Delta(kind, rest)] if rest.strip() else []


def _partial_tag_suffix(buffer: str, tags: tuple[str, ...]) -> int:
    """Length of the longest end of ``buffer`` that could be the start of one of ``tags``."""
    longest = 0
    for tag in tags:
        for size in range(min(len(tag) - 1, len(buffer)), 0, -1):
            if buffer.endswith(tag[:size]):
                longest = max(longest, size)
                break
    return longest
