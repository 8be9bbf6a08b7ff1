"""Training replayed twice: as it truly goes, and in the author's world.

A hand solution is judged value by value against two numbers: the *true* value (the exercise's
training at 50 digits), and the value that follows from the author's *own* written values
that it is computed from — their forward values for a δ, their δ for a gradient, their
parameters and gradient for an update, their updated parameters for the next step.  The
second is what error carried forward needs.

Both are computed at the level a teacher writes: every quantity of one update step is a
*key* ``(section, name)`` —

* ``("forward", n)``: a named quantity of the model, from the named quantities it uses;
* ``("deltas", n)``: its δ = ∂L/∂n, from the δ of the named quantities after it (the
  derivation's step for n);
* ``("grads", p)``: ∂L/∂p, likewise; ``("updated", p)``: the optimizer's step;
* ``("param", p)`` and ``("data", d)``: what a step starts from (a parameter is the previous
  step's update; data is given) —

each with a formula compiled in both precisions (`Formula`).  `AuthorWorld` evaluates them
lazily, step by step in order: a tensor the author wrote in full is never computed, an entry
the author left out takes the value their other values give.  A `Scenario` evaluates one key
under a hypothesis — a mutated formula (a catalogued mistake), other parameters (stale values),
an input moved by its rounding (how far rounding can carry) — recomputing only the unwritten
quantities that the hypothesis reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp

from ..engine.expr import Grad
from ..numeric.optim import OPTIMIZERS
from ..numeric.printing import ProgramPrinter
from ..numeric.program import _NAMESPACES, DIGITS, FLOAT64, MPMATH, mp_sqrt, to_mp
from ..numeric.train import iter_steps

#: the sections of one step, in computation order
SECTIONS = ("forward", "deltas", "grads", "updated")

Key = tuple[str, str]  # (section, name); sections also "param" and "data"

#: steps of the author's world kept while the replay moves on (judging asks at most this far back)
KEPT_STEPS = 4


def mp_number(x) -> mpmath.mpf:
    """An exact model constant (a SymPy Rational) at 50 digits."""
    x = sp.Rational(x)
    with mpmath.workdps(DIGITS):
        return mpmath.mpf(x.p) / x.q


class Formula:
    """A matrix expression compiled over the keys it reads, in both precisions.

    >>> f = Formula(expr, keys={h_symbol: ("forward", "h")})
    >>> f({("forward", "h"): h_value})       # 50-digit object array
    """

    def __init__(self, expr: sp.MatrixExpr, keys: dict):
        self.expr = expr
        symbols = sorted((s for s in expr.free_symbols if isinstance(s, sp.MatrixSymbol)), key=lambda s: s.name)
        self.symbols = symbols
        self.inputs: list[Key] = [keys[s] for s in symbols]
        # placeholders a0, a1, …: a node named like a δ symbol cannot clash with it
        placeholders = [sp.MatrixSymbol(f"a{k}", *s.shape) for k, s in enumerate(symbols)]
        body = expr.xreplace(dict(zip(symbols, placeholders)))
        printer = ProgramPrinter()
        # no docstring: lambdify prints the whole expression for it with SymPy's own printer, whose
        # precedence test re-evaluates every product (a 12-layer gradient: seconds per formula)
        self._fn = {precision: sp.lambdify(placeholders, body, modules=[namespace()], printer=printer,
                                           docstring_limit=0)
                    for precision, namespace in _NAMESPACES.items()}
        self.shape = (int(expr.shape[0]), int(expr.shape[1]))

    def __call__(self, env: dict, precision: str = MPMATH) -> np.ndarray:
        args = [env[k] for k in self.inputs]
        if precision == MPMATH:
            with mpmath.workdps(DIGITS):
                out = self._fn[MPMATH](*args)
            return np.asarray(out, dtype=object).reshape(self.shape)
        with np.errstate(all="ignore"):
            return np.asarray(self._fn[FLOAT64](*args), dtype=np.float64).reshape(self.shape)


class Quantities:
    """The named-level program of one model: the formula of every key of a step and what each
    key is computed from.  Built once per model; shared by every solution of a class."""

    def __init__(self, model, derivation):
        d = derivation
        self.model = model
        self.derivation = d
        self.trainable = [p.name for p in model.trainable]
        self.params = [p.name for p in model.params]
        self.shapes: dict[Key, tuple[int, int]] = {}
        keys: dict = {}
        for n in d.order:
            if not n.name:
                continue
            section = {"param": "param", "data": "data"}.get(n.kind, "forward")
            keys[d.value[n]] = (section, n.name)
            self.shapes[(section, n.name)] = n.shape
            if isinstance(d.delta.get(n), Grad):
                keys[d.delta[n]] = ("deltas", n.name)
        self.keys = keys
        self.formulas: dict[Key, Formula] = {}
        self.order: list[Key] = []  # computation order within a step
        for n in d.order:
            if n.name and not n.is_leaf:
                self.formulas[("forward", n.name)] = Formula(d.forward_defs[n].xreplace(d.anonymous_values), keys)
                self.order.append(("forward", n.name))
        named_deltas = [n for n in reversed(d.order) if n.name and not n.is_leaf and n in d.steps]
        for n in named_deltas:
            self.formulas[("deltas", n.name)] = Formula(d.steps[n].formula, keys)
            self.shapes[("deltas", n.name)] = n.shape
            self.order.append(("deltas", n.name))
        for p in model.trainable:
            key = ("grads", p.name)
            self.shapes[key] = self.shapes[("updated", p.name)] = p.shape
            if p in d.steps:
                self.formulas[key] = Formula(d.steps[p].formula, keys)
            else:  # the loss does not depend on it: its gradient is 0
                self.formulas[key] = Formula(sp.ZeroMatrix(*p.shape), keys)
            self.order.append(key)
        self.order += [("updated", p) for p in self.trainable]
        self.deltas = [n.name for n in named_deltas]
        self.forward = [name for s, name in self.order if s == "forward"]
        self.upstream = {key: self._upstream(key) for key in self.order}
        self.samples = model.samples  # update steps per epoch
        self.per_sample = any(leaf.samples is not None for leaf in model.data)
        self.data = {leaf.name: leaf for leaf in model.data}

    def inputs(self, key: Key) -> list[Key]:
        """The keys ``key`` is computed from in the same step (an update: its parameter and gradient)."""
        if key[0] == "updated":
            return [("param", key[1]), ("grads", key[1])]
        return self.formulas[key].inputs

    def _upstream(self, key: Key) -> frozenset:
        """Every key of the same step that ``key`` is computed from, directly or not."""
        seen, stack = set(), list(self.inputs(key))
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            if k in self.formulas or k[0] == "updated":
                stack.extend(self.inputs(k))
        return frozenset(seen)

    def reached(self, formulas: frozenset, values: frozenset) -> frozenset:
        """The keys recomputed when the formulas of ``formulas`` and the values of ``values`` change."""
        cache = self.__dict__.setdefault("_reached", {})
        if (formulas, values) not in cache:
            changed = formulas | values
            cache[(formulas, values)] = frozenset(k for k in self.order if k in formulas or changed & self.upstream[k])
        return cache[(formulas, values)]

    def step_of(self, k: int) -> tuple[int, int | None]:
        """(epoch, sample) of the 0-based update step ``k``; the sample is None without samples(...) data."""
        epoch, sample = divmod(k, self.samples)
        return epoch + 1, (sample + 1 if self.per_sample else None)

    def index_of(self, epoch: int, sample: int | None) -> int:
        return (epoch - 1) * self.samples + ((sample or 1) - 1)


class Truth:
    """The exercise's training at 50 digits, extended as far as a solution needs (shared)."""

    def __init__(self, model):
        self.model = model
        self._steps = iter_steps(model, model.lr, MPMATH)
        self.records: list = []
        self.stopped: str | None = None

    def at(self, k: int):
        """The `StepRecord` of step ``k`` (0-based), or None when training stopped before it."""
        while len(self.records) <= k and self.stopped is None:
            record = next(self._steps)
            self.records.append(record)
            self.stopped = record.stopped
        return self.records[k] if k < len(self.records) else None

    def value(self, k: int, key: Key):
        r = self.at(k)
        section, name = key
        table = {"forward": r.forward, "deltas": r.deltas, "grads": r.grads, "updated": r.updated,
                 "param": r.params}[section]
        return table[name]


