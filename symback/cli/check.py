"""``symback check``: grade hand solutions — one file or a whole class, in parallel."""

from __future__ import annotations

import json
import multiprocessing
import os
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..check.grade import Checker, FileResult, feedback_context
from ..errors import OptionError
from ..files import write_atomic
from ..loader import load

console = Console(highlight=False)
#: below this many files, grading runs in this process (a pool costs more than it saves)
POOL_FROM = 8

_checker: Checker | None = None  # set before the worker processes fork


def check(
    model_file: Annotated[Path, typer.Argument(help="The model file (Python) the solutions answer.")],
    solutions: Annotated[list[Path], typer.Argument(help="Solution files (YAML); many files grade in parallel.")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",  # noqa: A002
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
    """Check hand-written solutions: find the first wrong step, carry errors forward, name the mistake.

    Exit code 0: every judged value is correct; 1: mistakes found; 2: a model or solution
    file could not be read (its verdict is `error`; the other files are still graded).
    """
    global _checker
    if format not in ("text", "json"):
        raise OptionError(f"--format must be text or json, not {format!r}")
    if jobs is not None and jobs < 1:
        raise OptionError(f"--jobs must be at least 1, not {jobs}")
    model = load(model_file, model=model_name)
    _checker = Checker(model)
    paths = sorted(dict.fromkeys(str(p) for p in solutions))  # the same report whatever the order given
    workers = min(jobs or os.cpu_count() or 1, len(paths))
    if workers > 1 and len(paths) >= POOL_FROM:
        results = grade_in_parallel(paths, workers)
    else:
        results = [_grade(p) for p in paths]

    if junit is not None:
        write_atomic(junit, junit_xml(results))
    if feedback is not None:
        _feedback(results, feedback, model.digits, pdf, templates)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(results):
            typer.echo(line)
    if format == "json":
        typer.echo(json.dumps({"files": [r.as_json() for r in results]}, indent=2, ensure_ascii=False))
    elif len(results) == 1:
        _report(results[0])
    else:
        _summary(results)
    if any(r.verdict == "error" for r in results):
        raise typer.Exit(2)
    if any(r.verdict == "mistakes" for r in results):
        raise typer.Exit(1)


def _feedback(results: list[FileResult], folder: Path, digits: int, pdf: bool, templates: Path | None) -> None:
    from ..report import exporters

    files: dict[str, str | bytes] = {}
    for r in results:
        stem = Path(r.file).stem + ".feedback"
        context = feedback_context(r, digits)
        files[f"{stem}.md"] = exporters.markdown_files("feedback", context, templates)["feedback.md"]
        if pdf:
            tex = exporters.latex_file("feedback", context, templates)["feedback.tex"]
            files[f"{stem}.tex"] = tex
            files[f"{stem}.pdf"] = exporters.pdf_file("feedback", tex)["feedback.pdf"]
    exporters.write_files(folder, files)


def grade_in_parallel(paths: list[str], workers: int) -> list[FileResult]:
    """Grade ``paths`` on ``workers`` processes forked from this one (they inherit the compiled
    checker).  A worker that dies takes only its own file down: the files it had not finished
    are graded again, one process each, and the one that kills its process again is an error."""
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
    return [_grade(p) for p in paths]


def _grade(path: str) -> FileResult:
    assert _checker is not None
    try:
        return _checker.check_file(path)
    except Exception as e:  # noqa: BLE001 - one file's failure is that file's verdict, never the run's
        return FileResult(path, "error", error=f"internal error while grading: {type(e).__name__}: {e}")


_STYLE = {"correct": "green", "carried": "yellow", "wrong": "bold red", "unjudged": "dim"}


def _report(r: FileResult) -> None:
    if r.verdict == "error":
        console.print(f"[bold red]error:[/] {r.error}")
        return
    first = r.first_mistake
    if first is None:
        console.print(f"[green]{r.file}: every judged value is correct[/] ({len(r.items)} values)")
    else:
        console.print(f"[bold]{r.file}[/]: first mistake at [bold red]{first.label()}[/] (line {first.line}): "
                      f"wrote {first.text}, expected {first.expected:.6g}")
        if first.diagnosis:
            console.print(f"  likely: [bold]{first.diagnosis['code']}[/] — {first.diagnosis['message']}")
    table = Table(title_justify="left")
    for column in ("where", "written", "expected", "status", "note"):
        table.add_column(column)
    for j in r.items:
        expected = j.expected if isinstance(j.expected, str) else f"{j.expected:.6g}"
        note = j.diagnosis["message"] if j.diagnosis else (
            f"follows from your {j.carried_from}" if j.carried_from else (j.reason or ""))
        table.add_row(j.label(), j.text, expected, f"[{_STYLE[j.status]}]{j.status}[/]", note)
    console.print(table)


def _summary(results: list[FileResult]) -> None:
    table = Table(title="Solutions", title_justify="left")
    for column in ("file", "verdict", "correct", "carried", "wrong", "first mistake", "diagnosis"):
        table.add_column(column)
    for r in results:
        counts = {s: sum(1 for j in r.items if j.status == s) for s in ("correct", "carried", "wrong")}
        first = r.first_mistake
        table.add_row(r.file, r.verdict if r.verdict != "error" else f"[red]error[/]: {r.error}",
                      str(counts["correct"]), str(counts["carried"]), str(counts["wrong"]),
                      first.label() if first else "", (first.diagnosis or {}).get("code", "") if first else "")
    console.print(table)


def junit_xml(results: list[FileResult]) -> str:
    """JUnit XML: a test suite per solution file, a test case per written value."""
    suites = ET.Element("testsuites", name="symback check")
    for r in results:
        suite = ET.SubElement(suites, "testsuite", name=r.file, tests=str(max(1, len(r.items))),
                              failures=str(sum(j.status == "wrong" for j in r.items)),
                              errors=str(int(r.verdict == "error")),
                              skipped=str(sum(j.status == "unjudged" for j in r.items)))
        if r.verdict == "error":
            case = ET.SubElement(suite, "testcase", name="read the solution file", classname=r.file)
            ET.SubElement(case, "error", message=r.error or "")
            continue
        for j in r.items:
            case = ET.SubElement(suite, "testcase", name=j.label(), classname=r.file)
            if j.status == "wrong":
                message = f"wrote {j.text}, expected {j.expected}"
                if j.diagnosis:
                    message += f" ({j.diagnosis['code']}: {j.diagnosis['message']})"
                ET.SubElement(case, "failure", message=message)
            elif j.status == "unjudged":
                ET.SubElement(case, "skipped", message=j.reason or "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def github_annotations(results: list[FileResult]) -> list[str]:
    """``::error`` workflow commands, one per wrong value or unreadable file."""
    def escape(s: str) -> str:
        return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    lines = []
    for r in results:
        if r.verdict == "error":
            lines.append(f"::error file={r.file}::{escape(r.error or 'unreadable')}")
            continue
        for j in r.items:
            if j.status == "wrong":
                note = f" — {j.diagnosis['message']}" if j.diagnosis else ""
                lines.append(f"::error file={r.file},line={j.line},col={j.column},title={j.label()}::"
                             f"{escape(f'wrote {j.text}, expected {j.expected}{note}')}")
    return lines
