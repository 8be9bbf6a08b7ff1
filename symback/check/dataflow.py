"""What a written value depends on, and how far the rounding of those inputs carries.

`DataFlow` is the part of a solution's `judge.Marking` that reads the data flow: the nearest
written values an entry is computed from (through unwritten values of its step, across steps
through the parameters and the optimizer's state), and their *spread* — how far below and above
the value from the author's written inputs their own unrounded values could have taken it.
Entry-by-entry dependencies are read off each formula once, expanded to scalars where it is small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..engine.explicit import explicit
from ..numeric.program import FLOAT64
from .replay import Formula, Key, Scenario

if TYPE_CHECKING:
    from .judge import Judged

#: entry-by-entry dependencies are read off formulas whose inputs have at most this many entries in all;
#: past it an entry depends on every entry of its inputs (carried_from then names whole tensors' entries)
ENTRY_DEPENDENCIES = 4096


class DataFlow:
    """Mixed into `judge.Marking`: it has ``checker``, ``q``, ``world``, ``entries``, ``at``,
    ``by_tensor`` and ``_spreads``."""

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
