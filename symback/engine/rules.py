"""The rule registry: the one place where an operation's derivative lives.

Each primitive registers, once, how its value is written in matrix notation
(``forward``) and, per operand, its vector–Jacobian product: given the upstream gradient
δ of the result, the gradient of that operand (``vjps``), with the sentence a teacher
would say for the step (``says``).  The engine in ``derive.py`` is a short loop over
this table; a node whose operation has no rule raises `NotImplementedError` naming it.

Conventions: ``g`` is the upstream δ of the node, ``ctx.out`` the node's own value,
``ctx.args`` its operands' values, all SymPy matrix expressions of the node's shape.
Broadcasting is an explicit ``broadcast`` node (``graph.py``), so no rule here undoes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from ..i18n import N_
from ..limits import MAX_CHANNELS
from .expr import (
    ALL,
    Apply,
    Broadcast,
    InvStd,
    LogSoftmax,
    Normalize,
    Reduce,
    Softmax,
    add,
    hadamard,
    matmul,
    ones_like,
    scaled,
    times_scalar,
    transpose,
)
from .windows import AvgPool, Columns, Concat, Correlate, Dilate, MaxPool, Pad, PoolRoute, PoolSpread, Reshape, Rot180


@dataclass(frozen=True)
class Context:
    """What a rule may look at: the graph node, its value symbol, its operands' symbols."""

    node: object
    out: sp.MatrixExpr
    args: tuple
    relu_grad_at_zero: sp.Rational

    @property
    def attrs(self) -> dict:
        return self.node.attrs


Forward = Callable[[Context], sp.MatrixExpr]
VJP = Callable[[sp.MatrixExpr, Context], sp.MatrixExpr]


@dataclass(frozen=True)
class Rule:
    name: str
    forward: Forward
    vjps: tuple[VJP | None, ...]
    says: tuple[str | Callable[[Context], str], ...]  # the sentence, or one built from the node's settings

    def sentence(self, operand: int, ctx: Context) -> str:
        """What the rule says for this operand, with the node's settings (relu′(0), α) filled in: English,
        and an `i18n.Message` where built, that a document shows in its language."""
        says = self.says[operand]
        return says if isinstance(says, str) else says(ctx)


RULES: dict[str, Rule] = {}


def defrule(name: str, forward: Forward, *vjps_and_says) -> None:
    """Register ``name``: its forward value, then (vjp, sentence) per operand."""
    vjps = tuple(vjps_and_says[0::2])
    says = tuple(vjps_and_says[1::2])
    RULES[name] = Rule(name, forward, vjps, says)


def rule_key(node) -> str:
    """Registry key of a graph node: the op, or for elementwise functions the function."""
    return node.attrs["fn"] if node.op == "apply" else node.op


def rule_for(node) -> Rule:
    key = rule_key(node)
    try:
        return RULES[key]
    except KeyError:
        raise NotImplementedError(f"symback has no derivative rule for the operation {key!r}") from None


# ---------------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------------

defrule(
    "matmul",
    lambda c: matmul(c.args[0], c.args[1]),
    lambda g, c: matmul(g, transpose(c.args[1])),
    "for a product A B the gradient of the left factor is δ Bᵀ",
    lambda g, c: matmul(transpose(c.args[0]), g),
    "for a product A B the gradient of the right factor is Aᵀ δ",
)

defrule(
    "transpose",
    lambda c: transpose(c.args[0]),
    lambda g, c: transpose(g),
    "the gradient of a transpose is the transposed gradient",
)

# ---------------------------------------------------------------------------------
# Elementwise arithmetic (operands already broadcast to one shape)
# ---------------------------------------------------------------------------------

defrule(
    "add",
    lambda c: add(c.args[0], c.args[1]),
    lambda g, c: g,
    "a sum passes the gradient on unchanged",
    lambda g, c: g,
    "a sum passes the gradient on unchanged",
)

