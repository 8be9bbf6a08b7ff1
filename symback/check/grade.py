"""Grading a hand solution: every written value judged, by what it depends on, the cause named.

For one model, `Checker` compiles once what every solution of a class shares: the named-level
program (``replay.Quantities``), the true training at 50 digits (extended as far as any
solution writes), the mistake catalogue and the formula judge.  `Checker.check` then reads
one solution's values, replays training in its author's world step by step up to the last
step written — every written value at any step is judged — and returns a `FileResult`:

* ``items``: one `judge.Judged` per written entry, formula or unreadable part, in computation
  order (forward values, δ, gradients, updates of each step; then the formulas);
* ``verdict``: ``correct`` (every item correct), ``mistakes``, or ``error`` (some part cannot be
  read or judged; the rest is still graded);
* ``mistakes``: every *independent* mistake — each wrong item; carried values follow from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import SolutionError, SymbackError
from ..i18n import N_
from ..numeric.formatting import number
from . import mistakes
from .arith import parse_value
from .claims import Claim, Grading
from .dataflow import entry_dependencies
from .diagnose import Catalogue
from .equivalence import FormulaJudge
from .judge import Entry, Judged, Marking
from .replay import AuthorWorld, Quantities, Truth, exact_constants, mp_number
from .solution import ShapeClaim, Solution, load_solution

#: the statuses, in the order counts are shown
STATUSES = ("correct", "imprecise", "carried", "wrong", "error")


@dataclass
class FileResult:
    file: str
    verdict: str  # correct | mistakes | error
    items: list[Judged] = field(default_factory=list)
    error: str | None = None  # why the file (or a part of it) could not be read

    @property
    def first_mistake(self) -> Judged | None:
        return next((j for j in self.items if j.status == "wrong"), None)

    @property
    def mistakes(self) -> list[Judged]:
        """Every independent mistake: the wrong items (a carried value follows from one of them)."""
        return [j for j in self.items if j.status == "wrong"]

    def mistake_groups(self) -> list[list[Judged]]:
        """The independent mistakes as a teacher lists them: the wrong entries of one tensor with one
        cause are one mistake."""
        groups: list[list[Judged]] = []
        for j in self.mistakes:
            g = groups[-1][0] if groups else None
            if g is not None and (g.k, g.key, g.section, g.name, (g.diagnosis or {}).get("code")) == \
                    (j.k, j.key, j.section, j.name, (j.diagnosis or {}).get("code")):
                groups[-1].append(j)
            else:
                groups.append([j])
        return groups

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for j in self.items if j.status == s) for s in STATUSES}

    def summary(self) -> str:
        """"3 correct, 1 carried, 2 wrong, 1 unreadable" — the statuses that occur."""
        words = {"error": "unreadable or not judged"}
        parts = [f"{n} {words.get(s, s)}" for s, n in self.counts.items() if n]
        return ", ".join(parts) if parts else "nothing judged"

    def as_json(self) -> dict:
        first = self.first_mistake
        out = {"file": self.file, "verdict": self.verdict, "counts": self.counts,
               "first_mistake": None if first is None else {
                   "epoch": first.epoch, "section": first.section, "name": first.name, "index": first.index},
               "mistakes": [{"label": j.label(), "epoch": j.epoch, "section": j.section, "name": j.name,
                             "index": j.index, "line": j.line,
                             "diagnosis": None if j.diagnosis is None else j.diagnosis["code"]} for j in self.mistakes],
               "items": [j.as_json() for j in self.items]}
        if self.error:
            out["error"] = self.error
        return out


class Checker:
    """Everything about one model that grading many solutions shares."""

    def __init__(self, model, grading: Grading | None = None, *, decimal_separator: str = "."):
        self.model = model
        self.decimal_separator = decimal_separator  # of LaTeX/Markdown solutions (check/latex.py)
        self.grading = grading or Grading()
        self.quantities = Quantities(model, model._derivation)
        self.truth = Truth(model)
        self.lr = mp_number(model.lr)
        self.exact_constants = exact_constants(model)
        self.catalogue = Catalogue(self)
        self.formulas = FormulaJudge(self)
        self._dependencies: dict = {}
        self._claims: dict = {}  # text -> Claim: a class writes the same numbers again and again

    def claim(self, text: str) -> Claim:
        """What the written ``text`` claims (`SolutionError` if it cannot be read); cached by text."""
        claim = self._claims.get(text)
        if claim is None:
            claim = Claim(parse_value(text), self.grading, self.exact_constants)
            if len(self._claims) < 100_000:
                self._claims[text] = claim
        return claim

    # -- one solution ---------------------------------------------------------------------------
    def check_file(self, path) -> FileResult:
        """Grade one file; a file that cannot be read is an ``error`` verdict, not an exception."""
        try:
            solution = load_solution(path, self.model, decimal_separator=self.decimal_separator)
        except SymbackError as e:
            return FileResult(str(path), "error", error=str(e))
        return self.check(solution)

    def check(self, solution: Solution) -> FileResult:
        q = self.quantities
        unreadable = [_unreadable(e) for e in solution.errors]
        entries: dict = {}
        for item in solution.items:
            key = (item.section, item.name)
            k = q.index_of(item.epoch, item.sample)
            try:
                claim = self.claim(item.text)
            except SolutionError as e:
                unreadable.append(Judged(item.epoch, item.sample, item.section, item.name, list(item.index), None,
                                         None, "error", item.source or item.text, item.line, item.column,
                                         reason=f"cannot be read: {e.message}", shape=q.shapes[key], k=k, key=key))
                continue
            entries.setdefault((k, key), {})[item.index] = Entry(k, key, item.index, claim, item)
        judged = self._replay(entries, unreadable)
        judged += [self.formulas.judge(f) for f in solution.formulas]
        judged += [_shape_claim(c) for c in solution.shapes]
        file_errors = [j for j in unreadable if j.k is None]
        items = file_errors + judged
        if not items:
            return FileResult(solution.file, "error", error="nothing to judge: the file has no values or formulas")
        if any(j.status == "error" for j in items):
            count = sum(j.status == "error" for j in items)
            verdict, error = "error", f"{count} part{'s' if count > 1 else ''} could not be read or judged"
        else:
            verdict = "correct" if all(j.status == "correct" for j in items) else "mistakes"
            error = None
        return FileResult(solution.file, verdict, items, error)

    def _replay(self, entries: dict, unreadable: list[Judged]) -> list[Judged]:
        """Judge every written entry, step by step in order, in the author's world."""
        q = self.quantities
        written = {(k, *key): {i: e.value for i, e in tensor.items()} for (k, key), tensor in entries.items()}
        world = AuthorWorld(q, written, self.lr, self.truth)
        marking = Marking(self, world, entries)
        value_errors: dict = {}
        for j in unreadable:
            if j.k is not None:
                value_errors.setdefault(j.k, []).append(j)
        steps = sorted({k for k, _ in entries} | set(value_errors))
        out: list[Judged] = []
        stopped = None
        for k in range(steps[-1] + 1 if steps else 0):
            if stopped is None and self.truth.at(k) is None:
                stopped = self.truth.stopped
            if stopped is not None:
                out += [_not_judged(e, q, stopped) for (kk, key), tensor in sorted(entries.items(), key=_order(q))
                        if kk == k for e in tensor.values()]
                out += value_errors.get(k, [])
                continue
            world.advance(k)
            before = len(marking.judged)
            for key in q.order:
                if (k, key) in entries:
                    try:
                        marking.judge_tensor(k, key)
                    except Exception as e:  # noqa: BLE001 - one tensor's failure is its own verdict, not the file's
                        why = f"could not be judged ({type(e).__name__}: {e})"
                        judged = {tuple(j.index) for j in marking.by_tensor.get((k, key), [])}
                        for e_ in entries[(k, key)].values():
                            if tuple(e_.index) not in judged:
                                marking._record(_not_judged(e_, q, why))
            step_items = marking.judged[before:] + value_errors.get(k, [])
            rank = {key: n for n, key in enumerate(q.order)}
            out += sorted(step_items, key=lambda j: (rank[j.key], j.index))
        return out

    # -- what an entry reads ---------------------------------------------------------------
    def entry_inputs(self, key, index) -> list:
        """The input entries that entry ``index`` of ``key`` reads within its step."""
        if key not in self._dependencies:
            formula = self.quantities.formulas[key]
            self._dependencies[key] = (entry_dependencies(formula), formula)
        deps, formula = self._dependencies[key]
        if deps is not None:
            return deps[tuple(index)]
        shapes = self.quantities.shapes
        return [(k, (i, j)) for k in formula.inputs for i in range(shapes[k][0]) for j in range(shapes[k][1])]


