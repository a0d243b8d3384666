"""Aggregate per-question scores into the "is the reasoner worth it?" table, and write the report:
``report.md`` and a self-contained ``report.html`` (plots inlined), with the PNG plots beside them.

Example::

    rows = read_results(Path("eval-out"))
    table = aggregate(rows)       # system -> metric -> value
    write_report(rows, Path("eval-out"), config_toml, "RGB zh_int")
"""

from __future__ import annotations

import base64
import html
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from ponder.evaluate.plots import draw_plots

PLOT_TITLES = {"accuracy_latency": "Accuracy vs. latency", "accuracy_tokens": "Accuracy vs. tokens",
               "tokens": "Tokens per question, by kind", "by_type": "Accuracy by question type"}

# (metric, label, higher is better) in table order
COLUMNS = [
    ("accuracy", "accuracy", True),
    ("judge_accuracy", "judge acc. (LLM)", True),
    ("recall@5", "recall@5", True),
    ("mrr@10", "MRR@10", True),
    ("citation_precision", "cite prec.", True),
    ("citation_recall", "cite rec.", True),
    ("refusal_rate", "refusals", None),
    ("unsupported_rate", "unsupported", False),
    ("fallback_rate", "fell back", False),
    ("no_answer_rate", "no answer", False),
    ("p50_s", "p50 s", False),
    ("p95_s", "p95 s", False),
    ("tokens", "tokens/q", False),
    ("reasoning_tokens", "thinking/q", None),
    ("cost", "cost $", False),
    ("errors", "errors", False),
]


