import pytest

from ponder.llm import split_thinking


@pytest.mark.parametrize("content, reasoning, answer, thinking", [
    # DeepSeek / vLLM with a reasoning parser / llama.cpp: a separate field
    ("Paris.", "The capital of France is Paris.", "Paris.", "The capital of France is Paris."),
    # inline tags
    ("<think>\nLet me check: 2+2=4.\n</think>\n\nThe answer is 4.", None, "The answer is 4.", "Let me check: 2+2=4."),
    # the template opened <think>; only the closing tag arrives
    ("Counting rows... 3 rows.\n</think>\nThere are 3 rows.", None, "There are 3 rows.", "Counting rows... 3 rows."),
    # cut off while thinking
    ("<think>First, consider the table. Then", None, "", "First, consider the table. Then"),
    # no thinking at all
    ("Just an answer.", None, "Just an answer.", ""),
    ("", None, "", ""),
    (None, "only reasoning came back", "", "only reasoning came back"),
    # both a field and inline tags: keep both thoughts, in order
    ("<think>inline</think>Answer.", "field", "Answer.", "field\n\ninline"),
    # Chinese
    ("<think>先看表格。</think>答案是三行。", None, "答案是三行。", "先看表格。"),
    # empty think block (R1 sometimes emits one on trivial prompts)
    ("<think>\n\n</think>\n\nHello!", None, "Hello!", ""),
    # text before an unclosed tag is the answer
    ("Answer first. <think>then more thoughts", None, "Answer first.", "then more thoughts"),
])
def test_split_thinking_shapes(content, reasoning, answer, thinking) -> None:
    assert split_thinking(content, reasoning) == (answer, thinking)


def test_answer_never_contains_tags() -> None:
    for content in ["a</think>b</think>c", "<think>x</think><think>y</think>z", "</think>"]:
        answer, _ = split_thinking(content)
        assert "<think>" not in answer and "</think>" not in answer
