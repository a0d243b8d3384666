"""Grounded prompts, in the question's language, in the two styles models need.

* ``chat``: instruction-tuned and reasoning models. Everything goes in one user turn (DeepSeek's
  guidance for R1 is to use no system prompt), with the rule to cite passages as [n] and to say so
  when the passages do not hold the answer.
* ``completion``: base models such as the embedded Gemma 3 270M, which follow examples, not
  instructions: one worked example, then the real passages and question, ending at "Answer:".
  Generation stops at the end of the line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.types import Hit


@dataclass(frozen=True)
class _Language:
    instruction: str
    passages: str
    question: str
    answer: str
    example_passages: tuple[str, str]
    example_question: str
    example_answer: str


LANGUAGES = {
    "en": _Language(
        instruction=(
            "Answer the question using only the numbered passages. After each claim, cite the passages it "
            "comes from as [1], [2]. If the passages do not contain the answer, say that they do not, "
            "instead of guessing. Answer in English."
        ),
        passages="Passages:",
        question="Question:",
        answer="Answer:",
        example_passages=(
            "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
            "Mount Fuji is the highest mountain in Japan, at 3,776 metres.",
        ),
        example_question="When was the Eiffel Tower completed?",
        example_answer="The Eiffel Tower was completed in 1889 [1].",
    ),
    "zh": _Language(
        instruction=(
            "请只根据下面编号的资料回答问题。每个论断后用 [1]、[2] 标注其出处。"
            "如果资料中没有答案，请直接说明资料中没有，不要猜测。请用中文回答。"
        ),
        passages="资料：",
        question="问题：",
        answer="回答：",
        example_passages=(
            "埃菲尔铁塔位于巴黎，于1889年为世界博览会建成。",
            "富士山是日本最高的山，海拔3776米。",
        ),
        example_question="埃菲尔铁塔是哪一年建成的？",
        example_answer="埃菲尔铁塔于1889年建成 [1]。",
    ),
}

COMPLETION_STOP = ["\n"]
NO_PASSAGES = {
    "en": "No passage in the indexed documents matches this question, so there is nothing to answer from.",
    "zh": "已索引的文档中没有与该问题相关的段落，无法据此回答。",
}


def chat_messages(question: str, hits: list[Hit], language: str) -> list[dict[str, str]]:
    """One user turn: instruction, numbered passages with their source, question."""
    words = LANGUAGES[language]
    passages = "\n\n".join(
        f"[{number}] ({hit.chunk.location()})\n{hit.chunk.text}" for number, hit in enumerate(hits, start=1)
    )
    content = f"{words.instruction}\n\n{words.passages}\n{passages}\n\n{words.question}{_gap(language)}{question}"
    return [{"role": "user", "content": content}]


def completion_prompt(question: str, hits: list[Hit], language: str) -> str:
    """A few-shot prompt for base models; each passage on one line."""
    words = LANGUAGES[language]
    gap = _gap(language)
    example = _block(words, list(words.example_passages), words.example_question, gap)
    real = _block(words, [" ".join(hit.chunk.text.split()) for hit in hits], question, gap)
    return (f"{words.instruction}\n\n{example}{words.answer}{gap}{words.example_answer}\n\n"
            f"{real}{words.answer}")


def _block(words: _Language, passages: list[str], question: str, gap: str) -> str:
    numbered = "\n".join(f"[{number}] {text}" for number, text in enumerate(passages, start=1))
    return f"{words.passages}\n{numbered}\n{words.question}{gap}{question}\n"


def _gap(language: str) -> str:
    """English puts a space after a colon; Chinese full-width colons take none."""
    return "" if language == "zh" else " "
