"""An LLM judge for answers that containment cannot score (paraphrases, units, long answers).

Its verdicts are reported apart from containment accuracy (``judge_correct``, "judge accuracy")
and never replace it. The judge sees the question, the expected answers and the answer — not the
thinking. An unusable verdict is None, not a guess.

Example::

    judge = Judge(ponder.model("judge"))
    judge.verdict("When was it built?", [["1889"]], "It opened in the late 1880s.")  # False
"""

from __future__ import annotations

from typing import Any

from ponder.evaluate.answers import Expected, answer_groups
from ponder.llm import OpenAICompatibleLLM, ask_json
from ponder.text import detect_language

SCHEMA = {"type": "object", "properties": {"correct": {"type": "boolean"}, "why": {"type": "string"}},
          "required": ["correct"]}
PROMPTS = {
    "en": ("Judge whether the answer to the question is correct. Expected answer(s): {expected}. The answer may "
           "word it differently but must state it and not contradict it. Reply with JSON only: "
           '{{"correct": true or false, "why": "<short reason>"}}\n\nQuestion: {question}\nAnswer: {answer}'),
    "zh": ("请判断对问题的回答是否正确。标准答案：{expected}。回答的措辞可以不同，但必须给出该答案且不与之矛盾。"
           '只回复 JSON：{{"correct": true 或 false, "why": "<简短理由>"}}\n\n问题：{question}\n回答：{answer}'),
}


def _verdict(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("correct"), bool):
        raise ValueError('expected {"correct": true|false}')
    return value["correct"]


class Judge:
    def __init__(self, llm: OpenAICompatibleLLM):
        self.llm = llm

    def verdict(self, question: str, expected: Expected, answer: str) -> bool | None:
        groups = answer_groups(expected)
        if not groups or not answer.strip():
            return None
        language = detect_language(question)
        joined = "; ".join(" / ".join(group) for group in groups)
        prompt = PROMPTS[language].format(expected=joined, question=question, answer=answer)
        messages: Any = prompt if self.llm.prompt_style == "completion" else [{"role": "user", "content": prompt}]
        return ask_json(self.llm, messages, schema=SCHEMA, validate=_verdict, purpose="judge").value
