"""``symback check``: grade hand solutions — one file or a whole class, in worker processes.

Every file is graded in a worker process (``check/pool.py``) with a time and memory budget, so
no file can hang, crash or starve the others; results are written out as they come, in the
order of the file names, and nothing the size of the class is kept (JSON and the summary on
stdout, JUnit, the gradebook and feedback files staged and put in place together at the end).
Student text — file names included — is data: escaped for the terminal, JSON, XML, Markdown,
TeX and GitHub's workflow commands.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from ..check.latex import SEPARATORS
from ..errors import OptionError, SymbackError
from ..files import Staging
from ..i18n import ENGLISH, Language, using
from ..loader import load
from ..printable import UNSEEN
from .options import DigitsStyle, Lang, language

if TYPE_CHECKING:
    from ..check.grade import Checker

console = Console(highlight=False)
#: a file's grading budget (seconds) by default; a formula has its own (``check/budget.py``)
FILE_SECONDS = 300

_run: _Run | None = None  # set before the worker processes fork: what they need to grade a file


class _Run:
    """What a worker needs: the checker, and what to make of each result besides the verdict."""

    def __init__(self, checker: Checker, want_json: bool, feedback: Path | None, names: dict, pdf: bool,
                 templates: Path | None, scoring: tuple | None = None, language: Language = ENGLISH):
        self.checker, self.want_json = checker, want_json
        self.feedback, self.names, self.pdf, self.templates = feedback, names, pdf, templates
        self.scoring = scoring  # (rubric, what it asks) when the course gave one: the feedback shows the score
        self.language = language  # of the feedback reports


def check(
    model_file: Annotated[Path, typer.Argument(help="The model file (Python) the solutions answer.")],
    solutions: Annotated[list[Path], typer.Argument(
        help="Solution files: YAML, or LaTeX math in Markdown (.md) or LaTeX (.tex) as written by hand; "
             "many files grade in parallel.")],
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
    jobs: Annotated[int | None, typer.Option(help="Worker processes (1 to 256). Default: all cores.")] = None,
    timeout: Annotated[float, typer.Option(
        help="Seconds one file may take to grade (10 to 3600; a formula has 1 to 5 s, by the model's size); "
             "past it the file is an error.")]
    = FILE_SECONDS,
    model_name: Annotated[str | None, typer.Option("--model", help="Which Model, if the file defines several.")] = None,
    feedback: Annotated[
        Path | None, typer.Option(help="Write a feedback report per solution here (<name>.feedback.md).")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="With --feedback: also .tex and .pdf (needs TeX).")] = False,
    templates: Annotated[
        Path | None, typer.Option(help="Folder of your own templates (markdown/, latex/), searched first.")
    ] = None,
    decimal_separator: Annotated[str, typer.Option(
        help="The decimal mark of .md/.tex solutions besides '.' and '٫': ',' or '/' (0/253 is 0.253, as in "
             "Persian hand-written exercises).")] = ".",
    lang: Lang = "en",
    digits_style: DigitsStyle = "latin",
) -> None:
    """Check hand-written solutions: every value judged, errors carried forward, every mistake named.

    Exit code 0: every value is correct; 1: mistakes found; 2: a model or solution file (or a
    part of one) could not be read or judged — the other files are still graded; 3: a feedback
    PDF could not be made (the others and every .md are written).
    """
    # the checker's modules are loaded here, not with the CLI: `symback derive` does not pay for them
    from threadpoolctl import threadpool_limits

    from ..check.claims import Grading
    from ..check.grade import Checker
    from ..check.outputs import (
        JUNIT_HEAD,
        JUNIT_TAIL,
        annotations,
        file_report,
        junit_suite,
        summary_line,
        totals_line,
    )
    from ..check.pool import ClassPool
    from ..check.rubric import gradebook_head, gradebook_row, load_rubric
    from ..printable import printable

    global _run
    if format not in ("text", "json"):
        raise OptionError(f"--format must be text or json, not {format!r}")
    if jobs is not None and not 1 <= jobs <= 256:
        raise OptionError(f"--jobs must be from 1 to 256, not {jobs}")
    if not (math.isfinite(timeout) and 10 <= timeout <= 3600):  # a worker's first file pays its start: ~3 s
        raise OptionError(f"--timeout must be from 10 to 3600 seconds, not {timeout:g}")
    if min_digits is not None and not 1 <= min_digits <= 30:
        raise OptionError(f"--min-digits must be from 1 to 30, not {min_digits}")
    for name, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise OptionError(f"{name} must be a number ≥ 0, not {value}")
    if min_digits is not None and (rtol is not None or atol is not None):
        raise OptionError("--min-digits grades by the written digits; --rtol/--atol by a tolerance: choose one")
    if decimal_separator not in SEPARATORS:
        raise OptionError(f"--decimal-separator must be one of {' '.join(SEPARATORS)}, not {decimal_separator!r}")
    documents = language(lang, digits_style)
    _check_outputs(junit, gradebook, feedback, templates)
    model = load(model_file, model=model_name)
    points = load_rubric(rubric, model)
    checker = Checker(model, Grading(min_digits, rtol, atol), decimal_separator=decimal_separator)
    paths = sorted(dict.fromkeys(str(p) for p in solutions))  # the same report whatever the order given
    names = feedback_names(paths) if feedback is not None else {}
    asked = points.asked(checker) if gradebook is not None or (feedback is not None and rubric is not None) else []
    scoring = (points, asked) if rubric is not None else None
    _run = _Run(checker, format == "json", feedback, names, pdf, templates, scoring, documents)
    # grading makes many small objects: collect them less often, and never walk the model's own
    # (SymPy's caches, the compiled program) — a quarter of a class's time otherwise
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    # a hand solution's tensors are tiny: BLAS threads only spin beside the work (a third more CPU per file)
    threadpool_limits(1)
    workers = min(jobs or os.cpu_count() or 1, len(paths))
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    single = len(paths) == 1
    totals = {"files": 0, "correct": 0, "mistakes": 0, "error": 0}
    tex_failures: list[str] = []

    def say(line: str, err: bool = False) -> None:
        (Console(stderr=True, highlight=False) if err else console).print(Text(printable(line)), soft_wrap=True)

    with Staging() as out, ClassPool(_grade, _failed, workers, seconds=timeout) as pool:
        junit_file = out.open(junit) if junit is not None else None
        grades = out.open(gradebook) if gradebook is not None else None
        if junit_file:
            junit_file.write(JUNIT_HEAD)
        if grades:
            grades.write(gradebook_head())
        if format == "json" and not single:
            typer.echo(f'{{"grading": {json.dumps(checker.grading.describe())}, "files": [', nl=False)
        for n, r in enumerate(pool.results(paths)):
            totals["files"] += 1
            totals[r.verdict] += 1
            if junit_file:
                junit_file.write(junit_suite(r))
            if grades:
                grades.write(gradebook_row(r, points, asked))
            for name, content in getattr(r, "feedback", {}).items():
                out.write(Path(feedback) / name, content)
            if getattr(r, "feedback_error", None):
                tex_failures.append(r.feedback_error)
            if github:  # workflow commands on stdout, or beside the JSON on stderr (stdout is the JSON alone)
                for line in annotations(r):
                    typer.echo(line, err=format == "json")
            if format == "json":
                if single:
                    typer.echo(json.dumps({"grading": checker.grading.describe(), "files": [r.as_json()],
                                           "totals": totals}, indent=2))
                else:
                    typer.echo((", " if n else "") + (getattr(r, "json_text", None) or json.dumps(r.as_json())),
                               nl=False)
            elif single:
                for line in file_report(r, verbose):
                    say(line)
            else:
                for line in file_report(r, True) if verbose else [summary_line(r)]:
                    say(line)
        if junit_file:
            junit_file.write(JUNIT_TAIL)
        if format == "json" and not single:
            typer.echo(f'], "totals": {json.dumps(totals)}}}')
        elif format != "json" and not single:
            say(totals_line(totals))
    for failure in tex_failures:
        say(f"error: {failure}", err=True)
    if totals["error"]:
        raise typer.Exit(2)
    if tex_failures:
        raise typer.Exit(3)
    if totals["mistakes"]:
        raise typer.Exit(1)


def _check_outputs(junit: Path | None, gradebook: Path | None, feedback: Path | None, templates: Path | None) -> None:
    """The output paths before any work: each where it can go, no two the same."""
    try:
        for option, path in (("--junit", junit), ("--gradebook", gradebook)):
            if path is not None and Path(path).is_dir():
                raise OptionError(f"{option} {path}: it is a folder; give a file name")
        if junit is not None and gradebook is not None and os.path.abspath(junit) == os.path.abspath(gradebook):
            raise OptionError(f"--junit and --gradebook are the same file ({junit}); give each its own")
        if feedback is not None and Path(feedback).exists() and not Path(feedback).is_dir():
            raise OptionError(f"--feedback {feedback}: it is a file; give a folder")
        if templates is not None and not Path(templates).is_dir():
            raise OptionError(f"--templates {templates}: no such folder")
    except OSError as e:  # a name too long, a path through a file
        raise OptionError(f"cannot use {e.filename}: {e.strerror}") from None


def feedback_names(files: list[str]) -> dict[str, str]:
    """A distinct name per solution file: its stem, or — where two files share a stem
    (``alice/solution.yaml``, ``bob/solution.yaml``) — its path below their common folder,
    folders joined by ``__`` (``alice__solution``).  Characters a file name had better not hold
    (controls, separators, undecodable bytes) become ``_``."""
    paths = {f: Path(os.path.abspath(f)) for f in files}
    stems: dict[str, list[str]] = {}
    for f, path in paths.items():
        stems.setdefault(path.stem, []).append(f)
    names = {}
    for stem, same in stems.items():
        if len(same) == 1:
            names[same[0]] = _safe_name(stem)
            continue
        common = Path(os.path.commonpath([str(paths[f].parent) for f in same]))
        for f in same:
            names[f] = _safe_name("__".join(paths[f].relative_to(common).with_suffix("").parts))
    taken: set[str] = set()
    for f in sorted(names):  # names that became equal once made safe (or shortened) stay apart
        base = names[f]
        name, n = base, 1
        while name.casefold() in taken:  # casefold: a case-insensitive file system would merge them
            n += 1
            name = f"{base}-{n}"
        taken.add(name.casefold())
        names[f] = name
    return names


_SEPARATORS = re.compile(r'[/\\:*?"<>|]')
#: bytes of a feedback file's name before ``.feedback.pdf`` and the staging suffix (a file system holds 255)
_NAME_BYTES = 150


def _safe_name(name: str) -> str:
    """``name`` as a file name: controls, bidirectional overrides, separators and undecodable
    bytes become ``_``; a name too long for a file system is cut and keeps a hash of the whole."""
    safe = _SEPARATORS.sub("_", UNSEEN.sub("_", name)) or "_"
    if len(safe.encode("utf-8")) <= _NAME_BYTES:
        return safe
    digest = hashlib.sha256(safe.encode("utf-8")).hexdigest()[:10]
    cut = safe.encode("utf-8")[:_NAME_BYTES - 11].decode("utf-8", "ignore")
    return f"{cut}-{digest}"


def _failed(path: str, why: str):
    from ..check.grade import FileResult

    return FileResult(path, "error", error=why)


def _grade(path: str):
    """Grade one file in a worker: its result, with its JSON and feedback files made here too
    (in parallel, and a failure in them is this file's alone)."""
    from ..check.grade import FileResult

    run = _run
    assert run is not None
    try:
        result = run.checker.check_file(path)
    except SymbackError as e:
        result = FileResult(path, "error", error=str(e))
    except Exception as e:  # noqa: BLE001 - one file's failure is that file's verdict, never the run's
        result = FileResult(path, "error", error=f"internal error while grading: {type(e).__name__}: {e}")
    if run.want_json:
        result.json_text = json.dumps(result.as_json())
    if run.feedback is not None:
        _feedback(result, run)
    return result


def _feedback(result, run: _Run) -> None:
    from ..check.feedback import feedback_context
    from ..report import exporters

    stem = run.names[result.file] + ".feedback"
    score = None
    if run.scoring is not None:
        rubric, asked = run.scoring
        score = (*rubric.score(result, asked), rubric.unanswered(result, asked))
    files: dict[str, str | bytes] = {}
    try:
        with using(run.language):
            context = feedback_context(result, run.checker.model, score, run.checker.quantities.order)
            files[f"{stem}.md"] = exporters.markdown_files("feedback", context, run.templates)["feedback.md"]
            tex = exporters.latex_file("feedback", context, run.templates)["feedback.tex"] if run.pdf else None
        if run.pdf:
            files[f"{stem}.tex"] = tex
            files[f"{stem}.pdf"] = exporters.pdf_file("feedback", tex, rtl=run.language.rtl)["feedback.pdf"]
    except SymbackError as e:  # this student's feedback alone: the others are still written
        result.feedback_error = f"feedback for {result.file}: {e}"
    result.feedback = files