def _mean(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.mean(present) if present else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per system: the mean of each score over the questions that have it, latency percentiles,
    token means, total cost (None if any call had no price), error and fallback counts."""
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_system[row["system"]].append(row)
    table: dict[str, dict[str, Any]] = {}
    for system, system_rows in by_system.items():
        scored = [row["scores"] for row in system_rows if row["scores"]]
        seconds = [s["seconds"] for s in scored]
        costs = [s["cost"] for s in scored]
        stages: dict[str, list[float]] = defaultdict(list)
        for s in scored:
            for stage, value in s["timings"].items():
                stages[stage].append(value)
        table[system] = {
            "questions": len(system_rows),
            "errors": sum(1 for row in system_rows if row["error"]),
            "accuracy": _mean([s["correct"] for s in scored]),
            "judge_accuracy": _mean([s.get("judge_correct") for s in scored]),
            "recall@5": _mean([s["recall@5"] for s in scored]),
            "recall@20": _mean([s["recall@20"] for s in scored]),
            "mrr@10": _mean([s["mrr@10"] for s in scored]),
            "citation_precision": _mean([s["citation_precision"] for s in scored]),
            "citation_recall": _mean([s["citation_recall"] for s in scored]),
            "refusal_rate": _mean([s["refusal"] for s in scored]),
            "refusal_correct": _mean([s["refusal_correct"] for s in scored]),
            "fallback_rate": _mean([s["fell_back"] for s in scored]),
            "no_answer_rate": _mean([s["no_answer"] for s in scored]),
            "p50_s": _percentile(seconds, 50),
            "p95_s": _percentile(seconds, 95),
            "stages_p50": {stage: _percentile(values, 50) for stage, values in stages.items()},
            "stages_p95": {stage: _percentile(values, 95) for stage, values in stages.items()},
            "tokens": _mean([s["prompt_tokens"] + s["completion_tokens"] for s in scored]),
            "prompt_tokens": _mean([s["prompt_tokens"] for s in scored]),
            "completion_tokens": _mean([s["completion_tokens"] for s in scored]),
            "reasoning_tokens": _mean([s["reasoning_tokens"] for s in scored]),
            "tokens_estimated": any(s["tokens_estimated"] for s in scored),
            "cost": None if any(c is None for c in costs) or not costs else sum(costs),
            "follows_counterfactual": _mean([s.get("follows_counterfactual") for s in scored]),
            "flags_conflict": _mean([s.get("flags_conflict") for s in scored]),
            **_grounding_summary(system_rows),
            "by_type": {t: _mean([s["correct"] for row, s in zip(system_rows, scored) if row["type"] == t])
                        for t in sorted({row["type"] for row in system_rows if row["type"]})},
            # TAT-QA's numeracy-focused F1 (its exact match is the accuracy), overall and by answer type / source
            "f1": _mean([s.get("f1") for s in scored]),
            "by_type_f1": {t: _mean([s.get("f1") for row, s in zip(system_rows, scored) if row["type"] == t])
                           for t in sorted({row["type"] for row in system_rows if row["type"]})},
        }
    return table


def _grounding_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """From each stored answer's grounding check: the share of checked answers with content no
    passage supports (a partly or wholly unsupported verdict), the share with an unsupported number
    or name, and accuracy apart for answers found supported and for the rest — does the verdict
    predict a wrong answer?"""
    checked = [(row, row["answer"]["grounding"]) for row in rows if row["scores"] and row.get("answer")
               and (row["answer"].get("grounding") or {}).get("verdict", "not checked") != "not checked"]
    unsupported = [row for row, g in checked if g["verdict"] != "supported"]
    supported = [row for row, g in checked if g["verdict"] == "supported"]
    return {
        "checked": len(checked),
        "unsupported_rate": len(unsupported) / len(checked) if checked else None,
        "flagged_rate": _mean([bool(g["flags"]) for _, g in checked]),
        "accuracy_supported": _mean([row["scores"]["correct"] for row in supported]),
        "accuracy_unsupported": _mean([row["scores"]["correct"] for row in unsupported]),
        "grounding_p50_ms": _percentile([g["seconds"] * 1000 for _, g in checked], 50),
        # Per checked answer: numbers a passage writes, numbers derived from theirs, numbers neither backs.
        "numbers_written": _mean([g.get("written_numbers", 0) for _, g in checked]),
        "numbers_derived": _mean([len(g.get("derivations", [])) for _, g in checked]),
        "numbers_unsupported": _mean([sum(f["kind"] == "number" for f in g["flags"]) for _, g in checked]),
    }


def disagreements(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Questions where the systems are not all right or all wrong, with each system's answer."""
    by_question: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        by_question[row["question_id"]][row["system"]] = row
    found = []
    for question_id, systems in by_question.items():
        verdicts = {label: (row["scores"] or {}).get("correct") for label, row in systems.items()}
        if len({v for v in verdicts.values() if v is not None}) > 1:
            first = next(iter(systems.values()))
            found.append({"question_id": question_id, "question": first["question"], "verdicts": verdicts,
                          "answers": {label: _shown_answer(row) for label, row in systems.items()}})
    return found


def _shown_answer(row: dict[str, Any]) -> str:
    if row["error"]:
        return f"(error: {row['error']})"
    return (row["answer"] or {}).get("text") or "(no answer)"


def _cell(value: Any, metric: str) -> str:
    if value is None:
        return "–"
    if metric in ("errors",):
        return str(value)
    if metric in ("tokens", "reasoning_tokens"):
        return f"{value:,.0f}"
    if metric == "cost":
        return f"{value:.4f}"
    if metric.endswith("_s"):
        return f"{value:.2f}"
    return f"{value:.3f}"


def columns(table: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """The headline columns some system has a value for (no judge column without a judge)."""
    return [column for column in COLUMNS if any(row[column[0]] is not None for row in table.values())]


def best_per_column(table: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    best: dict[str, set[str]] = {}
    for metric, _, higher in columns(table):
        values = {system: row[metric] for system, row in table.items() if row[metric] is not None}
        if higher is None or len(values) < 2:
            continue
        target = max(values.values()) if higher else min(values.values())
        best[metric] = {system for system, value in values.items() if value == target}
    return best


def markdown_table(table: dict[str, dict[str, Any]]) -> str:
    best = best_per_column(table)
    shown = columns(table)
    lines = ["| system | " + " | ".join(label for _, label, _ in shown) + " |", "|---|" + "---|" * len(shown)]
    for system, row in table.items():
        cells = []
        for metric, _, _ in shown:
            cell = _cell(row[metric], metric)
            cells.append(f"**{cell}**" if system in best.get(metric, ()) else cell)
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(rows: list[dict[str, Any]], out_dir: Path, config_text: str, title: str,
                 wall_seconds: float | None = None, budgets: dict[str, int] | None = None) -> tuple[Path, Path]:
    """Plots, report.md and report.html in ``out_dir``; returns the two report paths. ``budgets``
    maps the agentic systems of the budget curve to their step limits."""
    table = aggregate(rows)
    plots = draw_plots(table, out_dir / "plots", budgets)
    return (_write_markdown(rows, table, plots, out_dir, config_text, title, wall_seconds),
            _write_html(rows, table, plots, out_dir, config_text, title, wall_seconds))


def _summary(rows: list[dict[str, Any]], table: dict[str, dict[str, Any]], wall_seconds: float | None) -> str:
    return (f"{len({r['question_id'] for r in rows})} questions × {len(table)} systems"
            + (f"; wall time {wall_seconds:.0f} s" if wall_seconds is not None else "") + ". "
            "Best per column in bold. Accuracy: the answer contains every expected answer (normalised). "
            "p50/p95: end-to-end seconds per question. Tokens: prompt + completion per question"
            + (" (some estimated)" if any(r["tokens_estimated"] for r in table.values()) else "") + ".")


def _write_markdown(rows: list[dict[str, Any]], table: dict[str, dict[str, Any]], plots: dict[str, Path],
                    out_dir: Path, config_text: str, title: str, wall_seconds: float | None) -> Path:
    parts = [f"# {title}", "", _summary(rows, table, wall_seconds), "", markdown_table(table), ""]
    parts += [f"![{PLOT_TITLES[name]}]({path.relative_to(out_dir)})" for name, path in plots.items()] + [""]
    types = sorted({t for row in table.values() for t in row["by_type"]})
    if types:
        parts += ["## Accuracy by question type", "", "| system | " + " | ".join(types) + " |",
                  "|---|" + "---|" * len(types)]
        parts += [f"| {s} | " + " | ".join(_cell(row["by_type"].get(t), "accuracy") for t in types) + " |"
                  for s, row in table.items()]
        parts.append("")
    if any(row["f1"] is not None for row in table.values()):
        parts += ["## Numeracy F1 by question type (TAT-QA)", "", "Accuracy above is TAT-QA's exact match; this is its "
                  "numeracy-focused F1 (equal to exact match for arithmetic and count answers).", "",
                  "| system | all | " + " | ".join(types) + " |", "|---|---|" + "---|" * len(types)]
        parts += [f"| {s} | {_cell(row['f1'], 'accuracy')} | " + " | ".join(
            _cell(row["by_type_f1"].get(t), "accuracy") for t in types) + " |" for s, row in table.items()]
        parts.append("")
    if any(row["follows_counterfactual"] is not None for row in table.values()):
        parts += ["## Counterfactual passages", "", "| system | follows the wrong documents | flags the conflict |",
                  "|---|---|---|"]
        parts += [f"| {s} | {_cell(row['follows_counterfactual'], 'x')} | {_cell(row['flags_conflict'], 'x')} |"
                  for s, row in table.items()]
        parts.append("")
    if any(row["checked"] for row in table.values()):
        parts += ["## Grounding check", "",
                  "Each answer checked against its passages (refusals are not checked). unsupported: share of "
                  "answers with a sentence, number or name no passage supports; flagged: share with an unsupported "
                  "number or name; then accuracy apart for the answers found supported and for the rest; "
                  "numbers per answer: written by a passage, derived from theirs (computed), or neither.", "",
                  "| system | checked | unsupported | flagged number/name | accuracy if supported | "
                  "accuracy if not | check p50 ms | numbers written | derived | unsupported |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        parts += [f"| {s} | {row['checked']} | {_cell(row['unsupported_rate'], 'x')} | "
                  f"{_cell(row['flagged_rate'], 'x')} | {_cell(row['accuracy_supported'], 'x')} | "
                  f"{_cell(row['accuracy_unsupported'], 'x')} | {_cell(row['grounding_p50_ms'], 'x_s')} | "
                  f"{_cell(row['numbers_written'], 'x_s')} | {_cell(row['numbers_derived'], 'x_s')} | "
                  f"{_cell(row['numbers_unsupported'], 'x_s')} |" for s, row in table.items()]
        parts.append("")
    parts += ["## Latency per stage (p50 / p95 seconds)", "", "| system | stage | p50 | p95 |", "|---|---|---|---|"]
    for system, row in table.items():
        parts += [f"| {system} | {stage} | {_cell(row['stages_p50'][stage], 'x_s')} | "
                  f"{_cell(row['stages_p95'][stage], 'x_s')} |" for stage in row["stages_p50"]]
    parts.append("")
    disagreeing = disagreements(rows)
    parts += [f"## Where the systems disagree ({len(disagreeing)} questions)", ""]
    for item in disagreeing[:50]:
        parts.append(f"**{item['question']}**  ")
        parts += [f"- {label} ({'right' if item['verdicts'][label] else 'wrong'}): "
                  f"{' '.join(str(text).split())[:300]}" for label, text in item["answers"].items()]
        parts.append("")
    parts += ["## Configuration", "", "```toml", config_text.strip(), "```", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _write_html(rows: list[dict[str, Any]], table: dict[str, dict[str, Any]], plots: dict[str, Path],
                out_dir: Path, config_text: str, title: str, wall_seconds: float | None) -> Path:
    """One file, no external resources: styles inline, plots as data URIs."""
    best = best_per_column(table)
    shown = columns(table)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in shown)
    body = []
    for system, row in table.items():
        cells = "".join(
            f"<td class='{'best' if system in best.get(metric, ()) else ''}'>{html.escape(_cell(row[metric], metric))}"
            "</td>" for metric, _, _ in shown)
        body.append(f"<tr><th>{html.escape(system)}</th>{cells}</tr>")
    figures = "".join(
        f"<figure><img alt='{html.escape(PLOT_TITLES[name])}' src='data:image/png;base64,"
        f"{base64.b64encode(path.read_bytes()).decode()}'><figcaption>{html.escape(PLOT_TITLES[name])}"
        "</figcaption></figure>" for name, path in plots.items())
    disagreeing = []
    for item in disagreements(rows)[:50]:
        answers = "".join(
            f"<li class='{'right' if item['verdicts'][label] else 'wrong'}'><b>{html.escape(label)}</b>: "
            f"{html.escape(' '.join(str(text).split())[:400])}</li>" for label, text in item["answers"].items())
        disagreeing.append(f"<h3>{html.escape(item['question'])}</h3><ul>{answers}</ul>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px/1.45 system-ui, "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
       "WenQuanYi Micro Hei", sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; }}
td {{ text-align: right; }} td.best {{ font-weight: bold; background: #e8f5e9; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 560px; border: 1px solid #eee; }}
li.right b {{ color: #2e7d32; }} li.wrong b {{ color: #c62828; }} pre {{ background: #f6f6f6; padding: 1em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(_summary(rows, table, wall_seconds).replace("in bold", "highlighted"))}</p>
<table><thead><tr><th>system</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
{figures}
<h2>Where the systems disagree ({len(disagreements(rows))} questions)</h2>
{''.join(disagreeing) or '<p>None.</p>'}
<h2>Configuration</h2><pre>{html.escape(config_text.strip())}</pre>
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
