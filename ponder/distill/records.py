"""Distilled records: the teacher's answer to a written question, the filters it must pass, and
the formats fine-tuning tools read.

A record keeps everything: the question and its kind, the chunks it was written from, the passages
retrieval gave the teacher (with their citation numbers), the thinking, the answer, its citations,
mode, model, tokens and seconds, and why it was dropped if it was.

Example::

    record = make_record(written, answer)
    record["reasons"] = check(record, Limits(), require_thinking=True)
    to_sharegpt(record)  # {"conversations": [...]} with <think>…</think> opening the answer
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ponder.distill.questions import WrittenQuestion
from ponder.evaluate.answers import normalise
from ponder.reason.numbers import read_numbers
from ponder.reason.prompts import answer_messages
from ponder.text import is_refusal
from ponder.types import Answer, Chunk, Hit

FORMATS = ("plain", "openai", "sharegpt")
_WORD = re.compile(r"[\w\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Limits:
    """Records outside these lengths (characters) are dropped."""

    question: int = 300
    answer: int = 2_000
    thinking: int = 30_000
    min_answer: int = 1


def make_record(written: WrittenQuestion, answer: Answer) -> dict[str, Any]:
    source = written.source
    return {
        "id": source.id, "question": written.question, "kind": source.kind, "language": source.language,
        "reference": written.reference,
        "source_chunk_ids": [c.id for c in source.chunks], "source_paths": [c.path for c in source.chunks],
        "source_texts": [c.text for c in source.chunks],
        "passages": [{"number": n, "chunk_id": hit.chunk.id, "path": hit.chunk.path, "page": hit.chunk.page,
                      "heading_path": list(hit.chunk.heading_path), "text": hit.chunk.text}
                     for n, hit in enumerate(answer.hits, start=1)],
        "thinking": answer.thinking, "answer": answer.text,
        "citations": [{"marker": c.marker, "chunk_id": c.chunk_id, "path": c.path, "page": c.page,
                       "source": c.source} for c in answer.citations],
        "invalid_citations": list(answer.invalid_citations),
        "grounding": answer.grounding.verdict if answer.grounding else None,
        "mode": answer.mode, "model": answer.model, "question_model": written.model,
        "usage": {"prompt_tokens": answer.usage.prompt_tokens + written.prompt_tokens,
                  "completion_tokens": answer.usage.completion_tokens + written.completion_tokens,
                  "reasoning_tokens": answer.usage.reasoning_tokens, "estimated": answer.usage.estimated},
        "seconds": round(sum(answer.timings.values()), 3), "timings": answer.timings,
        "kept": False, "reasons": [],
    }


def check(record: dict[str, Any], limits: Limits, require_thinking: bool,
          judge: Callable[[dict[str, Any]], bool | None] | None = None) -> list[str]:
    """Why ``record`` is not fit to train on; empty when it is. The reasons are counted on the card."""
    reasons = []
    answer, thinking = record["answer"], record["thinking"]
    if not limits.min_answer <= len(answer.strip()) <= limits.answer:
        reasons.append("answer length out of limits")
    if len(record["question"]) > limits.question:
        reasons.append("question too long")
    if len(thinking) > limits.thinking:
        reasons.append("thinking too long")
    if record["kind"] == "unanswerable":
        if not is_refusal(answer):
            reasons.append("unanswerable question answered")
        return reasons
    if is_refusal(answer):
        reasons.append("answerable question refused")
        return reasons
    if record["invalid_citations"] or not record["citations"]:
        reasons.append("citations do not resolve" if record["invalid_citations"] else "nothing cited")
    if not supported(record):
        reasons.append("answer not supported by its source")
    elif judge is not None and judge(record) is False:
        reasons.append("judge: answer wrong")
    if require_thinking and not thinking.strip():
        reasons.append("no thinking")
    elif thinking.strip() and contradicts(thinking, answer, record["reference"]):
        reasons.append("thinking contradicts the answer")
    return reasons


def supported(record: dict[str, Any]) -> bool:
    """A source chunk is cited, or the answer holds the reference answer, or most of the answer's
    words are in the source."""
    if set(record["source_chunk_ids"]) & {c["chunk_id"] for c in record["citations"]}:
        return True
    answer = normalise(record["answer"])
    if record["reference"] and normalise(record["reference"]) in answer:
        return True
    words = _words(record["answer"])
    source = set(_words(" ".join(record["source_texts"])))
    return bool(words) and sum(w in source for w in words) / len(words) >= 0.6


def contradicts(thinking: str, answer: str, reference: str) -> bool:
    """A cheap check that the thinking ends where the answer does: the answer's key string (the
    reference answer when the answer holds it, else the answer's numbers) must appear in the last
    third of the thinking whenever that part states a key string of its own kind."""
    conclusion = thinking[len(thinking) * 2 // 3:]
    if reference and normalise(reference) in normalise(answer):
        if normalise(reference) in normalise(conclusion):
            return False
        # the thinking concluded on some other number, or never came near the answer
        return bool(_numbers(reference)) and bool(_numbers(conclusion)) and not (
            _numbers(reference) & _numbers(conclusion))
    stated, concluded = _numbers(answer), _numbers(conclusion)
    return bool(stated and concluded and not stated & concluded)


def _numbers(text: str) -> set[float]:
    return {round(number.value, 6) for number in read_numbers(text)}


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if len(w) > 1 or not w.isascii()]



# -- formats --------------------------------------------------------------------------------------
def student_prompt(record: dict[str, Any]) -> str:
    """The user turn a student model is trained on: the same prompt a Ponder mode sends, with the
    passages retrieval gave the teacher."""
    numbered = [(p["number"], Hit(_chunk(p), 0.0, "distill", p["number"])) for p in record["passages"]]
    return answer_messages(record["question"], numbered, record["language"])[0]["content"]


def _chunk(passage: dict[str, Any]) -> Chunk:
    return Chunk(id=passage["chunk_id"], document_id="", path=passage["path"], text=passage["text"], start=0,
                 end=len(passage["text"]), page=passage.get("page"),
                 heading_path=tuple(passage.get("heading_path") or ()))


def assistant_turn(record: dict[str, Any]) -> str:
    """The answer with the thinking before it in ``<think>…</think>``, as R1's distills are trained."""
    thinking = record["thinking"].strip()
    return f"<think>\n{thinking}\n</think>\n\n{record['answer'].strip()}" if thinking else record["answer"].strip()


