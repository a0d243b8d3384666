"""Separate a reasoning model's thinking from its answer, whatever shape the provider sends.

Shapes handled:

* a separate field: ``reasoning_content`` (DeepSeek, vLLM with a reasoning parser, llama.cpp's
  server) or ``reasoning`` (Ollama, OpenRouter);
* inline ``<think>…</think>`` before the answer (vLLM without a parser, raw R1 distills);
* the closing tag alone (R1 distills whose chat template already opened ``<think>``);
* an opening tag never closed (generation cut off mid-thought): all of it is thinking;
* no thinking at all: empty thinking, not an error.

Example::

    >>> split_thinking("step 1, step 2</think>The answer is 4.")
    ('The answer is 4.', 'step 1, step 2')
"""

from __future__ import annotations

import re

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
