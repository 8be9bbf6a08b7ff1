"""Three independent checks of every gradient.

1. **Matrix form**: the derivation's program, evaluated at 50 digits.
2. **Elementwise**: SymPy's own ``diff`` of the scalar loss with respect to each scalar
   entry — no rule of symback's is involved.  Where the expansion is small the difference
   is proved zero symbolically (``exact``); where simplification is inconclusive or the
   expansion is large, both are compared at random points to 50 digits
   (``random points``); a model too large to expand is ``skipped`` with the reason.
3. **Finite differences**: central differences of the float64 loss.  An entry whose
   perturbation crosses a relu kink is labelled ``kink``, not judged.

Any disagreement fails the parameter, naming the entry and both values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from .explicit import explicit, tree_size
from .expr import KINKED
from .numeric import DIGITS, FLOAT64, MPMATH, to_float

#: at most this many trainable scalar entries are expanded symbolically
EXACT_ENTRIES = 64
#: largest loss expression (tree nodes) that is differentiated and simplified exactly
EXACT_TREE = 20_000
#: largest difference handed to sympy.simplify (slow when the difference is not zero)
SIMPLIFY_TREE = 300
#: largest forward expansion (scalar multiply-adds) attempted at all
EXPANSION_LIMIT = 50_000
#: largest univariate expression differentiated at a random point
POINT_TREE = 300_000
#: entries checked per parameter when checking at random points or by finite differences
SAMPLED_ENTRIES = 12
#: entries per parameter differentiated univariately at a point (each costs ~1 s at depth 8)
POINT_ENTRIES = 2
#: agreement of two 50-digit values
AGREE = mpmath.mpf(10) ** -(DIGITS - 20)
#: finite-difference relative error that passes
FD_TOLERANCE = 1e-5


@dataclass
class Mismatch:
    index: tuple[int, int]
    matrix: float
    elementwise: float


@dataclass
class ParamCheck:
    name: str
    matrix: np.ndarray  # mp values at the first step
    elementwise: np.ndarray | None  # mp values from SymPy diff (None: skipped)
    elementwise_method: str  # exact | random points | skipped
    elementwise_ok: bool | None
    fd: np.ndarray  # float64 central differences (NaN where not computed)
    fd_max_rel_err: float | None
    fd_ok: bool | None
    kinks: list[tuple[int, int]] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.elementwise_ok is not False and self.fd_ok is not False


@dataclass
class Verification:
    params: dict[str, ParamCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.params.values())

    def failures(self) -> list[str]:
        lines = []
        for c in self.params.values():
            for m in c.mismatches:
                lines.append(f"∂L/∂{c.name}{list(m.index)}: matrix form {m.matrix!r}, elementwise {m.elementwise!r}")
            if c.fd_ok is False:
                lines.append(f"∂L/∂{c.name}: finite differences disagree (relative error {c.fd_max_rel_err:.3g})")
        return lines


def verify(model) -> Verification:
    """Run all three checks at the model's first update step."""
    program = model.program
    d = model._derivation
    leaf_values = _first_step_values(model)
    with mpmath.workdps(DIGITS):
        _, grads = program.full(leaf_values, MPMATH)
        elementwise = _elementwise(model, d, leaf_values, grads)
    fd = _finite_differences(model, leaf_values)
    checks = {}
    for p in model.trainable:
        matrix = grads[p]
        e_method, e_values, e_ok, reason, mismatches = elementwise[p]
        fd_values, fd_err, kinks = fd[p]
        for m in mismatches:
            m.matrix = float(matrix[m.index])
        checks[p.name] = ParamCheck(
            p.name, matrix, e_values, e_method, e_ok, fd_values, fd_err,
            None if fd_err is None else fd_err <= FD_TOLERANCE, kinks, mismatches, reason,
        )
    return Verification(checks)


def _first_step_values(model) -> list:
    values = []
    for leaf in model.program.leaves:
        values.append(leaf.samples[0] if leaf.samples is not None else leaf.value)
    return values


# -- 2. SymPy's elementwise differentiation -----------------------------------------


