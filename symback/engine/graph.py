"""The model graph: tensors that remember how they were computed.

A model file builds this graph with ordinary Python operators; nothing is evaluated
here.  Each `Tensor` records its operation, its operands and its 2-D shape, checks shapes
as it is built (a mismatch names both operands and the model file's line), and inserts an
explicit ``broadcast`` node wherever NumPy-style broadcasting happens, so that every rule
in the registry sees operands of one shape and undoing broadcasting lives in one place.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable
from numbers import Number

import numpy as np
import sympy as sp

from ..errors import ModelError, ShapeError
from .values import Value, exact_scalar, shape_of, to_matrix

#: the symback package (this file is in its engine/ folder); a frame in it is not the model file
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_serials = itertools.count()


def user_frame():
    """The innermost stack frame that is not symback's own code: the model file's line."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return frame


def _located(error_cls, message: str):
    frame = user_frame()
    if frame is None:
        return error_cls(message)
    return error_cls(message, file=frame.f_code.co_filename, line=frame.f_lineno)


def fmt_shape(shape: tuple[int, int]) -> str:
    return f"{shape[0]}×{shape[1]}"


class Tensor:
    """A node of the model graph.

    ``kind`` is ``"param"`` (trained), ``"data"`` (given, never trained), ``"const"`` (a
    literal in the model) or ``"op"`` (computed by ``op`` from ``args``).
    """

    __array_ufunc__ = None  # keep NumPy from broadcasting over a Tensor operand

    def __init__(self, kind, op, args=(), shape=None, attrs=None, value=None, name=None, latex=None):
        self.kind = kind
        self.op = op
        self.args: tuple[Tensor, ...] = tuple(args)
        self.attrs: dict = dict(attrs or {})
        self.shape: tuple[int, int] = shape if shape is not None else shape_of(value)
        self.value: Value | None = value
        self.samples: list[Value] | None = None
        self.name: str | None = name
        self.latex: str | None = latex
        self.serial = next(_serials)  # creation order: parameters are listed as the file defines them

    # -- identity and description -------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        return self.kind != "op"

    def describe(self) -> str:
        """How a person would refer to this tensor in the model file."""
        if self.name:
            return self.name
        frame = user_frame()
        if frame is not None:
            for scope in (frame.f_locals, frame.f_globals):
                for key, val in scope.items():
                    if val is self and not key.startswith("_"):
                        return key
        return describe_op(self)

    def __repr__(self) -> str:
        return f"<Tensor {self.describe()} {fmt_shape(self.shape)}>"

    # -- operators ----------------------------------------------------------------
    def __matmul__(self, other):
        return matmul(self, as_tensor(other))

    def __rmatmul__(self, other):
        return matmul(as_tensor(other), self)

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return add(self, negate(other))

    def __rsub__(self, other):
        return add(other, negate(self))

    def __mul__(self, other):
        return multiply(self, other)

    def __rmul__(self, other):
        return multiply(other, self)

    def __truediv__(self, other):
        if _is_number(other):
            c = exact_scalar(other)
            if c == 0:
                raise _located(ModelError, f"division of {self.describe()} by zero")
            return scale(self, 1 / c)
        return multiply(self, power(as_tensor(other), -1))

    def __rtruediv__(self, other):
        return multiply(other, power(self, -1))

    def __pow__(self, exponent):
        if not _is_number(exponent):
            raise _located(ModelError, "the exponent in ** must be a number, not a tensor")
        return power(self, exponent)

    def __rpow__(self, base):
        raise _located(ModelError, "a tensor as an exponent is not supported; use exp(x * log(b))")

    def __neg__(self):
        return negate(self)

    def __pos__(self):
        return self

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return Tensor("op", "transpose", (self,), (self.shape[1], self.shape[0]))

    def __bool__(self):
        raise _located(ModelError, f"{self.describe()} is a tensor; it has no truth value (no `if` on tensors)")

    def __iter__(self):
        raise _located(ModelError, f"{self.describe()} is a tensor; it cannot be iterated over")

    __hash__ = object.__hash__


def describe_op(t: Tensor) -> str:
    if t.kind == "const":
        if t.shape == (1, 1):
            return str(t.value[0, 0])
        return f"a {fmt_shape(t.shape)} constant"
    if t.kind != "op":  # an unnamed leaf, as the error names it: the 2×1 data tensor
        return f"the {fmt_shape(t.shape)} {'parameter' if t.kind == 'param' else 'data tensor'}"
    a = [arg.describe() for arg in t.args]
    if t.op == "transpose":
        return f"{a[0]}.T"
    if t.op == "matmul":
        return f"({a[0]} @ {a[1]})"
    if t.op == "broadcast":
        return a[0]
    if t.op == "apply":
        return f"{t.attrs['fn']}({a[0]})"
    if t.op in ("add", "mul"):  # as the model file writes them
        return f"({a[0]} {'+' if t.op == 'add' else '*'} {a[1]})"
    if t.op == "shift":
        return f"({a[0]} + {t.attrs['c']})"
    if t.op == "scale":
        return f"{t.attrs['c']} * {a[0]}"
    if t.op == "pow":
        return f"{a[0]} ** {t.attrs['n']}"
    return f"{t.op}({', '.join(a)})"


