"""How the commands print: answers with their thinking, citations, figures, grounding marks and
conflicts; traces; ingest progress; search snippets with the query's terms highlighted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.tree import Tree

from ponder.ingest.figures import stored_image
from ponder.types import Answer, Figure, FileOutcome, Hit, Trace, TraceStep, location, pages_named

# soft_wrap: never break lines at 80 columns when output goes to a file or a pipe.
out = Console(highlight=False, soft_wrap=True)


err = Console(stderr=True, highlight=False, soft_wrap=True)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def figure_line(figure: Figure, figures_dir: Path | None = None) -> str:
    """``Figure 2 (p.3), box 72,140-540,410 pt, image: …/figures/<hash>.png``."""
    parts = [figure.label()]
    if figure.bbox:
        parts.append("box " + ",".join(f"{v:g}" for v in figure.bbox[:2]) + "-" +
                     ",".join(f"{v:g}" for v in figure.bbox[2:]) + " pt")
    stored = stored_image(figures_dir, figure.image) if figures_dir is not None else None
    if stored is not None:
        parts.append(f"image: {stored}")
    elif not figure.image:
        parts.append("no image (not readable here)")
    return ", ".join(parts)


def print_answer(answer: Answer, show_thinking: bool, figures_dir: Path | None = None) -> None:
    if show_thinking:
        if answer.thinking:
            out.print("[bold]Thinking[/]")
            out.print(f"[dim]{escape(answer.thinking)}[/]")
        elif answer.model:
            out.print(f"[dim]Thinking: (none; {escape(answer.model)} did not think aloud)[/]")
        else:
            out.print("[dim]Thinking: (none; the answer is quoted from the passages, no model wrote it)[/]")
    out.print("[bold]Answer[/]")
    out.print(marked(answer) or "[dim](empty answer)[/]")
    print_grounding(answer)
    print_conflicts(answer)
    if answer.citations:
        out.print("[bold]Citations[/]")
        for citation in answer.citations:
            how = ("" if citation.source == "model"
                   else "  [dim](behind the community report the model cited)[/]" if citation.source == "community"
                   else "  [dim](the other side of a disagreement, cited by Ponder)[/]" if citation.source == "conflict"
                   else f"  [dim](not cited by the model; attributed by {citation.source})[/]")
            where = location(_relative(citation.path), citation.page, citation.heading_path, citation.page_end,
                             citation.figure)
            out.print(f"  [{citation.marker}] [cyan]{escape(where)}[/]{how}")
            if citation.figure is not None:
                out.print(f"      [magenta]{escape(figure_line(citation.figure, figures_dir))}[/]")
    else:
        out.print("[dim]No citations.[/]")
    if answer.route:
        out.print(f"[dim]Route: {escape(answer.route)}[/]")
    for fallback in answer.fallbacks:
        out.print(f"[yellow]fallback:[/] [dim]{escape(fallback)}[/]")
    if answer.invalid_citations:
        out.print(f"[dim]Removed citations to passages not given: {answer.invalid_citations}[/]")
    stages = " · ".join(f"{name} {seconds:.2f} s" for name, seconds in answer.timings.items())
    usage = answer.usage
    tokens = (f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
              f" ({usage.reasoning_tokens} reasoning){' (estimated)' if usage.estimated else ''}")
    out.print(f"[dim]{answer.mode} · {stages} · {tokens} · {escape(answer.model)}[/]")


def marked(answer: Answer) -> str:
    """The answer text, escaped, with the spans no passage supports in red and underlined."""
    flags = answer.grounding.flags if answer.grounding else []
    parts, position = [], 0
    for flag in flags:
        if flag.start < position:
            continue
        parts += [escape(answer.text[position:flag.start]), f"[red underline]{escape(flag.text)}[/]"]
        position = flag.end
    return "".join(parts) + escape(answer.text[position:])


def print_grounding(answer: Answer) -> None:
    grounding = answer.grounding
    if grounding is None or grounding.verdict == "not checked":
        return
    colour = {"supported": "green", "partly supported": "yellow", "unsupported": "red"}[grounding.verdict]
    action = f" ({grounding.action})" if grounding.action else ""
    out.print(f"[bold]Grounding:[/] [{colour}]{grounding.verdict}[/]{action} "
              f"[dim](checked against the {grounding.against} passages)[/]")
    for flag in grounding.flags:
        out.print(f"  [red]✗[/] {flag.kind} [bold]{escape(flag.text)}[/]: [dim]{escape(flag.why)}[/]")
    for sentence in grounding.unsupported_sentences:
        out.print(f"  [yellow]?[/] no passage backs: [dim]{escape(sentence.text)} (support {sentence.score:.2f})[/]")
    for derivation in grounding.derivations:  # "293.6 = 1,496.5 − 1,202.9 from [1]"
        sources = " ".join("the question" if m == 0 else f"[{m}]" for m in derivation.markers)
        how = "working shown" if derivation.shown else f"from {sources}"
        out.print(f"  [green]=[/] {escape(derivation.text)} = {escape(derivation.expression)} [dim]({how})[/]")


def print_conflicts(answer: Answer) -> None:
    for conflict in answer.conflicts:
        sides = "; ".join(f"[{side.marker}] “{escape(side.value)}”" for side in conflict.sides)
        out.print(f"[bold]Passages disagree:[/] [yellow]{sides}[/]")


def print_trace(trace: Trace) -> None:
    """The trace as a tree: groups (agentic steps, corrective rounds) hold their retrievals and calls."""
    root = Tree("[bold]Trace[/]")

    def add(branch: Tree, steps: list[TraceStep]) -> None:
        for step in steps:
            add(branch.add(_trace_label(step)), step.children)

    add(root, trace.steps)
    out.print(root)


def _trace_label(step: TraceStep) -> str:
    d = step.detail
    if step.stage == "retrieve":
        return f"retrieve {escape(repr(d['query']))} → {len(d['chunk_ids'])} hits [dim]{step.seconds:.2f} s[/]"
    if step.stage == "llm":
        tokens = f"{d['prompt_tokens']} in / {d['completion_tokens']} out, {d['reasoning_tokens']} thinking"
        estimated = " (estimated)" if d["tokens_estimated"] else ""
        output = escape(_one_line(d["output"], 70))
        return (f"[bold]{d['purpose']}[/] {d['role']} {escape(d['model'])} [dim]{step.seconds:.2f} s, "
                f"{tokens}{estimated}[/] → {output}")
    details = ", ".join(f"{k}={_one_line(str(v), 60)}" for k, v in d.items())
    seconds = f" [dim]{step.seconds:.2f} s[/]" if step.children else ""
    return f"[cyan]{step.stage}[/]{seconds} {escape(details)}"


class PlainLines:
    """Ingest progress as one line per file: for logs, pipes and CI. Problems go to stderr."""

    def __init__(self, show_ingested: bool = True):
        self.show_ingested = show_ingested
        self.total = self.done = 0

    def __enter__(self) -> PlainLines:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def planned(self, files: int) -> None:
        self.total = files

    def finished(self, outcome: FileOutcome) -> None:
        self.done += 1
        if outcome.status == "ingested" and self.show_ingested:
            pages = f"{pages_named(outcome.pages, outcome.path)}, " if outcome.pages else ""
            out.print(f"  [{self.done}/{self.total}] ingested {escape(_relative(outcome.path))} "
                      f"({pages}{outcome.chunks} chunks)")
        elif problem := _problem_line(outcome):
            err.print(problem)


class ProgressBar:
    """Ingest progress on a terminal: a live bar with files, pages, chunks, rate and time left."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
            TextColumn("· {task.fields[pages]} pages · {task.fields[chunks]} chunks ·"),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=err, transient=False,
        )
        self._task = self._progress.add_task("ingest", total=None, pages=0, chunks=0, rate="")
        self._started = time.monotonic()
        self._pages = self._chunks = 0

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def planned(self, files: int) -> None:
        self._progress.update(self._task, total=files)

    def finished(self, outcome: FileOutcome) -> None:
        if problem := _problem_line(outcome):
            self._progress.console.print(problem)
        if outcome.status == "ingested":
            self._pages += outcome.pages or 0
            self._chunks += outcome.chunks
        elapsed = max(time.monotonic() - self._started, 1e-9)
        done = self._progress.tasks[0].completed + 1
        self._progress.update(self._task, advance=1, pages=self._pages, chunks=self._chunks,
                              rate=f"{done / elapsed:.1f} files/s")


