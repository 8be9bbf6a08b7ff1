"""Grading a class: N solution files of the seed exercise through ``symback check``, as a whole process.

Half the files are the correct hand solution, half the one with the classic mistakes (those
cost more: every wrong value is diagnosed).  Prints the machine, the wall time and files per
second; the median of ``--repeats`` runs.

    python bench/grading.py --files 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def time_grading(files: int, repeats: int) -> list[float]:
    """Wall times of ``symback check`` on ``files`` solution files, one per repeat."""
    with tempfile.TemporaryDirectory() as folder:
        names = []
        for k in range(files):
            source = "seed_solution.yaml" if k % 2 else "seed_mistakes.yaml"
            name = f"s{k:05d}.yaml"
            shutil.copy(EXAMPLES / source, Path(folder) / name)
            names.append(name)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "symback", "check", str(EXAMPLES / "seed.py"), *names,
                                   "--format", "json"], cwd=folder, capture_output=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            times.append(time.perf_counter() - started)
            if done.returncode not in (0, 1):
                sys.exit(f"symback check failed: {done.stderr[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    median = statistics.median(time_grading(args.files, args.repeats))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    print(f"{args.files} solution files graded in {median:.1f} s (median of {args.repeats}; "
          f"{args.files / median:.0f} files/s)")


if __name__ == "__main__":
    main()
