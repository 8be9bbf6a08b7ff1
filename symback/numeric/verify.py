"""Three independent checks of every gradient.

1. **Matrix form**: the derivation's program, evaluated at 50 digits.
2. **Elementwise**: SymPy's own ``diff`` of scalars — no rule of symback's is involved.
   A small model's whole scalar loss is differentiated by each entry and the difference with
   the matrix form proved zero symbolically (``exact``), or, where the proof is inconclusive,
   compared at random points to 50 digits (``random points``).  A larger model is checked
   ``node by node``: each node's entries are differentiated by its operands' entries and
   chained at 50 digits (linear in depth, every entry).  A model too large to expand is
   ``skipped`` with the reason.
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

from ..engine.explicit import entry_size, explicit, tree_size
from ..engine.expr import KINKED
from ..i18n import N_
from .formatting import entry_text
from .program import DIGITS, FLOAT64, MPMATH, ZERO_TOLERANCE, to_float, to_mp
from .train import defined_at_start

#: at most this many trainable scalar entries are expanded symbolically
EXACT_ENTRIES = 64
#: largest whole loss (tree nodes over the shared DAG) differentiated as one expression; larger
#: models are checked node by node (the seed is 50, the 2-2-2 sigmoid network 103; proving a larger
#: one takes seconds: 5 s for a 4-unit sigmoid layer)
WHOLE_TREE = 120
#: largest difference whose zero is proved (expand, then cancel with exponentials as symbols)
PROOF_TREE = 5_000
#: largest forward expansion (scalar multiply-adds) attempted at all
EXPANSION_LIMIT = 50_000
#: entries checked per parameter by finite differences
SAMPLED_ENTRIES = 12
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
    elementwise_method: str  # exact | random points | node by node | skipped
    elementwise_ok: bool | None
    fd: np.ndarray  # float64 central differences (NaN where not computed)
    fd_max_rel_err: float | None
    fd_ok: bool | None
    kinks: list[tuple[int, int]] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    reason: str = ""
    fd_undefined: list[tuple[int, int]] = field(default_factory=list)  # a difference NaN or infinite there
    #: entries whose double-precision difference could not resolve the derivative, differenced again at
    #: 50 digits (a deep chain's vanishing gradients: 1e-9 beside a loss of 0.3)
    fd_refined: list[tuple[int, int]] = field(default_factory=list)

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
                entry = entry_text(c.name, m.index[0], m.index[1], c.matrix.shape)
                lines.append(f"∂L/∂{entry}: matrix form {m.matrix!r}, elementwise {m.elementwise!r}")
            if c.fd_undefined:
                entries = ", ".join(entry_text(c.name, i, j, c.matrix.shape) for i, j in c.fd_undefined)
                lines.append(f"∂L/∂{c.name}: finite differences are NaN or infinite at {entries}")
            elif c.fd_ok is False:
                lines.append(f"∂L/∂{c.name}: finite differences disagree (relative error {c.fd_max_rel_err:.3g})")
        return lines


def verify(model, progress=None) -> Verification:
    """Run all three checks at the model's first update step.

    ``progress(done, total)``, if given, is called after the elementwise check and after each
    parameter's finite differences (``total`` = 1 + the trainable parameters)."""
    program = model.program
    d = model._derivation
    leaf_values = _first_step_values(model)
    total = 1 + len(model.trainable)
    with mpmath.workdps(DIGITS):
        values, grads = program.full(leaf_values, MPMATH)
        defined_at_start(model, values)
        elementwise = _elementwise(model, d, leaf_values, grads)
    if progress:
        progress(1, total)
    fd = _finite_differences(model, leaf_values, grads,
                             (lambda k: progress(1 + k, total)) if progress else None)
    checks = {}
    for p in model.trainable:
        matrix = grads[p]
        e_method, e_values, e_ok, reason, mismatches = elementwise[p]
        fd_values, fd_err, kinks, undefined, refined = fd[p]
        for m in mismatches:
            m.matrix = float(matrix[m.index])
        checks[p.name] = ParamCheck(
            p.name, matrix, e_values, e_method, e_ok, fd_values, fd_err,
            False if undefined else None if fd_err is None else bool(fd_err <= FD_TOLERANCE), kinks, mismatches,
            reason, undefined, refined,
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
        elif hasattr(d.forward_defs.get(node), "entry_terms"):  # a window or a normalised lane per entry
            cost += r * c * d.forward_defs[node].entry_terms()
        else:
            cost += r * c
    return cost


def _normalise_kinks(e):
    return e.replace(lambda a: isinstance(a, sp.Heaviside), lambda a: sp.Heaviside(a.args[0]))


def _is_zero(e) -> bool:
    e = _normalise_kinks(e)
    if e == 0:
        return True
    if tree_size(e) > PROOF_TREE:
        return False
    # expand settles polynomials in tanh; sigmoid and softmax need cancel, which is fast once each
    # exponential is a symbol (exp(-a) its reciprocal) and slow (seconds) otherwise
    provers = (sp.expand, lambda x: sp.cancel(_exponentials_as_symbols(x)))
    for prove in provers[::-1] if e.has(sp.exp) else provers:
        try:
            if prove(e) == 0:
                return True
        except (sp.PolynomialError, TypeError, ValueError):
            continue
    return False


def _expands_to_zero(e) -> bool:
    e = _normalise_kinks(e)
    if e == 0:
        return True
    if e.has(sp.exp):  # expand is slow and inconclusive there: left to _is_zero's cancel
        return False
    try:
        return tree_size(e) <= PROOF_TREE and sp.expand(e) == 0
    except (sp.PolynomialError, TypeError, ValueError):
        return False


def _exponentials_as_symbols(e):
    table: dict = {}

    def symbol(x):
        a = x.args[0]
        negative = a.could_extract_minus_sign()
        s = table.setdefault(-a if negative else a, sp.Dummy(f"E{len(table)}", positive=True))
        return 1 / s if negative else s

    return e.replace(lambda x: isinstance(x, sp.exp), symbol)


def _elementwise(model, d, leaf_values, program_grads) -> dict:
    trainable = model.trainable
    entries = sum(p.shape[0] * p.shape[1] for p in trainable)
    cost = _expansion_cost(d)
    if cost > EXPANSION_LIMIT:
        # English in result.json, in the document's language in a document (i18n.Message)
        reason = N_("the model is too large to expand elementwise (%(cost)s scalar operations > %(limit)s)",
                    cost=f"{cost:,}", limit=f"{EXPANSION_LIMIT:,}")
        return {p: ("skipped", None, None, reason, []) for p in trainable}
    if entries <= EXACT_ENTRIES and _loss_size(d) <= WHOLE_TREE:
        symbols = {p: sp.ImmutableMatrix(p.shape[0], p.shape[1],
                                         lambda i, j, p=p: sp.Symbol(f"{p.name}_{i}{j}", real=True)) for p in trainable}
        exact_values = dict(zip(model.program.leaves, (_exact_matrix(v) for v in leaf_values)))
        env = {d.value[leaf]: symbols.get(leaf, exact_values[leaf]) for leaf in model.program.leaves}
        forward = _forward(d, env)
        loss = forward[d.value[d.loss]][0, 0]
        if tree_size(loss) <= WHOLE_TREE:
            return _whole_loss(d, trainable, symbols, exact_values, forward, loss,
                               sp.Rational(model.relu_grad_at_zero))
    return _node_by_node(model, d, leaf_values, program_grads)


def _loss_size(d) -> int:
    """An upper bound on the whole scalar loss's tree size, measured before it is built: each node's
    entry size from its operands' (``entry_size``).  Building it first and measuring after took
    time exponential in depth for small layers (a 2×2 relu chain of 12: minutes)."""
    sizes: dict = {}
    for node in d.order:
        if node in d.forward_defs:
            sizes[d.value[node]] = entry_size(d.forward_defs[node], sizes)
    return sizes.get(d.value[d.loss], 1)


def _whole_loss(d, trainable, symbols, exact_values, forward, loss, at_zero) -> dict:
    """SymPy's ``diff`` of the whole scalar loss by every entry; the difference with the matrix
    form proved zero (``exact``), else compared at random points near the point; and at the point
    itself, where a relu argument of exactly 0 takes the model's relu′(0) (``at_zero``) — the proof
    and the random points are blind to that convention."""
    point = {symbols[p][i, j]: exact_values[p][i, j] for p in trainable
             for i in range(p.shape[0]) for j in range(p.shape[1])}
    matrix_form = _backward(d, forward)
    rng = random.Random(0)
    result = {}
    for p in trainable:
        g = matrix_form[p]
        rows, cols = p.shape
        values = np.full((rows, cols), None, dtype=object)
        mismatches, method = [], "exact"
        for i in range(rows):
            for j in range(cols):
                oracle = _at_kinks(sp.diff(loss, symbols[p][i, j]), at_zero)
                if _expands_to_zero(g[i, j] - oracle):  # the common case, proved in milliseconds
                    pass
                # else a numeric screen first: proving a non-zero difference zero can take minutes
                elif not _agree_at_random_points(g[i, j], oracle, point, rng, count=1):
                    mismatches.append(Mismatch((i, j), float("nan"), _value(oracle, point)))
                elif not _is_zero(g[i, j] - oracle):
                    method = "random points"
                    if not _agree_at_random_points(g[i, j], oracle, point, rng):
                        mismatches.append(Mismatch((i, j), float("nan"), _value(oracle, point)))
                values[i, j] = mpmath.mpf(str(sp.N(oracle.xreplace(point), DIGITS)))
                if not any(m.index == (i, j) for m in mismatches):
                    here = mpmath.mpf(str(sp.N(g[i, j].xreplace(point), DIGITS)))
                    if abs(here - values[i, j]) > AGREE * max(1, abs(values[i, j])):
                        mismatches.append(Mismatch((i, j), float("nan"), float(values[i, j])))
        result[p] = (method, values, not mismatches, "", mismatches)
    return result


def _node_by_node(model, d, leaf_values, program_grads) -> dict:
    """Reverse mode over scalars: every node's entries written out in its operands' entries,
    SymPy's ``diff`` of each entry by each operand entry, chained at 50 digits.

    No rule of symback's is involved (only each operation's scalar meaning), every entry of
    every parameter is checked, and the cost is linear in the depth: no expression is ever
    expanded through more than one node.  Relu arguments within ZERO_TOLERANCE of 0 are 0,
    where relu′ takes the model's convention.
    """
    precision = DIGITS + 10
    at_zero = sp.Rational(model.relu_grad_at_zero)
    values: dict = {}  # node symbol -> explicit matrix of Floats
    for leaf, v in zip(model.program.leaves, leaf_values):
        m = _exact_matrix(v)
        values[d.value[leaf]] = m.applyfunc(lambda x: sp.Float(x, precision))
    local: dict = {}  # op node -> (entries in operand-entry symbols, operand-entry symbol -> (operand, i, j))
    for node in d.order:
        if node not in d.forward_defs:
            continue
        definition = d.forward_defs[node]
        operands = sorted((m for m in definition.free_symbols if isinstance(m, sp.MatrixSymbol)), key=str)
        env, where = {}, {}
        for m in operands:
            rows, cols = (int(k) for k in m.shape)
            entry = sp.ImmutableMatrix(rows, cols, lambda i, j, m=m: sp.Dummy(f"{m.name}_{i}{j}"))
            env[m] = entry
            where.update({entry[i, j]: (m, i, j) for i in range(rows) for j in range(cols)})
        entries = explicit(definition, env)
        local[node] = (entries, where)
        numbers = {s: values[m][i, j] for s, (m, i, j) in where.items()}
        values[d.value[node]] = entries.applyfunc(lambda e, at=numbers: _snap(sp.sympify(e).xreplace(at).evalf(precision)))

    adjoint = {d.value[d.loss]: sp.ones(1, 1)}
    for node in reversed(d.order):
        symbol = d.value[node]
        if node not in local or symbol not in adjoint:
            continue
        entries, where = local[node]
        numbers = {s: values[m][i, j] for s, (m, i, j) in where.items()}
        upstream = adjoint[symbol]
        for (i, j), weight in np.ndenumerate(np.array(upstream.tolist(), dtype=object)):
            if weight == 0:
                continue
            for term in _terms(sp.sympify(entries[i, j])):
                for s in term.free_symbols & where.keys():
                    partial = _at_kinks(sp.diff(term, s), at_zero).xreplace(numbers)
                    m, r, c = where[s]
                    if m not in adjoint:
                        adjoint[m] = sp.zeros(*(int(k) for k in m.shape))
                    adjoint[m][r, c] += weight * partial.evalf(precision)

    result = {}
    for p in model.trainable:
        rows, cols = p.shape
        oracle = adjoint.get(d.value[p], sp.zeros(rows, cols))
        found = np.array([[mpmath.mpf(str(sp.N(oracle[i, j], DIGITS))) for j in range(cols)] for i in range(rows)],
                         dtype=object)
        mismatches = [Mismatch((i, j), float("nan"), float(found[i, j])) for i in range(rows) for j in range(cols)
                      if abs(program_grads[p][i, j] - found[i, j]) > AGREE * max(1, abs(found[i, j]))]
        result[p] = ("node by node", found, not mismatches, f"all {rows * cols} entries, chained at {DIGITS} digits",
                     mismatches)
    return result


def _terms(e) -> tuple:
    """The summands of ``e`` (distributing a number over a sum): d/ds of a sum is the sum of the
    d/ds of the summands that hold s, which keeps a k-term entry at O(k) work instead of O(k²)."""
    coefficient, rest = e.as_coeff_Mul()
    if isinstance(rest, sp.Add):
        return tuple(coefficient * t for t in rest.args)
    return sp.Add.make_args(e)


def _at_kinks(e, at_zero):
    """relu′ = Heaviside with the model's value at 0 (SymPy's default is 1/2)."""
    if not e.has(sp.Heaviside):
        return e
    return e.replace(lambda a: isinstance(a, sp.Heaviside), lambda a: sp.Heaviside(a.args[0], at_zero))


def _snap(v):
    return sp.Integer(0) if v.is_Number and abs(v) <= ZERO_TOLERANCE else v


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


def _finite_differences(model, leaf_values, exact_grads, progress=None) -> dict:
    """Central differences of the loss in float64, step 6e-6 (scaled by the entry).

    Where one disagrees with the gradient beyond FD_TOLERANCE, that entry is differenced again at
    50 digits with step 1e-15: float64's difference has an error of about ε·|L|/h ≈ 2e-11 |L|,
    which is all of a vanishing gradient (a depth-32 tanh chain's first layers), while the 50-digit
    one's is about h² ≈ 1e-30.  A wrong gradient still disagrees there."""
    program = model.program
    leaves = program.leaves
    base = [np.array(to_float(v) if isinstance(v, np.ndarray) else np.array(v.tolist(), dtype=float), dtype=np.float64)
            for v in leaf_values]
    _, grads = program.full(base, FLOAT64)
    kink_args = [n.args[0] for n in program.nodes if n.op == "apply" and n.attrs["fn"] in KINKED]
    pooled = [n for n in program.nodes if n.op == "max_pool2d"]
    rng = random.Random(1)
    result, exact_leaves = {}, None
    for p in model.trainable:
        k = leaves.index(p)
        rows, cols = p.shape
        fd = np.full((rows, cols), np.nan)
        cells = [(i, j) for i in range(rows) for j in range(cols)]
        if len(cells) > SAMPLED_ENTRIES * 4:
            cells = sorted(rng.sample(cells, SAMPLED_ENTRIES * 4))
        worst, kinks, undefined, refined = None, [], [], []
        for i, j in cells:
            h = 6e-6 * max(1.0, abs(base[k][i, j]))
            plus, minus = [v.copy() for v in base], [v.copy() for v in base]
            plus[k][i, j] += h
            minus[k][i, j] -= h
            up, down = program.forward(plus, FLOAT64), program.forward(minus, FLOAT64)
            fd[i, j] = (up[model.loss][0, 0] - down[model.loss][0, 0]) / (2 * h)
            # across a kink: an argument entry this step moves from one side of 0 to the other (or onto
            # it); an entry at 0 that the step does not move is no crossing (W2 does not move X W1 + b1)
            if any(np.any((np.sign(up[a]) != np.sign(down[a])) | ((up[a] == 0) & (up[a] != down[a]))
                          | ((down[a] == 0) & (up[a] != down[a]))) for a in kink_args) \
                    or any(_pool_kink(n, up[n.args[0]], down[n.args[0]]) for n in pooled):
                kinks.append((i, j))
                continue
            g = float(grads[p][i, j])
            if not (np.isfinite(fd[i, j]) and np.isfinite(g)):  # NaN or infinity: a check that did not run
                undefined.append((i, j))
                continue
            error = abs(fd[i, j] - g) / max(abs(g), abs(fd[i, j]), 1e-6)
            if error > FD_TOLERANCE:
                exact_leaves = exact_leaves or [to_mp(v) for v in leaf_values]
                fd[i, j], error = _refined(model, exact_leaves, k, (i, j), exact_grads[p][i, j])
                refined.append((i, j))
            worst = max(worst or 0.0, error)  # None while no entry is judged
        result[p] = (fd, worst, kinks, undefined, refined)
        if progress:
            progress(len(result))
    return result


def _pool_kink(node, up, down) -> bool:
    """Whether the difference crosses a max-pool's kink: a window's maxima differ between the two sides,
    or a window's maximum is tied on either side and one of the tied entries moved (a smaller entry
    that moves changes no maximum, and is differenced as usual)."""
    (kr, kc), (sr, sc) = node.attrs["window"], node.attrs["stride"]
    sides = [np.lib.stride_tricks.sliding_window_view(v, (kr, kc))[::sr, ::sc] for v in (up, down)]
    first, second = (w.reshape(*w.shape[:2], kr * kc) for w in sides)
    top = [w == w.max(axis=-1, keepdims=True) for w in (first, second)]
    tied = (top[0].sum(axis=-1) > 1) | (top[1].sum(axis=-1) > 1)
    moved_maximum = np.any((first != second) & (top[0] | top[1]), axis=-1)
    return bool(np.any(np.any(top[0] != top[1], axis=-1) | (tied & moved_maximum)))


def _refined(model, leaf_values, k: int, index: tuple[int, int], exact) -> tuple[float, float]:
    """The central difference of one entry at 50 digits, and its relative error to ``exact``.

    ``leaf_values`` are the leaves as mpmath object arrays (``to_mp``)."""
    with mpmath.workdps(DIGITS):
        h = mpmath.mpf(10) ** -15 * max(1, abs(leaf_values[k][index]))
        sides = []
        for sign in (1, -1):
            values = list(leaf_values)
            values[k] = leaf_values[k].copy()
            values[k][index] += sign * h
            sides.append(model.program.forward(values, MPMATH)[model.loss][0, 0])
        difference = (sides[0] - sides[1]) / (2 * h)
        scale = max(abs(exact), abs(difference), mpmath.mpf(10) ** -(DIGITS - 10))
        return float(difference), float(abs(difference - exact) / scale)
