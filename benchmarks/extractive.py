"""Extractive answers on the embedded default: when to quote a second sentence, and what quoting it
does to accuracy and citation precision, on RGB en_fact and zh_fact (issue 28).

Every question is answered as the default does (``direct``, hybrid retrieval, a base model: the
answer quoted, no model call). The answer's ``extract`` step records its ranked candidates, so
three ways of choosing from the same candidates are scored side by side:

* ``first``: the best-ranked sentence alone;
* ``two``: the best two, whatever the second says (the default before issue 28);
* ``shipped``: what the default quotes now (:func:`ponder.reason.extractive.scorer_picks`).

Accuracy is RGB's (the answer contains every expected string, normalised), which a second sentence
flatters: it doubles the text that may contain the answer. Citation precision: cited passages that
are relevant or contain an expected answer. "flags the conflict" is ``ponder eval``'s measure on
the shipped answers. The questions are split in two halves, even and odd positions: the second
sentence's thresholds were chosen on the even half (``tune``); report the odd half (``report``).

    python benchmarks/extractive.py [--limit N] [--files en_fact zh_fact] [--dump candidates.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import IO

from common import REPO, header, shared_dir

from ponder import Ponder, load_config
from ponder.evaluate.answers import answer_correct, answer_groups, normalise
from ponder.evaluate.datasets import load_rgb
from ponder.evaluate.scoring import passage_ids, score_answer
from ponder.reason.conflicts import disagree
from ponder.reason.extractive import Candidate, scorer_picks

CACHE = REPO / "benchmarks" / ".cache" / "extractive"


def quoted_scores(question, answer, picks: list[int], candidates: list[Candidate]) -> tuple[bool, float | None]:
    """Accuracy and citation precision of an answer quoting ``picks`` of ``candidates``."""
    chosen = [candidates[i - 1] for i in picks]
    text = " ".join(c.text for c in chosen)
    cited = list(dict.fromkeys(c.passage for c in chosen))
    supporting = 0
    for marker in cited:
        chunk = answer.hits[marker - 1].chunk
        contains = any(normalise(alt) and normalise(alt) in normalise(chunk.text)
                       for group in answer_groups(question.answers) for alt in group)
        supporting += bool(passage_ids(chunk) & set(question.relevant)) or contains
    return answer_correct(text, question.answers), (supporting / len(cited) if cited else None)


def run_file(name: str, limit: int | None, dump: IO[str] | None) -> dict[str, dict[str, list]]:
    dataset = load_rgb(name, shared_dir(), limit)
    data_dir = CACHE / name
    config = load_config(env={}, overrides={"data_dir": str(data_dir)})
    halves: dict[str, dict[str, list]] = {"tune": {}, "report": {}}
    with Ponder(config) as ponder:
        ponder.ingest([dataset.write_corpus(data_dir / "corpus")])
        for position, question in enumerate(dataset.questions):
            answer = ponder.ask(question.query, mode="direct")
            step = next((s for s in answer.trace.walk() if s.stage == "extract"), None)
            if step is None:
                continue
            candidates = [Candidate(*row) for row in step.detail["candidates"]]
            if dump is not None:  # for choosing thresholds without answering again
                dump.write(json.dumps({"file": name, "position": position, "question": question.query,
                                       "answers": question.answers, "candidates": step.detail["candidates"],
                                       "relevant": [bool(passage_ids(answer.hits[c.passage - 1].chunk)
                                                         & set(question.relevant)) for c in candidates]},
                                      ensure_ascii=False) + "\n")
            row = halves["tune" if position % 2 == 0 else "report"]
            for variant, picks in (("first", [1]), ("two", [1, 2][:len(candidates)]),
                                   ("shipped", scorer_picks(question.query, candidates))):
                correct, precision = quoted_scores(question, answer, picks, candidates)
                row.setdefault(f"{variant} accuracy", []).append(correct)
                row.setdefault(f"{variant} citation precision", []).append(precision)
            scores = score_answer(question, answer)
            picks = scorer_picks(question.query, candidates)
            other_side = len(picks) > 1 and disagree(candidates[0].text, candidates[picks[1] - 1].text) is not None
            row.setdefault("second quoted", []).append(len(picks) > 1)
            row.setdefault("second quoted: the other side of a disagreement", []).append(other_side)
            row.setdefault("flags the conflict", []).append(scores.get("flags_conflict"))
            row.setdefault("follows the wrong documents", []).append(scores.get("follows_counterfactual"))
    return halves


def mean(values: list) -> str:
    kept = [float(v) for v in values if v is not None]
    return f"{sum(kept) / len(kept):.3f}" if kept else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="+", default=["en_fact", "zh_fact"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--dump", type=Path, help="write each question's candidates here (JSON Lines)")
    args = parser.parse_args()
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    header("Extractive answers: the second sentence (RGB, embedded default)")
    results = {name: run_file(name, args.limit, dump) for name in args.files}
    measures = list(next(iter(next(iter(results.values())).values())).keys())
    columns = [f"{name} {half}" for name in results for half in ("tune", "report")]
    print("| measure | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for measure in measures:
        cells = [mean(results[name][half].get(measure, [])) for name in results for half in ("tune", "report")]
        print(f"| {measure} | " + " | ".join(cells) + " |")
    counts = [str(len(results[name][half].get("second quoted", []))) for name in results for half in ("tune", "report")]
    print("| questions | " + " | ".join(counts) + " |")


if __name__ == "__main__":
    main()
