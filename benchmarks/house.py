"""The shape of the house (issue 33), before and after a refactor: the largest modules, import time,
the CLI's start-up, the first `ponder ask` on the demo index, and duplicated blocks::

    python benchmarks/house.py [--runs 3]

* lines per module: the ten largest files in ``ponder/``, and how many pass 500 lines;
* ``python -X importtime -c "import ponder"``: the cumulative microseconds of ``ponder``'s import;
* ``ponder --help`` and the first ``ponder ask`` on the demo index (``ponder demo`` builds it once,
  in a scratch data dir): wall time of a new process, median of ``--runs``;
* duplicated blocks of six or more lines in ``ponder/``, from the ``duplicates`` tool when it is on
  the PATH (the workplace's; skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, header

LIMIT = 500  # issue 33: no module in ponder/ above about this many lines


def largest_modules() -> None:
    sizes = sorted(((len(path.read_text(encoding="utf-8").splitlines()), path.relative_to(REPO))
                    for path in (REPO / "ponder").rglob("*.py")), reverse=True)
    print("| module | lines |\n|---|---|")
    for lines, path in sizes[:10]:
        print(f"| `{path}` | {lines} |")
    print(f"\n{sum(1 for lines, _ in sizes if lines > LIMIT)} modules above {LIMIT} lines; "
          f"{sum(lines for lines, _ in sizes):,} lines in {len(sizes)} modules")


def import_time() -> float:
    """Seconds ``import ponder`` takes, from ``-X importtime`` (cumulative, the package's own line)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ponder"], capture_output=True,
                            text=True, cwd=REPO, check=True)
    cumulative = [int(m.group(1)) for m in re.finditer(r"\|\s*(\d+)\s*\|\s*ponder$", result.stderr, re.M)]
    return cumulative[-1] / 1e6


def timed(command: list[str], runs: int) -> float:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    header("The shape of the house")
    largest_modules()
    print(f"\n| measure | median of {args.runs} |\n|---|---|")
    imports = statistics.median(import_time() for _ in range(args.runs))
    print(f"| `import ponder` (-X importtime, cumulative) | {imports:.2f} s |")
    cli = [sys.executable, "-m", "ponder.cli"]
    print(f"| `ponder --help` | {timed([*cli, '--help'], args.runs):.2f} s |")
    with tempfile.TemporaryDirectory() as data_dir:
        subprocess.run([*cli, "--data-dir", data_dir, "demo"], check=True, capture_output=True, cwd=REPO)
        ask = [*cli, "--data-dir", str(Path(data_dir) / "demo"), "ask", "How long is the oolong roasted?"]
        print(f"| first `ponder ask` on the demo index (new process: model server start, retrieval, answer) | "
              f"{timed(ask, args.runs):.2f} s |")
    if shutil.which("duplicates"):
        report = subprocess.run(["duplicates", "--repo", "ponder", "--most", "200", "--seconds", "120"],
                                capture_output=True, text=True, cwd=REPO).stdout
        found = re.search(r"(\d+) pairs? of places", report)
        pairs = found.group(1) if found else report.strip()[-200:]
        print(f"| pairs of places sharing 6+ lines in ponder/ (`duplicates --repo ponder`) | {pairs} |")
    else:
        print("| duplicated blocks | not measured: the `duplicates` tool is not on the PATH |")


if __name__ == "__main__":
    main()
