"""The functions a gradient formula may call: each one's signature and the matrix expression it builds.

A call reads as in Python and as in the model file: arguments by position, then by keyword
(``sum(x, axis=0)``, ``max_pool2d(A, 2, stride=1)``); a window, stride or padding is a whole
number or a pair ``(rows, columns)``.  Each builds the expression the derivation itself uses
(``engine/expr.py``, ``engine/windows.py``), so a written formula and the derived one are
compared like for like, and `CodePrinter` (``numeric/printing.py``) prints the derivation in
exactly this notation — what a worksheet's answers file holds::

    formula                            meaning                                     a report shows
    correlate(A, B)                    cross-correlation, B sliding over A         A ⋆ B
    correlate(A, B, stride=2)          … moved 2 at a time                         A ⋆_2 B
    conv2d(A, B, stride=1, padding=0)  the model file's conv2d: correlate(pad(A, padding), B, stride)
    rot180(K)                          K turned by 180°                            rot180(K)
    pad(A, 1), pad(A, (1, 2))          zeros around A (rows, columns)              pad_1(A)
    pad(A, top=0, left=0, bottom=1, right=1)    … side by side; a negative width crops
    dilate(A, 2)                       a zero row and column between A's           dilate_2(A)
    max_pool2d(A, 2), avg_pool2d(A, 2, stride=1)   as in the model file            maxpool_2(A)
    route_max(delta, A, 2)             each window's δ to the first maximum of A's window   route_max(δ → A)
    spread_avg(delta, 2)               each window's δ shared among its entries    spread_2(δ)
    spread_avg(delta, 2, shape=(5, 5)) … where the windows leave rows or columns out
    flatten(A), reshape(A, 2, 2)       A's entries row by row, as one row / as 2×2 flatten(A), reshape_2×2(A)
    concat(A, B), columns(A, 1, 4)     rows joined; columns 1 to 4 (counted from 1, both included)
    normalize(X, axis=0, eps=1e-5)     each column (axis 0) or row (1) less its mean, over √(var + eps)
    inv_std(X, axis=0, eps=1e-5)       1/√(var + eps) of each column (a row) or row (a column)
    abs(r), sign(r), huber(r, 1), clip(r, 1)   |r|, its derivative (0 at 0), Huber's loss and its derivative

Sizes are read as whole numbers within `MAX_SIZE`, and no part of a formula may have more entries
than its model's largest tensor allows (`entry_limit`): ``dilate(X, 1000)`` is refused before
anything is built.  A shape that does not fit says so with both shapes (``4×4``), which the
checker takes as a wrong formula rather than an unreadable one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from ..engine.expr import ALL, Apply, InvStd, LogSoftmax, Normalize, Reduce, Softmax, scaled
from ..engine.windows import (
    AvgPool,
    Columns,
    Concat,
    Correlate,
    Dilate,
    MaxPool,
    Pad,
    PoolRoute,
    PoolSpread,
    Reshape,
    Rot180,
)
from .arith import _error, _Node

#: the largest window, stride, padding or size a formula may write
MAX_SIZE = 1000
#: a part of a formula may have this many entries, or 4 times its model's largest tensor if more
MIN_ENTRY_LIMIT = 10_000
#: PyTorch's eps of batch and layer normalisation, when a formula leaves it out
DEFAULT_EPS = sp.Rational(1, 10**5)


def entry_limit(symbols) -> int:
    """The most entries a part of a formula over ``symbols`` may have."""
    largest = max((int(s.shape[0]) * int(s.shape[1]) for s in symbols.values()), default=1)
    return max(MIN_ENTRY_LIMIT, 4 * largest)


def shape_of(m: MatrixExpr) -> tuple[int, int]:
    return int(m.shape[0]), int(m.shape[1])


def show(m) -> str:
    """A shape as 2×3 (the checker tells a shape error by its '×')."""
    rows, cols = m if isinstance(m, tuple) else shape_of(m)
    return f"{rows}×{cols}"


def as_matrix(x) -> MatrixExpr:
    """A formula's number as a 1×1 matrix; a matrix as it is."""
    return x if isinstance(x, MatrixExpr) else scaled(sp.Rational(x.numerator, x.denominator), sp.Identity(1))


