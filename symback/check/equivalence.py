"""Judging a written gradient formula: is it the derived gradient?

A formula (in the model's names, ``check/formula.py``) is compared with the derivation's
closed form at the exercise's point and at 8 random points (parameters moved by up to ±0.3
and ±2, so that relu units switch on and off); when they agree everywhere, SymPy is asked
for a proof: both sides expanded entry by entry, first with the named quantities as symbols,
then with each replaced by its definition (``expand`` only — a proof, never a guess).  A
formula that differs gets the point and entry where it does, and the catalogue's mutated
closed forms are tried for a diagnosis.  A class writes the same formulas: each text is judged
once per model.
"""

from __future__ import annotations

import random
import re
import time

import mpmath
import numpy as np
import sympy as sp

from ..engine.explicit import explicit, tree_size
from ..engine.expr import scaled, transpose
from ..errors import SolutionError
from ..i18n import N_, Message
from ..numeric.formatting import entry_text, number
from ..numeric.printing import code
from ..numeric.program import to_mp
from . import mistakes
from .budget import FORMULA_SECONDS, BudgetError, bounded, formula_seconds
from .claims import SLACK
from .formula import parse_formula
from .judge import Judged
from .replay import Formula

#: formulas of at most this many entries are also compared exactly (expanded), each entry at most EXACT_TREE nodes
EXACT_ENTRIES = 256
EXACT_TREE = 20_000
#: named quantities are written out by their definitions only while each entry stays this small
DEFINED_TREE = 400


