"""``symback check``: grade hand solutions — one file or a whole class, in parallel."""

from __future__ import annotations

import gc
import json
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from ..errors import OptionError
from ..files import write_atomic
from ..loader import load

console = Console(highlight=False)
#: below this many files, grading runs in this process (a pool costs more than it saves)
POOL_FROM = 8

if TYPE_CHECKING:
    from ..check.grade import Checker, FileResult

_checker: Checker | None = None  # set before the worker processes fork
_json_in_workers = False  # likewise: whether workers write their files' JSON


def check(
    model_file: Annotated[Path, typer.Argument(help="The model file (Python) the solutions answer.")],
    solutions: Annotated[list[Path], typer.Argument(help="Solution files (YAML); many files grade in parallel.")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",  # noqa: A002
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every value, not only the mistakes.")] = False,
    min_digits: Annotated[int | None, typer.Option(
        help="Ask for this many significant digits: a value right to fewer digits is imprecise.")] = None,
    rtol: Annotated[float | None, typer.Option(
        help="Grade with a tolerance instead of the written digits: |written − value| ≤ atol + rtol·|value|.")] = None,
    atol: Annotated[float | None, typer.Option(help="The absolute part of the tolerance (with or without --rtol).")]
    = None,
    rubric: Annotated[Path | None, typer.Option(help="Points per section and entry, credit for carried values "
                                                     "(YAML; see the README).")] = None,
    gradebook: Annotated[Path | None, typer.Option(help="Write the scores here, one CSV row per file, for an LMS.")]
    = None,
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report here (one test per value).")] = None,
    jobs: Annotated[int | None, typer.Option(help="Worker processes. Default: all cores.")] = None,
    model_name: Annotated[str | None, typer.Option("--model", help="Which Model, if the file defines several.")] = None,
    feedback: Annotated[
        Path | None, typer.Option(help="Write a feedback report per solution here (<name>.feedback.md).")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="With --feedback: also .tex and .pdf (needs TeX).")] = False,
    templates: Annotated[
        Path | None, typer.Option(help="Folder of your own templates (markdown/, latex/), searched first.")
    ] = None,
) -> None:
    """Check hand-written solutions: every value judged, errors carried forward, every mistake named.

    Exit code 0: every value is correct; 1: mistakes found; 2: a model or solution file (or a
    part of one) could not be read — the other files are still graded.
    """
    # the checker's modules are loaded here, not with the CLI: `symback derive` does not pay for them
    from threadpoolctl import threadpool_limits

    from ..check.claims import Grading
    from ..check.grade import Checker
    from ..check.outputs import class_summary, file_report, github_annotations, junit_xml
    from ..check.rubric import gradebook as rubric_gradebook
    from ..check.rubric import load_rubric

    global _checker
    if format not in ("text", "json"):
        raise OptionError(f"--format must be text or json, not {format!r}")
    if jobs is not None and jobs < 1:
        raise OptionError(f"--jobs must be at least 1, not {jobs}")
    if min_digits is not None and not 1 <= min_digits <= 30:
        raise OptionError(f"--min-digits must be from 1 to 30, not {min_digits}")
    for name, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise OptionError(f"{name} must be a number ≥ 0, not {value}")
    if min_digits is not None and (rtol is not None or atol is not None):
        raise OptionError("--min-digits grades by the written digits; --rtol/--atol by a tolerance: choose one")
    model = load(model_file, model=model_name)
    points = load_rubric(rubric, model)
    _checker = Checker(model, Grading(min_digits, rtol, atol))
    # grading makes many small objects that live until the end: collect them less often, and never walk
    # the model's own (SymPy's caches, the compiled program) — a quarter of a class's time otherwise
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    # a hand solution's tensors are tiny: BLAS threads only spin beside the work (a third more CPU per file)
    threadpool_limits(1)
    global _json_in_workers
    _json_in_workers = format == "json"
    paths = sorted(dict.fromkeys(str(p) for p in solutions))  # the same report whatever the order given
    workers = min(jobs or os.cpu_count() or 1, len(paths))
    if workers > 1 and len(paths) >= POOL_FROM:
        results = grade_in_parallel(paths, workers)
    else:
        results = [_grade(p) for p in paths]

    if junit is not None:
        write_atomic(junit, junit_xml(results))
    if gradebook is not None:
        write_atomic(gradebook, rubric_gradebook(results, points, _checker))
    if feedback is not None:
        _feedback(results, feedback, model.digits, pdf, templates)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(results):
            typer.echo(line)
    if format == "json":
        typer.echo(json_report(results, _checker.grading.describe()))
    else:
        lines = file_report(results[0], verbose) if len(results) == 1 else (
            [line for r in results for line in file_report(r, True)] if verbose else class_summary(results))
        for line in lines:
            console.print(Text(line), soft_wrap=True)
    if any(r.verdict == "error" for r in results):
        raise typer.Exit(2)
    if any(r.verdict == "mistakes" for r in results):
        raise typer.Exit(1)


