"""Evaluation datasets: questions with expected answers, relevant passages, and (for benchmarks that
bring one) their own corpus. Loaders register by name and are picked with ``kind:location``:

* ``rgb:zh_int`` (or ``rgb:path/to/en_fact.json``) — the RGB benchmark (Chen et al., AAAI 2024);
  every passage of the file is a document; a question's relevant passages are its ``positive``
  ones; ``*_fact`` files also carry the counterfactual (``fakeanswer``) their wrong passages state.
* ``jsonl:questions.jsonl`` — one object a line: ``question``, ``answers`` (a list of
  alternatives, or a list of lists: all groups needed), optional ``relevant`` (document file names
  or passage ids) and ``type``; the corpus is the user's own, ingested separately.
* ``hotpotqa:multihop/hotpotqa_100`` (a path under ``shared/data``, or a file) — HotpotQA in its
  own JSON format (Yang et al., EMNLP 2018): every question's ten paragraphs join one corpus, each
  a Markdown document headed by its article title; a question's relevant passages are those its
  ``supporting_facts`` name (usually two, from different articles).
* ``tatqa:dev`` (``tatqa_dataset_dev.json`` under ``shared/data/tatqa``, or a file) — TAT-QA in its
  raw JSON (Zhu et al., ACL 2021): every context (a financial report's table and its paragraphs)
  is one Markdown document, the table as a Markdown table; a question's relevant passage is its
  context, and its gold record (answer, type, scale, source) is kept for TAT-QA's own scores.
* ``beir:folder`` — BEIR layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``),
  ``queries.jsonl`` (``_id``, ``text``, optional ``answers``), ``qrels/test.tsv`` (or ``qrels.tsv``).

Example::

    dataset = load_dataset("rgb:en_fact", shared=Path("../shared"))
    dataset.questions[0].answers, dataset.questions[0].relevant, len(dataset.corpus)
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ponder.evaluate.answers import Expected


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    query: str
    answers: Expected = ()
    relevant: frozenset[str] = frozenset()  # passage or document ids
    type: str = ""
    counterfactual: str = ""  # RGB *_fact: the wrong answer the counterfactual passages state
    gold: dict[str, Any] = field(default_factory=dict, hash=False)  # TAT-QA: the record its own metric scores


@dataclass
class Dataset:
    name: str
    questions: list[EvalQuestion]
    corpus: dict[str, str] = field(default_factory=dict)  # passage id -> text; empty: the user's own documents
    corpus_suffix: str = ".txt"  # how the passages are written: ".md" when they carry a title heading

    def write_corpus(self, folder: Path) -> Path:
        """Each passage as ``<id><suffix>`` in ``folder``, ready to ingest; a hit's file stem is its id."""
        folder.mkdir(parents=True, exist_ok=True)
        for passage_id, text in self.corpus.items():
            (folder / f"{passage_id}{self.corpus_suffix}").write_text(text, encoding="utf-8")
        return folder


class DatasetError(ValueError):
    """A dataset cannot be read; the message names the file and what is wrong."""


def load_dataset(spec: str, shared: Path | None = None, limit: int | None = None) -> Dataset:
    """The dataset ``kind:location``; ValueError naming the valid kinds otherwise."""
    kind, _, location = spec.partition(":")
    if kind not in LOADERS or not location:
        raise DatasetError(f"unknown dataset {spec!r}; use one of: " + ", ".join(f"{k}:…" for k in LOADERS))
    return LOADERS[kind](location, shared, limit)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc})") from None
    return rows


def load_rgb(location: str, shared: Path | None = None, limit: int | None = None) -> Dataset:
    path = Path(location)
    if not path.suffix and shared is not None:
        path = shared / "data" / "rgb" / f"{location}.json"
    rows = _read_jsonl(path)[:limit] if limit else _read_jsonl(path)
    ids: dict[str, str] = {}  # passage text -> id (the same passage may serve several questions)
    questions = []
    for row in rows:
        for key in ("positive", "negative", "positive_wrong"):
            for text in _flatten(row.get(key) or []):
                ids.setdefault(text, f"p{len(ids):05d}")
        relevant = frozenset(ids[text] for text in _flatten(row.get("positive") or []))
        answer = row.get("answer")
        answers: Expected = [answer] if isinstance(answer, str) else [
            [a] if isinstance(a, str) else a for a in answer or []]  # zh_int: all sub-answers needed
        questions.append(EvalQuestion(str(row["id"]), row["query"], answers, relevant,
                                      type=path.stem, counterfactual=str(row.get("fakeanswer") or "")))
    return Dataset(f"rgb:{path.stem}", questions, {passage_id: text for text, passage_id in ids.items()})