# -- signatures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """Parameters by position (the first ``required`` must be given), then keyword-only ones."""

    params: tuple[str, ...]
    required: int
    usage: str
    keyword_only: tuple[str, ...] = ()
    variadic: bool = False  # concat(A, B, …): any number of matrices, no keywords


def _one(name: str) -> Signature:
    return Signature(("x",), 1, f"{name}(x)")


_AXIS = ("x", "axis")
SIGNATURES: dict[str, Signature] = {
    **{name: _one(name) for name in ("tanh", "sigmoid", "relu", "exp", "log", "softplus", "step", "abs", "sign",
                                     "rot180", "flatten")},
    "sum": Signature(_AXIS, 1, "sum(x), sum(x, axis=0) or sum(x, axis=1)"),
    "mean": Signature(_AXIS, 1, "mean(x), mean(x, axis=0) or mean(x, axis=1)"),
    "softmax": Signature(_AXIS, 1, "softmax(x) or softmax(x, axis=1)"),
    "log_softmax": Signature(_AXIS, 1, "log_softmax(x) or log_softmax(x, axis=1)"),
    "leaky_relu": Signature(("x", "negative_slope"), 2, "leaky_relu(x, 0.01)"),
    "leaky_step": Signature(("x", "negative_slope"), 2, "leaky_step(x, 0.01)"),
    "huber": Signature(("x", "delta"), 2, "huber(r, 1): Huber's loss of r with δ = 1"),
    "clip": Signature(("x", "low", "high"), 2, "clip(r, 1) or clip(r, -1, 1): r clipped to [−1, 1]"),
    "correlate": Signature(("x", "kernel", "stride"), 2, "correlate(A, B) or correlate(A, B, stride=2)"),
    "conv2d": Signature(("x", "kernel", "stride", "padding"), 2, "conv2d(A, K), conv2d(A, K, stride=2, padding=1)"),
    "pad": Signature(("x", "padding"), 1, "pad(A, 1), pad(A, (1, 2)) or pad(A, top=0, left=0, bottom=1, right=1)",
                     keyword_only=("top", "left", "bottom", "right")),
    "dilate": Signature(("x", "stride"), 2, "dilate(A, 2) or dilate(A, (2, 1))"),
    "max_pool2d": Signature(("x", "size", "stride"), 2, "max_pool2d(A, 2) or max_pool2d(A, 2, stride=1)"),
    "avg_pool2d": Signature(("x", "size", "stride"), 2, "avg_pool2d(A, 2) or avg_pool2d(A, 2, stride=1)"),
    "route_max": Signature(("delta", "x", "size", "stride"), 3,
                           "route_max(delta_P, A, 2) or route_max(delta_P, A, 2, stride=1): δ_P routed to the "
                           "maxima of max_pool2d(A, 2)"),
    "spread_avg": Signature(("delta", "size", "stride", "shape"), 2,
                            "spread_avg(delta_P, 2) or spread_avg(delta_P, 2, stride=2, shape=(5, 5))"),
    "reshape": Signature(("x", "rows", "cols"), 2, "reshape(A, 2, 3) or reshape(A, (2, 3))"),
    "concat": Signature((), 1, "concat(A, B, …)", variadic=True),
    "columns": Signature(("x", "first", "last"), 3, "columns(A, 1, 4): columns 1 to 4, counted from 1"),
    "normalize": Signature(("x", "axis", "eps"), 1, "normalize(X, axis=0) or normalize(X, axis=0, eps=1e-5)"),
    "inv_std": Signature(("x", "axis", "eps"), 1, "inv_std(X, axis=0) or inv_std(X, axis=0, eps=1e-5)"),
}