defrule(
    "shift",
    lambda c: add(c.args[0], scaled(c.attrs["c"], ones_like(c.args[0]))),
    lambda g, c: g,
    "adding a constant passes the gradient on unchanged",
)

defrule(
    "scale",
    lambda c: scaled(c.attrs["c"], c.args[0]),
    lambda g, c: scaled(c.attrs["c"], g),
    "a constant factor carries over to the gradient",
)

defrule(
    "mul",
    lambda c: hadamard(c.args[0], c.args[1]),
    lambda g, c: hadamard(g, c.args[1]),
    "an elementwise product: multiply δ elementwise by the other factor",
    lambda g, c: hadamard(g, c.args[0]),
    "an elementwise product: multiply δ elementwise by the other factor",
)


def _power_derivative(x, n):
    n = sp.Rational(n)
    if n == 2:
        return scaled(2, x)
    return scaled(n, sp.HadamardPower(x, n - 1))


defrule(
    "pow",
    lambda c: sp.HadamardPower(c.args[0], c.attrs["n"]),
    lambda g, c: hadamard(g, _power_derivative(c.args[0], c.attrs["n"])),
    "power rule, entry by entry: d(xⁿ)/dx = n xⁿ⁻¹",
)

# ---------------------------------------------------------------------------------
# Broadcasting and sums: each is the other's gradient
# ---------------------------------------------------------------------------------


def unbroadcast(g, shape):
    """Sum ``g`` over the axes along which a ``shape`` operand was broadcast."""
    rows, cols = (int(n) for n in g.shape)
    if (rows, cols) == tuple(shape):
        return g
    if shape == (1, 1):
        return Reduce(g, ALL)
    return Reduce(g, 0 if shape[0] == 1 else 1)


def _broadcast_to(g, shape):
    if tuple(int(n) for n in g.shape) == tuple(shape):
        return g
    return Broadcast(g, *shape)


defrule(
    "broadcast",
    lambda c: Broadcast(c.args[0], *c.node.shape),
    lambda g, c: unbroadcast(g, c.node.args[0].shape),
    "a broadcast operand collects the gradient summed over the copies",
)

defrule(
    "sum",
    lambda c: Reduce(c.args[0], c.attrs["axis"]),
    lambda g, c: _broadcast_to(g, c.node.args[0].shape),
    "every summed entry receives the gradient of the sum",
)

# ---------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------


def _number(value) -> str:
    """A setting as the exercise writes it: 0, 1, 0.01, 1/3."""
    r = sp.Rational(value)
    q = r.q
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    if q != 1:
        return str(r)
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 40
        return format(Decimal(r.p) / Decimal(r.q), "f")


def _elementwise(fn: str, derivative, says) -> None:
    defrule(
        fn,
        lambda c: Apply(fn, c.args[0], *c.node.attrs.get("params", ())),
        lambda g, c: hadamard(g, derivative(c)),
        says,
    )


_elementwise("tanh", lambda c: add(ones_like(c.out), -hadamard(c.out, c.out)), "tanh′ = 1 − tanh², elementwise")
_elementwise(
    "sigmoid", lambda c: hadamard(c.out, add(ones_like(c.out), -c.out)), "σ′ = σ (1 − σ), elementwise"
)
_elementwise(
    "relu",
    lambda c: Apply("step", c.args[0], c.relu_grad_at_zero),
    lambda c: N_("relu′ = step: 1 where the argument is positive, 0 where negative, %(at_zero)s at 0",
                 at_zero=_number(c.relu_grad_at_zero)),
)
_elementwise(
    "leaky_relu",
    lambda c: Apply("leaky_step", c.args[0], c.node.attrs["params"][0], c.relu_grad_at_zero),
    lambda c: N_("leaky relu′: 1 where the argument is positive, the slope %(alpha)s where negative, %(at_zero)s at 0",
                 alpha=f"α = {_number(c.attrs['params'][0])}",
                 at_zero=_number(c.attrs["params"][0] + (1 - c.attrs["params"][0]) * c.relu_grad_at_zero)),
)
_elementwise("exp", lambda c: c.out, "exp′ = exp, elementwise")
_elementwise("log", lambda c: sp.HadamardPower(c.args[0], -1), "log′(x) = 1/x, elementwise")
_elementwise("softplus", lambda c: Apply("sigmoid", c.args[0]), "softplus′ = σ, elementwise")

