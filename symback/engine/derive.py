"""The engine: one reverse pass over the graph, every derivative taken from the rule registry.

The pass writes, for every node, its value in terms of its operands' values and its
upstream gradient δ in terms of its consumers' δ — both as SymPy matrix expressions over
one symbol per node, so nothing swells with depth and a 784×128 layer costs what a 2×3
one does.  From that one program come:

* the *steps* a teacher writes, at the granularity of the model's named quantities
  (anonymous intermediates such as ``x.T @ w1`` are folded into the named node they feed);
* per parameter, the closed form with named intermediates, and fully substituted;
* the straight-line program that ``numeric.py`` prints as NumPy code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sympy as sp

from .explicit import tree_size
from .expr import ALL, ONE, Apply, Broadcast, Grad, LogSoftmax, Reduce, Softmax, add
from .graph import Tensor, topological_order
from .rules import Context, rule_for, rule_key

#: closed forms longer than this (nodes of the untidied tree) are neither tidied nor printed up front:
#: a chain's are as deep as the parameter is far from the loss, so all of them together grow as depth²
CLOSED_LIMIT = 160
#: substituted closed forms longer than this (nodes of the expression tree) are not displayed: nobody
#: reads them, and tidying them was most of a deep chain's derivation time (depth 32: 0.76 s -> 0.43 s)
SUBSTITUTED_LIMIT = 600


@dataclass
class Step:
    """δ of one named quantity, written in the named quantities around it."""

    node: Tensor
    formula: sp.MatrixExpr
    rules: list[tuple[str, str]]  # (operation, what the rule says), in the order applied


@dataclass
class Gradient:
    """Everything derived about ∂L/∂param."""

    param: Tensor
    steps: list[Step]
    formula: sp.MatrixExpr  # in the δ of the nearest named quantities
    raw_closed: sp.MatrixExpr  # every δ substituted, not yet tidied
    substituted: sp.MatrixExpr | None  # down to parameters and data (None: too long to show)

    @cached_property
    def short(self) -> bool:
        """Whether the closed form is within CLOSED_LIMIT, so reports print it (measured untidied)."""
        return tree_size(self.raw_closed) <= CLOSED_LIMIT

    @cached_property
    def closed(self) -> sp.MatrixExpr:
        """Every δ substituted; named forward quantities kept.  Tidied on first use: a parameter
        k layers from the loss has a closed form k layers deep, so tidying all of them up front
        was quadratic in depth (a 64-layer chain: 6 s of its derivation)."""
        return tidy(self.raw_closed)

    @property
    def written(self) -> sp.MatrixExpr:
        """The form a summary writes for ∂L/∂param: the closed form when short, else the last step."""
        return self.closed if self.short else self.formula


@dataclass
class Derivation:
    loss: Tensor
    order: list[Tensor]  # operands before results
    value: dict[Tensor, sp.MatrixExpr]  # node -> its symbol (named: the user's name)
    delta: dict[Tensor, sp.MatrixExpr]  # node -> its δ symbol (the loss: 1)
    forward_defs: dict[Tensor, sp.MatrixExpr]  # op node -> value in operand symbols
    delta_defs: dict[Tensor, sp.MatrixExpr]  # node -> δ in consumers' symbols
    trainable: list[Tensor]
    gradients: dict[str, Gradient] = field(default_factory=dict)
    #: value symbol of every anonymous node and constant -> its definition in named quantities
    anonymous_values: dict = field(default_factory=dict)
    #: every named node (parameters included) -> its step: δ in the δ of the named quantities after it
    steps: dict = field(default_factory=dict)
    #: every named node -> its δ with every δ after it substituted (in the named forward quantities), untidied
    closed_deltas: dict = field(default_factory=dict)

    def named(self, node: Tensor) -> bool:
        return node.name is not None


def _symbols(order: list[Tensor]) -> tuple[dict, dict]:
    value, delta = {}, {}
    for k, node in enumerate(order):
        name = node.name or f"_t{k}"
        value[node] = sp.MatrixSymbol(name, *node.shape)
        delta[node] = Grad(f"delta_{name}" if node.name else f"_g{k}", *node.shape)
    return value, delta


def derive(loss: Tensor, trainable: list[Tensor], relu_grad_at_zero=0, vjps: dict | None = None,
           substituted: bool = True) -> Derivation:
    """Derive ∂loss/∂p for every ``p`` in ``trainable``, step by step in matrix form.

    ``vjps`` replaces the registry's vector–Jacobian product of single operands: it maps
    ``(node, operand index)`` to a function ``(δ, Context) -> gradient``.  The mistake catalogue
    (``check/mistakes.py``) derives with a rule changed this way — a derivative left out, taken
    at the output, … — to see what a hand solution with that mistake gives.  ``substituted=False``
    skips the closed forms written down to the parameters (only reports show them).
    """
    vjps = vjps or {}
    order = topological_order(loss)
    value, delta = _symbols(order)
    convention = sp.Rational(relu_grad_at_zero)

    # nodes through which a trainable parameter reaches the loss
    wanted = {id(p) for p in trainable}
    reaches: set[int] = set()
    for node in order:
        if id(node) in wanted or any(id(a) in reaches for a in node.args):
            reaches.add(id(node))

    forward_defs = {}
    contexts = {}
    for node in order:
        if not node.is_leaf:
            ctx = Context(node, value[node], tuple(value[a] for a in node.args), convention)
            contexts[node] = ctx
            forward_defs[node] = rule_for(node).forward(ctx)

    delta[loss] = ONE
    contributions: dict[Tensor, list] = defaultdict(list)
    via: dict[Tensor, list] = defaultdict(list)  # operand → (consumer, operand index, what its rule says)
    delta_defs = {}
    for node in reversed(order):
        if id(node) not in reaches:
            continue
        delta_defs[node] = ONE if node is loss else add(*contributions[node])
        if node.is_leaf:
            continue
        rule = rule_for(node)
        for i, arg in enumerate(node.args):
            if id(arg) in reaches:
                vjp = vjps.get((node, i), rule.vjps[i])
                contributions[arg].append(vjp(delta[node], contexts[node]))
                via[arg].append((node, i, rule.sentence(i, contexts[node])))

    derivation = Derivation(loss, order, value, delta, forward_defs, delta_defs, trainable)
    _explain(derivation, via, substituted)
    return derivation


# -- presentation: fold anonymous nodes into the named ones --------------------------


def _explain(d: Derivation, via: dict, substitute: bool = True) -> None:
    anonymous_value = {}
    for node in d.order:
        if node.kind == "const":
            anonymous_value[d.value[node]] = sp.ImmutableMatrix(node.value)
        if node in d.forward_defs and not d.named(node):
            anonymous_value[d.value[node]] = d.forward_defs[node].xreplace(anonymous_value)
    d.anonymous_values = anonymous_value
    anonymous_delta = {}
    for node in reversed(d.order):
        if node in d.delta_defs and not d.named(node) and node is not d.loss:
            anonymous_delta[d.delta[node]] = d.delta_defs[node].xreplace({**anonymous_value, **anonymous_delta})
    fold = {**anonymous_value, **anonymous_delta}

    def rules_into(node: Tensor) -> list[tuple[str, str]]:
        used = []
        for consumer, _, says in via.get(node, []):
            if not d.named(consumer) and consumer is not d.loss:
                used += rules_into(consumer)
            used.append((rule_key(consumer), says))
        return used

    steps = {}
    units = _unit_sums(d)
    for node in reversed(d.order):
        if node in d.delta_defs and (d.named(node) or node is d.loss) and node is not d.loss:
            formula = tidy(d.delta_defs[node].xreplace(fold))
            if units:  # after tidy, where the signs are out of the sums: ∑(−y) is −∑y
                formula = tidy(formula.xreplace(units))
            steps[node] = Step(node, formula, rules_into(node))

    d.steps = steps
    # every δ written out down to the loss: consumers come first in ``steps`` (reverse order), so
    # one substitution per node suffices (substituting to a fixed point per parameter was cubic in depth)
    closed_delta: dict = {}
    for n, st in steps.items():
        closed_delta[d.delta[n]] = st.formula.xreplace(closed_delta)
    d.closed_deltas = {n: closed_delta[d.delta[n]] for n in steps}
    forward_named = {}
    for node in d.order:
        if node in d.forward_defs:
            forward_named[d.value[node]] = d.forward_defs[node].xreplace(forward_named)

    for p in d.trainable:
        if p not in steps:
            continue
        reached = _reached_from(p, via)
        chain = [s for n, s in steps.items() if n in reached and n is not p]
        g = Gradient(p, chain + [steps[p]], steps[p].formula, closed_delta[d.delta[p]], None)
        substituted = g.closed.xreplace(forward_named) if substitute and g.short else None
        # measured as a tree (count_ops took seconds at depth 32), and before tidy, the costly part
        if substituted is not None:
            substituted = tidy(substituted) if tree_size(substituted) <= SUBSTITUTED_LIMIT else None
        if substituted is not None and tree_size(substituted) <= SUBSTITUTED_LIMIT:
            g.substituted = substituted
        d.gradients[p.name] = g


def _unit_sums(d: Derivation) -> dict:
    """∑ y → 1 for data whose sums are exactly 1 in every sample (one-hot or probability targets), so a
    step reads softmax(z) − y as a teacher writes it, not softmax(z) ⊙ ∑y − y.  Only the displayed steps
    use it; the numeric program keeps the general form."""
    units = {}
    for node in d.order:
        if node.kind != "data":
            continue
        values = [sp.Matrix(v) for v in (node.samples if node.samples is not None else [node.value])]
        for axis in (0, 1, ALL):
            total = {0: lambda m: m.T * sp.ones(m.rows, 1), 1: lambda m: m * sp.ones(m.cols, 1),
                     ALL: lambda m: sp.Matrix([[sum(m)]])}[axis]
            if all(all(v == 1 for v in total(m)) for m in values):
                reduced = Reduce(d.value[node], axis)
                rows, cols = (int(n) for n in reduced.shape)
                units[reduced] = sp.Identity(1) if (rows, cols) == (1, 1) else sp.OneMatrix(rows, cols)
    return units


def _reached_from(p: Tensor, via: dict) -> set[Tensor]:
    """Every node that ``p`` feeds, through its consumers."""
    reached, stack = set(), [p]
    while stack:
        node = stack.pop()
        for consumer, _, _ in via.get(node, []):
            if consumer not in reached:
                reached.add(consumer)
                stack.append(consumer)
    return reached


@lru_cache(maxsize=8192)
def tidy(e: sp.MatrixExpr) -> sp.MatrixExpr:
    """Light canonicalisation for display: flatten products, drop identities, fold (xᵀ)ᵀ,
    and write an elementwise product with a broadcast number as a multiple: ``2/3 (out − y)``.

    Cached: the mistake catalogue derives again with one rule changed, and most steps are the same."""
    e = e.doit()
    e = e.replace(
        lambda a: isinstance(a, sp.Transpose) and tuple(a.shape) == (1, 1),
        lambda a: a.arg,
    )
    e = e.replace(
        lambda a: isinstance(a, sp.HadamardProduct) and any(_broadcast_number(f) is not None for f in a.args),
        _pull_numbers,
    ).replace(
        lambda a: isinstance(a, sp.MatMul) and any(isinstance(f, sp.MatMul) for f in a.args),
        _flatten_product,
    )
    return e.replace(lambda a: isinstance(a, sp.MatrixExpr) and not isinstance(a, sp.MatrixSymbol), _board)


# -- forms on the board ----------------------------------------------------------------


def _board(a):
    """One node as a teacher writes it, its operands already so (``replace`` works bottom-up):
    exp(log_softmax(z)) is softmax(z); numbers and signs come out of sums, broadcasts, transposes
    and elementwise products (−(s ⊙ ∑(−y)) is s ⊙ ∑y); an all-ones factor of ⊙ is dropped
    (1ᵀ ⊙ Iᵀ is Iᵀ); a sum whose terms share a number has it outside: 1/4 S − 1/4 Y is (S − Y)/4."""
    if isinstance(a, Apply) and a.fn == "exp" and isinstance(a.arg, LogSoftmax):
        return Softmax(a.arg.arg, a.arg.axis)
    if isinstance(a, (Reduce, sp.Transpose)) or (isinstance(a, Broadcast) and _broadcast_number(a) is None):
        c, body = _split(a.args[0])
        return _scaled(c, a.func(body, *a.args[1:])) if c != 1 else a
    if isinstance(a, sp.HadamardProduct):
        factors = [f for f in a.args if not _all_ones(f)] or [a.args[0]]
        split = [_split(f) for f in factors]
        coeff = sp.Mul(*[c for c, _ in split])
        if coeff == 1 and len(factors) == len(a.args):
            return a
        bodies = [b for _, b in split]
        return _scaled(coeff, bodies[0] if len(bodies) == 1 else sp.HadamardProduct(*bodies))
    if isinstance(a, sp.MatMul):
        c, body = _split(a)
        return _scaled(c, body) if isinstance(body, sp.MatMul) or c != a.as_coeff_matrices()[0] else a
    if isinstance(a, sp.MatAdd):
        split = [_split(t) for t in a.args]
        common = abs(split[0][0])
        if common != 1 and common.is_Rational and all(abs(c) == common for c, _ in split):
            return sp.MatMul(common, sp.MatAdd(*[_scaled(c / common, b) for c, b in split]))
    return a


def _split(m) -> tuple:
    """(number, matrix) with ``m`` = number · matrix; nested products' numbers multiplied out."""
    if not isinstance(m, sp.MatMul):
        return sp.Integer(1), m
    coeff, factors = sp.Integer(1), []
    for f in m.args:
        if isinstance(f, sp.MatMul):
            c, inner = _split(f)
            coeff *= c
            factors += list(inner.args) if isinstance(inner, sp.MatMul) else [inner]
        elif f.is_Matrix:
            factors.append(f)
        else:
            coeff *= f
    return coeff, factors[0] if len(factors) == 1 else sp.MatMul(*factors)