class Arguments:
    """A call's arguments bound to its signature, each built on demand by the formula's builder."""

    def __init__(self, name: str, node: _Node, build: Callable, limit: int):
        self.name, self.node, self.build, self.limit = name, node, build, limit
        signature = SIGNATURES[name]
        positional, keywords = list(node.parts), dict(node.data[1])
        if signature.variadic:
            fits = len(positional) >= signature.required and not keywords
            self.given = {f"#{k}": part for k, part in enumerate(positional)}
        else:
            self.given = dict(zip(signature.params, positional))
            named = signature.params + signature.keyword_only
            fits = len(positional) <= len(signature.params) and all(k in named and k not in self.given
                                                                    for k in keywords)
            self.given.update(keywords)
            fits = fits and all(p in self.given for p in signature.params[:signature.required])
        if not fits:
            raise _error(f"{name} is written {signature.usage}", node.pos)

    def __contains__(self, key: str) -> bool:
        return key in self.given

    def fail(self, message: str, key: str | None = None):
        node = self.given.get(key, self.node) if key else self.node
        return _error(message, node.pos)

    def value(self, key: str):
        node = self.given[key]
        if node.kind == "tuple":
            raise _error(f"a pair such as (2, 1) is read only as a size, stride, padding or shape, not as {self.name}'s "
                         f"{key}", node.pos)
        return self.build(node)

    def matrix(self, key: str) -> MatrixExpr:
        return as_matrix(self.value(key))

    def matrices(self) -> list[MatrixExpr]:
        return [self.matrix(k) for k in self.given]

    def number(self, key: str, default=None) -> sp.Rational:
        """A number argument (a slope, eps, δ): never a matrix."""
        if key not in self.given:
            return default
        x = self.value(key)
        if isinstance(x, MatrixExpr):
            raise self.fail(f"{self.name}'s {key} must be a number", key)
        return sp.Rational(x.numerator, x.denominator)

    def _whole(self, node: _Node, what: str, least: int) -> int:
        x = self.build(node) if node.kind != "tuple" else None
        if not isinstance(x, Fraction) or x.denominator != 1 or not least <= x <= MAX_SIZE:
            raise _error(f"{self.name}'s {what} must be a whole number from {least} to {MAX_SIZE}", node.pos)
        return int(x)

    def whole(self, key: str, least: int = 1, default: int | None = None) -> int:
        if key not in self.given:
            return default
        return self._whole(self.given[key], key, least)

    def pair(self, key: str, least: int = 1, default: tuple[int, int] | None = None) -> tuple[int, int]:
        """A size, stride or padding: ``2`` for (2, 2), or ``(2, 1)`` for rows and columns."""
        if key not in self.given:
            return default
        node = self.given[key]
        if node.kind != "tuple":
            n = self._whole(node, key, least)
            return n, n
        if len(node.parts) != 2:
            raise _error(f"{self.name}'s {key} is one whole number or a pair (rows, columns)", node.pos)
        return self._whole(node.parts[0], key, least), self._whole(node.parts[1], key, least)

    def axis(self, x: MatrixExpr) -> int:
        """axis=0 or 1; left out, a vector's own (a column's 0, a row's 1), and a matrix must say it."""
        axis = self.value("axis") if "axis" in self.given else None
        if axis is not None and (isinstance(axis, MatrixExpr) or axis not in (0, 1)):
            raise self.fail(f"{self.name}'s axis must be 0 (down the columns) or 1 (along the rows)", "axis")
        rows, cols = shape_of(x)
        if axis is None and rows > 1 and cols > 1:
            raise self.fail(f"{self.name} of a {show(x)} matrix needs axis=0 or axis=1")
        return int(axis) if axis is not None else (0 if cols == 1 else 1)

    def sized(self, e: MatrixExpr) -> MatrixExpr:
        rows, cols = shape_of(e)
        if rows < 1 or cols < 1 or rows * cols > self.limit:
            raise self.fail(f"{self.name} would make a matrix of {rows} by {cols} entries; a part of this formula may "
                            f"have at most {self.limit:,}")
        return e


# -- the builders -------------------------------------------------------------------------