def _feedback(results: list[FileResult], folder: Path, digits: int, pdf: bool, templates: Path | None) -> None:
    from ..check.grade import feedback_context
    from ..report import exporters

    files: dict[str, str | bytes] = {}
    names = feedback_names([r.file for r in results])
    for r in results:
        stem = names[r.file] + ".feedback"
        context = feedback_context(r, digits)
        files[f"{stem}.md"] = exporters.markdown_files("feedback", context, templates)["feedback.md"]
        if pdf:
            tex = exporters.latex_file("feedback", context, templates)["feedback.tex"]
            files[f"{stem}.tex"] = tex
            files[f"{stem}.pdf"] = exporters.pdf_file("feedback", tex)["feedback.pdf"]
    exporters.write_files(folder, files)


def feedback_names(files: list[str]) -> dict[str, str]:
    """A distinct name per solution file: its stem, or — where two files share a stem
    (``alice/solution.yaml``, ``bob/solution.yaml``) — its path below their common folder,
    folders joined by ``__`` (``alice__solution``)."""
    paths = {f: Path(os.path.abspath(f)) for f in files}
    stems: dict[str, list[str]] = {}
    for f, path in paths.items():
        stems.setdefault(path.stem, []).append(f)
    names = {}
    for stem, same in stems.items():
        if len(same) == 1:
            names[same[0]] = stem
            continue
        common = Path(os.path.commonpath([str(paths[f].parent) for f in same]))
        for f in same:
            names[f] = "__".join(paths[f].relative_to(common).with_suffix("").parts)
    return names


def grade_in_parallel(paths: list[str], workers: int) -> list[FileResult]:
    """Grade ``paths`` on ``workers`` processes forked from this one (they inherit the compiled
    checker).  A worker that dies takes only its own file down: the files it had not finished
    are graded again, one process each, and the one that kills its process again is an error."""
    from ..check.grade import FileResult
    context = multiprocessing.get_context("fork")
    chunk = max(1, len(paths) // (workers * 16))
    done: dict[str, FileResult] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunks = [paths[k:k + chunk] for k in range(0, len(paths), chunk)]
        futures = [pool.submit(_grade_many, c) for c in chunks]
        for c, future in zip(chunks, futures):
            try:
                done.update(zip(c, future.result()))
            except BrokenProcessPool:
                continue
    for path in paths:
        if path not in done:
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as alone:
                try:
                    done[path] = alone.submit(_grade_many, [path]).result()[0]
                except BrokenProcessPool:
                    done[path] = FileResult(path, "error", error="the grading process died on this file "
                                                                 "(out of memory or killed); the other files are graded")
    return [done[p] for p in paths]


def _grade_many(paths: list[str]) -> list[FileResult]:
    results = [_grade(p) for p in paths]
    if _json_in_workers:  # each worker writes its files' JSON: the parent only joins them
        for r in results:
            r.json_text = json.dumps(r.as_json(), ensure_ascii=False)
    return results


def json_report(results: list[FileResult], grading: str) -> str:
    """``--format json``: one object.  One file: indented for people; a class: compact, each file's
    part as its worker wrote it (json's indenting encoder is pure Python, ten times slower)."""
    from ..check.outputs import totals
    if len(results) == 1:
        return json.dumps({"grading": grading, "files": [results[0].as_json()], "totals": totals(results)},
                          indent=2, ensure_ascii=False)
    files = ", ".join(getattr(r, "json_text", None) or json.dumps(r.as_json(), ensure_ascii=False) for r in results)
    return (f'{{"grading": {json.dumps(grading, ensure_ascii=False)}, "files": [{files}], '
            f'"totals": {json.dumps(totals(results), ensure_ascii=False)}}}')


def _grade(path: str) -> FileResult:
    from ..check.grade import FileResult

    assert _checker is not None
    try:
        return _checker.check_file(path)
    except Exception as e:  # noqa: BLE001 - one file's failure is that file's verdict, never the run's
        return FileResult(path, "error", error=f"internal error while grading: {type(e).__name__}: {e}")