def to_openai(record: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": student_prompt(record)},
                         {"role": "assistant", "content": assistant_turn(record)}]}


def to_sharegpt(record: dict[str, Any]) -> dict[str, Any]:
    return {"conversations": [{"from": "human", "value": student_prompt(record)},
                              {"from": "gpt", "value": assistant_turn(record)}]}


def to_plain(record: dict[str, Any]) -> dict[str, Any]:
    """Every field, plus what ``ponder eval jsonl:FILE`` reads: question, answers, relevant, type."""
    return {**record, "answers": [record["reference"]] if record["reference"] else [],
            "relevant": sorted({Path(path).name for path in record["source_paths"]}), "type": record["kind"]}


WRITERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "plain": to_plain, "openai": to_openai, "sharegpt": to_sharegpt}


# -- split ----------------------------------------------------------------------------------------
def split_by_document(records: list[dict[str, Any]], validation: float) -> dict[str, str]:
    """Record id → "train" or "validation". Documents that share a record (a multi-hop pair) are
    kept together, so no document is on both sides; about ``validation`` of the groups, chosen by
    hash (stable across runs), are held out, at least one when there are two groups or more."""
    parent: dict[str, str] = {}

    def root(document: str) -> str:
        while parent.setdefault(document, document) != document:
            document = parent[document]
        return document

    for record in records:
        first, *rest = record["source_paths"]
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[str, list[str]] = defaultdict(list)
    for document in {path for record in records for path in record["source_paths"]}:
        groups[root(document)].append(document)
    ordered = sorted(groups, key=lambda group: hashlib.sha1(group.encode()).hexdigest())
    held = math.ceil(validation * len(ordered)) if len(ordered) > 1 and validation > 0 else 0
    held_out = {document for group in ordered[:held] for document in groups[group]}
    return {record["id"]: "validation" if record["source_paths"][0] in held_out else "train" for record in records}


# -- data card ------------------------------------------------------------------------------------
def data_card(records: list[dict[str, Any]], dropped_questions: Counter[str], splits: dict[str, str],
              settings: dict[str, Any]) -> str:
    kept = [r for r in records if r["kept"]]
    lines = ["# Distilled data card", "", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in settings.items()]
    written = len(records) + sum(dropped_questions.values())
    lines += ["", f"{written} questions attempted: {len(records)} answered by the teacher, "
                  f"**{len(kept)} kept** ({sum(splits.get(r['id']) == 'train' for r in kept)} train, "
                  f"{sum(splits.get(r['id']) == 'validation' for r in kept)} validation).", ""]
    for title, key in (("kind", "kind"), ("language", "language")):
        counts = Counter(r[key] for r in kept)
        lines += [f"## Kept by {title}", "", f"| {title} | records |", "|---|---|"]
        lines += [f"| {value} | {count} |" for value, count in sorted(counts.items())] + [""]
    documents = Counter(Path(p).name for r in kept for p in set(r["source_paths"]))
    lines += ["## Kept by document", "", "| document | records |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in sorted(documents.items())] + [""]
    reasons = Counter(dropped_questions)
    reasons.update(reason for r in records for reason in r["reasons"])
    lines += ["## Why records were dropped", "", "| reason | count |", "|---|---|"]
    lines += [f"| {reason} | {count} |" for reason, count in reasons.most_common()] or ["| (none) | 0 |"]
    tokens = sum(r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"] for r in records)
    per_kept = f"{tokens / len(kept):,.0f} per kept record" if kept else "no record kept"
    lines += ["", f"Tokens spent: {tokens:,} ({per_kept}).", ""]
    return "\n".join(lines)
