"""The RGB benchmark (Chen et al., AAAI 2024) as Ponder reads it: questions and one passage corpus.

Every passage of a file (positive, negative and counterfactual ``positive_wrong``) is a document;
a question's relevant passages are its ``positive`` ones (flattened for ``zh_int``, whose positives
are grouped per sub-answer). Only what retrieval needs is read here; answers are not.

Example::

    questions, passages = load_rgb(Path("../shared/data/rgb/en_fact.json"))
    questions[0].query, questions[0].relevant  # "Super Bowl 2021 location", {"p0003", ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RGBQuestion:
    id: str
    query: str
    relevant: frozenset[str]  # passage ids


def load_rgb(path: Path, limit: int | None = None) -> tuple[list[RGBQuestion], dict[str, str]]:
    """Questions (the first ``limit`` when given) and the corpus of their file: passage id -> text.

    With ``limit``, the corpus holds only those questions' passages.
    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    ids: dict[str, str] = {}  # passage text -> id (the same passage may serve several questions)
    questions = []
    for row in rows:
        for key in ("positive", "negative", "positive_wrong"):
            for text in _flatten(row.get(key) or []):
                ids.setdefault(text, f"p{len(ids):05d}")
        relevant = frozenset(ids[text] for text in _flatten(row.get("positive") or []))
        questions.append(RGBQuestion(str(row["id"]), row["query"], relevant))
    return questions, {passage_id: text for text, passage_id in ids.items()}


def _flatten(items: list) -> list[str]:
    flat: list[str] = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return [text for text in flat if isinstance(text, str) and text.strip()]
