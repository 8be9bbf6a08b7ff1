"""Points: a course's rubric, and the gradebook an LMS imports.

A rubric is a small YAML file of the course's (``symback check --rubric rubric.yaml``)::

    points:              # points per entry asked (per formula), by section or by section.name
      forward: 1
      deltas: 1
      grads: 2
      updated: 1
      formulas: 3
      grads.w1: 0.5      # each entry of ∂L/∂w1 is worth 0.5
    credit:              # the share of its points a status earns (correct earns 1, wrong and error 0)
      carried: 1         # error carried forward: full credit unless the course says otherwise
      imprecise: 0.5
    epochs: [1, 2]       # the epochs asked (default: every epoch of the model)

What is asked is every entry of every tensor of a section with points, at every asked epoch
(and sample), and a formula per trainable parameter when formulas have points: a student who
leaves an entry out earns 0 for it, so every student of a class has the same maximum.  Without
a rubric, every entry of every forward value, δ, gradient and update of every epoch is worth one
point — what ``symback worksheet`` asks, one point per box — carried values earn full credit and
imprecise ones half.

``--gradebook FILE.csv`` writes one row per solution file: ``file, score, max, percent, verdict,
correct, imprecise, carried, wrong, errors, mistakes, diagnoses``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import OptionError

SECTIONS = ("forward", "deltas", "grads", "updated", "formulas")
DEFAULT_POINTS = {"forward": 1, "deltas": 1, "grads": 1, "updated": 1}
DEFAULT_CREDIT = {"correct": 1, "carried": 1, "imprecise": 0.5, "wrong": 0, "error": 0}


@dataclass
class Rubric:
    points: dict = field(default_factory=lambda: dict(DEFAULT_POINTS))
    credit: dict = field(default_factory=lambda: dict(DEFAULT_CREDIT))
    epochs: list[int] | None = None

    def points_of(self, section: str, name: str) -> float:
        return float(self.points.get(f"{section}.{name}", self.points.get(section, 0)))

    def asked(self, checker) -> list[tuple]:
        """Every (epoch, sample, section, name, index) the rubric asks for; formulas as (None, None, "formulas", p, None)."""
        q = checker.quantities
        model = checker.model
        epochs = self.epochs or list(range(1, model.epochs + 1))
        per_sample = any(d.samples is not None for d in model.data)
        samples = list(range(1, model.samples + 1)) if per_sample else [None]
        names = {"forward": q.forward, "deltas": q.deltas, "grads": q.trainable, "updated": q.trainable}
        out = []
        for epoch in epochs:
            for sample in samples:
                for section in ("forward", "deltas", "grads", "updated"):
                    for name in names[section]:
                        if self.points_of(section, name) <= 0:
                            continue
                        rows, cols = q.shapes[(section, name)]
                        out += [(epoch, sample, section, name, (i, j)) for i in range(rows) for j in range(cols)]
        out += [(None, None, "formulas", p, None) for p in q.trainable if self.points_of("formulas", p) > 0]
        return out

    def score(self, result, asked: list[tuple]) -> tuple[float, float]:
        """(score, maximum) of one graded file."""
        status = {}
        for j in result.items:
            if j.rule == "shape annotation":  # a shape under part of a formula: the formula has the points
                continue
            index = tuple(j.index) if j.index is not None else None
            status[(j.epoch, j.sample, j.section, j.name, index)] = j.status
        total = maximum = 0.0
        for epoch, sample, section, name, index in asked:
            points = self.points_of(section, name)
            maximum += points
            s = status.get((epoch, sample, section, name, index))
            if s is not None:
                total += points * float(self.credit.get(s, DEFAULT_CREDIT.get(s, 0)))
        return total, maximum

    def unanswered(self, result, asked: list[tuple]) -> int:
        """How many of the values the rubric asks for (formulas included) the file left empty or out."""
        written = {(j.epoch, j.sample, j.section, j.name, tuple(j.index) if j.index is not None else None)
                   for j in result.items if j.rule != "shape annotation"}
        return sum(1 for key in asked if key not in written)


def load_rubric(path: Path | None, model) -> Rubric:
    """The rubric at ``path`` (the default one for None); a bad rubric is an `OptionError` (exit 2)."""
    if path is None:
        return Rubric()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise OptionError(f"{path}: cannot read the rubric: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise OptionError(f"{path}: the rubric is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise OptionError(f"{path}: a rubric is a mapping with points:, credit: and epochs:")
    unknown = set(data) - {"points", "credit", "epochs"}
    if unknown:
        raise OptionError(f"{path}: unknown key {sorted(unknown)[0]!r} (a rubric has points:, credit:, epochs:)")
    points = data.get("points") or {}
    credit = data.get("credit") or {}
    if not isinstance(points, dict) or not isinstance(credit, dict):
        raise OptionError(f"{path}: points: and credit: are mappings")
    names = {p.name for p in model.trainable} | {n.name for n in model.nodes if n.name and not n.is_leaf}
    for key, value in points.items():
        section, _, name = str(key).partition(".")
        if section not in SECTIONS or (name and name not in names):
            raise OptionError(f"{path}: points: {key!r} is not a section ({', '.join(SECTIONS)}) or "
                              "section.name of the model")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise OptionError(f"{path}: points: {key} must be a number ≥ 0, not {value!r}")
    for key, value in credit.items():
        if key not in ("carried", "imprecise"):
            raise OptionError(f"{path}: credit: {key!r} — only carried and imprecise can be set")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise OptionError(f"{path}: credit: {key} must be a share from 0 to 1, not {value!r}")
    epochs = data.get("epochs")
    if epochs is not None:
        if not isinstance(epochs, list) or not all(isinstance(e, int) and 1 <= e <= model.epochs for e in epochs):
            raise OptionError(f"{path}: epochs: a list of epochs from 1 to {model.epochs}")
    return Rubric({str(k): v for k, v in points.items()} if points else dict(DEFAULT_POINTS),
                  {**DEFAULT_CREDIT, **credit}, epochs)


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


GRADEBOOK_COLUMNS = ["file", "score", "max", "percent", "verdict", "correct", "imprecise", "carried", "wrong",
                     "errors", "mistakes", "diagnoses"]


def _csv_line(cells: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def gradebook_head() -> str:
    return _csv_line(GRADEBOOK_COLUMNS)


def gradebook_row(r, rubric: Rubric, asked: list[tuple]) -> str:
    """One solution file's row of the gradebook CSV."""
    score, maximum = rubric.score(r, asked)
    counts = r.counts
    mistakes = "; ".join(j.label() for j in r.mistakes)
    diagnoses = "; ".join(dict.fromkeys(j.diagnosis["code"] for j in r.mistakes if j.diagnosis))
    percent = f"{100 * score / maximum:.1f}" if maximum else ""
    name = r.file.encode("utf-8", "backslashreplace").decode("utf-8")  # undecodable bytes of a name, escaped
    return _csv_line([_cell(name), f"{score:g}", f"{maximum:g}", percent, r.verdict, counts["correct"],
                      counts["imprecise"], counts["carried"], counts["wrong"], counts["error"], _cell(mistakes),
                      _cell(diagnoses)])


def gradebook(results, rubric: Rubric, checker) -> str:
    """The CSV an LMS imports: one row per solution file."""
    asked = rubric.asked(checker)
    return gradebook_head() + "".join(gradebook_row(r, rubric, asked) for r in results)
