"""The offline entity extractor against hand-labelled passages (issue 32): precision and recall of
the names it gives, per language, for all its entities and for proper names alone (without the
Chinese noun compounds it also calls entities), with the commonest wrong and missed names::

    python benchmarks/extractor.py

The labels are in tests/data/entities/ (100 Chinese news passages from CRUD-RAG, 101 English
HotpotQA paragraph openings; the texts are read from ../shared). What a label is: a name a reader
would follow to another document — people, places, organisations, works, events, products; not
dates, numbers, titles of office alone, nationality adjectives or common nouns.
"""

from __future__ import annotations

from collections import Counter

from common import REPO, header, shared_dir

from ponder.evaluate.entities import graph_keys, load_entity_samples, score_entities
from ponder.graph import NLPExtractor


def main() -> None:
    header("Entity extractor precision and recall")
    extractor = NLPExtractor()
    print(f"extractor {extractor.name}\n")
    print("| passages | entities | precision | recall | extracted | labelled |")
    print("|---|---|---|---|---|---|")
    notes = []
    for language in ("zh", "en"):
        samples = load_entity_samples(REPO / "tests" / "data" / "entities" / f"{language}.jsonl", shared_dir())
        for label, proper_only in (("all", False), ("proper names", True)):
            score = score_entities(graph_keys(extractor, proper_only), samples)
            print(f"| {language} ({len(samples)}) | {label} | {score.precision:.3f} | {score.recall:.3f} | "
                  f"{score.extracted} | {score.labelled} |")
            if not proper_only:
                notes.append(f"{language} wrong: " + ", ".join(k for k, _ in Counter(score.wrong).most_common(25)))
                notes.append(f"{language} missed: " + ", ".join(k for k, _ in Counter(score.missed).most_common(25)))
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