#: the rule of an item that judges a shape written under a part of a LaTeX formula (an underbrace)
SHAPE_RULE = "shape annotation"


def _shape_claim(c: ShapeClaim) -> Judged:
    """A shape written under a part of a formula, judged against the shape that part has: a part with
    several entries marked 1×1 is the classic collapsed elementwise factor (1 − tanh² as one number)."""
    claimed, actual = (f"{a}×{b}" for a, b in (c.claimed, c.actual))
    part = plain_latex(c.text)
    judged = Judged(None, None, "formulas", c.name, None, claimed, actual, "correct", c.text, c.line, c.column,
                    rule=SHAPE_RULE, reason=N_("%(part)s is %(shape)s", part=part, shape=actual), shape=c.actual)
    if c.claimed != c.actual:
        judged.status = "wrong"
        judged.reason = N_("%(part)s is marked %(claimed)s, but it is %(shape)s", part=part, claimed=claimed, shape=actual)
        if c.claimed == (1, 1):
            code, detail = "collapsed-elementwise", f"{part} ({actual})"
        else:
            code, detail = "wrong-shape", f"{part} is {actual}, not {claimed}"
        judged.diagnosis = {"code": code, "detail": detail, "message": mistakes.message(code, detail)}
    return judged


def plain_latex(text: str) -> str:
    """An underbraced part as a short line of text: ``\\underbrace{(1 - \\tanh(u)^2)}`` → ``(1 - tanh(u)^2)``."""
    text = re.sub(r"\\(underbrace|overbrace)\s*", "", text)
    text = re.sub(r"\\(left|right|[,;:!]|big|Big)", "", text)
    text = re.sub(r"\\(text|mathrm|operatorname|mathit|mathbf)\s*\{([^{}]*)\}", r"\2", text)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    text = re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()
    return text if len(text) <= 60 else text[:59] + "…"


