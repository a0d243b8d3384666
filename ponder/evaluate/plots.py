"""The report's plots, drawn with matplotlib (no display needed) and saved as PNG.

Example::

    paths = draw_plots(aggregate(rows), Path("eval-out"))  # {"accuracy_latency": Path(...), ...}
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib import font_manager  # noqa: E402

# Fonts with Chinese glyphs, most common first (Linux, macOS, Windows); matplotlib falls back from
# one to the next glyph by glyph, so Latin text keeps DejaVu Sans and Chinese never draws as boxes.
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "PingFang SC", "Hiragino Sans GB", "Heiti SC", "Microsoft YaHei", "SimHei", "Noto Sans SC",
             "Arial Unicode MS")


def draw_plots(table: dict[str, dict[str, Any]], out_dir: Path,
               budgets: dict[str, int] | None = None) -> dict[str, Path]:
    """Accuracy vs latency, accuracy vs tokens (with the agentic budget curve through the systems in
    ``budgets``, label → step limit), tokens by kind, accuracy by question type. Plots whose data is
    missing (no accuracy measured) are skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"font.family": font_families()}):
        return _draw(table, out_dir, budgets)


@lru_cache(maxsize=1)
def font_families() -> list[str]:
    """DejaVu Sans, then the installed fonts of :data:`CJK_FONTS` (none named that is missing, so
    matplotlib does not warn about each)."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed.intersection(CJK_FONTS):
        # matplotlib's font list is cached from its first run: look again for fonts installed since.
        known = {font.fname for font in font_manager.fontManager.ttflist}
        for path in set(font_manager.findSystemFonts()) - known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # a font file matplotlib cannot read
        installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]


def _draw(table: dict[str, dict[str, Any]], out_dir: Path, budgets: dict[str, int] | None) -> dict[str, Path]:
    drawn: dict[str, Path] = {}
    scored = {s: row for s, row in table.items() if row["accuracy"] is not None}
    if scored:
        drawn["accuracy_latency"] = _scatter(scored, "p50_s", "median seconds per question",
                                             "Accuracy vs. latency", out_dir / "accuracy_latency.png", budgets)
        drawn["accuracy_tokens"] = _scatter(scored, "tokens", "tokens per question (prompt + completion)",
                                            "Accuracy vs. tokens", out_dir / "accuracy_tokens.png", budgets)
    drawn["tokens"] = _tokens(table, out_dir / "tokens.png")
    types = sorted({t for row in table.values() for t in row["by_type"]})
    if types and scored:
        drawn["by_type"] = _by_type(scored, types, out_dir / "accuracy_by_type.png")
    return drawn


def _scatter(table: dict[str, dict[str, Any]], x_metric: str, x_label: str, title: str, path: Path,
             budgets: dict[str, int] | None) -> Path:
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    points: dict[tuple[float, float], list[str]] = {}  # systems at the same point share one label
    for system, row in table.items():
        if row[x_metric] is not None:
            points.setdefault((round(row[x_metric], 6), round(row["accuracy"], 6)), []).append(system)
    for (x, y), systems in points.items():
        axes.scatter(x, y, s=40)
        axes.annotate(", ".join(systems), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    curve = sorted((steps, table[system]) for system, steps in (budgets or {}).items()
                   if system in table and table[system][x_metric] is not None)
    if len(curve) >= 2:
        axes.plot([row[x_metric] for _, row in curve], [row["accuracy"] for _, row in curve], "--",
                  color="grey", linewidth=1, label="agentic, by step budget")
        axes.legend(fontsize=8)
    axes.set_xlabel(x_label)
    axes.set_ylabel("accuracy")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def _tokens(table: dict[str, dict[str, Any]], path: Path) -> Path:
    systems = list(table)
    prompt = [table[s]["prompt_tokens"] or 0 for s in systems]
    reasoning = [table[s]["reasoning_tokens"] or 0 for s in systems]
    answer = [max((table[s]["completion_tokens"] or 0) - r, 0) for s, r in zip(systems, reasoning)]
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    axes.bar(systems, prompt, label="prompt")
    axes.bar(systems, reasoning, bottom=prompt, label="thinking")
    axes.bar(systems, answer, bottom=[p + r for p, r in zip(prompt, reasoning)], label="answer")
    axes.set_ylabel("tokens per question")
    axes.set_title("Tokens per question, by kind")
    axes.legend(fontsize=8)
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _save(figure, path)


def _by_type(table: dict[str, dict[str, Any]], types: list[str], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    width = 0.8 / max(len(table), 1)
    for index, (system, row) in enumerate(table.items()):
        positions = [t + index * width for t in range(len(types))]
        axes.bar(positions, [row["by_type"].get(t) or 0 for t in types], width=width, label=system)
    axes.set_xticks([t + 0.4 - width / 2 for t in range(len(types))], types, fontsize=8)
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.set_title("Accuracy by question type")
    axes.legend(fontsize=7)
    return _save(figure, path)


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
