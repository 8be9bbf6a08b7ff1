"""Naming the mistake behind a wrong value: the catalogue of ``mistakes.py`` tried in turn.

For a gradient, each mutated closed form is evaluated on the author's own inputs and the one
that reproduces most of what they wrote in that tensor wins; for an update, the sign, the
learning rate and the parameters it was applied to; for a forward value, a forgotten
activation or stale parameters; failing all, a slip in the arithmetic.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from ..numeric.formatting import number
from ..numeric.program import DIGITS
from . import mistakes

#: relative agreement of two 50-digit values that are "the same"
SAME = mpmath.mpf(10) ** -(DIGITS - 15)


def diagnose(self, replay, section, name, formula, index, w, tol, carried) -> dict | None:
    """``self`` is the `Checker`.  The catalogued mistake that reproduces the written value ``w`` from the author's own inputs."""
    i, j = index
    digits = self.model.digits
    env = replay.env

    def hit(value, f=None) -> bool:
        slack = tol + abs(value) * SAME
        if abs(w - value) <= slack:
            return True
        return f is not None and abs(w - value) <= slack + replay.widening(f, index)

    def found(code, detail="", expected=""):
        return {"code": code, "message": mistakes.message(code, detail, expected)}

    if section == "grads":
        # the mistake that reproduces the most of what the author wrote in this tensor (an entry
        # alone can be ambiguous: 1 − h² ≈ 2(1 − h) near h = 1 looks like a missing ½)
        entries = replay.written[(replay.r.epoch, replay.r.sample, section, name)]
        best, best_count = None, 0
        for code, detail, mutated in self.mutations[name]:
            try:
                values = mutated(env)
            except (ZeroDivisionError, ValueError, TypeError):
                continue
            if not hit(values[i, j], mutated):
                continue
            # the other entries, to about their written digits (the rounding of the inputs aside)
            count = 1 + sum(abs(e.value - values[k]) <= e.rounding(self.exact_constants) + abs(values[k]) / 1000
                            for k, (_, e) in entries.items() if k != (i, j))
            if count > best_count:
                best, best_count = (code, detail), count
        if best is not None:
            return found(*best, str(sp.Rational(self.model.relu_grad_at_zero)))
        stale_env = {**env, **{p: replay.previous[p] for p in self.trainable}}
        if hit(formula(stale_env)[i, j]) and not hit(carried):
            return found("stale-parameters", "the gradient was computed with the previous epoch's parameters")
    elif section == "updated":
        p, g = formula.param[i, j], formula.grad[i, j]
        slack = replay.widening(formula, index)
        with mpmath.workdps(DIGITS):
            step = carried - p

            def near(value):
                return abs(w - value) <= tol + slack + abs(value) * SAME

            if near(p - step):
                return found("update-sign")
            for factor, what in ((1 / self.lr, "η = 1"), (10, "10 η"), (mpmath.mpf(1) / 10, "η/10"),
                                 (2, "2 η"), (mpmath.mpf(1) / 2, "η/2")):
                if near(p + step * factor):
                    return found("learning-rate", what, number(self.lr, digits))
            if near(replay.previous[name][i, j] + step) and not near(carried):
                return found("stale-parameters", "the update was applied to the previous epoch's parameters "
                             "instead of the ones used in this epoch")
            if near(p - self.lr * 2 * g) or near(p - self.lr * g / 2):
                return found("missing-half")
    elif section == "forward":
        node = self.model.tensor(name)
        if node.op == "apply" and node.args[0].name and hit(env[node.args[0].name][i, j]):
            return found("pre-post-activation", f"{name} is {node.attrs['fn']}({node.args[0].name}): "
                         f"the activation was not applied")
        stale_env = {**env, **{p: replay.previous[p] for p in self.trainable}}
        if hit(formula(stale_env)[i, j], formula) and not hit(carried, formula):
            return found("stale-parameters", "the forward pass used the previous epoch's parameters instead "
                         "of the updated ones")
        if node is self.model.loss and (hit(2 * carried) or hit(carried / 2)):
            return found("missing-half")
    if _slip(w, carried):
        return found("arithmetic", expected=number(carried, digits))
    return None


def _plausible(w, true, diagnosis) -> bool:
    """A wrong value that later work may build on: a named mistake, or within a factor 10 of the truth.

    This keeps a solution from writing nonsense once and then collecting "carried" for
    everything computed from it.
    """
    if diagnosis is not None:
        return True
    if true == 0:
        return abs(w) <= 1
    return mpmath.mpf("0.1") <= abs(w / true) <= 10


def _slip(w, carried) -> bool:
    """A slip in the numbers: a sign, a power of ten, or within 10 % of the right value."""
    if carried == 0:
        return abs(w) < mpmath.mpf("1e-3")
    ratio = w / carried
    if abs(ratio + 1) < mpmath.mpf("1e-3"):
        return True
    for k in range(-3, 4):
        if k and abs(ratio - mpmath.mpf(10) ** k) < mpmath.mpf(10) ** k * mpmath.mpf("1e-3"):
            return True
    return abs(ratio - 1) < mpmath.mpf("0.1")
