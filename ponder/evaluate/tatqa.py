"""TAT-QA's own scores for a free-text answer: exact match and numeracy-focused F1 (the DROP F1
TAT-QA reports), with the scale (thousand / million / billion / percent) taken into account.

The answer Ponder gives is text, so its prediction is read from it: for a numeric question, the
result of the last working the answer states ("… = 293.6"), else its first number that the question
does not contain; its scale is the one written with that number ("293.6 million", "24.41%"). A
number written without a scale is read in the scale of the table it was computed from, which is
the gold scale for TAT-QA's amounts (its tables state "in thousands" once, above the table). For
span questions the prediction is the answer's text, citations removed.

Exact match compares numbers at two decimals after applying their scales (as TAT-QA does: 293.6
million equals 293,600 thousand), and spans after normalising (lower case, no punctuation or
articles, numbers as numbers). F1 is the token-bag F1 of the best one-to-one alignment of
predicted and gold spans; for arithmetic and count answers it equals exact match.

Example::

    tatqa_scores("The change is 44.1 − 56.7 = -12.6 [1].", {"answer": -12.6, "answer_type": "arithmetic",
                                                             "scale": "", "answer_from": "table"})
    # {'em': 1.0, 'f1': 1.0, 'predicted': '-12.6', 'scale': ''}
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ponder.reason.derivations import stated_working
from ponder.reason.numbers import read_numbers

SCALES = {"": 1.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "percent": 0.01}
_MARKERS = re.compile(r"\s*[\[【]\s*\d+(?:\s*[,，、]\s*\d+)*\s*[\]】]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SCALE_WORDS = {"thousand": "thousand", "million": "million", "billion": "billion", "%": "percent",
                "percent": "percent", "per cent": "percent", "％": "percent"}


def tatqa_scores(answer: str, gold: dict[str, Any]) -> dict[str, Any]:
    """EM and F1 of ``answer`` against a TAT-QA question's gold record, with what was read from it."""
    text = _MARKERS.sub("", answer).strip()
    kind, scale = gold["answer_type"], gold.get("scale", "")
    if kind in ("arithmetic", "count"):
        predicted, predicted_scale = _predicted_number(text, gold.get("question", ""), scale)
        if predicted is None:
            return {"em": 0.0, "f1": 0.0, "predicted": "", "scale": ""}
        wanted = float(gold["answer"])
        em = float(_as_absolute(predicted, predicted_scale) == _as_absolute(wanted, scale))
        return {"em": em, "f1": em, "predicted": format(predicted, ".12g"), "scale": predicted_scale}
    spans = gold["answer"] if isinstance(gold["answer"], list) else [str(gold["answer"])]
    em, f1 = _span_scores([text], [str(span) for span in spans])
    return {"em": em, "f1": f1, "predicted": text, "scale": ""}


def _predicted_number(text: str, question: str, gold_scale: str) -> tuple[float | None, str]:
    workings = stated_working(text)
    if workings:
        last = workings[-1]
        written = text[last.start:last.end]
        return float(last.stated), _scale_of(written, text[last.end:last.end + 12], gold_scale)
    asked = {round(n.value, 6) for n in read_numbers(question)}
    for number in read_numbers(text):
        if number.hedged or round(number.value, 6) in asked:
            continue
        raw = number.raw if number.raw is not None else number.value
        sign = -1 if text[max(0, number.start - 1):number.start] in ("-", "−") and raw > 0 else 1
        return sign * raw, _scale_of(number.text, text[number.end:number.end + 12], gold_scale)
    return None, ""


def _scale_of(written: str, after: str, gold_scale: str) -> str:
    """The scale written with a number (or just after it); none written: the table's own."""
    lowered = (written + " " + after[:10]).lower()
    for word, scale in _SCALE_WORDS.items():
        if word in lowered:
            return scale
    return gold_scale if gold_scale != "percent" else ""


def _as_absolute(value: float, scale: str) -> str:
    return f"{round(value, 2) * SCALES.get(scale, 1.0):.4f}"


def normalise_span(text: str) -> str:
    """Lower case, articles and punctuation removed, numbers written one way ("1,000" -> "1000.0")."""
    tokens = []
    for token in _ARTICLES.sub(" ", text.lower()).split():
        bare = token.strip(string.punctuation + "“”’‘")
        number = bare.replace(",", "").replace("$", "")
        try:
            tokens.append(str(float(number)))
        except ValueError:
            cleaned = "".join(ch for ch in bare if ch not in string.punctuation)
            if cleaned:
                tokens.append(cleaned)
    return " ".join(tokens)


def _span_scores(predicted: list[str], gold: list[str]) -> tuple[float, float]:
    said, wanted = [normalise_span(p) for p in predicted], [normalise_span(g) for g in gold]
    em = float(sorted(said) == sorted(wanted))
    bags_said, bags_wanted = [set(s.split()) for s in said], [set(w.split()) for w in wanted]
    scores = np.array([[_f1(p, g) for p in bags_said] for g in bags_wanted])
    rows, columns = linear_sum_assignment(-scores)
    best = np.zeros(max(len(bags_wanted), len(bags_said)))
    for row, column in zip(rows, columns):
        best[row] = max(best[row], scores[row, column])
    return em, round(float(best.mean()), 2)


def _f1(predicted: set[str], gold: set[str]) -> float:
    shared = len(predicted & gold)
    if not shared:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(gold)
    return 2 * precision * recall / (precision + recall)
