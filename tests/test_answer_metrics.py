"""Answer scoring on hand-made cases: normalisation (case, width, punctuation), any-of and all-of."""

from __future__ import annotations

import pytest

from ponder.evaluate.answers import answer_correct, answer_groups, flags_conflict, is_refusal, normalise


def test_normalise_folds_case_width_punctuation_and_spaces() -> None:
    assert normalise("Tampa, Florida") == normalise("tampa florida") == "tampaflorida"
    assert normalise("ＡＢＣ１２３，。") == "abc123"
    assert normalise("1 月 3 日！") == "1月3日"
    assert normalise("“北京”、上海") == "北京上海"


@pytest.mark.parametrize("prediction, expected, correct", [
    ("The game was in Tampa, Florida [1].", "Tampa, Florida", True),
    ("It was held in TAMPA florida.", ["Tampa, Florida", "Raymond James Stadium"], True),  # any-of
    ("It was held in Glendale, Arizona.", ["Tampa, Florida"], False),
    ("比赛于1月3日开始，1月12日结束。", [["1月3日"], ["1月12日", "1月12号"]], True),  # all-of
    ("比赛于1月3日开始。", [["1月3日"], ["1月12日"]], False),  # one group missing
    ("比赛于１月３日开始，１月１２号结束", ["1月3日", ["1月12日", "1月12号"]], True),  # mixed, full-width
    ("", ["x"], False),
    ("anything", [], False),
])
def test_answer_correct(prediction: str, expected, correct: bool) -> None:
    assert answer_correct(prediction, expected) is correct


def test_exact_match_and_groups() -> None:
    assert answer_correct("Tampa, Florida.", ["tampa florida"], exact=True)
    assert not answer_correct("In Tampa, Florida.", ["tampa florida"], exact=True)
    assert answer_groups(["a", "b"]) == [["a", "b"]] and answer_groups([["a"], ["b", "c"]]) == [["a"], ["b", "c"]]


@pytest.mark.parametrize("text, refusal", [
    ("The passages do not contain the answer.", True),
    ("资料中没有提到这一点。", True),
    ("已索引的文档中没有与该问题相关的段落，无法据此回答。", True),
    ("It was in Tampa [1].", False),
    ("比赛在坦帕举行 [1]。", False),
])
def test_is_refusal(text: str, refusal: bool) -> None:
    assert is_refusal(text) is refusal


def test_flags_conflict() -> None:
    assert flags_conflict("Passages 1 and 2 contradict each other on the venue.")
    assert flags_conflict("资料之间存在矛盾。")
    assert not flags_conflict("It was in Tampa [1].") and not flags_conflict("The difference is small.")