def load_jsonl(location: str, shared: Path | None = None, limit: int | None = None) -> Dataset:
    path = Path(location)
    questions = []
    for number, row in enumerate(_read_jsonl(path), start=1):
        if not isinstance(row, dict) or "question" not in row or not isinstance(row.get("answers", []), list):
            raise DatasetError(f"{path}:{number}: needs \"question\" and a list of \"answers\"")
        questions.append(EvalQuestion(str(row.get("id", number)), row["question"], row.get("answers", []),
                                      frozenset(map(str, row.get("relevant", []))), str(row.get("type", ""))))
    return Dataset(f"jsonl:{path.name}", questions[:limit] if limit else questions)


def load_hotpotqa(location: str, shared: Path | None = None, limit: int | None = None) -> Dataset:
    path = Path(location)
    if not path.suffix and shared is not None:
        path = shared / "data" / f"{location}.json"
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    ids: dict[str, str] = {}  # title -> passage id: the corpus is the union of every question's paragraphs
    corpus: dict[str, str] = {}
    questions = []
    for number, row in enumerate(rows[:limit] if limit else rows):
        try:
            for title, sentences in row["context"]:
                if title not in ids:
                    ids[title] = f"h{len(ids):05d}"
                    corpus[ids[title]] = f"# {title}\n\n" + "".join(sentences).strip() + "\n"
            relevant = frozenset(ids[title] for title, _ in row["supporting_facts"])
            questions.append(EvalQuestion(str(row.get("_id", number)), row["question"], [row["answer"]], relevant,
                                          type=str(row.get("type", ""))))
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: question {number} is not in HotpotQA's format ({exc!r})") from None
    return Dataset(f"hotpotqa:{path.stem}", questions, corpus, corpus_suffix=".md")


def load_beir(location: str, shared: Path | None = None, limit: int | None = None) -> Dataset:
    folder = Path(location)
    corpus = {str(row["_id"]): "\n".join(p for p in (row.get("title"), row.get("text")) if p)
              for row in _read_jsonl(folder / "corpus.jsonl")}
    qrels_path = next((p for p in (folder / "qrels" / "test.tsv", folder / "qrels.tsv") if p.is_file()), None)
    if qrels_path is None:
        raise DatasetError(f"{folder}: no qrels/test.tsv or qrels.tsv")
    relevant: dict[str, set[str]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row.get("score", 1) or 0) > 0:
                relevant.setdefault(str(row["query-id"]), set()).add(str(row["corpus-id"]))
    questions = [EvalQuestion(str(row["_id"]), row["text"], row.get("answers") or row.get("metadata", {}).get(
        "answers", []), frozenset(relevant.get(str(row["_id"]), ())))
                 for row in _read_jsonl(folder / "queries.jsonl") if str(row["_id"]) in relevant]
    return Dataset(f"beir:{folder.name}", questions[:limit] if limit else questions, corpus)


def tatqa_context_markdown(context: dict[str, Any]) -> str:
    """A TAT-QA context as one document: its table as a Markdown table, then its paragraphs."""
    rows = context["table"]["table"]
    lines = ["| " + " | ".join(" ".join(str(cell).split()).replace("|", "/") for cell in row) + " |" for row in rows]
    if len(lines) > 1:
        lines.insert(1, "|" + "---|" * len(rows[0]))
    paragraphs = [p["text"] for p in sorted(context["paragraphs"], key=lambda p: p.get("order", 0))]
    return "\n".join(lines) + "\n\n" + "\n\n".join(paragraphs) + "\n"


def load_tatqa(location: str, shared: Path | None = None, limit: int | None = None) -> Dataset:
    path = Path(location)
    if not path.suffix and shared is not None:
        path = shared / "data" / "tatqa" / f"tatqa_dataset_{location}.json"
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        contexts = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    corpus, questions = {}, []
    for number, context in enumerate(contexts):
        try:
            passage_id = f"t{number:05d}"
            corpus[passage_id] = tatqa_context_markdown(context)
            for row in sorted(context["questions"], key=lambda q: q.get("order", 0)):
                answer = row["answer"]
                answers = [str(a) for a in answer] if isinstance(answer, list) else [f"{answer:g}" if isinstance(
                    answer, float) else str(answer)]
                gold = {key: row.get(key, "") for key in ("answer", "answer_type", "scale", "answer_from")}
                questions.append(EvalQuestion(str(row["uid"]), row["question"].strip(), [answers] if len(
                    answers) > 1 else answers, frozenset({passage_id}), f"{row['answer_type']}/{row['answer_from']}",
                    gold={**gold, "question": row["question"]}))
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: context {number} is not in TAT-QA's format ({exc!r})") from None
        if limit and len(questions) >= limit:
            break
    return Dataset(f"tatqa:{path.stem}", questions[:limit] if limit else questions, corpus, corpus_suffix=".md")


LOADERS: dict[str, Callable[[str, Path | None, int | None], Dataset]] = {
    "rgb": load_rgb, "jsonl": load_jsonl, "hotpotqa": load_hotpotqa, "tatqa": load_tatqa, "beir": load_beir,
}


def _flatten(items: list) -> list[str]:
    flat: list[str] = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return [text for text in flat if isinstance(text, str) and text.strip()]