def _exact_matrix(value) -> sp.ImmutableMatrix:
    if isinstance(value, np.ndarray):
        return sp.ImmutableMatrix(value.shape[0], value.shape[1], lambda i, j: sp.Rational(float(value[i, j])))
    return sp.ImmutableMatrix(value)


def _expansion_cost(d) -> int:
    cost = 0
    for node in d.order:
        r, c = node.shape
        if node.op == "matmul":
            cost += r * c * node.args[0].shape[1]
        else:
            cost += r * c
    return cost


def _normalise_kinks(e):
    return e.replace(lambda a: isinstance(a, sp.Heaviside), lambda a: sp.Heaviside(a.args[0]))


def _is_zero(e) -> bool:
    e = _normalise_kinks(e)
    if e == 0:
        return True
    size = tree_size(e)
    if size > EXACT_TREE:
        return False
    # simplify() can take minutes on a wrong (non-zero) difference: only for small ones
    for simplify in (sp.expand, sp.cancel) + ((sp.simplify,) if size <= SIMPLIFY_TREE else ()):
        try:
            if simplify(e) == 0:
                return True
        except (sp.PolynomialError, TypeError, ValueError):
            continue
    return False


def _elementwise(model, d, leaf_values, program_grads) -> dict:
    trainable = model.trainable
    entries = sum(p.shape[0] * p.shape[1] for p in trainable)
    cost = _expansion_cost(d)
    result = {}
    if cost > EXPANSION_LIMIT:
        reason = (f"the model is too large to expand elementwise ({cost:,} scalar operations > {EXPANSION_LIMIT:,})")
        for p in trainable:
            result[p] = ("skipped", None, None, reason, [])
        return result

    symbols = {p: sp.ImmutableMatrix(p.shape[0], p.shape[1], lambda i, j, p=p: sp.Symbol(f"{p.name}_{i}{j}", real=True))
               for p in trainable}
    exact_values = dict(zip(model.program.leaves, (_exact_matrix(v) for v in leaf_values)))
    point = {symbols[p][i, j]: exact_values[p][i, j] for p in trainable
             for i in range(p.shape[0]) for j in range(p.shape[1])}

    env = {d.value[leaf]: symbols.get(leaf, exact_values[leaf]) for leaf in model.program.leaves}
    forward = _forward(d, env)
    loss = forward[d.value[d.loss]][0, 0]
    exact = entries <= EXACT_ENTRIES and tree_size(loss) <= EXACT_TREE
    matrix_form = _backward(d, forward) if exact else {}
    rng = random.Random(0)

    for p in trainable:
        g = matrix_form.get(p)
        rows, cols = p.shape
        values = np.full((rows, cols), None, dtype=object)
        mismatches, method = [], "exact" if exact else "random points"
        cells = [(i, j) for i in range(rows) for j in range(cols)]
        if not exact:
            cells = sorted(rng.sample(cells, min(POINT_ENTRIES, len(cells))))
        for i, j in cells:
            s = symbols[p][i, j]
            if exact:
                oracle = sp.diff(loss, s)
                # a cheap numeric screen first: proving a non-zero difference zero can take minutes
                if not _agree_at_random_points(g[i, j], oracle, point, rng, count=1):
                    mismatches.append(Mismatch((i, j), float("nan"), _value(oracle, point)))
                elif not _is_zero(g[i, j] - oracle):
                    method = "random points"
                    if not _agree_at_random_points(g[i, j], oracle, point, rng):
                        mismatches.append(Mismatch((i, j), float("nan"), _value(oracle, point)))
                values[i, j] = sp.N(oracle.xreplace(point), DIGITS)
            else:
                others = {k: sp.Float(v, DIGITS) for k, v in point.items() if k != s}
                uni_env = {d.value[leaf]: (symbols[leaf].xreplace(others) if leaf in symbols else exact_values[leaf])
                           for leaf in model.program.leaves}
                uni_loss = _forward(d, uni_env)[d.value[d.loss]][0, 0]
                if tree_size(uni_loss) > POINT_TREE:
                    reason = f"the loss of {p.name}[{i},{j}] expands to {tree_size(uni_loss):,} terms"
                    result[p] = ("skipped", None, None, reason, [])
                    break
                oracle = sp.diff(uni_loss, s).xreplace({s: sp.Float(point[s], DIGITS)})
                values[i, j] = sp.N(oracle, DIGITS)
                mine = sp.Float(mpmath.nstr(program_grads[p][i, j], DIGITS), DIGITS)
                if abs(mine - values[i, j]) > AGREE * max(1, abs(values[i, j])):
                    mismatches.append(Mismatch((i, j), float("nan"), float(values[i, j])))
        else:
            mp_values = np.array([[mpmath.mpf(str(v)) if v is not None else mpmath.nan for v in row]
                                  for row in values], dtype=object)
            result[p] = (method, mp_values, not mismatches, "" if exact else
                         f"{len(cells)} of {rows * cols} entries at {DIGITS}-digit points", mismatches)
    return result