def _is_number(x) -> bool:
    """A plain number (not a tensor, list or array) as used in ``out - 6`` or ``x / 2``."""
    return isinstance(x, (Number, np.generic, sp.Rational)) and not isinstance(x, bool)


def as_tensor(x) -> Tensor:
    """A Tensor for a tensor, a number or a nested list (a constant)."""
    if isinstance(x, Tensor):
        return x
    try:
        value = to_matrix(x)
    except ModelError as e:
        raise _located(ModelError, e.message) from None
    return Tensor("const", None, value=value)


# -- graph construction with shape checks ---------------------------------------


def matmul(a: Tensor, b: Tensor) -> Tensor:
    if a.shape[1] != b.shape[0]:
        raise _located(
            ShapeError,
            f"shape mismatch in @: {a.describe()} is {fmt_shape(a.shape)} but {b.describe()} is "
            f"{fmt_shape(b.shape)} (inner sizes {a.shape[1]} and {b.shape[0]} differ)",
        )
    return Tensor("op", "matmul", (a, b), (a.shape[0], b.shape[1]))


def broadcast_shape(op: str, a: Tensor, b: Tensor) -> tuple[int, int]:
    shape = []
    for m, n in zip(a.shape, b.shape):
        if m != n and 1 not in (m, n):
            raise _located(
                ShapeError,
                f"shape mismatch in {op}: {a.describe()} is {fmt_shape(a.shape)} but {b.describe()} is "
                f"{fmt_shape(b.shape)}; they do not broadcast",
            )
        shape.append(max(m, n))
    return tuple(shape)  # type: ignore[return-value]


def broadcast(t: Tensor, shape: tuple[int, int]) -> Tensor:
    if t.shape == shape:
        return t
    return Tensor("op", "broadcast", (t,), shape)


def _elementwise(op: str, symbol: str, a, b) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    shape = broadcast_shape(symbol, a, b)
    return Tensor("op", op, (broadcast(a, shape), broadcast(b, shape)), shape)


def add(a, b) -> Tensor:
    if _is_number(b) and isinstance(a, Tensor):
        return shift(a, b)
    if _is_number(a) and isinstance(b, Tensor):
        return shift(b, a)
    return _elementwise("add", "+", a, b)


def shift(t: Tensor, c) -> Tensor:
    c = exact_scalar(c)
    if c == 0:
        return t
    return Tensor("op", "shift", (t,), t.shape, {"c": c})


def multiply(a, b) -> Tensor:
    if _is_number(b) and isinstance(a, Tensor):
        return scale(a, b)
    if _is_number(a) and isinstance(b, Tensor):
        return scale(b, a)
    return _elementwise("mul", "*", a, b)


def scale(t: Tensor, c) -> Tensor:
    c = exact_scalar(c)
    if c == 1:
        return t
    return Tensor("op", "scale", (t,), t.shape, {"c": c})


def negate(x):
    """−x: a number stays a number (so ``out - 6`` is a shift), a tensor is scaled by −1."""
    if _is_number(x):
        return -exact_scalar(x)
    return scale(as_tensor(x), -1)


def power(t: Tensor, n) -> Tensor:
    n = exact_scalar(n)
    if n == 1:
        return t
    return Tensor("op", "pow", (t,), t.shape, {"n": n})


def apply(fn: str, t, params: tuple = ()) -> Tensor:
    """``fn`` applied to every entry of ``t``; ``params`` are constants such as a slope."""
    t = as_tensor(t)
    attrs = {"fn": fn, "params": tuple(params)} if params else {"fn": fn}
    return Tensor("op", "apply", (t,), t.shape, attrs)


# -- leaves ----------------------------------------------------------------------


def _leaf(kind: str, value, name, latex) -> Tensor:
    try:
        matrix = to_matrix(value)
    except ModelError as e:
        raise _located(ModelError, e.message) from None
    return Tensor(kind, None, value=matrix, name=name, latex=latex)


def param(value, *, name: str | None = None, latex: str | None = None) -> Tensor:
    """A trainable parameter with its initial value (exact unless a NumPy array)."""
    return _leaf("param", value, name, latex)


def data(value, *, name: str | None = None, latex: str | None = None) -> Tensor:
    """Given data: an input or a target.  Never trained."""
    return _leaf("data", value, name, latex)


def samples(values: Iterable, *, name: str | None = None, latex: str | None = None) -> Tensor:
    """Data that changes per update step: one sample per step (stochastic gradient descent).

    >>> x = samples([[0.05, 0.10], [0.2, 0.3]])   # two samples, each a 2x1 column
    """
    values = list(values)
    if not values:
        raise _located(ModelError, "samples() needs at least one sample")
    try:
        matrices = [to_matrix(v) for v in values]
    except ModelError as e:
        raise _located(ModelError, e.message) from None
    shapes = {shape_of(m) for m in matrices}
    if len(shapes) != 1:
        raise _located(ModelError, f"samples have different shapes: {sorted(fmt_shape(s) for s in shapes)}")
    t = Tensor("data", None, value=matrices[0], name=name, latex=latex)
    t.samples = matrices
    return t


def topological_order(root: Tensor) -> list[Tensor]:
    """Every node that ``root`` depends on, operands before results."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for arg in reversed(node.args):
            if id(arg) not in seen:
                stack.append((arg, False))
    return order


__all__ = ["Tensor", "param", "data", "samples", "as_tensor", "topological_order"]
