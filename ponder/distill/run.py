"""A distillation run, top to bottom: sample sources → write questions → teacher answers → filter
→ split by document → write the formats and the data card.

Everything lands in ``out_dir``: ``records.jsonl`` holds one line per source, appended (and
synced) the moment it is done: the full record, or why no question came of it. A rerun skips the
sources already there, so a killed run loses at most the records in flight. The train and
validation files and ``card.md`` are rewritten from ``records.jsonl`` at the end of every run.

Example::

    with Ponder(data_dir="./idx") as ponder:
        result = Distiller(ponder, DistillOptions(kinds=("lookup", "multi-hop"), limit=100)).run(Path("out"))
    result.kept, result.files["validation.plain.jsonl"]  # `ponder eval jsonl:out/validation.plain.jsonl`
"""

from __future__ import annotations

import json
import os
import statistics
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ponder.api import Ponder
from ponder.distill.questions import KINDS, Source, near_duplicate, sample_sources, write_question
from ponder.distill.records import FORMATS, WRITERS, Limits, check, data_card, make_record, split_by_document
from ponder.llm.local_server import LocalServer
from ponder.text import estimate_tokens

RECORDS = "records.jsonl"
THINKING_MODES = ("reasoner", "think-then-answer", "agentic", "corrective")


@dataclass(frozen=True)
class DistillOptions:
    kinds: tuple[str, ...] = KINDS
    per_doc: int = 2  # chunks sampled per document
    limit: int | None = None  # sources in all
    mode: str = "reasoner"  # the teacher's mode
    multi_hop_mode: str = "agentic"  # the teacher's mode for multi-hop questions
    formats: tuple[str, ...] = FORMATS
    validation: float = 0.1  # share of document groups held out
    concurrency: int = 1
    judge: bool = False  # the chat model also judges each answer against the reference
    require_thinking: bool | None = None  # None: when the teacher is a configured model in a thinking mode
    seed: int = 0
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"unknown formats {unknown}; valid formats: {', '.join(FORMATS)}")
        if not 0 <= self.validation < 1:
            raise ValueError("validation must be at least 0 and below 1")


@dataclass(frozen=True)
class Estimate:
    sources: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # US dollars; None when [prices] lacks a model


@dataclass
class DistillResult:
    records: list[dict[str, Any]]  # every answered record, kept or not
    dropped_questions: Counter[str]  # sources no usable question came of, by reason
    splits: dict[str, str]  # kept record id -> train / validation
    files: dict[str, Path]

    @property
    def kept(self) -> int:
        return sum(record["kept"] for record in self.records)


