"""Checking a hand solution: rounding-aware, error carried forward, diagnosed.

For one model, `Checker` compiles once: every named quantity's definition in the named
quantities before it, every gradient's closed form, and the mutated forms of the mistake
catalogue (``mistakes.py``).  For each solution it then replays training *in the author's
world*: every value is recomputed from the author's own earlier values (their forward values
for the gradients, their gradients for the updates, their updated parameters for the next
epoch; where they wrote nothing, the value those give), and each written entry is

* ``correct`` — equal to the exact value to the digits written (half a unit in the last place,
  widened by the rounding of the author's written inputs: a value computed from correct but
  rounded inputs is correct);
* ``carried`` — wrong, but what the author's earlier values give, after an earlier mistake that
  actually changes it (so a wrong value cannot be "carried" from nothing);
* ``wrong`` — neither; the catalogue is tried and a diagnosis named when a mistake reproduces it;
* ``unjudged`` — with the reason (e.g. a formula that cannot be read).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import sympy as sp

from ..engine.explicit import explicit, tree_size
from ..errors import SolutionError, SymbackError
from ..numeric.formatting import number
from ..numeric.optim import OPTIMIZERS
from ..numeric.printing import ProgramPrinter
from ..numeric.program import _NAMESPACES, DIGITS, MPMATH, mp_sqrt, to_mp
from . import mistakes
from .arith import parse_value
from .diagnose import SAME, _plausible, diagnose
from .formula import parse_formula
from .solution import Solution, load_solution

SECTIONS = ("forward", "grads", "updated")
#: formulas of at most this many entries are also compared exactly (expanded), each entry at most EXACT_TREE nodes
EXACT_ENTRIES = 256
EXACT_TREE = 20_000


@dataclass
class Judged:
    epoch: int | None  # None for a formula
    sample: int | None
    section: str
    name: str
    index: list[int] | None
    written: float | str | None
    expected: float | str | None
    status: str
    text: str = ""
    line: int | None = None
    column: int | None = None
    carried_from: str | None = None
    diagnosis: dict | None = None
    reason: str | None = None

    def label(self) -> str:
        if self.section == "formulas":
            return f"formula ∂L/∂{self.name}"
        step = f"{self.epoch}" + (f".{self.sample}" if self.sample else "")
        where = f"[{self.index[0]}, {self.index[1]}]" if self.index else ""
        return f"epoch {step} {self.section} {self.name}{where}"

    def as_json(self) -> dict:
        out = {"epoch": self.epoch, "section": self.section, "name": self.name, "index": self.index,
               "written": self.written, "expected": self.expected, "status": self.status,
               "diagnosis": self.diagnosis}
        if self.sample is not None:
            out["sample"] = self.sample
        if self.carried_from:
            out["carried_from"] = self.carried_from
        if self.reason:
            out["reason"] = self.reason
        if self.line:
            out["line"], out["column"] = self.line, self.column
        return out


@dataclass
class FileResult:
    file: str
    verdict: str  # correct | mistakes | error
    items: list[Judged] = field(default_factory=list)
    error: str | None = None

    @property
    def first_mistake(self) -> Judged | None:
        return next((j for j in self.items if j.status == "wrong"), None)

    def as_json(self) -> dict:
        first = self.first_mistake
        out = {"file": self.file, "verdict": self.verdict,
               "first_mistake": None if first is None else {
                   "epoch": first.epoch, "section": first.section, "name": first.name, "index": first.index},
               "items": [j.as_json() for j in self.items]}
        if self.error:
            out["error"] = self.error
        return out


def _compile(expr, names: list[str]):
    """An mpmath function of the named matrices (object arrays) computing ``expr``."""
    symbols = [sp.MatrixSymbol(n, 1, 1) for n in names]  # placeholders: lambdify only needs the names
    return sp.lambdify(symbols, expr, modules=[_NAMESPACES[MPMATH]()], printer=ProgramPrinter())


def _free(expr) -> list[str]:
    return sorted(s.name for s in expr.free_symbols if isinstance(s, sp.MatrixSymbol))


class _Formula:
    """A formula compiled over the named matrices it uses."""

    def __init__(self, expr):
        self.expr = expr
        self.names = _free(expr)
        self.fn = _compile(expr, self.names)

    def __call__(self, env: dict) -> np.ndarray:
        with mpmath.workdps(DIGITS):
            out = self.fn(*[env[n] for n in self.names])
        return np.asarray(out, dtype=object).reshape(tuple(int(k) for k in self.expr.shape))


class Checker:
    """Everything about one model that grading many solutions shares."""

    def __init__(self, model):
        self.model = model
        d = model._derivation
        self.derivation = d
        self.history = [r for r in model.train().steps if r.precision == MPMATH]
        self.named = [n for n in d.order if n.name and not n.is_leaf]
        self.forward = {n.name: _Formula(d.forward_defs[n].xreplace(d.anonymous_values)) for n in self.named}
        self.closed = {name: _Formula(g.closed) for name, g in d.gradients.items()}
        self.trainable = [p.name for p in model.trainable]
        self.shapes = {n.name: n.shape for n in model.nodes if n.name}
        pre_of, post_of = {}, {}
        for n in self.named:
            if n.op == "apply" and n.args[0].name:
                pre_of[d.value[n]] = d.value[n.args[0]]
                post_of[d.value[n.args[0]]] = d.value[n]
        self.mutations = {name: [(code, detail, _Formula(e)) for code, detail, e in
                                 mistakes.gradient_mutations(g.closed, pre_of, post_of, model.relu_grad_at_zero)]
                          for name, g in d.gradients.items()}
        self.exact_constants = self._constants()
        self._formula_memo: dict = {}
        self._point_envs: list | None = None
        self.lr = mpmath.mpf(sp.Rational(model.lr).p) / sp.Rational(model.lr).q

    def _constants(self) -> set[Fraction]:
        values = [self.model.lr, self.model.beta, self.model.beta1, self.model.beta2]
        for n in self.model.nodes:
            if n.is_leaf and isinstance(n.value, sp.MatrixBase):
                values += list(n.value)
        return {Fraction(int(sp.Rational(v).p), int(sp.Rational(v).q)) for v in values if sp.Rational(v).is_Rational}

    # -- one solution ---------------------------------------------------------------
    def check_file(self, path) -> FileResult:
        """Grade one file; a broken file is an ``error`` verdict, not an exception."""
        try:
            solution = load_solution(path, self.model)
            return self.check(solution)
        except SymbackError as e:
            return FileResult(str(path), "error", error=str(e))

    def check(self, solution: Solution) -> FileResult:
        written = {}
        for item in solution.items:
            try:
                expression = parse_value(item.text)
            except SolutionError as e:
                raise SolutionError(f"{e.message}", file=solution.file, line=item.line, column=item.column) from None
            key = (item.epoch, item.sample, item.section, item.name)
            written.setdefault(key, {})[item.index] = (item, expression)
        judged = self._replay(written)
        judged += [self._formula(f) for f in solution.formulas]
        verdict = "correct" if all(j.status in ("correct", "unjudged") for j in judged) else "mistakes"
        return FileResult(solution.file, verdict, judged)

    def _replay(self, written: dict) -> list[Judged]:
        model = self.model
        believed = {p.name: to_mp(p.value) for p in model.params}
        replay = _Replay(written)
        states = {name: {} for name in self.trainable}
        optimizer = self._optimizer()
        previous = dict(believed)
        for r in self.history:
            env = {**believed, **self._data(r)}
            replay.step(r, env, dict(believed), previous)
            for node in self.named:
                env[node.name] = self._judge(replay, "forward", node.name, self.forward[node.name], r.forward[node.name])
            grads = {}
            for name in self.trainable:
                grads[name] = self._judge(replay, "grads", name, self.closed[name], r.grads[name])
            updated = {}
            for name in self.trainable:
                step = _Update(optimizer, states[name], name, replay.used[name], grads[name], self.lr)
                updated[name] = self._judge(replay, "updated", name, step, r.updated[name])
                states[name] = step.state_after
            replay.params_rounding = {name: replay.rounding.get(("updated", name)) for name in self.trainable}
            previous = replay.used
            believed = {**believed, **updated}
        return replay.judged

    def _data(self, r) -> dict:
        out = {}
        for leaf in self.model.data:
            value = leaf.samples[(r.sample or 1) - 1] if leaf.samples is not None else leaf.value
            out[leaf.name] = to_mp(value)
        return out

    def _optimizer(self):
        def mp(x):
            x = sp.Rational(x)
            return mpmath.mpf(x.p) / x.q

        m = self.model
        with mpmath.workdps(DIGITS):
            return OPTIMIZERS[m.optimizer](lr=mp(m.lr), beta=mp(m.beta), beta1=mp(m.beta1), beta2=mp(m.beta2),
                                           eps=mp(m.eps))

    def _judge(self, replay: _Replay, section: str, name: str, formula, exact) -> np.ndarray:
        """Judge the author's entries of one tensor; returns the tensor as the author has it."""
        env = replay.env
        computed = formula(env)
        entries = replay.written.get((replay.r.epoch, replay.r.sample, section, name))
        if not entries:
            return computed
        believed = np.array(computed, dtype=object, copy=True)
        rounding = np.full(computed.shape, mpmath.mpf(0), dtype=object)
        for index in sorted(entries):
            item, expression = entries[index]
            i, j = index
            w = expression.value
            tol = expression.rounding(self.exact_constants) + mpmath.mpf(10) ** -40
            true, carried = exact[i, j], computed[i, j]
            clean = not replay.first_wrong
            if abs(w - true) <= tol:
                status = "correct"
            else:
                widening = replay.widening(formula, index)
                follows = abs(w - carried) <= tol + widening
                if follows and (clean or abs(carried - true) <= tol + widening):
                    status = "correct"  # what the author's inputs give, and they are right to their digits
                elif follows and replay.plausible:
                    status = "carried"  # wrong only because of an earlier (plausible) mistake
                else:
                    status = "wrong"
            judged = Judged(replay.r.epoch, replay.r.sample, section, name, [i, j], float(w), float(true), status,
                            item.text, item.line, item.column)
            if status == "carried":
                judged.carried_from = replay.plausible[0]
            if status == "wrong":
                judged.diagnosis = diagnose(self, replay, section, name, formula, (i, j), w, tol, carried)
                replay.first_wrong.append(judged.label())
                if follows_anyway := (abs(w - carried) <= tol + replay.widening(formula, index)):
                    judged.reason = (f"follows from your {replay.first_wrong[0]}, which is too far off to be a "
                                     "slip: not credited")
                if not follows_anyway and _plausible(w, true, judged.diagnosis):
                    replay.plausible.append(judged.label())
            replay.judged.append(judged)
            believed[i, j] = w
            rounding[i, j] = tol
        replay.rounding[(section, name)] = rounding
        if section == "forward":
            replay.rounding[("env", name)] = rounding
        return believed

    # -- diagnosis -------------------------------------------------------------------
    # -- formulas --------------------------------------------------------------------
    def _formula(self, f) -> Judged:
        g = self.derivation.gradients[f.name]
        judged = Judged(None, None, "formulas", f.name, None, f.text, _text(g.closed), "correct", f.text, f.line,
                        f.column)
        key = (f.name, f.text)
        if key not in self._formula_memo:  # a class writes the same formulas: judge each text once
            self._formula_memo[key] = self._judge_formula(f.name, f.text)
        judged.status, judged.reason, judged.diagnosis = self._formula_memo[key]
        return judged

    def _judge_formula(self, name: str, text: str) -> tuple[str, str | None, dict | None]:
        d = self.derivation
        g = d.gradients[name]
        symbols = {n.name: d.value[n] for n in d.order if n.name}
        symbols.update({f"delta_{n.name}": d.delta[n] for n in d.order if n.name and n in d.delta_defs
                        and not n.is_leaf})
        try:
            written = parse_formula(text, symbols, relu_grad_at_zero=self.model.relu_grad_at_zero)
        except SolutionError as e:
            return ("wrong" if "×" in e.message else "unjudged"), e.message, None
        if tuple(written.shape) != tuple(g.closed.shape):
            return "wrong", (f"the formula is {written.shape[0]}×{written.shape[1]}; ∂L/∂{name} is "
                             f"{g.closed.shape[0]}×{g.closed.shape[1]}"), None
        deltas = {d.delta[n]: _closed_delta(d, n) for n in d.order if n in d.delta_defs and n.name and not n.is_leaf
                  and n is not d.loss}
        left = _Formula(written.xreplace(deltas))
        difference = self._counterexample(name, left, self.closed[name])
        if difference is None:
            exact = self._exactly_equal(left.expr, g.closed)
            how = "equal exactly (SymPy)" if exact else f"equal at all {len(self._points())} points (SymPy could " \
                  "not decide it exactly)"
            return "correct", how, None
        for code, detail, mutated in self.mutations[name]:
            if self._counterexample(name, left, mutated) is None:
                expected = str(sp.Rational(self.model.relu_grad_at_zero))
                return "wrong", difference, {"code": code, "message": mistakes.message(code, detail, expected)}
        return "wrong", difference, None

    def _exactly_equal(self, left, right) -> bool:
        """Whether two formulas are identical once expanded entry by entry: first with the named
        quantities as symbols, then with every named quantity replaced by its definition.
        Only ``expand`` (polynomial identities); a proof, never a guess."""
        d = self.derivation
        if int(right.shape[0]) * int(right.shape[1]) > EXACT_ENTRIES:
            return False
        atoms = {}
        for n in d.order:
            symbol = d.value[n]
            r, c = (int(k) for k in n.shape)
            atoms[symbol] = sp.ImmutableMatrix(r, c, lambda i, j, s=symbol.name: sp.Symbol(f"{s}[{i},{j}]"))
        defined = dict(atoms)
        for n in d.order:
            if n in d.forward_defs:
                defined[d.value[n]] = explicit(d.forward_defs[n].xreplace(d.anonymous_values), defined)
        for env in (atoms, defined):
            try:
                difference = explicit(left, env) - explicit(right, env)
            except (KeyError, TypeError, ValueError):
                return False
            if all(tree_size(e) <= EXACT_TREE and sp.expand(e) == 0 for e in difference):
                return True
        return False

    def _points(self) -> list[tuple[str, dict]]:
        """Where formulas are compared: the exercise's first step, then random points with the
        parameters moved by up to ±0.3 and by up to ±2 (so that relu units switch on and off)."""
        if self._point_envs is None:
            rng = random.Random(0)
            env = {p.name: to_mp(p.value) for p in self.model.params}
            env.update(self._data(self.history[0]) if self.history else {})
            points = [("at the exercise's initial values", env)]
            for k in range(8):
                spread = 0.3 if k % 2 == 0 else 2.0
                moved = dict(env)
                for p in self.model.params:
                    moved[p.name] = np.array([[v + mpmath.mpf(rng.uniform(-spread, spread)) for v in row]
                                              for row in env[p.name]], dtype=object)
                points.append((f"at a random point (parameters moved by up to ±{spread})", moved))
            self._point_envs = [(where, self._full_env(e)) for where, e in points]
        return self._point_envs

    def _full_env(self, env: dict) -> dict:
        env = dict(env)
        for node in self.named:
            env[node.name] = self.forward[node.name](env)
        return env

    def _counterexample(self, name: str, left: _Formula, right: _Formula) -> str | None:
        for where, env in self._points():
            a, b = left(env), right(env)
            for (i, j), value in np.ndenumerate(b):
                if abs(a[i, j] - value) > SAME * (1 + abs(value)):
                    return (f"differs from ∂L/∂{name} {where}: entry [{i}, {j}] is {number(a[i, j], 6)} by the "
                            f"formula, {number(value, 6)} by the derivation")
        return None


