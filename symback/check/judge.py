"""Judging each written value: correct, imprecise, carried or wrong — by what it depends on.

For one solution (`Marking`), every written entry of every key, step by step in computation
order, is compared with

* the **true** value: right to its written digits (rounded or truncated), or by the course's
  tolerance → ``correct`` (``imprecise`` with too few digits for ``--min-digits``);
* the value that follows from the author's own written values **it is computed from**
  (``replay.AuthorWorld``), widened by how far the rounding of those inputs can move it →
  ``correct`` when those inputs are all right ("correct for your values": the true value and
  the value from your inputs are both shown), ``carried`` when some are wrong — naming them —
  and the wrong ones are plausible slips, else ``wrong`` ("not credited");
* otherwise ``wrong``, and the catalogue is tried (``diagnose.py``).  The same mistake made
  again at a later step on the same quantity is carried from its first occurrence: it is not
  counted twice.

Which written values an entry depends on, and how far their rounding carries, is read off the
data flow (``dataflow.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np

from ..numeric.formatting import entry_text, number
from ..numeric.program import DIGITS, FLOAT64
from .claims import Claim
from .dataflow import DataFlow
from .diagnose import diagnose
from .replay import AuthorWorld, Key, Scenario


@dataclass
class Judged:
    """The verdict on one written entry (or formula, or unreadable part) of a solution."""

    epoch: int | None  # None for a formula or a part of the file outside any step
    sample: int | None
    section: str
    name: str
    index: list[int] | None  # 0-based [row, column]
    written: float | str | None
    expected: float | str | None  # the true value
    status: str  # correct | imprecise | carried | wrong | error
    text: str = ""
    line: int | None = None
    column: int | None = None
    rule: str | None = None  # which rule judged it
    from_your_values: float | None = None  # what the author's own inputs give, where it differs
    carried_from: list[str] = field(default_factory=list)
    diagnosis: dict | None = None
    reason: str | None = None
    shape: tuple[int, int] = (1, 1)
    # internal: where it sits in the replay, and what later values may build on
    k: int | None = None
    key: Key | None = None
    plausible: bool = True
    #: where the author's own value may lie, as offsets below and above what they wrote
    reach: tuple[float, float] = (0.0, 0.0)
    pending: bool = False  # the reach still lacks how far the rounding of its own inputs carries
    ordinal: int = 0  # its place in the replay (computation order)

    @property
    def entry(self) -> str:
        """The entry as a teacher writes it, 1-based: ``w1[1, 3]``, ``h[2]``, ``out``."""
        if self.index is None:
            return self.name
        return entry_text(self.name, self.index[0], self.index[1], self.shape)

    def label(self) -> str:
        if self.section == "formulas":
            if self.rule == "shape annotation":  # grade.SHAPE_RULE: a shape under a part of the formula
                return f"shape in ∂L/∂{self.name}"
            return f"formula ∂L/∂{self.name}"
        if self.epoch is None:
            return "the file"
        if self.index is None:  # a whole tensor that cannot be read
            step = f"{self.epoch}" + (f".{self.sample}" if self.sample else "")
            return f"epoch {step} {self.section} {self.name}"
        step = f"{self.epoch}" + (f".{self.sample}" if self.sample else "")
        return f"epoch {step} {self.section} {self.entry}"

    def as_json(self) -> dict:
        """One item of ``--format json``: every key always present (null where it does not apply)."""
        return {"epoch": self.epoch, "sample": self.sample, "section": self.section, "name": self.name,
                "index": self.index, "entry": self.entry if self.index is not None else None, "written": self.written,
                "expected": self.expected, "status": self.status, "rule": self.rule,
                "from_your_values": self.from_your_values, "carried_from": self.carried_from,
                "diagnosis": self.diagnosis, "reason": self.reason, "line": self.line, "column": self.column}


@dataclass
class Entry:
    """A written entry ready to judge: its place in the replay, its claim and its text."""

    k: int
    key: Key
    index: tuple[int, int]
    claim: Claim
    item: object  # the solution.Item

    @property
    def value(self):
        return self.claim.value


def _reach(w: float, lo: float, hi: float) -> tuple[float, float]:
    """Offsets from ``w`` to the ends of the hull of ``w`` and [lo, hi]."""
    return min(0.0, lo - w), max(0.0, hi - w)


def plausible_slip(w, true, diagnosis, scale) -> bool:
    """A wrong value that later work may build on: a named mistake, or off by at most ten times the
    size of the true values of its tensor (``scale``: their largest magnitude) — an entry near 0
    crossing 0 is a slip, not nonsense.  A wrong 0 is never one: a 0 is written for "I don't know".

    This keeps a solution from writing nonsense once and then collecting "carried" for
    everything computed from it."""
    if diagnosis is not None:
        return True
    if w == 0:
        return False
    return abs(w - true) <= 10 * max(abs(true), scale)


class Marking(DataFlow):
    """One solution being judged: its author's world, the verdicts so far, and what depends on what."""

    def __init__(self, checker, world: AuthorWorld, entries: dict):
        self.checker = checker
        self.q = checker.quantities
        self.world = world
        self.entries = entries  # (k, key) -> {index: Entry}
        self.judged: list[Judged] = []
        self.at: dict = {}  # (k, key, index) -> Judged
        self.first_seen: dict = {}  # (key, code, detail) -> (step, label) of its first occurrence
        self.by_tensor: dict = {}  # (k, key) -> judged entries
        self.mutated: dict = {}  # (k, key) -> the catalogue's replays of that tensor (diagnose.py)
        self._spreads: dict = {}  # (k, key) -> spread in the author's own computation
        self._mistaken = False

    # -- one tensor --------------------------------------------------------------------
    def judge_tensor(self, k: int, key: Key) -> None:
        """Judge every written entry of ``key`` at step ``k`` (its arithmetic at 50 digits)."""
        with mpmath.workdps(DIGITS):
            self._judge_tensor(k, key)

    def _judge_tensor(self, k: int, key: Key) -> None:
        entries = self.entries[(k, key)]
        true = self.checker.truth.value(k, key)
        true_float = np.asarray(true, dtype=np.float64)
        epoch, sample = self.q.step_of(k)
        shape = self.q.shapes[key]
        computed = rough = spread = None
        for index in sorted(entries):
            e = entries[index]
            claim, t, tf = e.claim, true[index], float(true_float[index])
            j = Judged(epoch, sample, key[0], key[1], list(index), claim.float, tf, "wrong",
                       e.item.source or e.item.text, e.item.line, e.item.column, shape=shape, k=k, key=key)
            rule = claim.accepts(t, xf=tf)
            if rule:
                j.status, j.rule = ("imprecise" if claim.imprecise(t) else "correct"), rule
                if j.status == "imprecise":
                    digits = claim.expression.significant
                    j.reason = (f"right to its digits, but {digits} significant digit{'s are' if digits != 1 else ' is'}"
                                f" fewer than the {claim.grading.min_digits} asked")
                # the author's own value: between what they wrote and the truth — or, in a world their
                # earlier mistakes have moved, between what they wrote and what their own values give
                lo = hi = tf
                if self.mistaken:  # only where the author's own values give about what they wrote
                    if rough is None:
                        rough = self.world.computed(k, key, Scenario(precision=FLOAT64))
                    own = float(rough[index])
                    near = 10 * (abs(claim.float - tf) + float(claim.half) + float(claim.unit))
                    if own != tf and abs(own - claim.float) <= near and any(
                            u.status in ("wrong", "carried") for u in self.written_inputs(k, key, index)):
                        if spread is None:
                            spread = self.own_spread(k, key)
                        lo, hi = min(lo, own + spread[0][index]), max(hi, own + spread[1][index])
                j.reach = _reach(claim.float, lo, hi)
                self._record(j)
                continue
            if rough is None:  # float64 decides wherever it is clear; 50 digits where it is close
                rough = self.world.computed(k, key, Scenario(precision=FLOAT64))
            rule, sure = claim.accepts_float(float(rough[index]))
            if sure:
                a = mpmath.mpf(float(rough[index]))
            else:
                if computed is None:
                    computed = self.world.computed(k, key)
                a = computed[index]
                rule = claim.accepts(a)
            j.from_your_values = float(a)
            inputs = self.written_inputs(k, key, index)
            bad = [u for u in inputs if u.status in ("wrong", "carried")]
            if rule is not None:  # what the author's own values give: how far rounding carries is asked later, if ever
                lo, hi = (a, a) if bad else (min(a, t), max(a, t))
                j.pending = True
            else:
                if spread is None:
                    spread = self.own_spread(k, key)
                lo, hi = a + spread[0][index], a + spread[1][index]  # what the author's own values may give
                if not bad:  # right inputs: the truth is what they give without rounding
                    lo, hi = min(lo, t), max(hi, t)
                if not claim.is_bare_zero:
                    rule = claim.accepts_between(lo, hi)
            if rule:
                j.reach = _reach(claim.float, float(lo), float(hi))
                if not bad:
                    j.status, j.rule = "correct", f"correct for your values ({rule})"
                    j.reason = (f"your earlier values give {number(a, 6)} (the exact value is {number(t, 6)}); "
                                "correct for your values")
                elif all(u.plausible for u in bad):
                    j.status, j.rule = "carried", f"from your values ({rule})"
                    j.carried_from = [u.label() for u in sorted(bad, key=lambda u: u.ordinal)]
                else:
                    j.status, j.plausible = "wrong", False
                    nonsense = next(u for u in bad if not u.plausible)
                    j.reason = (f"follows from your {nonsense.label()}, which is too far off to be a slip: "
                                "not credited")
                self._record(j)
                continue
            j.reach = (-float(claim.radius), float(claim.radius))  # a wrong number: its author may have had more digits
            if computed is None:
                computed = self.world.computed(k, key)
            if spread is None:
                spread = self.own_spread(k, key)
            self._diagnose(j, e, k, key, index, computed, spread, entries, bad)
            self._record(j)

    def _diagnose(self, j: Judged, e: Entry, k, key, index, computed, spread, entries, bad) -> None:
        found = diagnose(self, k, key, index, e.claim, computed, spread, entries)
        j.diagnosis, why = found
        if j.diagnosis is None:
            j.reason = why
        # a mistake made on top of nonsense is not something later values may lean on
        true = self.checker.truth.value(k, key)
        scale = max(abs(v) for v in np.ravel(true))
        j.plausible = plausible_slip(e.claim.value, true[index], j.diagnosis, scale) and all(u.plausible for u in bad)
        if j.diagnosis and j.diagnosis["code"] != "arithmetic" and j.plausible:
            first = self.first_seen.get((key, j.diagnosis["code"], j.diagnosis.get("detail")))
            if first is not None and first[0] < k:  # the same mistake again, at a later step: not counted twice
                j.status, j.carried_from = "carried", [first[1]]
                j.reason = f"the same mistake as at {first[1]} ({j.diagnosis['code']}): not counted twice"
            else:
                self.first_seen.setdefault((key, j.diagnosis["code"], j.diagnosis.get("detail")), (k, j.label()))

    @property
    def mistaken(self) -> bool:
        """Whether anything judged so far is wrong or carried (the author's world has moved)."""
        return self._mistaken

    def _record(self, j: Judged) -> None:
        if j.status in ("wrong", "carried"):
            self._mistaken = True
        j.ordinal = len(self.judged)
        self.judged.append(j)
        self.at[(j.k, j.key, tuple(j.index))] = j
        self.by_tensor.setdefault((j.k, j.key), []).append(j)