# ---------------------------------------------------------------------------------
# Normalisation along an axis and the classification loss
# ---------------------------------------------------------------------------------


def _softmax_vjp(g, c):
    axis, shape = c.attrs["axis"], c.node.shape
    inner = _broadcast_to(Reduce(hadamard(g, c.out), axis), shape)
    return hadamard(c.out, add(g, -inner))


def _log_softmax_vjp(g, c):
    axis, shape = c.attrs["axis"], c.node.shape
    total = _broadcast_to(Reduce(g, axis), shape)
    return add(g, -hadamard(Apply("exp", c.out), total))


defrule(
    "softmax",
    lambda c: Softmax(c.args[0], c.attrs["axis"]),
    _softmax_vjp,
    "softmax: s ⊙ (δ − Σ(δ ⊙ s)) along the normalised axis",
)

defrule(
    "log_softmax",
    lambda c: LogSoftmax(c.args[0], c.attrs["axis"]),
    _log_softmax_vjp,
    "log-softmax: δ − softmax ⊙ Σδ along the normalised axis",
)


def _cross_entropy(c):
    logits, targets = c.args
    n = c.node.args[0].shape[0]
    return scaled(sp.Rational(-1, n), Reduce(hadamard(targets, LogSoftmax(logits, 1)), ALL))


def _cross_entropy_vjp(g, c):
    logits, targets = c.args
    n = c.node.args[0].shape[0]
    # valid because every target row sums to 1 (checked when the loss is built)
    return times_scalar(g, scaled(sp.Rational(1, n), add(Softmax(logits, 1), -targets)))


defrule(
    "cross_entropy",
    _cross_entropy,
    _cross_entropy_vjp,
    "softmax with cross-entropy: (softmax(logits) − targets) / N",
    None,
    "targets are data",
)

# ---------------------------------------------------------------------------------
# Convolution and pooling (windows.py): the image and the kernel stay matrices
# ---------------------------------------------------------------------------------


def _padded(x, top, left, bottom, right):
    return x if (top, left, bottom, right) == (0, 0, 0, 0) else Pad(x, top, left, bottom, right)


def _dilated(g, sr, sc):
    return g if (sr, sc) == (1, 1) else Dilate(g, sr, sc)


def _conv_leftover(c) -> tuple[int, int]:
    """Rows and columns of the padded input past the last whole window (their gradient is 0)."""
    (h, w), (kh, kw) = c.node.args[0].shape, c.node.args[1].shape
    (sr, sc), (pr, pc) = c.attrs["stride"], c.attrs["padding"]
    return (h + 2 * pr - kh) % sr, (w + 2 * pc - kw) % sc


def _conv_input_vjp(g, c):
    """∂L/∂X = pad_full(dilate_s(δ)) ⋆ rot180(K), cropped to X's shape by the padding and leftover."""
    kh, kw = c.node.args[1].shape
    (sr, sc), (pr, pc) = c.attrs["stride"], c.attrs["padding"]
    er, ec = _conv_leftover(c)
    spread = _padded(_dilated(g, sr, sc), kh - 1 - pr, kw - 1 - pc, kh - 1 - pr + er, kw - 1 - pc + ec)
    return Correlate(spread, Rot180(c.args[1]))


def _conv_kernel_vjp(g, c):
    """∂L/∂K = pad_p(X) ⋆ dilate_s(δ): every kernel entry meets each δ entry at its window's position."""
    (sr, sc), (pr, pc) = c.attrs["stride"], c.attrs["padding"]
    er, ec = _conv_leftover(c)
    return Correlate(_padded(c.args[0], pr, pc, pr - er, pc - ec), _dilated(g, sr, sc))