class FormulaJudge:
    """Judges formulas for one model; shared by a class."""

    def __init__(self, checker):
        self.checker = checker
        self.q = checker.quantities
        self.d = self.q.derivation
        self._memo: dict = {}
        self._points: list | None = None
        self._closed: dict = {}
        self.seconds = FORMULA_SECONDS  # one formula's time budget, set to the model's size by _prepare

    def judge(self, f) -> Judged:
        expected = self.expected(f.name)
        shown = f.source or f.text  # a LaTeX formula is shown as written; its translation is judged
        judged = Judged(None, None, "formulas", f.name, None, shown, expected, "correct", shown, f.line, f.column)
        key = (f.name, f.text)
        if key not in self._memo:
            self._prepare()
            try:  # SymPy can work without end on a hostile formula: the kernel bounds it
                self._memo[key] = bounded(self._judge, f.name, f.text, seconds=self.seconds)
            except BudgetError as e:
                self._memo[key] = ("error", f"could not decide: the comparison {e}", None, None)
            except Exception as e:  # noqa: BLE001 - one formula's failure is that formula's verdict, never the file's
                self._memo[key] = ("error", f"could not be judged ({type(e).__name__}: {e})", None, None)
        judged.status, judged.reason, judged.diagnosis, judged.rule = self._memo[key]
        if f.source and judged.reason:  # the translation's positions and operators mean nothing to the author
            reason = re.sub(r" at character [0-9]+", "", judged.reason)
            reason = re.sub(r"@ needs matching inner sizes: (\S+) @ (\S+)",
                            r"a matrix product needs matching inner sizes, not \1 times \2 (⊙ multiplies "
                            r"entry by entry)", reason)
            if reason != judged.reason:  # (a reason kept as a Message stays one: a document translates it)
                judged.reason = reason
        return judged

    def _prepare(self) -> None:
        """What every formula's judgment shares, computed here once (each runs in a child process
        whose work is lost with it): the points, the closed forms, the catalogue's mutated ones."""
        if self._points is not None:
            return
        self.points()
        names = list(self.q.trainable)
        for name in names:
            self.closed(name)
        for m in self.checker.catalogue.mistakes:
            for name in names:
                self._mutated(m, name)
        slowest = 0.0
        for name in names:  # what judging a right formula takes here sets what any formula may take
            started = time.process_time()
            self._judge(name, self.expected(name))
            slowest = max(slowest, time.process_time() - started)
        self.seconds = formula_seconds(slowest)

    def expected(self, name: str) -> str:
        """The derived gradient as a solution file writes it."""
        if ("text", name) not in self._closed:
            g = self.d.gradients.get(name)
            self._closed[("text", name)] = code(g.closed) if g is not None else "0"
        return self._closed[("text", name)]

    def closed(self, name: str) -> Formula:
        if name not in self._closed:
            g = self.d.gradients.get(name)
            p = self.checker.model.tensor(name)
            self._closed[name] = Formula(g.closed if g is not None else sp.ZeroMatrix(*p.shape), self.q.keys)
        return self._closed[name]

    def _judge(self, name: str, text: str) -> tuple:
        d = self.d
        symbols = {n.name: d.value[n] for n in d.order if n.name}
        symbols.update({f"delta_{n.name}": d.delta[n] for n in d.order if n.name and n in d.delta_defs
                        and not n.is_leaf and n is not d.loss})
        try:
            written = parse_formula(text, symbols, relu_grad_at_zero=self.checker.model.relu_grad_at_zero)
        except SolutionError as e:
            if "×" in e.message:  # shapes that do not fit: a wrong formula, not an unreadable one
                left_out = self._transpose_left_out(name, text, symbols)
                if left_out is None:
                    return "wrong", e.message, None, "shapes"
                detail = f"{left_out}ᵀ was written {left_out}"
                return "wrong", e.message, {"code": "missing-transpose", "detail": detail,
                                            "message": mistakes.message("missing-transpose", detail)}, "shapes"
            return "error", f"the formula cannot be read: {e.message}", None, None
        right = self.closed(name)
        deltas = self._deltas()
        if tuple(written.shape) != right.shape:
            why = N_("the formula is %(written)s; ∂L/∂%(name)s is %(right)s",
                     written=f"{written.shape[0]}×{written.shape[1]}", name=name,
                     right=f"{right.shape[0]}×{right.shape[1]}")
            if tuple(written.shape) == right.shape[::-1] and self._counterexample(
                    name, Formula(transpose(written.xreplace(deltas)), self.q.keys), right) is None:
                return "wrong", why, {"code": "missing-transpose", "detail": "the gradient came out transposed",
                                      "message": mistakes.message("missing-transpose",
                                                                  "the gradient came out transposed")}, "shapes"
            return "wrong", why, None, "shapes"
        left = Formula(written.xreplace(deltas), self.q.keys)
        difference = self._counterexample(name, left, right)
        if difference is None:
            if self._exactly_equal(left.expr, right.expr):
                return "correct", Message(N_("equal exactly (SymPy)")), None, "equal exactly (SymPy)"
            differs = self._differs_at_the_exercise(name, left.expr, right.expr)
            if differs is None:
                how = N_("equal at all %(num)s points (SymPy could not decide it exactly)", num=len(self.points()))
                return "correct", how, None, how
            difference = differs
        catalogue = self.checker.catalogue
        for m in catalogue.mistakes:
            mutated = self._mutated(m, name)
            if mutated is None or self._counterexample(name, right, mutated) is None:
                continue  # a mistake that changes nothing at the points explains nothing
            if self._counterexample(name, left, mutated) is None:
                expected = str(sp.Rational(self.checker.model.relu_grad_at_zero))
                return "wrong", difference, {"code": m.code, "message": m.message(expected), "detail": m.detail,
                                             "expected": expected}, \
                    "compared at the exercise's point and random points"
        return "wrong", difference, None, "compared at the exercise's point and random points"

    def _deltas(self) -> dict:
        """Each named δ symbol a formula may use (``delta_h``) → its closed form."""
        d = self.d
        return {d.delta[n]: _closed_delta(d, n) for n in d.order if n in d.delta_defs and n.name
                and not n.is_leaf and n is not d.loss}

    def _transpose_left_out(self, name: str, text: str, symbols: dict) -> str | None:
        """The one name whose transpose (added, or taken away) makes a formula whose sizes do not fit
        the derived gradient — ``(out - y) @ h`` for ``(out - y) @ h.T`` — or None."""
        right, deltas = self.closed(name), self._deltas()
        for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)(\.T)?(?![\w(])", text):
            if m.group(1) not in symbols:
                continue
            changed = m.group(1) if m.group(2) else f"{m.group(1)}.T"
            variant = text[:m.start()] + changed + text[m.end():]
            try:
                fixed = parse_formula(variant, symbols, relu_grad_at_zero=self.checker.model.relu_grad_at_zero)
            except SolutionError:
                continue
            if tuple(fixed.shape) == right.shape and self._counterexample(
                    name, Formula(fixed.xreplace(deltas), self.q.keys), right) is None:
                return m.group(1)
        return None

    def _mutated(self, m, name: str) -> Formula | None:
        cache = m.__dict__.setdefault("_closed", {})
        if name in cache:
            return cache[name]
        closed = self.closed(name).expr
        mutated = None
        if m.vjps:
            g = self.checker.catalogue.derivation(m).gradients.get(name)
            if g is not None and g.closed != closed:
                mutated = g.closed
        elif m.scale is not None:
            mutated = scaled(m.scale, closed)
        elif m.transposed == name:
            mutated = transpose(closed)
        cache[name] = None if mutated is None else Formula(mutated, self.q.keys)
        return cache[name]

    def _exactly_equal(self, left, right) -> bool:
        """Whether two formulas are identical once expanded entry by entry: first with the named
        quantities as symbols, then with every named quantity replaced by its definition."""
        if int(right.shape[0]) * int(right.shape[1]) > EXACT_ENTRIES:
            return False
        atoms = self._atoms()
        for env in (atoms, self._defined(atoms)):
            if env is None:
                return False
            try:
                difference = explicit(left, env) - explicit(right, env)
            except (KeyError, TypeError, ValueError):
                return False
            if all(tree_size(e) <= EXACT_TREE and sp.expand(e) == 0 for e in difference):
                return True
        return False

    def _differs_at_the_exercise(self, name: str, left, right) -> str | None:
        """Where the formulas agree to 35 digits at every point but no proof was found: both written
        out down to the exercise's exact numbers and their difference evaluated to 100 significant
        digits (SymPy's evalf raises its working precision until it has them) — a constant as small
        as 1e-400 or exp(-1e200) added to the right formula is a different formula.  None: no difference found (or the
        network is too deep to write out)."""
        atoms = self._atoms()
        defined = self._defined(atoms)
        if defined is None:
            return None
        values = {}
        for n in self.d.order:
            if n.is_leaf and isinstance(n.value, sp.MatrixBase):
                for (i, j), v in np.ndenumerate(np.array(n.value.tolist(), dtype=object)):
                    values[atoms[self.d.value[n]][i, j]] = v
        try:
            difference = explicit(left, defined) - explicit(right, defined)
        except (KeyError, TypeError, ValueError):
            return None
        rows, cols = (int(k) for k in difference.shape)
        for i in range(rows):
            for j in range(cols):
                e = difference[i, j]
                if tree_size(e) > EXACT_TREE:
                    return None
                try:
                    gap = sp.N(e.xreplace(values), 100)
                except (TypeError, ValueError):
                    return None
                if gap.is_number and gap.free_symbols == set() and _nonzero(gap):
                    return (f"differs from ∂L/∂{name} by {sp.N(gap, 3)} in entry {entry_text(name, i, j, (rows, cols))}"
                            " at the exercise's values (exact arithmetic at 100 digits)")
        return None

    def _atoms(self) -> dict:
        atoms = {}
        for n in self.d.order:
            symbol = self.d.value[n]
            r, c = (int(k) for k in n.shape)
            atoms[symbol] = sp.ImmutableMatrix(r, c, lambda i, j, s=symbol.name: sp.Symbol(f"{s}[{i},{j}]"))
        return atoms

    def _defined(self, atoms: dict) -> dict | None:
        """Every named quantity written out by its definition, entry by entry — None for a network
        too deep for that (SymPy's functions of long arguments take seconds to build each)."""
        d = self.d
        defined = dict(atoms)
        for n in d.order:
            if n in d.forward_defs:
                entries = explicit(d.forward_defs[n].xreplace(d.anonymous_values), defined)
                if any(tree_size(e) > DEFINED_TREE for e in entries):
                    return None
                defined[d.value[n]] = entries
        return defined

    def points(self) -> list[tuple[str, dict]]:
        """Where formulas are compared: the exercise's first step, then random points with the
        parameters moved by up to ±0.3 and by up to ±2 (so that relu units switch on and off)."""
        if self._points is None:
            model = self.checker.model
            rng = random.Random(0)
            base = {("param", p.name): to_mp(p.value) for p in model.params}
            for leaf in model.data:
                base[("data", leaf.name)] = to_mp(leaf.samples[0] if leaf.samples is not None else leaf.value)
            points = [("at the exercise's initial values", base)]
            for k in range(8):
                spread = 0.3 if k % 2 == 0 else 2.0
                moved = dict(base)
                for p in model.params:
                    moved[("param", p.name)] = np.array([[v + mpmath.mpf(rng.uniform(-spread, spread)) for v in row]
                                                         for row in base[("param", p.name)]], dtype=object)
                points.append((f"at a random point (parameters moved by up to ±{spread})", moved))
            self._points = [(where, self._full(env)) for where, env in points]
        return self._points

    def _full(self, env: dict) -> dict:
        env = dict(env)
        for key in self.q.order:
            if key[0] == "forward":
                env[key] = self.q.formulas[key](env)
        return env

    def _counterexample(self, name: str, left: Formula, right: Formula) -> str | None:
        shape = right.shape
        for where, env in self.points():
            try:
                a, b = left(env), right(env)
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                return f"cannot be evaluated {where}"
            for (i, j), value in np.ndenumerate(b):
                if not isinstance(a[i, j], mpmath.mpf) or not mpmath.isfinite(a[i, j]):
                    return (f"is not a real number {where}: entry {entry_text(name, i, j, shape)} is {a[i, j]} "
                            "by the formula (the log or square root of a negative number?)")
                if abs(a[i, j] - value) > SLACK * (1 + abs(value)):
                    return (f"differs from ∂L/∂{name} {where}: entry {entry_text(name, i, j, shape)} is "
                            f"{number(a[i, j], 6)} by the formula, {number(value, 6)} by the derivation")
        return None


def _closed_delta(d, node):
    """δ of a named quantity with every δ after it substituted: in the named forward quantities."""
    return d.closed_deltas.get(node, d.delta[node])


def _nonzero(gap) -> bool:
    """A difference evaluated by ``sp.N`` is not zero: a Float with significant digits (a zero that
    evalf cannot prove comes back as ``0.e-208``, without any) or a nonzero exact number."""
    for part in (sp.re(gap), sp.im(gap)):
        if part == 0:
            continue
        if part.is_Rational or (part.is_Float and part._prec > 1):
            return True
    return False