def _problem_line(outcome: FileOutcome) -> str | None:
    """One line, in colour, for a skipped or failed file; None for the others."""
    colour = {"skipped": "yellow", "failed": "red"}.get(outcome.status)
    return f"[{colour}]{outcome.status}:[/] {escape(outcome.message)}" if colour else None


def _ingest_listener(quiet: bool) -> PlainLines | ProgressBar | contextlib.nullcontext[None]:
    if quiet:
        return contextlib.nullcontext()
    return ProgressBar() if err.is_terminal else PlainLines()


def snippet(text: str, query: str, width: int = 180) -> str:
    """The ``width`` characters of ``text`` around its first query term (the start when none occurs)."""
    flat = " ".join(text.split())
    positions = [flat.lower().find(term) for term in _query_terms(query)]
    first = min((p for p in positions if p >= 0), default=0)
    start = max(0, min(first - width // 3, len(flat) - width))
    return ("…" if start else "") + flat[start:start + width] + ("…" if start + width < len(flat) else "")


def highlight(text: str, query: str) -> str:
    """Rich markup with the query's terms in bold yellow (case-insensitive)."""
    terms = sorted(_query_terms(query), key=len, reverse=True)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    pieces, last = [], 0
    for match in pattern.finditer(text):
        pieces += [escape(text[last:match.start()]), f"[bold yellow]{escape(match.group())}[/]"]
        last = match.end()
    return "".join(pieces) + escape(text[last:])


def _query_terms(query: str) -> list[str]:
    """Words of the query worth marking: BM25's tokens before stemming would lose their surface form,
    so use jieba's segmentation of the query itself, minus one-character pieces."""
    import jieba

    return [word.lower() for word in jieba.lcut(query) if len(word.strip()) > 1 and re.search(r"\w", word)]


def _hit_dict(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {"rank": hit.rank, "score": hit.score, "retriever": hit.retriever, "ranks": hit.ranks, "chunk_id": chunk.id,
            "path": chunk.path, "page": chunk.page, "page_end": chunk.page_end,
            "heading_path": list(chunk.heading_path),
            "start": chunk.start, "end": chunk.end, "text": chunk.text, "type": chunk.kind,
            "figure": dataclasses.asdict(chunk.figure) if chunk.figure else None}


def examples_dir() -> Path:
    """The sample corpus: inside the installed package, or at the repository root in a checkout."""
    package = Path(__file__).resolve().parents[1]  # ponder/ (this module is ponder/cli/render.py)
    for candidate in (package / "examples", package.parent / "examples"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the sample documents are missing from this installation")


def _relative(path: str) -> str:
    """``path`` as the user knows it: the bundled samples as ``examples/NAME``, else relative to here."""
    try:
        samples = examples_dir()
        if Path(path).is_relative_to(samples):
            return str(Path("examples") / Path(path).relative_to(samples))
    except FileNotFoundError:
        pass
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