class _Replay:
    """The state of one solution's replay: the author's values and how finely they wrote them."""

    def __init__(self, written: dict):
        self.written = written
        self.judged: list[Judged] = []
        self.first_wrong: list[str] = []
        self.plausible: list[str] = []  # wrong values that later values may be carried from
        self.rounding: dict = {}
        self.params_rounding: dict = {}
        self._widenings: dict = {}

    def step(self, r, env: dict, used: dict, previous: dict) -> None:
        self.r, self.env, self.used, self.previous = r, env, used, previous
        self._widenings: dict = {}
        self.rounding = {("env", k): v for k, v in self.params_rounding.items() if v is not None}

    def widening(self, formula, index) -> mpmath.mpf:
        """How much the rounding of the author's written inputs moves this entry (first order)."""
        if isinstance(formula, _Update):
            r_p = self.rounding.get(("env", formula.name_of_param), None)
            r_g = self.rounding.get(("grads", formula.name_of_param), None)
            i, j = index
            return (r_p[i, j] if r_p is not None else 0) + abs(formula.lr) * (r_g[i, j] if r_g is not None else 0)
        key = id(formula)
        if key not in self._widenings:  # one pass per tensor: each written input entry moved once
            base = formula(self.env)
            total = np.full(base.shape, mpmath.mpf(0), dtype=object)
            for name in formula.names:
                half = self.rounding.get(("env", name))
                if half is None:
                    continue
                for (a, b), h in np.ndenumerate(half):
                    if h:
                        moved = np.array(self.env[name], dtype=object, copy=True)
                        moved[a, b] += h
                        total = total + np.abs(formula({**self.env, name: moved}) - base)
            self._widenings[key] = (formula, total)  # the formula is kept so that its id stays unique
        return self._widenings[key][1][index]