def _unreadable(e: SolutionError) -> Judged:
    """A part of the file that cannot be read, as an item: where it is, as far as the reader got."""
    epoch, sample, section, name = getattr(e, "where", None) or (None, None, "file", "")
    return Judged(epoch, sample, section, name, None, None, None, "error", "", e.line, e.column, reason=e.message)


def _not_judged(e: Entry, q, why: str) -> Judged:
    epoch, sample = q.step_of(e.k)
    return Judged(epoch, sample, e.key[0], e.key[1], list(e.index), float(e.value), None, "error", e.item.source or e.item.text,
                  e.item.line, e.item.column, reason=why if why.startswith("could not") else f"not judged: {why}",
                  shape=q.shapes[e.key], k=e.k, key=e.key)


def _order(q):
    rank = {key: n for n, key in enumerate(q.order)}
    return lambda item: rank[item[0][1]]


def check(model, *paths, grading: Grading | None = None):
    """Grade solution files against ``model``: ``symback.check(m, "solution.yaml")`` gives one
    `FileResult`, several paths a list of them."""
    checker = Checker(model, grading)
    results = [checker.check_file(p) for p in paths]
    return results[0] if len(paths) == 1 else results


def note(j: Judged) -> str:
    """The sentence shown beside an item wherever it is shown."""
    if j.diagnosis:
        return f"{j.diagnosis['code']}: {j.diagnosis['message']}"
    if j.status == "carried" and j.reason:
        return j.reason
    if j.status == "carried":
        return f"follows from your {', '.join(j.carried_from)}" + (
            f" (your values give {number(j.from_your_values, 6)})" if j.from_your_values is not None else "")
    if j.rule and "truncated" in j.rule and j.status == "correct":
        return f"correct ({j.rule})"
    return j.reason or ""
