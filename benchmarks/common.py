"""Helpers shared by the benchmark scripts: percentiles, the machine's description, data paths."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    path = Path(os.environ.get("PONDER_SHARED", REPO.parent / "shared")).resolve()
    if not (path / "data").is_dir():
        sys.exit(f"shared data not found at {path}; set PONDER_SHARED")
    return path


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between closest ranks."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores {cpu}{memory}, Python {platform.python_version()}"


def header(title: str) -> None:
    print(f"# {title}\n{date.today().isoformat()} · {machine()}\n")


def seconds_to_embed(texts: list[str]) -> float:
    """Wall seconds the default embedder (e5-small) takes to embed ``texts`` as passages, after a
    warm-up call on the first two (the model's load and first-call costs are not counted)."""
    from ponder.index.embedders import E5Embedder

    embedder = E5Embedder()
    embedder.embed_passages(texts[:2])
    started = time.perf_counter()
    embedder.embed_passages(texts)
    return time.perf_counter() - started