def _forward(d, env: dict) -> dict:
    env = dict(env)
    for node in d.order:
        if node in d.forward_defs:
            env[d.value[node]] = explicit(d.forward_defs[node], env)
    return env


def _backward(d, env: dict) -> dict:
    env = dict(env)
    grads = {}
    for node in reversed(d.order):
        if node in d.delta_defs and node is not d.loss:
            value = explicit(d.delta_defs[node], env)
            env[d.delta[node]] = value
            if node.kind == "param":
                grads[node] = value
    return grads


def _value(e, point) -> float:
    return float(sp.N(e.xreplace(point), DIGITS))


def _agree_at_random_points(a, b, point, rng, count: int = 3) -> bool:
    """Do ``a`` and ``b`` agree to 50 digits at random points near ``point``?

    Near, not anywhere: far away a relu may be inactive and zero both sides at once.
    """
    symbols = sorted(point, key=lambda s: s.name)
    for _ in range(count):
        at = {s: point[s] * sp.Rational(rng.randint(900, 1100), 1000) + sp.Rational(rng.randint(-50, 50), 1000)
              for s in symbols}
        x = sp.N(_normalise_kinks(a).xreplace(at), DIGITS)
        y = sp.N(_normalise_kinks(b).xreplace(at), DIGITS)
        if not (x.is_number and y.is_number) or abs(x - y) > AGREE * max(1, abs(y)):
            return False
    return True


# -- 3. Finite differences -------------------------------------------------------------


def _finite_differences(model, leaf_values) -> dict:
    program = model.program
    leaves = program.leaves
    base = [np.array(to_float(v) if isinstance(v, np.ndarray) else np.array(v.tolist(), dtype=float), dtype=np.float64)
            for v in leaf_values]
    _, grads = program.full(base, FLOAT64)
    kink_args = [n.args[0] for n in program.nodes if n.op == "apply" and n.attrs["fn"] in KINKED]
    rng = random.Random(1)
    result = {}
    for p in model.trainable:
        k = leaves.index(p)
        rows, cols = p.shape
        fd = np.full((rows, cols), np.nan)
        cells = [(i, j) for i in range(rows) for j in range(cols)]
        if len(cells) > SAMPLED_ENTRIES * 4:
            cells = sorted(rng.sample(cells, SAMPLED_ENTRIES * 4))
        worst, kinks = 0.0, []
        for i, j in cells:
            h = 6e-6 * max(1.0, abs(base[k][i, j]))
            plus, minus = [v.copy() for v in base], [v.copy() for v in base]
            plus[k][i, j] += h
            minus[k][i, j] -= h
            up, down = program.forward(plus, FLOAT64), program.forward(minus, FLOAT64)
            fd[i, j] = (up[model.loss][0, 0] - down[model.loss][0, 0]) / (2 * h)
            if any(np.any(np.sign(up[a]) != np.sign(down[a])) or np.any(up[a] == 0) for a in kink_args):
                kinks.append((i, j))
                continue
            g = float(grads[p][i, j])
            scale = max(abs(g), abs(fd[i, j]), 1e-6)
            worst = max(worst, abs(fd[i, j] - g) / scale)
        result[p] = (fd, worst, kinks)
    return result
