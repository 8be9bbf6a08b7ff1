"""Grading: a class of seed solutions through ``symback check``, and one long solution file.

The class is 1,000 varied hand solutions of the seed exercise, every value of three epochs
written (forward values, δ, gradients, updates): 40 % right to 3, 4 or 5 significant digits,
20 % truncated instead of rounded, 15 % with one slip somewhere (a digit changed: one wrong
value, the rest correct) and 25 % the original exercise's hand solution with its classic
mistakes (every value after them carried); and the class the earlier benchmark graded, half the
bundled correct solution and half the one with mistakes, which is also graded by the checker
before issue 10 (revision `BASELINE`, from this repository's history) in the same run.  The long file is the seed trained for 200 epochs,
every value of every epoch written.  Wall times of whole processes, the median of
``--repeats`` runs; for the long file also the grading alone, in a process already started.

    python -m bench.grading --files 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mpmath

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LONG_EPOCHS = 200
#: the checker before issue 10's redesign (it judged only the first high-precision steps): timed on the same
#: files in the same run, so that a slower or faster machine does not hide the change
BASELINE = "1d01807"


def _text(value, digits: int, truncate: bool) -> str:
    v = mpmath.mpf(value)
    if v == 0:
        return "0.0"
    if not truncate:
        return mpmath.nstr(v, digits, min_fixed=-6, max_fixed=8, strip_zeros=False)
    exponent = int(mpmath.floor(mpmath.log10(abs(v))))
    scale = mpmath.mpf(10) ** (digits - 1 - exponent)
    cut = mpmath.floor(abs(v) * scale) / scale * (1 if v > 0 else -1)
    decimals = max(0, digits - 1 - exponent)
    return f"{float(cut):.{decimals}f}"


def solution_text(records, digits: int, truncate: bool = False, slip=None) -> str:
    """Every value of ``records`` (50-digit training steps), as a student writes them."""
    lines = ["epochs:"]
    entry = 0
    for r in records:
        lines.append(f"  {r.epoch}:")
        for section in ("forward", "deltas", "grads", "updated"):
            lines.append(f"    {section}:")
            for name, value in getattr(r, section).items():
                rows = []
                for row in value.tolist():
                    cells = []
                    for v in row:
                        text = _text(v, digits, truncate)
                        if slip is not None and entry == slip:  # one digit changed
                            last = text[-1]
                            text = text[:-1] + ("7" if last != "7" else "3")
                        cells.append(text)
                        entry += 1
                    rows.append("[" + ", ".join(cells) + "]")
                lines.append(f"      {name}: [{', '.join(rows)}]")
    return "\n".join(lines) + "\n"


def write_class(folder: Path, files: int) -> list[str]:
    """``files`` varied solution files of the seed exercise in ``folder``; their names."""
    import symback

    records = [r for r in symback.load(EXAMPLES / "seed.py").train().steps if r.precision == "mpmath"]
    mistakes = (EXAMPLES / "seed_mistakes.yaml").read_text()
    rng = random.Random(0)
    names = []
    for k in range(files):
        kind = rng.random()
        digits = rng.choice((3, 4, 5))
        if kind < 0.40:
            text = solution_text(records, digits)
        elif kind < 0.60:
            text = solution_text(records, digits, truncate=True)
        elif kind < 0.75:
            text = solution_text(records, digits, slip=rng.randrange(150))
        else:
            text = mistakes
        name = f"s{k:05d}.yaml"
        (folder / name).write_text(text)
        names.append(name)
    return names


def write_halves(folder: Path, files: int) -> list[str]:
    """The class the previous benchmark graded: half the bundled correct solution, half the one
    with the classic mistakes."""
    names = []
    for k in range(files):
        name = f"h{k:05d}.yaml"
        source = "seed_solution.yaml" if k % 2 else "seed_mistakes.yaml"
        (folder / name).write_text((EXAMPLES / source).read_text().replace("[[0, 0.010, 1.297]]",
                                                                          "[[0.000, 0.010, 1.297]]"))
        names.append(name)
    return names


#: files of the hostile class whose formula hangs the comparison (``exp(exp(exp(exp(exp(h)))))``)
HANGING = 10


def write_hostile(folder: Path, names: list[str]) -> list[str]:
    """The varied class with `HANGING` of its files replaced by one whose formula would hang the
    grader without its budget (issue 15: such files cost themselves, not the class)."""
    hang = (ROOT / "tests" / "check" / "cases" / "hostile" / "formula-hang.yaml").read_text()
    chosen = set(random.Random(1).sample(range(len(names)), min(HANGING, len(names))))
    out = []
    for k, name in enumerate(names):
        if k in chosen:
            name = f"x{k:05d}.yaml"
            (folder / name).write_text(hang)
        out.append(name)
    return out


def _timed_check(names: list[str], folder: str, repeats: int, root: Path = ROOT) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "symback", "check", str(EXAMPLES / "seed.py"), *names,
                               "--format", "json"], cwd=folder, capture_output=True,
                              env={**os.environ, "PYTHONPATH": str(root)})
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            if done.returncode != 2 or not all(n.startswith("x") for n in _errors(done.stdout)):
                sys.exit(f"symback check failed: {done.stderr[-500:]}")
    return times


def _errors(stdout: bytes) -> list[str]:
    import json

    return [Path(f["file"]).name for f in json.loads(stdout)["files"] if f["verdict"] == "error"]


def time_grading(files: int, repeats: int, baseline: bool = True) -> dict:
    """Wall times of ``symback check`` (and of the baseline revision) on the varied class and on
    the half-and-half class of ``files`` files: ``{class: {"now": [...], "before": [...]}}``."""
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as old:
        classes = {"varied": write_class(Path(folder), files), "halves": write_halves(Path(folder), files)}
        classes["hostile"] = write_hostile(Path(folder), classes["varied"])
        if baseline:  # the previous checker's sources, from this repository's history
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "symback"], capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        for name, names in classes.items():
            out[name] = {"now": _timed_check(names, folder, repeats)}
            if baseline and name == "halves":  # the varied class writes δ, which the previous checker cannot read
                out[name]["before"] = _timed_check(names, folder, repeats, Path(old))
    return out


def time_long_file(repeats: int) -> dict:
    """A 200-epoch seed solution, every value written: the whole process, and the grading alone."""
    import symback
    from symback.check.grade import Checker
    from symback.numeric.program import MPMATH
    from symback.numeric.train import iter_steps

    with tempfile.TemporaryDirectory() as folder:
        source = (EXAMPLES / "seed.py").read_text().replace("epochs=3", f"epochs={LONG_EPOCHS}")
        model_file = Path(folder) / "seed200.py"
        model_file.write_text(source)
        model = symback.load(model_file)
        records = [r for _, r in zip(range(LONG_EPOCHS), iter_steps(model, model.lr, MPMATH))]
        solution = Path(folder) / "long.yaml"
        solution.write_text(solution_text(records, 4))
        values = sum(len(v.ravel()) for r in records for s in ("forward", "deltas", "grads", "updated")
                     for v in getattr(r, s).values())
        process, alone = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "symback", "check", str(model_file), str(solution)],
                                  capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            process.append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(f"the long solution is not graded correct: {done.stdout[-500:]}")
            checker = Checker(symback.load(model_file))
            started = time.perf_counter()
            checker.check_file(solution)
            alone.append(time.perf_counter() - started)
    return {"process": statistics.median(process), "alone": statistics.median(alone), "values": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = time_grading(args.files, args.repeats)
    long = time_long_file(args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    for name, runs in times.items():
        now = statistics.median(runs["now"])
        before = f"; the checker of {BASELINE}: {statistics.median(runs['before']):.1f} s" if "before" in runs else ""
        print(f"{args.files} solution files ({name}) graded in {now:.1f} s{before} (median of {args.repeats})")
    print(f"a {LONG_EPOCHS}-epoch solution file ({long['values']:,} values): {long['alone']:.2f} s to grade, "
          f"{long['process']:.2f} s as a whole process")


if __name__ == "__main__":
    main()