def _elementwise(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x, name = a.matrix("x"), a.name
    if name == "step":
        return Apply("step", x, relu_grad_at_zero)
    if name in ("leaky_relu", "leaky_step"):
        alpha = a.number("negative_slope")
        return Apply(name, x, alpha, relu_grad_at_zero) if name == "leaky_step" else Apply(name, x, alpha)
    if name in ("huber", "clip"):
        key = "low" if name == "clip" else "delta"
        delta = a.number(key)
        if name == "clip" and "high" in a:
            high = a.number("high")
            if delta != -high:
                raise a.fail("clip is read for a range symmetric about 0: clip(r, -1, 1)", "high")
            delta = high
        if delta <= 0:
            raise a.fail(f"{name}'s δ must be positive", key)
        return Apply(name, x, delta)
    return Apply(name, x)


def _reduction(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x = a.matrix("x")
    if a.name in ("softmax", "log_softmax"):
        return (Softmax if a.name == "softmax" else LogSoftmax)(x, a.axis(x))
    axis = a.value("axis") if "axis" in a else None
    if axis is not None and (isinstance(axis, MatrixExpr) or axis not in (0, 1)):
        raise a.fail(f"{a.name}'s axis must be 0 (down the columns) or 1 (along the rows)", "axis")
    total = Reduce(x, ALL if axis is None else int(axis))
    if a.name == "mean":
        rows, cols = shape_of(x)
        return scaled(sp.Rational(1, {None: rows * cols, 0: rows, 1: cols}[axis]), total)
    return total


def _correlate(a: Arguments, x: MatrixExpr, kernel: MatrixExpr, stride: tuple[int, int]) -> MatrixExpr:
    (rows, cols), (kr, kc) = shape_of(x), shape_of(kernel)
    if kr > rows or kc > cols:
        raise a.fail(f"{a.name} slides the kernel over the matrix, so the kernel may not be larger: a {show(kernel)} "
                     f"kernel over a {show(x)} matrix")
    return a.sized(Correlate(x, kernel, *stride))


def _convolution(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x, kernel = a.matrix("x"), a.matrix("kernel")
    stride = a.pair("stride", default=(1, 1))
    if a.name == "conv2d":
        pr, pc = a.pair("padding", least=0, default=(0, 0))
        x = _padded(a, x, (pr, pc, pr, pc))
    return _correlate(a, x, kernel, stride)


def _padded(a: Arguments, x: MatrixExpr, widths: tuple[int, int, int, int]) -> MatrixExpr:
    if widths == (0, 0, 0, 0):
        return x
    return a.sized(Pad(x, *widths))


def _pad(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x = a.matrix("x")
    sides = [k for k in ("top", "left", "bottom", "right") if k in a]
    if sides and "padding" in a:
        raise a.fail("pad is written with its padding, pad(A, 1), or with its sides, pad(A, top=0, bottom=1), not both")
    if "padding" in a:
        pr, pc = a.pair("padding", least=0)
        widths = (pr, pc, pr, pc)
    elif sides:
        widths = tuple(_signed(a, k) for k in ("top", "left", "bottom", "right"))
    else:
        raise a.fail(f"pad is written {SIGNATURES['pad'].usage}")
    rows, cols = shape_of(x)
    top, left, bottom, right = widths
    if rows + top + bottom < 1 or cols + left + right < 1:
        raise a.fail(f"pad would crop the {show(x)} matrix to nothing")
    return _padded(a, x, widths)


def _signed(a: Arguments, key: str) -> int:
    """A side's width: negative crops (the derivation crops a padded input's gradient)."""
    node = a.given.get(key)
    if node is None:
        return 0
    x = a.build(node) if node.kind != "tuple" else None
    if not isinstance(x, Fraction) or x.denominator != 1 or abs(x) > MAX_SIZE:
        raise _error(f"pad's {key} must be a whole number from -{MAX_SIZE} to {MAX_SIZE}", node.pos)
    return int(x)


def _dilate(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x, stride = a.matrix("x"), a.pair("stride")
    return x if stride == (1, 1) else a.sized(Dilate(x, *stride))


def _pooled_shape(a: Arguments, shape: tuple[int, int], size, stride) -> tuple[int, int]:
    (rows, cols), (kr, kc), (sr, sc) = shape, size, stride
    if kr > rows or kc > cols:
        raise a.fail(f"{a.name}: a {kr}×{kc} window is larger than the {show(shape)} matrix")
    return (rows - kr) // sr + 1, (cols - kc) // sc + 1


def _pool(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x, size = a.matrix("x"), a.pair("size")
    stride = a.pair("stride", default=size)
    _pooled_shape(a, shape_of(x), size, stride)
    return (MaxPool if a.name == "max_pool2d" else AvgPool)(x, *size, *stride)


def _route(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    delta, x, size = a.matrix("delta"), a.matrix("x"), a.pair("size")
    stride = a.pair("stride", default=size)
    pooled = _pooled_shape(a, shape_of(x), size, stride)
    if shape_of(delta) != pooled:
        raise a.fail(f"route_max routes the δ of max_pool2d's output, here {show(pooled)} (the pooled {show(x)} "
                     f"matrix), not a {show(delta)} one")
    return PoolRoute(x, delta, *size, *stride)


def _spread(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    delta, size = a.matrix("delta"), a.pair("size")
    stride = a.pair("stride", default=size)
    (m, n), (kr, kc), (sr, sc) = shape_of(delta), size, stride
    shape = a.pair("shape", default=((m - 1) * sr + kr, (n - 1) * sc + kc))
    pooled = _pooled_shape(a, shape, size, stride)
    if pooled != (m, n):
        raise a.fail(f"spread_avg spreads the δ of avg_pool2d's output, here {show(pooled)} (the pooled "
                     f"{show(shape)} matrix), not a {show(delta)} one")
    return a.sized(PoolSpread(delta, *size, *stride, *shape))


def _reshape(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x = a.matrix("x")
    rows, cols = shape_of(x)
    if a.name == "flatten":
        return x if rows == 1 else Reshape(x, 1, rows * cols)
    if "cols" in a:
        shape = a.whole("rows"), a.whole("cols")
    elif a.given["rows"].kind == "tuple":
        shape = a.pair("rows")
    else:
        raise a.fail(f"reshape is written {SIGNATURES['reshape'].usage}")
    if shape[0] * shape[1] != rows * cols:
        raise a.fail(f"reshape reads the {rows * cols} entries of a {show(x)} matrix row by row; {show(shape)} holds "
                     f"{shape[0] * shape[1]}")
    return x if shape == (rows, cols) else Reshape(x, *shape)


def _concat(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    parts = a.matrices()
    if len({shape_of(p)[0] for p in parts}) > 1:
        raise a.fail("concat joins rows side by side, so each part needs as many rows: "
                     + ", ".join(show(p) for p in parts))
    return parts[0] if len(parts) == 1 else a.sized(Concat(*parts))


def _columns(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x = a.matrix("x")
    first, last = a.whole("first"), a.whole("last")
    cols = shape_of(x)[1]
    if not first <= last <= cols:
        raise a.fail(f"columns {first} to {last} of a {show(x)} matrix: counted from 1, the first no later than the "
                     f"last, at most {cols}")
    return x if (first, last) == (1, cols) else Columns(x, first - 1, last)


def _normalize(a: Arguments, relu_grad_at_zero) -> MatrixExpr:
    x = a.matrix("x")
    axis = a.axis(x)
    eps = a.number("eps", DEFAULT_EPS)
    if eps <= 0:
        raise a.fail(f"{a.name}'s eps must be positive", "eps")
    return (Normalize if a.name == "normalize" else InvStd)(x, axis, eps)


_BUILDERS: dict[str, Callable] = {
    **{name: _elementwise for name in ("tanh", "sigmoid", "relu", "exp", "log", "softplus", "step", "abs", "sign",
                                       "leaky_relu", "leaky_step", "huber", "clip")},
    **{name: _reduction for name in ("sum", "mean", "softmax", "log_softmax")},
    "correlate": _convolution, "conv2d": _convolution, "pad": _pad, "dilate": _dilate,
    "rot180": lambda a, c: Rot180(a.matrix("x")),
    "max_pool2d": _pool, "avg_pool2d": _pool, "route_max": _route, "spread_avg": _spread,
    "flatten": _reshape, "reshape": _reshape, "concat": _concat, "columns": _columns,
    "normalize": _normalize, "inv_std": _normalize,
}

#: the functions a formula may call (``latex.py`` reads the same list)
FORMULA_FUNCTIONS = tuple(SIGNATURES)


def call(node: _Node, build: Callable, relu_grad_at_zero, limit: int) -> MatrixExpr:
    """The matrix expression of the call ``node``; ``build`` builds an argument's tree, ``limit``
    is the most entries a part may have (`entry_limit`)."""
    name = node.data[0]
    return _BUILDERS[name](Arguments(name, node, build, limit), relu_grad_at_zero)