class Distiller:
    """Grounded question / thinking / answer records from the corpus behind ``ponder``."""

    def __init__(self, ponder: Ponder, options: DistillOptions | None = None):
        self.ponder = ponder
        self.options = options or DistillOptions()
        self._lock = threading.Lock()
        self._questions: list[str] = []
        self._vectors: list[np.ndarray] = []

    def sources(self) -> list[Source]:
        options = self.options
        return sample_sources(self.ponder.store, list(options.kinds), options.per_doc, options.limit, options.seed)

    def estimate(self, sources: list[Source]) -> Estimate:
        """Tokens for writing and answering ``sources``, from the chunks' sizes; cost from [prices]."""
        chunk_tokens = statistics.mean(estimate_tokens(c.text) for s in sources for c in s.chunks) if sources else 0
        top_k = self.ponder.config.retrieve.top_k
        write_in = sum(estimate_tokens(c.text) + 150 for s in sources for c in s.chunks)
        write_out = 60 * len(sources)
        steps = [3 if self._mode(s) == "agentic" else 1 for s in sources]
        answer_in = int(sum(n * (top_k * chunk_tokens + 250) for n in steps))
        answer_out = sum(n * (700 if self._mode(s) in THINKING_MODES else 150) for n, s in zip(steps, sources))
        prices = self.ponder.config.prices
        chat, teacher = self.ponder.model("chat").model, self.ponder.model("reasoner").model
        cost = None
        if chat in prices and teacher in prices:
            cost = (write_in * prices[chat].input + write_out * prices[chat].output
                    + answer_in * prices[teacher].input + answer_out * prices[teacher].output) / 1e6
        return Estimate(len(sources), write_in + answer_in, write_out + answer_out, cost)

    def run(self, out_dir: Path, on_record: Callable[[dict[str, Any]], None] | None = None,
            dry_run: int = 0, sources: list[Source] | None = None) -> DistillResult:
        """Answer every source not yet in ``out_dir`` and rewrite the outputs; ``on_record`` hears
        each line as it lands. ``dry_run=N``: the first N sources only, nothing written.
        ``sources``: those :meth:`sources` already sampled (sampling again gives the same)."""
        sources = self.sources() if sources is None else sources
        done = {} if dry_run else _read_records(out_dir / RECORDS)
        for line in done.values():
            if line.get("question"):
                self._questions.append(line["question"])  # earlier questions count for near-duplicates
        pending = sources[:dry_run] if dry_run else [s for s in sources if s.id not in done]
        lines: dict[str, dict[str, Any]] = dict(done)
        if not dry_run:
            out_dir.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max(1, self.options.concurrency)) as pool:
            futures = [pool.submit(self._one, source) for source in pending]
            try:
                for future in as_completed(futures):  # written as each lands, not in source order
                    line = future.result()
                    lines[line["id"]] = line
                    if not dry_run:
                        _append(out_dir / RECORDS, line)
                    if on_record:
                        on_record(line)
            except BaseException:  # an endpoint that fails, a Ctrl-C: stop asking, keep what landed
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return self._finish(out_dir, [lines[s.id] for s in sources if s.id in lines], write=not dry_run)

    def pending(self, out_dir: Path, sources: list[Source]) -> list[Source]:
        """The sources ``out_dir`` has no line for yet."""
        done = _read_records(out_dir / RECORDS)
        return [source for source in sources if source.id not in done]

    # -- one source -------------------------------------------------------------------------------
    def _one(self, source: Source) -> dict[str, Any]:
        written = write_question(self.ponder.model("chat"), source)
        if isinstance(written, str):
            return _dropped_question(source, written)
        if self._duplicate(written.question):
            return _dropped_question(source, "question: near-duplicate of an earlier one", written.question)
        answer = self.ponder.ask(written.question, mode=self._mode(source))
        record = make_record(written, answer)
        record["reasons"] = check(record, self.options.limits, self._require_thinking(source),
                                  self._judge if self.options.judge else None)
        record["kept"] = not record["reasons"]
        return record

    def _mode(self, source: Source) -> str:
        return self.options.multi_hop_mode if source.kind == "multi-hop" else self.options.mode

    def _require_thinking(self, source: Source) -> bool:
        if self.options.require_thinking is not None:
            return self.options.require_thinking
        # The embedded base model never thinks aloud; a chat model in direct mode is not asked to.
        embedded = isinstance(self.ponder.model("reasoner").endpoint, LocalServer)
        return self._mode(source) in THINKING_MODES and not embedded

    def _duplicate(self, question: str) -> bool:
        vector = None
        if self.ponder.config.retrieve.uses_vectors:
            vector = self.ponder.embedder.embed_query(question)
        with self._lock:
            similarity = (max(float(vector @ other) for other in self._vectors)
                          if vector is not None and self._vectors else None)
            if near_duplicate(question, self._questions, similarity):
                return True
            self._questions.append(question)
            if vector is not None:
                self._vectors.append(vector)
        return False

    def _judge(self, record: dict[str, Any]) -> bool | None:
        from ponder.evaluate.judge import Judge

        if not record["reference"]:
            return None
        return Judge(self.ponder.model("judge")).verdict(record["question"], [record["reference"]], record["answer"])

    # -- outputs ----------------------------------------------------------------------------------
    def _finish(self, out_dir: Path, lines: list[dict[str, Any]], write: bool) -> DistillResult:
        records = [line for line in lines if "answer" in line]
        dropped = Counter(reason for line in lines if "answer" not in line for reason in line["reasons"])
        kept = [record for record in records if record["kept"]]
        splits = split_by_document(kept, self.options.validation)
        files: dict[str, Path] = {}
        if write:
            for name in self.options.formats:
                for part in ("train", "validation"):
                    path = out_dir / f"{part}.{name}.jsonl"
                    _write_jsonl(path, [WRITERS[name](r) for r in kept if splits[r["id"]] == part])
                    files[path.name] = path
            settings = {"mode": self.options.mode, "multi-hop mode": self.options.multi_hop_mode,
                        "kinds": ", ".join(self.options.kinds), "per document": self.options.per_doc,
                        "chat model (questions)": self.ponder.model("chat").model,
                        "teacher model": self.ponder.model("reasoner").model,
                        "validation share": self.options.validation, "judge": self.options.judge}
            card = out_dir / "card.md"
            card.write_text(data_card(records, dropped, splits, settings), encoding="utf-8")
            files["card.md"] = card
        return DistillResult(records, dropped, splits, files)


def _dropped_question(source: Source, reason: str, question: str = "") -> dict[str, Any]:
    return {"id": source.id, "kind": source.kind, "question": question,
            "source_chunk_ids": [c.id for c in source.chunks], "reasons": [reason], "kept": False}


def _read_records(path: Path) -> dict[str, dict[str, Any]]:
    """The lines written so far, by source id. A last line cut off by a kill is dropped from the
    file, so the next append starts on a line of its own."""
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        raw = raw[:raw.rfind(b"\n") + 1]
        with path.open("r+b") as file:
            file.truncate(len(raw))
    found = {}
    for line in raw.decode("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            found[row["id"]] = row
    return found


def _append(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(row, ensure_ascii=False) + "\n")
        file.flush()
        os.fsync(file.fileno())


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(temporary, path)