def _conv_forward(c):
    (sr, sc), (pr, pc) = c.attrs["stride"], c.attrs["padding"]
    return Correlate(_padded(c.args[0], pr, pc, pr, pc), c.args[1], sr, sc)


defrule(
    "conv2d",
    _conv_forward,
    _conv_input_vjp,
    "convolution: the input's gradient is δ, padded in full, correlated with the kernel turned by 180°: "
    "δ ⋆ rot180(K) (a stride first spreads δ out with zeros)",
    _conv_kernel_vjp,
    "convolution: the kernel's gradient is the input correlated with δ: X ⋆ δ (a stride spreads δ out with zeros)",
)

defrule(
    "max_pool2d",
    lambda c: MaxPool(c.args[0], *c.attrs["window"], *c.attrs["stride"]),
    lambda g, c: PoolRoute(c.args[0], g, *c.attrs["window"], *c.attrs["stride"]),
    "max-pool routes each window's δ to the window's maximum and 0 to the other entries; of tied maxima, "
    "the first reading the window row by row takes it (as PyTorch)",
)

defrule(
    "avg_pool2d",
    lambda c: AvgPool(c.args[0], *c.attrs["window"], *c.attrs["stride"]),
    lambda g, c: PoolSpread(g, *c.attrs["window"], *c.attrs["stride"], *c.node.args[0].shape),
    "average-pool shares each window's δ equally among the window's entries",
)

defrule(
    "flatten",
    lambda c: Reshape(c.args[0], *c.node.shape),
    lambda g, c: Reshape(g, *c.node.args[0].shape),
    "flattening only reorders the entries: δ is reshaped back, row by row",
)


def _concat_part(k):
    def vjp(g, c):
        start = sum(int(a.shape[1]) for a in c.node.args[:k])
        return Columns(g, start, start + c.node.args[k].shape[1])
    return vjp


defrule(
    "concat",
    lambda c: Concat(*c.args),
    *[item for k in range(MAX_CHANNELS)
      for item in (_concat_part(k), N_("joined rows: each part receives its own columns of δ"))],
)

# ---------------------------------------------------------------------------------
# Normalisation, dropout
# ---------------------------------------------------------------------------------


def _normalise_vjp(g, c):
    """The three-term gradient (Ioffe & Szegedy 2015, §3): δ_x = (1/σ) ⊙ (δ_x̂ − mean δ_x̂ − x̂ ⊙ mean(δ_x̂ ⊙ x̂))."""
    axis, eps = c.attrs["axis"], c.attrs["eps"]
    x, out, shape = c.args[0], c.out, c.node.shape
    n = shape[0] if axis == 0 else shape[1]
    mean = lambda m: _broadcast_to(scaled(sp.Rational(1, n), Reduce(m, axis)), shape)  # noqa: E731
    return hadamard(_broadcast_to(InvStd(x, axis, eps), shape), add(g, -mean(g), -hadamard(out, mean(hadamard(g, out)))))


defrule(
    "normalize",
    lambda c: Normalize(c.args[0], c.attrs["axis"], c.attrs["eps"]),
    _normalise_vjp,
    "normalisation, three terms: (1/σ) ⊙ (δ − mean δ − x̂ ⊙ mean(δ ⊙ x̂)), the means over the normalised axis",
)

defrule(
    "dropout",
    lambda c: scaled(c.attrs["scale"], hadamard(c.args[0], c.args[1])),
    lambda g, c: scaled(c.attrs["scale"], hadamard(g, c.args[1])),
    "dropout passes δ only through the kept units (mask 1), scaled by 1/(1 − p) as in the forward pass",
    None,
    "the mask is data",
)

_elementwise("abs", lambda c: Apply("sign", c.args[0]), "|x|′ = sign(x), elementwise, and 0 at x = 0 (as PyTorch)")
_elementwise(
    "huber",
    lambda c: Apply("clip", c.args[0], *c.node.attrs["params"]),
    "Huber′ = the residual clipped to [−δ, δ], elementwise",
)
