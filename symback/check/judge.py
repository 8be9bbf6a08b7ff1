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

Which written values an entry depends on is read off the data flow: the entry's formula,
expanded entry by entry where it is small, and across steps through the parameters and the
optimizer's state, stopping at the nearest written values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from ..engine.explicit import explicit
from ..numeric.formatting import entry_text, number
from ..numeric.program import DIGITS, FLOAT64
from .claims import Claim
from .diagnose import diagnose
from .replay import AuthorWorld, Formula, Key, Scenario

#: entry-by-entry dependencies are read off formulas whose inputs have at most this many entries in all;
#: past it an entry depends on every entry of its inputs (carried_from then names whole tensors' entries)
ENTRY_DEPENDENCIES = 4096


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


class Marking:
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
                       e.item.text, e.item.line, e.item.column, shape=shape, k=k, key=key)
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


    # -- what an entry is computed from ----------------------------------------------------
    def written_inputs(self, k: int, key: Key, index) -> list[Judged]:
        """The nearest written (judged) values that entry ``index`` of ``key`` at step ``k`` is
        computed from: through unwritten values of the same step, the parameters (earlier
        updates) and the optimizer's state, back to what the author wrote."""
        found, seen = {}, set()
        stack = list(self._inputs_of(k, key, tuple(index)))
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            k2, key2, idx2 = node
            judged = self.at.get(node)
            if judged is not None:
                found[id(judged)] = judged
                continue
            stack.extend(self._inputs_of(k2, key2, idx2))
        return list(found.values())

    def _inputs_of(self, k: int, key: Key, index) -> list:
        section, name = key
        if section == "data" or k < 0:
            return []
        if section == "param":
            if k == 0 or name not in self.q.trainable:
                return []
            return [(k - 1, ("updated", name), index)]
        if section == "state":  # the optimizer's state after step k: from its gradients, or implied by the update
            out = [(k, ("grads", name), index), (k - 1, ("state", name), index)]
            if self.q.model.optimizer == "momentum" and (k, ("updated", name), index) in self.at:
                out = [(k, ("updated", name), index), (k, ("param", name), index)]
            return out
        if section == "updated":
            out = [(k, ("param", name), index), (k, ("grads", name), index)]
            if self.q.model.optimizer != "sgd":
                out.append((k - 1, ("state", name), index))
            return out
        return [(k, dep, idx) for dep, idx in self.checker.entry_inputs(key, index)]

    # -- how far rounding carries ----------------------------------------------------------------
    def spread(self, k: int, key: Key, scenario: Scenario | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per entry of ``key``: how far below and above the value from the author's written inputs
        their own unrounded values could have taken it — (low, high) offsets, float64 (a tolerance).

        Each nearest written input entry is moved to the ends of where its author's own value may
        have been (first order, any mix of inputs): a right value as far as the exact one, a carried
        value as far as what their earlier values give (itself with this reach), a wrong value half
        a unit either way.  In the author's computation, or in ``scenario``'s (a mistake's)."""
        world = self.world
        shape = self.q.shapes[key]
        scenario = scenario or Scenario(precision=FLOAT64)
        low, high = np.zeros(shape), np.zeros(shape)
        try:
            base = np.asarray(world.computed(k, key, scenario), dtype=np.float64)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return low, high
        formula = scenario.formulas.get(key, self.q.formulas.get(key))
        direct = None  # the target's own inputs under the scenario: a direct input is moved with one formula call
        if isinstance(formula, Formula):
            memo: dict = {}
            direct = {i: world._evaluate(k, i, scenario, memo) for i in formula.inputs}
        for source, index, reach in self._rounded_sources(k, key, scenario):
            if source in scenario.values:
                continue
            move = max(reach, key=abs)  # one evaluation; the other end to first order, as the rest
            value = np.array(world.floats(k, source), copy=True)
            value[index] += move
            try:
                if direct is not None and source in direct and not any(
                        source in self.q.upstream.get(i, ()) for i in direct if i != source):
                    change = np.asarray(formula({**direct, source: value}, FLOAT64), dtype=np.float64) - base
                else:
                    moved = Scenario(scenario.formulas, {**scenario.values, source: value}, FLOAT64,
                                     self._moved_state(k, source, index, move, scenario.state))
                    change = np.asarray(world.computed(k, key, moved), dtype=np.float64) - base
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                continue
            change = np.where(np.isfinite(change), change, 0)
            for end in reach:
                scaled = change * (end / move)
                low, high = low + np.minimum(scaled, 0), high + np.maximum(scaled, 0)
        return low, high

    def own_spread(self, k: int, key: Key) -> tuple[np.ndarray, np.ndarray]:
        """`spread` in the author's own computation, once per tensor."""
        if (k, key) not in self._spreads:
            self._spreads[(k, key)] = self.spread(k, key)
        return self._spreads[(k, key)]

    def _settled(self, j: Judged) -> tuple[float, float]:
        """The reach of a written value that its author's own values explained directly, now that
        it is asked for: widened by how far the rounding of its own inputs carries (while its step
        is still kept; past that, half a unit more either way)."""
        if not j.pending:
            return j.reach
        j.pending = False
        if j.k in self.world.kept:
            low, high = self.own_spread(j.k, j.key)
            a = j.from_your_values
            j.reach = (min(j.reach[0], a + float(low[tuple(j.index)]) - j.written),
                       max(j.reach[1], a + float(high[tuple(j.index)]) - j.written))
        else:
            half = float(self.entries[(j.k, j.key)][tuple(j.index)].claim.half)
            j.reach = (j.reach[0] - half, j.reach[1] + half)
        return j.reach

    def _moved_state(self, k: int, source: Key, index, move: float, state: dict | None) -> dict | None:
        """With momentum, a written update also sets the buffer the next step starts from,
        b = (p − p′)/η: moving the update moves the buffer too."""
        section, name = source
        if section != "param" or k == 0 or self.q.model.optimizer != "momentum" or \
                (k - 1, ("updated", name), tuple(index)) not in self.at:
            return state
        previous = dict((state or {}).get(name, self.world.state(k - 1, name)))
        if "buf" not in previous:
            return state
        buf = np.array(previous["buf"], dtype=np.float64, copy=True)
        buf[index] -= move / float(self.world.lr)
        return {**(state or {}), name: {**previous, "buf": buf}}

    def _rounded_sources(self, k: int, key: Key, scenario: Scenario | None = None) -> list:
        """The nearest written input entries of ``key`` (in ``scenario``'s formulas where it changes
        them: a derivative taken at the output reads the output): (key, index, reach)."""
        formulas = scenario.formulas if scenario is not None else {}

        def inputs(k_):
            f = formulas.get(k_)
            return f.inputs if isinstance(f, Formula) else self.q.inputs(k_)

        sources, seen = [], set()
        stack = list(inputs(key))
        while stack:
            source = stack.pop()
            if source in seen:
                continue
            seen.add(source)
            section, name = source
            where = (k - 1, ("updated", name)) if section == "param" else (k, source)
            written = self.by_tensor.get(where, []) if section != "data" else []
            if written:
                sources += [(source, tuple(j.index), self._settled(j)) for j in written]
                sources = [s for s in sources if any(s[2])]
            elif section not in ("param", "data"):
                stack.extend(inputs(source))
        return sources


def _entry_symbols(symbol, key_index: int) -> sp.ImmutableMatrix:
    rows, cols = (int(n) for n in symbol.shape)
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"e{key_index}_{i}_{j}"))


def entry_dependencies(formula) -> dict | None:
    """For each entry of ``formula``'s result, the input entries it reads: ``{(i, j): [(key, (a, b))]}``;
    None when the inputs are too large to expand (every entry then reads every input entry)."""
    sizes = [int(s.shape[0]) * int(s.shape[1]) for s in formula.symbols]
    if sum(sizes) > ENTRY_DEPENDENCIES:
        return None
    env = {s: _entry_symbols(s, n) for n, s in enumerate(formula.symbols)}
    try:
        matrix = explicit(formula.expr, env)
    except (KeyError, TypeError, ValueError, NotImplementedError):
        return None
    out = {}
    for (i, j), e in np.ndenumerate(np.array(matrix.tolist(), dtype=object)):
        deps = []
        for s in sorted(getattr(e, "free_symbols", ()), key=lambda s: s.name):
            n, a, b = (int(x) for x in s.name[1:].split("_"))
            deps.append((formula.inputs[n], (a, b)))
        out[(i, j)] = deps
    return out