@dataclass
class Scenario:
    """A hypothesis under which one key is evaluated: formulas replaced (a mistake), values
    replaced (other parameters, an input moved by its rounding), in one precision."""

    formulas: dict = field(default_factory=dict)  # key -> Formula, or for ("updated", p) a function
    values: dict = field(default_factory=dict)  # key -> tensor
    precision: str = MPMATH
    state: dict | None = None  # optimizer state per parameter to use instead of the author's
    reached: frozenset | None = None  # filled on first use: the keys this scenario recomputes


class AuthorWorld:
    """One solution's replay: every key at every step as its author has it.

    ``written`` maps ``(k, section, name)`` to ``{(i, j): 50-digit value}``.  Steps must be
    visited in order (`advance`); a step's keys are computed on demand and kept.
    """

    def __init__(self, quantities: Quantities, written: dict, lr: mpmath.mpf, truth: Truth | None = None):
        self.q = quantities
        self.written = written
        self.lr = lr
        # before the first written value the author's world is the true one: read, not recomputed
        self.truth = truth
        self.start = min((k for k, _, _ in written), default=0) if truth is not None else 0
        model = quantities.model
        self.optimizer = self._optimizer(model, MPMATH)
        self.optimizer_float = self._optimizer(model, FLOAT64)
        self._memo: dict[int, dict] = {}
        self._params: dict = {}  # (k, name) -> the author's parameter in step k
        self.stateful = model.optimizer != "sgd"
        self._floats: dict[int, dict] = {}  # the author's tensors in float64, for quick screening
        self._states: dict[int, dict] = {-1: {p: {} for p in quantities.trainable}}
        self._initial = {p.name: to_mp(p.value) for p in model.params}
        self._data: dict = {}

    @staticmethod
    def _optimizer(model, precision: str):
        number = mp_number if precision == MPMATH else (lambda x: float(sp.Rational(x)))
        return OPTIMIZERS[model.optimizer](lr=number(model.lr), beta=number(model.beta), beta1=number(model.beta1),
                                           beta2=number(model.beta2), eps=number(model.eps))

    # -- the author's tensors -----------------------------------------------------------
    def advance(self, k: int) -> None:
        """Make step ``k`` current: its parameters and the optimizer's state before it resolved
        (everything a later step needs of the past), then older steps forgotten.  Steps are
        visited in order, so nothing is ever recomputed from further back than one step."""
        for p in self.q.trainable:
            if k > 0:
                self._params[(k, p)] = self.tensor(k - 1, ("updated", p))
                if self.stateful:
                    self.state(k - 1, p)
        for old in [s for s in self._memo if s < k - KEPT_STEPS + 1]:
            del self._memo[old]
            self._floats.pop(old, None)
        for old in [key for key in self._params if key[0] < k - 2]:
            del self._params[old]
        for old in [s for s in self._states if s < k - 2]:
            del self._states[old]

    @property
    def kept(self) -> set[int]:
        """The steps whose values are still kept."""
        return set(self._memo)

    def tensor(self, k: int, key: Key) -> np.ndarray:
        """The author's value of ``key`` at step ``k``: written entries, the rest computed."""
        section, name = key
        if section == "param":
            return self.param(k, name)
        if section == "data":
            return self.data(k, name)
        memo = self._memo.setdefault(k, {})
        if key in memo:
            return memo[key]
        if k < self.start:
            memo[key] = self.truth.value(k, key)
            return memo[key]
        entries = self.written.get((k, section, name))
        shape = self.q.shapes[key]
        if entries and len(entries) == shape[0] * shape[1]:
            value = np.empty(shape, dtype=object)
        else:
            value = np.array(self.computed(k, key), dtype=object, copy=True)
        for index, w in (entries or {}).items():
            value[index] = w
        memo[key] = value
        return value

    def param(self, k: int, name: str) -> np.ndarray:
        """The author's value of parameter ``name`` in step ``k``: the update of step ``k − 1``."""
        if k == 0 or name not in self.q.trainable:
            return self._initial[name]
        if (k, name) not in self._params:
            self._params[(k, name)] = self.tensor(k - 1, ("updated", name))
        return self._params[(k, name)]

    def data(self, k: int, name: str) -> np.ndarray:
        leaf = self.q.data[name]
        sample = k % self.q.samples if leaf.samples is not None else None
        if (name, sample) not in self._data:
            self._data[(name, sample)] = to_mp(leaf.samples[sample] if sample is not None else leaf.value)
        return self._data[(name, sample)]

    def computed(self, k: int, key: Key, scenario: Scenario | None = None) -> np.ndarray:
        """``key`` at step ``k`` from the author's values of what it is computed from (never from
        its own written entries), under ``scenario`` if given."""
        scenario = scenario or Scenario()
        return self._evaluate(k, key, scenario, {}, target=True)

    def _evaluate(self, k: int, key: Key, s: Scenario, memo: dict, target: bool = False) -> np.ndarray:
        if key in s.values:
            return s.values[key]
        if key in memo:
            return memo[key]
        section, name = key
        if s.reached is None:  # the keys the scenario changes: its own and all computed from them
            s.reached = self.q.reached(frozenset(s.formulas), frozenset(s.values))
        if not (target or key in s.reached) or section in ("param", "data"):
            return self.tensor(k, key) if s.precision == MPMATH else self.floats(k, key)
        if section == "updated":
            p = self._evaluate(k, ("param", name), s, memo)
            g = self._evaluate(k, ("grads", name), s, memo)
            state = dict((s.state or {}).get(name, self.state(k - 1, name)))
            step = s.formulas.get(key)
            value = step(self, k, name, p, g, state) if step is not None else self.update(p, g, state, s.precision)
        else:
            formula = s.formulas.get(key, self.q.formulas[key])
            value = formula({i: self._evaluate(k, i, s, memo) for i in formula.inputs}, s.precision)
        if not target:  # what the author wrote stays what they wrote
            entries = self.written.get((k, section, name))
            if entries:
                value = np.array(value, copy=True)
                if s.precision == MPMATH:
                    for index, w in entries.items():
                        value[index] = w
                else:
                    rows, cols, floats = self._written_floats(k, key)
                    value[rows, cols] = floats
        memo[key] = value
        return value

    def floats(self, k: int, key: Key) -> np.ndarray:
        """The author's tensor in float64 (kept per step)."""
        floats = self._floats.setdefault(k, {})
        if key not in floats:
            floats[key] = np.asarray(self.tensor(k, key), dtype=np.float64)
        return floats[key]

    def _written_floats(self, k: int, key: Key):
        cache = self._floats.setdefault(k, {})
        if ("written", key) not in cache:
            entries = self.written[(k, *key)]
            indices = list(entries)
            cache[("written", key)] = ([i for i, _ in indices], [j for _, j in indices],
                                       np.array([float(entries[i]) for i in indices]))
        return cache[("written", key)]

    # -- the optimizer ------------------------------------------------------------------
    def update(self, p, g, state: dict, precision: str = MPMATH) -> np.ndarray:
        """The optimizer's step from ``p`` with gradient ``g`` (``state`` is updated in place)."""
        if precision == MPMATH:
            with mpmath.workdps(DIGITS):
                return self.optimizer.step(p, g, state, mp_sqrt)
        state.update({k: (np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray) else v)
                      for k, v in state.items()})
        with np.errstate(all="ignore"):
            return self.optimizer_float.step(p, g, state, np.sqrt)

    def state(self, k: int, name: str) -> dict:
        """The optimizer's state for ``name`` after step ``k`` as the author has it (−1: before the first).

        For momentum, where the author wrote the update, the buffer is the one their update
        implies: b = (p − p′)/η — their next step starts from what they did."""
        if not self.stateful:  # plain gradient descent keeps nothing between steps
            return {}
        states = self._states.setdefault(k, {})
        if name in states:
            return states[name]
        state = dict(self.state(k - 1, name)) if k > 0 else {}
        with mpmath.workdps(DIGITS):
            self.optimizer.step(self.param(k, name), self.tensor(k, ("grads", name)), state, mp_sqrt)
            entries = self.written.get((k, "updated", name))
            if entries and "buf" in state:
                buf = np.array(state["buf"], dtype=object, copy=True)
                p = self.param(k, name)
                for index, w in entries.items():
                    buf[index] = (p[index] - w) / self.lr
                state["buf"] = buf
        states[name] = state
        return state


def written_values(items) -> dict:
    """``(k, section, name) -> {(i, j): value}`` from judged-ready items (``.k``, ``.key``, ``.index``, ``.value``)."""
    out: dict = {}
    for item in items:
        out.setdefault((item.k, *item.key), {})[item.index] = item.value
    return out


def exact_constants(model) -> set[Fraction]:
    """The exercise's exact numbers (learning rate, optimizer options, every given value): in
    arithmetic such as ``0.1*(4.47-6)`` they are not rounded."""
    values = [model.lr, model.beta, model.beta1, model.beta2]
    for n in model.nodes:
        if n.is_leaf and isinstance(n.value, sp.MatrixBase):
            values += list(n.value)
    out = set()
    for v in values:
        r = sp.Rational(v)
        if r.is_Rational:
            out.add(Fraction(int(r.p), int(r.q)))
    return out