class _Update:
    """The optimizer's step for one parameter, callable like a compiled formula."""

    def __init__(self, optimizer, state: dict, name: str, param, grad, lr):
        self.param, self.grad, self.lr = param, grad, lr
        self.name_of_param = name
        self.state_after = dict(state)
        with mpmath.workdps(DIGITS):
            self.value = optimizer.step(param, grad, self.state_after, mp_sqrt)

    def __call__(self, env) -> np.ndarray:
        return self.value


def _closed_delta(d, node):
    """δ of a named quantity with every δ after it substituted: in the named forward quantities."""
    named = {d.delta[st.node]: st.formula for g in d.gradients.values() for st in g.steps}
    formula = named.get(d.delta[node], d.delta[node])
    for _ in range(len(d.order)):
        expanded = formula.xreplace(named)
        if expanded == formula:
            break
        formula = expanded
    return formula


def _text(e) -> str:
    from ..numeric.printing import code

    return code(e)



def check(model, *paths):
    """Grade solution files against ``model``: ``symback.check(m, "solution.yaml")`` gives one
    `FileResult`, several paths a list of them."""
    checker = Checker(model)
    results = [checker.check_file(p) for p in paths]
    return results[0] if len(paths) == 1 else results


def feedback_context(result: FileResult, digits: int) -> dict:
    """What a student's feedback report shows (templates ``feedback.md.j2``, ``feedback.tex.j2``)."""
    def row(j: Judged) -> dict:
        expected = j.expected if isinstance(j.expected, str) or j.expected is None else number(j.expected, digits + 2)
        note = j.diagnosis["message"] if j.diagnosis else (
            f"consistent with your {j.carried_from}" if j.carried_from else (j.reason or ""))
        return {"label": j.label(), "text": j.text, "expected_text": expected, "status": j.status, "note": note,
                "diagnosis": j.diagnosis}

    first = result.first_mistake
    counts = {s: sum(1 for j in result.items if j.status == s) for s in ("correct", "carried", "wrong", "unjudged")}
    return {"title": f"Feedback on {Path(result.file).name}", "file": result.file, "verdict": result.verdict,
            "error": result.error, "first": row(first) if first else None, "counts": counts,
            "items": [row(j) for j in result.items]}