def _scaled(c, body):
    if c == 1:
        return body
    inner, rest = _split(body)
    c = c * inner
    if c == 1:
        return rest
    return sp.MatMul(c, *rest.args) if isinstance(rest, sp.MatMul) else sp.MatMul(c, rest)


def _all_ones(m) -> bool:
    m = m.arg if isinstance(m, sp.Transpose) else m
    return isinstance(m, sp.OneMatrix) or _broadcast_number(m) == 1


def _flatten_product(product):
    """``2 (1/3 X)`` as ``2/3 X`` — without distributing over a sum as ``doit`` would."""
    coeff, factors = sp.Integer(1), []
    for f in product.args:
        if isinstance(f, sp.MatMul):
            inner = _flatten_product(f)
            c, ms = inner.as_coeff_matrices() if isinstance(inner, sp.MatMul) else (1, [inner])
            coeff, factors = coeff * c, factors + list(ms)
        elif f.is_Matrix:
            factors.append(f)
        else:
            coeff *= f
    return sp.MatMul(coeff, *factors) if coeff != 1 else (sp.MatMul(*factors) if len(factors) > 1 else factors[0])


def _broadcast_number(m):
    """The number a broadcast 1×1 constant stands for, else None."""
    if not isinstance(m, Broadcast):
        return None
    arg = m.arg
    if isinstance(arg, sp.MatMul):
        coeff, matrices = arg.as_coeff_matrices()
        if all(isinstance(x, sp.Identity) for x in matrices):
            return coeff
    if isinstance(arg, sp.Identity):
        return sp.Integer(1)
    if isinstance(arg, sp.MatrixBase) and arg.shape == (1, 1) and arg[0, 0].is_number:
        return arg[0, 0]
    return None


def _pull_numbers(product):
    numbers = [_broadcast_number(f) for f in product.args]
    coeff = sp.Mul(*[n for n in numbers if n is not None])
    rest = [f for f, n in zip(product.args, numbers) if n is None]
    if not rest:
        return sp.MatMul(coeff, sp.OneMatrix(*product.shape))
    body = rest[0] if len(rest) == 1 else sp.HadamardProduct(*rest)
    return sp.MatMul(coeff, body)
