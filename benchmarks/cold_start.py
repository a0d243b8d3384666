"""Cold start of `ponder demo`, and the fresh install before it.

Default: runs `ponder demo` RUNS times (each with a new, empty data dir) in this environment and
reports wall time. The first run also pays for reading the model and libraries from disk; later
runs find them in the OS page cache.

``--fresh-install``: what a new user pays for the README's first command. A new virtual
environment, ``pip install --no-cache-dir`` of the repository (so nothing of Ponder's
dependencies comes from pip's cache: every wheel is downloaded, anything without a wheel is built),
then one `ponder demo` in that environment. Prints the install time, the demo time and whether
anything was built from source.

    python benchmarks/cold_start.py [RUNS]
    python benchmarks/cold_start.py --fresh-install [--repo PATH]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, header


def demo_seconds(python: str, cwd: Path) -> float:
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        subprocess.run([python, "-m", "ponder.cli", "--data-dir", data_dir, "demo"],
                       check=True, capture_output=True, cwd=cwd)
        return time.perf_counter() - started


def warm_runs(runs: int) -> None:
    header("Cold start of `ponder demo`")
    seconds = []
    for number in range(1, runs + 1):
        seconds.append(demo_seconds(sys.executable, REPO))
        print(f"run {number}: {seconds[-1]:.2f} s")
    print(f"\n| cold start of `ponder demo` (ingest 4 files, start model, 2 questions) | "
          f"first {seconds[0]:.2f} s, median {statistics.median(seconds):.2f} s over {runs} runs |")


def fresh_install(repo: Path) -> None:
    header(f"Fresh install of {repo} and its first `ponder demo`")
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        started = time.perf_counter()
        install = subprocess.run([python, "-m", "pip", "install", "--no-cache-dir", str(repo)],
                                 capture_output=True, text=True)
        install_s = time.perf_counter() - started
        if install.returncode != 0:
            sys.exit(f"pip install failed after {install_s:.0f} s:\n{install.stderr[-3000:]}")
        built = sorted(set(re.findall(r"Building wheel for (\S+)", install.stdout)) - {"ponder"})
        print(f"pip install --no-cache-dir: {install_s:.1f} s; built from source: {', '.join(built) or 'nothing'}")
        size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
        print(f"environment on disk: {size} MiB")
        demo_s = demo_seconds(python, Path(scratch))  # not the repo: the installed package must stand alone
        print(f"first `ponder demo`: {demo_s:.1f} s")
    print(f"\n| fresh install (`pip install --no-cache-dir .`, new venv) | {install_s:.0f} s; "
          f"built from source: {', '.join(built) or 'nothing'} |")
    print(f"| then the first `ponder demo` | {demo_s:.1f} s |")
    print(f"| README command 1 in all | {install_s + demo_s:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="?", type=int, default=3)
    parser.add_argument("--fresh-install", action="store_true", help="time a new venv's install, then the demo")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to install (default: this one)")
    arguments = parser.parse_args()
    if arguments.fresh_install:
        fresh_install(arguments.repo.resolve())
    else:
        warm_runs(arguments.runs)


if __name__ == "__main__":
    main()
