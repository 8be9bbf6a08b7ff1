"""Naming the mistake behind a wrong value, or admitting that it is unknown.

Every catalogued mistake (``mistakes.py``) that can show in the value's section is replayed
from the author's own values (``replay.Scenario``); one is named only when it reproduces the
written number within its rounding, and among those the one that reproduces the most of what
the author wrote in that tensor wins (an entry alone can be ambiguous).  An update is judged
through the gradient it implies: the gradient mistakes are tried *through* the optimizer, so
a solution that writes only updates — most hand solutions — is diagnosed like one that writes
gradients.

``arithmetic`` ("the method is right but the arithmetic slipped") is said only when the
method's result is right and the last operation slipped: the value is a typo of the right
one (a sign, one digit, two digits swapped, a power of ten) or within 1 % of it; for an
update, the gradient it implies must be right (or a typo of it), or the written gradient right
and the subtraction slipped.  Otherwise the cause is unknown, and the reason says that the
value is too far off to be a slip.
"""

from __future__ import annotations

from functools import cached_property

import mpmath
import numpy as np
import sympy as sp

from ..engine.derive import derive
from ..engine.expr import scaled, transpose
from ..numeric.formatting import number
from ..numeric.program import DIGITS, FLOAT64, MPMATH
from . import mistakes
from .claims import SLACK
from .mistakes import Mistake
from .replay import Formula, Scenario

#: a near miss: within this share of the right value
NEAR = mpmath.mpf("0.01")


class Catalogue:
    """The catalogue applied to one model: each mistake as formulas and values to replay with.
    Built once per model, on first need (a correct solution never needs it)."""

    def __init__(self, checker):
        self.checker = checker
        self.q = checker.quantities
        self.model = checker.model

    @cached_property
    def mistakes(self) -> list[Mistake]:
        model, d = self.model, self.q.derivation
        return (mistakes.forward_mistakes(model, d) + mistakes.rule_mistakes(model, d) + mistakes.scale_mistakes(model)
                + mistakes.gradient_value_mistakes(model) + mistakes.update_mistakes(model, self.checker.lr))

    def for_section(self, section: str) -> list[Mistake]:
        return [m for m in self.mistakes if section in m.sections]

    def derivation(self, m: Mistake):
        """The derivation with the mistake's rule (cached on the mistake)."""
        if not hasattr(m, "_derivation"):
            model = self.model
            m._derivation = derive(model.loss, model.trainable, model.relu_grad_at_zero, vjps=m.vjps,
                                   substituted=False)
        return m._derivation

    def formulas(self, m: Mistake) -> dict:
        """The keys whose formulas the mistake changes, compiled (cached on the mistake)."""
        if hasattr(m, "_formulas"):
            return m._formulas
        q, d = self.q, self.q.derivation
        out = {}
        if m.vjps:
            changed = self.derivation(m)
            for node, step in changed.steps.items():
                section = "grads" if node.kind == "param" else "deltas"
                key = (section, node.name)
                if key in q.formulas and step.formula != d.steps[node].formula:
                    out[key] = Formula(step.formula, q.keys)
        elif m.scale is not None:
            for key in self.first_keys:
                out[key] = Formula(scaled(m.scale, q.formulas[key].expr), q.keys)
        elif m.forward:
            out = {("forward", name): Formula(expr, q.keys) for name, expr in m.forward.items()}
        elif m.transposed:
            key = ("grads", m.transposed)
            out[key] = Formula(transpose(q.formulas[key].expr), q.keys)
        m._formulas = out
        return out

    @cached_property
    def first_keys(self) -> list:
        """The δ and gradients computed from no other δ: scaling them scales every δ after them."""
        return [key for key in self.q.order if key[0] in ("deltas", "grads")
                and not any(i[0] == "deltas" for i in self.q.inputs(key))]

    def scenario(self, m: Mistake, world, k: int, key, precision: str = MPMATH) -> Scenario | None:
        """The replay of mistake ``m`` for ``key`` at step ``k``; None where it cannot show there."""
        q = self.q
        if m.update is not None:
            if key[0] != "updated":
                return None
            return Scenario(formulas={key: m.update}, precision=precision)
        if m.values is not None:
            values = self._values(m.values, world, k)
            if not values:
                return None
            if precision != MPMATH:
                values = {v: np.asarray(x, dtype=np.float64) for v, x in values.items()}
            return Scenario(values=values, precision=precision)
        formulas = self.formulas(m)
        if not formulas or not any(f == key or f in q.upstream.get(key, ()) for f in formulas):
            return None
        return Scenario(formulas=formulas, precision=precision)

    def apply(self, m: Mistake, world, k: int, key, precision: str = MPMATH) -> np.ndarray | None:
        """``key`` at step ``k`` as the author would have it with mistake ``m``; None where it cannot apply."""
        scenario = self.scenario(m, world, k, key, precision)
        if scenario is None:
            return None
        try:
            value = world.computed(k, key, scenario)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return None
        return value if value is not None and np.shape(value) == tuple(self.q.shapes[key]) else None

    def _values(self, how: str, world, k: int) -> dict:
        q = self.q
        if how == "previous-parameters":
            return {} if k == 0 else {("param", p): world.param(k - 1, p) for p in q.trainable}
        if how == "updated-parameters":
            return {("param", p): world.tensor(k, ("updated", p)) for p in q.trainable}
        if how == "previous-sample":
            if k == 0:
                return {}
            return {("data", leaf.name): world.data(k - 1, leaf.name) for leaf in self.model.data
                    if leaf.samples is not None}
        raise ValueError(how)


