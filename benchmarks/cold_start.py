"""Cold start of `ponder demo`: a fresh data dir, the model server started from nothing.

Runs the command RUNS times (each with a new, empty data dir) and reports wall time. The first run
also pays for reading the model and libraries from disk; later runs find them in the OS page cache.

    python benchmarks/cold_start.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

from common import header


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    header("Cold start of `ponder demo`")
    seconds = []
    for number in range(1, runs + 1):
        with tempfile.TemporaryDirectory() as data_dir:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ponder.cli", "--data-dir", data_dir, "demo"],
                           check=True, capture_output=True)
            seconds.append(time.perf_counter() - started)
        print(f"run {number}: {seconds[-1]:.2f} s")
    print(f"\n| cold start of `ponder demo` (ingest 4 files, start model, 2 questions) | "
          f"first {seconds[0]:.2f} s, median {statistics.median(seconds):.2f} s over {runs} runs |")


if __name__ == "__main__":
    main()
