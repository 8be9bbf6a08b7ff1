"""The functions a model file may call: activations, reductions, softmax and losses.

Primitives create one graph node each and have a rule in ``rules.py``; the losses
``mse`` and ``binary_cross_entropy`` are written in terms of primitives, as a teacher
would expand them.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ModelError
from .graph import Tensor, _located, apply, as_tensor, fmt_shape, scale, user_frame
from .values import exact_scalar, to_float_array


def relu(x) -> Tensor:
    """max(0, x) elementwise; its derivative at exactly 0 follows the model's ``relu_grad_at_zero``."""
    return apply("relu", x)


def leaky_relu(x, negative_slope=0.01) -> Tensor:
    """x where x > 0, ``negative_slope``·x elsewhere (PyTorch's default slope 0.01)."""
    return apply("leaky_relu", x, params=(exact_scalar(negative_slope),))


def tanh(x) -> Tensor:
    """tanh elementwise."""
    return apply("tanh", x)


def sigmoid(x) -> Tensor:
    """σ(x) = 1 / (1 + e^(−x)) elementwise."""
    return apply("sigmoid", x)


def exp(x) -> Tensor:
    """e^x elementwise."""
    return apply("exp", x)


def log(x) -> Tensor:
    """Natural logarithm elementwise."""
    return apply("log", x)


def softplus(x) -> Tensor:
    """log(1 + e^x) elementwise."""
    return apply("softplus", x)


_AXES = {None: -1, 0: 0, 1: 1, -1: 1, -2: 0}


def _axis(axis) -> int:
    if axis not in _AXES:
        raise _located(ModelError, f"axis must be 0, 1 or None, not {axis!r}")
    return _AXES[axis]


def sum(x, axis=None) -> Tensor:  # noqa: A001 - the model's vocabulary
    """Sum of all entries (1×1), or along ``axis`` (0: down the rows → a row; 1: along each row → a column)."""
    x = as_tensor(x)
    a = _axis(axis)
    shape = {-1: (1, 1), 0: (1, x.shape[1]), 1: (x.shape[0], 1)}[a]
    if shape == x.shape:
        return x
    return Tensor("op", "sum", (x,), shape, {"axis": a})


def mean(x, axis=None) -> Tensor:
    """Mean of all entries, or along ``axis``."""
    x = as_tensor(x)
    a = _axis(axis)
    count = {-1: x.shape[0] * x.shape[1], 0: x.shape[0], 1: x.shape[1]}[a]
    return scale(sum(x, axis), sp.Rational(1, count))


def _normalised_axis(x: Tensor, axis, fn: str) -> int:
    if axis is None:
        if x.shape[1] == 1:
            return 0
        if x.shape[0] == 1:
            return 1
        raise _located(ModelError, f"{fn} of the {fmt_shape(x.shape)} matrix {x.describe()} needs axis=0 or axis=1")
    return _axis(axis)


def softmax(x, axis=None) -> Tensor:
    """exp(x) normalised to sum to 1 along a vector's length, or along ``axis`` of a matrix."""
    x = as_tensor(x)
    return Tensor("op", "softmax", (x,), x.shape, {"axis": _normalised_axis(x, axis, "softmax")})


def log_softmax(x, axis=None) -> Tensor:
    """log(softmax(x)), computed stably."""
    x = as_tensor(x)
    return Tensor("op", "log_softmax", (x,), x.shape, {"axis": _normalised_axis(x, axis, "log_softmax")})


def mse(prediction, target) -> Tensor:
    """Mean squared error: the mean of (prediction − target)² over all entries (PyTorch's MSELoss)."""
    prediction, target = as_tensor(prediction), as_tensor(target)
    _same_shape("mse", prediction, target)
    return mean((prediction - target) ** 2)


def binary_cross_entropy(probability, target) -> Tensor:
    """−mean(y log p + (1 − y) log(1 − p)) for probabilities p (PyTorch's BCELoss)."""
    p, y = as_tensor(probability), as_tensor(target)
    _same_shape("binary_cross_entropy", p, y)
    return -mean(y * log(p) + (1 - y) * log(1 - p))


def cross_entropy(logits, targets) -> Tensor:
    """Softmax + negative log-likelihood against one-hot targets, averaged over samples.

    Samples are rows and classes columns; a single column vector is one sample.
    """
    z, y = as_tensor(logits), as_tensor(targets)
    _same_shape("cross_entropy", z, y)
    if not y.is_leaf or y.kind == "param":
        raise _located(ModelError, "cross_entropy targets must be data (one-hot rows), not a computed tensor")
    column = z.shape[1] == 1 and z.shape[0] > 1
    for value in y.samples or [y.value]:
        rows = to_float_array(value).T if column else to_float_array(value)
        if np.any(np.abs(rows.sum(axis=1) - 1) > 1e-12):
            raise _located(ModelError, f"cross_entropy targets {y.describe()} must be one-hot: every row must sum to 1")
    warning = None
    if z.op == "softmax" or (z.op == "apply" and z.attrs["fn"] == "sigmoid"):  # the classic double softmax
        frame = user_frame()
        where = f"line {frame.f_lineno}: " if frame is not None else ""
        squash = "softmax" if z.op == "softmax" else "sigmoid"
        warning = (f"{where}cross_entropy takes logits and applies softmax itself; {z.describe()} is already a "
                   f"{squash}, so softmax is applied twice — pass the logits (the {squash}'s argument)")
    if column:
        z, y = z.T, y.T
    loss = Tensor("op", "cross_entropy", (z, y), (1, 1))
    if warning:
        loss.attrs["warning"] = warning
    return loss


def _same_shape(fn: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise _located(
            ModelError,
            f"shape mismatch in {fn}: {a.describe()} is {fmt_shape(a.shape)} but {b.describe()} is {fmt_shape(b.shape)}",
        )
