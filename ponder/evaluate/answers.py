"""Scoring answers against expected answers, in English and Chinese.

Text is normalised before matching: Unicode NFKC (full-width ``ＡＢＣ１２３`` becomes ``ABC123``),
lower case, punctuation and spaces removed — so "Tampa, Florida" matches "tampa florida" and
"1月3日" matches "1 月 3 日". Expected answers are *any-of* (a list of alternatives) or *all-of*
(a list of groups, each a list of alternatives, every group needed).

Example::

    answer_correct("The game was in Tampa, Florida [1].", ["Tampa, Florida"])          # True
    answer_correct("1月3日和1月12日", [["1月3日"], ["1月12日", "1月12号"]])             # True: all-of
    is_refusal("资料中没有提到这一点。")                                                  # True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import cast

from ponder.text import is_refusal

Expected = Sequence[str] | Sequence[Sequence[str]]
__all__ = ["answer_correct", "answer_groups", "flags_conflict", "is_refusal", "normalise"]

_CONFLICT = [
    "conflict", "contradict", "inconsistent", "disagree", "factual error", "incorrect information",
    "矛盾", "冲突", "不一致", "有误", "错误", "存疑",
]


def normalise(text: str) -> str:
    """NFKC, lower case, no punctuation, symbols or spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not (unicodedata.category(ch)[0] in "PSZ" or ch.isspace()))


def answer_groups(expected: Expected) -> list[list[str]]:
    """Expected answers as all-of groups of any-of alternatives: ``["a", "b"]`` -> ``[["a", "b"]]``."""
    if isinstance(expected, str):
        return [[expected]]
    if all(isinstance(item, str) for item in expected):
        return [list(cast(Sequence[str], expected))] if expected else []
    return [[item] if isinstance(item, str) else list(item) for item in expected]


def answer_correct(prediction: str, expected: Expected, exact: bool = False) -> bool:
    """Every group has an alternative contained in (or, ``exact``, equal to) the prediction."""
    groups = answer_groups(expected)
    if not groups:
        return False
    said = normalise(prediction)
    for group in groups:
        wanted = [normalise(a) for a in group if normalise(a)]
        if not any((said == a) if exact else (a in said) for a in wanted):
            return False
    return True


def flags_conflict(text: str) -> bool:
    """The answer points out that passages disagree or contain errors."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    return any(re.search(rf"\b{re.escape(w)}" if w.isascii() else re.escape(w), lowered) for w in _CONFLICT)