def diagnose(marking, k: int, key, index, claim, computed, spread, entries) -> tuple[dict | None, str | None]:
    """The mistake behind a wrong entry, as ``{"code", "message", "detail"}``, or (None, why not).

    ``spread`` is the (low, high) reach of the rounding of the author's inputs (``Marking.spread``)."""
    checker = marking.checker
    world = marking.world
    catalogue = checker.catalogue
    best, best_count = None, 0
    screen = np.asarray(computed, dtype=np.float64)
    reach = float(spread[1][index] - spread[0][index])
    cache = marking.mutated.setdefault((k, key), {})  # a tensor's entries share the replays

    def replayed(m, precision):
        if (id(m), precision) not in cache:
            cache[(id(m), precision)] = catalogue.apply(m, world, k, key, precision)
        return cache[(id(m), precision)]

    for m in catalogue.for_section(key[0]):
        rough = replayed(m, FLOAT64)  # screened in float64 first: most mistakes are far off
        if rough is None or not np.isfinite(float(rough[index])) or float(rough[index]) == screen[index] or \
                not _near(claim, float(rough[index]), 10 * reach + 0.02 * abs(float(rough[index]))):
            continue
        values = replayed(m, MPMATH)
        if values is None or _same(values[index], computed[index]):
            continue  # the mistake does not change this value here: it explains nothing
        # the rounding of the author's inputs carried through the mistaken computation
        if (id(m), "spread") not in cache:
            cache[(id(m), "spread")] = marking.spread(k, key, catalogue.scenario(m, world, k, key, FLOAT64))
        low, high = cache[(id(m), "spread")]
        if not _hit(claim, values[index], low[index], high[index]):
            continue
        count = sum(1 for idx, e in entries.items() if _hit(e.claim, values[idx], low[idx], high[idx]))
        if count > best_count:
            best, best_count = m, count
    if best is not None:
        expected = number(checker.lr, 6) if best.code == "learning-rate" else \
            str(sp.Rational(checker.model.relu_grad_at_zero))
        return {"code": best.code, "message": best.message(expected), "detail": best.detail,
                "expected": expected}, None
    right = computed[index]
    digits = max(checker.model.digits, claim.expression.significant or 0)
    if key[0] == "updated":
        return _update_slip(marking, k, key, index, claim, right, reach, digits)
    if typo(claim, right) or abs(claim.value - right) <= NEAR * abs(right):
        return _arithmetic(right, digits), None
    return None, "too far off to be a slip, and no catalogued mistake gives it"


def _near(claim, value: float, widening: float) -> bool:
    """Whether a float64 value may be accepted at 50 digits (a generous margin for float error)."""
    allowance = float(max(claim.half, claim.unit)) + float(widening) + 1e-9 * max(1.0, abs(value))
    if claim.grading.tolerance:
        allowance += (claim.grading.atol or 0) + (claim.grading.rtol or 0) * abs(value)
    return abs(value - float(claim.value)) <= allowance


