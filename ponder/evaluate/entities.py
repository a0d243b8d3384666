"""Entity extraction scored against hand-labelled passages: precision (of the names an extractor
gives, the share a reader marked) and recall (of the names a reader marked, the share it gives).

A sample file is JSON Lines, one passage a line: where its text is, under ``shared/data`` —
``source`` with ``line``, ``start`` and ``end`` for a text file of one document a line, or
``source`` with ``title`` and ``sentences`` (how many of the paragraph's first sentences) for a
HotpotQA file — and ``entities``, the names a reader would follow to another document (people,
places, organisations, works, events, products), alternatives joined by ``|`` ("北京市|北京").
An extracted name counts when its key equals the key of one alternative.

Example::

    samples = load_entity_samples(Path("tests/data/entities/zh.jsonl"), shared=Path("../shared"))
    score = score_entities(graph_keys(NLPExtractor(), proper_only=True), samples)
    score.precision, score.recall, score.missed[:5]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ponder.evaluate.datasets import DatasetError
from ponder.graph.build import Extractor
from ponder.graph.extract import entity_key
from ponder.types import Chunk


@dataclass(frozen=True)
class EntitySample:
    text: str
    entities: tuple[frozenset[str], ...]  # one set of alternative keys per labelled name


@dataclass
class EntityScore:
    precision: float
    recall: float
    extracted: int
    labelled: int
    wrong: list[str] = field(default_factory=list)  # extracted keys no label allows
    missed: list[str] = field(default_factory=list)  # labelled names nothing extracted matched


def load_entity_samples(path: Path, shared: Path) -> list[EntitySample]:
    """The labelled passages of ``path``, their texts read from ``shared/data``."""
    texts: dict[str, list[str] | dict[str, list[str]]] = {}
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            source = shared / "data" / row["source"]
            if row["source"] not in texts:
                texts[row["source"]] = _read_source(source)
            documents = texts[row["source"]]
            if "title" in row:
                assert isinstance(documents, dict)
                text = "".join(documents[row["title"]][:row["sentences"]]).strip()
            else:
                assert isinstance(documents, list)
                text = documents[row["line"]][row["start"]:row["end"]]
            labels = tuple(frozenset(entity_key(name) for name in entry.split("|")) for entry in row["entities"])
        except (KeyError, IndexError, TypeError, ValueError, AssertionError) as exc:
            raise DatasetError(f"{path}:{number}: not a labelled passage ({exc!r})") from None
        samples.append(EntitySample(text, labels))
    return samples


def _read_source(path: Path) -> list[str] | dict[str, list[str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.suffix == ".json":  # HotpotQA: every question's paragraphs, by title
        return {title: sentences for row in json.loads(path.read_text(encoding="utf-8"))
                for title, sentences in row["context"]}
    return path.read_text(encoding="utf-8").splitlines()


def graph_keys(extractor: Extractor, proper_only: bool = False) -> Callable[[str], list[str]]:
    """A passage's text -> the keys ``extractor`` stores for it as one chunk; ``proper_only``: without
    the noun compounds (type ``concept``) the offline extractor also gives."""

    def keys(text: str) -> list[str]:
        graph = extractor.extract([Chunk("c", "d", "/passage.txt", text, 0, len(text))])[0]
        return [m.key for m in graph.mentions if not (proper_only and m.type == "concept")]

    return keys


def score_entities(extract: Callable[[str], list[str]], samples: list[EntitySample]) -> EntityScore:
    """Precision and recall of ``extract`` (a passage's text -> entity keys) over ``samples``."""
    extracted = correct = labelled = found = 0
    wrong: list[str] = []
    missed: list[str] = []
    for sample in samples:
        keys = set(extract(sample.text))
        allowed = set().union(*sample.entities) if sample.entities else set()
        extracted += len(keys)
        correct += len(keys & allowed)
        wrong.extend(sorted(keys - allowed))
        labelled += len(sample.entities)
        for alternatives in sample.entities:
            if alternatives & keys:
                found += 1
            else:
                missed.append(sorted(alternatives)[0])
    return EntityScore(correct / extracted if extracted else 0.0, found / labelled if labelled else 0.0,
                       extracted, labelled, wrong, missed)
