"""What a written number claims, and which rule judges it (SPEC §4, "What a number claims").

By default a number is judged by the digits its author wrote:

* a **decimal** (``0.908``, ``1.5e-3``) claims the exact value rounded *or truncated* to its
  last written digit: σ(2.3) = 0.908877… may be written ``0.909`` (rounded) or ``0.908``
  (truncated: people cut off by hand, which is noted, never a mistake);
* a **whole number** (``0``, ``2``, ``-12``) claims that exact value: ``0`` is not right for 0.4;
* **arithmetic** (``0.1*(4.47-6)``) claims its value up to the rounding of the numbers in it,
  propagated to first order (exact problem constants such as the learning rate excluded).

A course may instead grade with a tolerance (``--rtol``, ``--atol``: |w − x| ≤ atol + rtol·|x|,
as PrairieLearn and ``numpy.isclose`` do), and may ask for a precision (``--min-digits N``): a
number right to its digits but with fewer than N significant digits is ``imprecise``.

Every test also takes a *widening*: how much the rounding of the author's own written inputs
can move the value (``judge.py``), so that a value computed from rounded inputs is not blamed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from ..numeric.program import DIGITS
from .arith import Expression

#: two 50-digit numbers this close (relative) are the same number
SLACK = mpmath.mpf(10) ** -(DIGITS - 15)


@dataclass(frozen=True)
class Grading:
    """How a course grades numbers: by the digits written (the default), or with a tolerance."""

    min_digits: int | None = None
    rtol: float | None = None
    atol: float | None = None

    @property
    def tolerance(self) -> bool:
        return self.rtol is not None or self.atol is not None

    def describe(self) -> str:
        """One sentence for reports: which rule judges the numbers."""
        if self.tolerance:
            return f"numbers within rtol={self.rtol or 0:g}, atol={self.atol or 0:g} of the value are correct"
        text = "a number is correct when it is the value rounded or truncated to its written digits; " \
               "a whole number claims that exact value"
        if self.min_digits:
            text += f"; fewer than {self.min_digits} significant digits is imprecise"
        return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Claim:
    """One written number and what it claims."""

    def __init__(self, expression: Expression, grading: Grading, exact_constants: Collection[Fraction] = ()):
        self.expression = expression
        self.grading = grading
        self.value: mpmath.mpf = expression.value
        self.kind = expression.kind
        self.half = expression.rounding(exact_constants)
        self.unit = expression.unit if self.kind == "decimal" else mpmath.mpf(0)
        lit = expression.literals[0]
        self._scientific = self.kind == "decimal" and ("e" in lit.text or "E" in lit.text)
        self._decimals = len(lit.text.split(".")[1]) if self.kind == "decimal" and "." in lit.text and \
            not self._scientific else 0
        # for a quick float64 answer where the value is clearly outside everything this number accepts
        self._float = self.float = float(self.value)
        reach = float(max(self.half, self.unit))
        if grading.tolerance:
            self._reach, self._relative = (grading.atol or 0) + reach, grading.rtol or 0
        else:
            self._reach, self._relative = reach, 0.0
        # and where a value is clearly right: within half a unit by a margin float64 cannot blur
        self._inside = None
        if not grading.tolerance and self.kind != "whole" and self.half > 0:
            self._inside = float(self.half) * (1 - 1e-9)

    # -- the tests ------------------------------------------------------------------------
    def accepts(self, x, widening=0, xf: float | None = None) -> str | None:
        """The rule under which this number is right for the exact value ``x`` (``widening``
        added to every allowance), or None.  ``xf``: ``x`` in float64, when the caller has it."""
        xf = float(x) if xf is None else xf
        gap, noise = abs(xf - self._float), 1e-12 * max(1.0, abs(xf), abs(self._float))
        if gap > 2 * (self._reach + self._relative * abs(xf) + float(widening)) + noise:
            return None  # clearly outside, whatever the float64 rounding: no 50-digit arithmetic needed
        if self._inside is not None and noise < gap < self._inside + float(widening) - noise:
            # clearly inside its rounding (not at its edge, not exactly equal)
            return self._digits("rounded to") if self.kind == "decimal" else "arithmetic on rounded numbers"
        with mpmath.workdps(DIGITS):  # a difference of 50-digit numbers, at 50 digits
            return self._accepts(x, widening)

    def _accepts(self, x, widening) -> str | None:
        w = self.value
        slack = SLACK * max(1, abs(x)) + widening
        difference = x - w
        if self.grading.tolerance:
            allowed = (self.grading.atol or 0) + (self.grading.rtol or 0) * abs(x)
            if abs(difference) <= allowed + slack:
                return f"within rtol={self.grading.rtol or 0:g}, atol={self.grading.atol or 0:g}"
            return None
        if abs(difference) <= slack:
            return "exact" if self.kind != "decimal" or difference == 0 else self._digits("rounded to")
        if self.kind == "whole":
            return None
        if abs(difference) <= self.half + slack:
            return self._digits("rounded to") if self.kind == "decimal" else "arithmetic on rounded numbers"
        if self.kind == "decimal" and w != 0:  # cut off toward zero: w ≤ x < w + unit (w > 0), w − unit < x ≤ w (w < 0)
            # (a written zero has no digit to be cut after: "0." for 0.997 is no truncation, only 0 ± ½)
            toward = difference if w > 0 else -difference
            exact_slack = slack - widening
            if -slack <= toward < self.unit - exact_slack + widening:  # the far end is open: w + unit cuts to w + unit
                return self._digits("truncated to")
        return None

    def accepts_float(self, x: float) -> tuple[str | None, bool]:
        """`accepts` for a float64 value: (rule, sure) — sure when the answer is the same a
        rounding error of float64 either side (else the caller computes ``x`` at 50 digits)."""
        if not np.isfinite(x):
            return None, False
        eps = 1e-11 * max(1.0, abs(x))
        low, high = self.accepts(mpmath.mpf(x - eps)), self.accepts(mpmath.mpf(x + eps))
        if low is None and high is None:  # what it accepts is an interval around the written value
            return None, not (x - eps <= self.value <= x + eps)
        return low, low == high

    def accepts_between(self, lo, hi, widening=0) -> str | None:
        """The rule under which this number is right for some value between ``lo`` and ``hi``.

        What a number accepts is an interval around it, so the nearest point of [lo, hi] decides."""
        return self.accepts(min(max(self.value, lo), hi), widening)

    def _digits(self, how: str) -> str:
        if self._scientific or self._decimals == 0:
            return f"{how} {_plural(self.expression.significant or 1, 'significant digit')}"
        return f"{how} {_plural(self._decimals, 'decimal')}"

    def imprecise(self, x) -> bool:
        """Right to its digits but fewer significant digits than the course asks (an exact value never is)."""
        need = self.grading.min_digits
        have = self.expression.significant
        return bool(need) and have is not None and have < need and abs(x - self.value) > SLACK * max(1, abs(x))

    @property
    def radius_float(self) -> float:
        return float(self.radius)

    @property
    def radius(self) -> mpmath.mpf:
        """How far the author's own value may lie from what they wrote, by the written digits alone:
        half a unit in the last place (the judge widens it to the value it was found right for)."""
        if self.grading.tolerance:
            return (self.grading.atol or 0) + (self.grading.rtol or 0) * abs(self.value)
        return self.half

    @property
    def is_bare_zero(self) -> bool:
        """A whole-number 0: never credited as carried unless the author's values give exactly 0."""
        return self.kind == "whole" and self.value == 0