def _same(a, b) -> bool:
    return abs(a - b) <= SLACK * max(1, abs(b))


def _hit(claim, value, low=0.0, high=0.0) -> bool:
    """Whether the written number is right for ``value`` moved anywhere from ``low`` to ``high`` (a
    written 0 only for an exact 0)."""
    try:
        if claim.is_bare_zero:
            return claim.accepts(value) is not None
        return claim.accepts_between(value + mpmath.mpf(float(low)), value + mpmath.mpf(float(high))) is not None
    except (TypeError, ValueError):
        return False


def _arithmetic(right, digits: int) -> dict:
    expected = number(right, max(digits, 4))
    return {"code": "arithmetic", "message": mistakes.message("arithmetic", expected=expected), "detail": "",
            "expected": expected}


def _update_slip(marking, k, key, index, claim, right, widening, digits) -> tuple[dict | None, str | None]:
    """An update: a slip only if the gradient it used is right."""
    world, name = marking.world, key[1]
    grads = marking.at.get((k, ("grads", name), tuple(index)))
    if grads is not None and grads.status in ("correct", "imprecise", "carried") and (
            typo(claim, right) or abs(claim.value - right) <= NEAR * abs(right) + widening):
        return _arithmetic(right, digits), None  # the gradient written right, the subtraction slipped
    if typo(claim, right):
        return _arithmetic(right, digits), None
    implied, gradient = implied_gradient(world, k, name, index, claim.value)
    # the implied gradient is not written text: only a near miss counts (a power of ten is a learning-rate mistake)
    if implied is not None and abs(implied - gradient) <= NEAR * abs(gradient):
        return _arithmetic(right, digits), None
    if implied is None:
        return None, "too far off to be a slip, and no catalogued mistake gives it"
    where = marking.at.get((k, key, tuple(index)))
    entry = where.entry if where else name
    return None, (f"the update implies ∂L/∂{entry} = {number(implied, 4)}, where your values give "
                  f"{number(gradient, 4)}: too far off to be a slip, and no catalogued mistake gives it")


def implied_gradient(world, k: int, name: str, index, written) -> tuple:
    """(the gradient an update implies, the gradient from the author's values) for SGD and momentum;
    (None, None) for Adam, whose step hides the gradient's size."""
    optimizer = world.optimizer
    if world.q.model.optimizer == "adam":
        return None, None
    p = world.param(k, name)[index]
    g = world.tensor(k, ("grads", name))[index]
    with mpmath.workdps(DIGITS):
        step = (p - written) / optimizer.lr
        if world.q.model.optimizer == "momentum":
            state = world.state(k - 1, name) if k > 0 else {}
            if "buf" in state:
                step -= optimizer.beta * state["buf"][index]
    return step, g


def typo(claim, right) -> bool:
    """The written number is the right one with a typo: its sign, one digit, two neighbouring
    digits swapped, or a power of ten."""
    if claim.kind not in ("decimal", "whole"):
        return False
    return _typo_value(claim.value, right, claim.expression.literals[0].text)


def _typo_value(w, right, text: str | None = None) -> bool:
    if right == 0:
        return False
    with mpmath.workdps(DIGITS):
        ratio = w / right
        if abs(ratio + 1) < mpmath.mpf("1e-3"):
            return True
        for n in (-3, -2, -1, 1, 2, 3):
            if abs(ratio - mpmath.mpf(10) ** n) < mpmath.mpf(10) ** n * mpmath.mpf("1e-3"):
                return True
    if text is None or "e" in text.lower():
        return False
    decimals = len(text.split(".")[1]) if "." in text else 0
    shown = mpmath.nstr(abs(right), 50, min_fixed=-100, max_fixed=100)
    try:
        shown = f"{float(mpmath.mpf(shown)):.{decimals}f}"
    except (ValueError, OverflowError):
        return False
    a = text.lstrip("+-").lstrip("0").replace(".", "")
    b = shown.lstrip("0").replace(".", "")
    if len(a) != len(b) or a == b:
        return False
    diff = [n for n in range(len(a)) if a[n] != b[n]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


__all__ = ["Catalogue", "diagnose", "typo", "implied_gradient", "MPMATH"]
