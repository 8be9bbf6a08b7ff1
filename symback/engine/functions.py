"""The functions a model file may call: activations, reductions, softmax and losses.

Primitives create one graph node each and have a rule in ``rules.py``; the losses
``mse`` and ``binary_cross_entropy`` are written in terms of primitives, as a teacher
would expand them.
"""

from __future__ import annotations

import builtins

import numpy as np
import sympy as sp

from ..errors import ModelError, ShapeError
from ..limits import MAX_CHANNELS
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


# -- convolution and pooling: an image is a matrix, channels a list of matrices ----------------


def _pair(value, what: str, least: int) -> tuple[int, int]:
    """An int or a pair of ints (rows, columns), each at least ``least``."""
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair) \
            or min(pair) < least:
        raise _located(ModelError, f"{what} must be a whole number ≥ {least} or a pair of them, not {value!r}")
    return int(pair[0]), int(pair[1])


def _is_channels(x) -> bool:
    """A list of tensors (channels); a list of numbers or of rows of numbers is one matrix."""
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(t, Tensor) for t in x)


def _is_bank(kernel) -> bool:
    """A list of lists of tensors: one list of kernels per output channel."""
    return isinstance(kernel, (list, tuple)) and bool(kernel) and all(_is_channels(k) for k in kernel)


def _channels(x, what: str, same_shape: bool = True) -> list[Tensor]:
    items = list(x) if _is_channels(x) or (isinstance(x, (list, tuple)) and not x) else [x]
    if not items or len(items) > MAX_CHANNELS:
        raise _located(ModelError, f"{what} needs 1 to {MAX_CHANNELS} channels, not {len(items)}")
    tensors = [as_tensor(t) for t in items]
    shapes = {t.shape for t in tensors}
    if same_shape and len(shapes) > 1:
        raise _located(ShapeError, f"{what}'s channels differ in shape ({', '.join(fmt_shape(s) for s in sorted(shapes))}): "
                       "every channel must be the same size")
    return tensors


def _setting(value, what: str):
    """A number setting of a function (eps, delta, p, weight_decay), exactly; a `ModelError` naming it if not."""
    try:
        return exact_scalar(value)
    except ModelError:
        raise _located(ModelError, f"{what} must be a number, not {value!r}") from None


def conv2d(x, kernel, stride=1, padding=0):
    """The 2-D convolution (cross-correlation, as PyTorch's ``conv2d``) of an image with a kernel.

    Shapes: ``x`` is an H×W matrix and ``kernel`` a kh×kw matrix; the result is
    ((H + 2p − kh) // s + 1) × ((W + 2p − kw) // s + 1) for stride ``s`` and zero padding ``p``
    (each an int or a (rows, columns) pair).  Several channels keep each channel a matrix:
    ``x`` a list of C_in images and ``kernel`` a list of C_in kernels (one output channel, the sum
    over input channels) or a list of C_out such lists (a list of C_out output images).
    Raises `ModelError` for a kernel larger than the padded image or mismatched channels.
    """
    images = _channels(x, "conv2d's input")
    nested = _is_bank(kernel)
    banks = [_channels(k, "conv2d's kernel") for k in kernel] if nested else [_channels(kernel, "conv2d's kernel")]
    if len({bank[0].shape for bank in banks}) > 1:
        raise _located(ShapeError, "conv2d's kernels differ in shape between output channels: every kernel must be "
                       "the same size")
    if len(banks) > MAX_CHANNELS:
        raise _located(ModelError, f"conv2d makes 1 to {MAX_CHANNELS} output channels, not {len(banks)}")
    sr, sc = _pair(stride, "conv2d's stride", 1)
    pr, pc = _pair(padding, "conv2d's padding", 0)
    outputs = []
    for bank in banks:
        if len(bank) != len(images):
            raise _located(ModelError, f"conv2d: {len(images)} input channel(s) but {len(bank)} kernel(s) for them")
        total = None
        for image, k in zip(images, bank):
            (h, w), (kh, kw) = image.shape, k.shape
            if kh > h + 2 * pr or kw > w + 2 * pc:
                raise _located(ShapeError, f"conv2d: the {fmt_shape(k.shape)} kernel {k.describe()} is larger than the "
                               f"{fmt_shape(image.shape)} image {image.describe()} padded by {pr}, {pc}")
            shape = ((h + 2 * pr - kh) // sr + 1, (w + 2 * pc - kw) // sc + 1)
            node = Tensor("op", "conv2d", (image, k), shape, {"stride": (sr, sc), "padding": (pr, pc)})
            total = node if total is None else total + node
        outputs.append(total)
    return outputs if nested else outputs[0]


def _pool(op: str, x, size, stride):
    window = _pair(size, f"{op}'s size", 1)
    step = window if stride is None else _pair(stride, f"{op}'s stride", 1)
    outputs = []
    for image in _channels(x, op):
        (h, w), (kh, kw) = image.shape, window
        if kh > h or kw > w:
            raise _located(ShapeError, f"{op}: the {kh}×{kw} window is larger than the {fmt_shape(image.shape)} "
                           f"matrix {image.describe()}")
        shape = ((h - kh) // step[0] + 1, (w - kw) // step[1] + 1)
        outputs.append(Tensor("op", op, (image,), shape, {"window": window, "stride": step}))
    return outputs if _is_channels(x) else outputs[0]


def max_pool2d(x, size, stride=None):
    """The maximum of each size×size window (``size`` an int or a pair), moved by ``stride``
    (default: ``size``, windows side by side); a list of channels gives a list.  Of tied maxima the
    first, reading the window row by row, receives the window's δ (PyTorch's choice).
    Shape: ((H − k) // s + 1) × ((W − k) // s + 1)."""
    return _pool("max_pool2d", x, size, stride)


def avg_pool2d(x, size, stride=None):
    """The mean of each size×size window, moved by ``stride`` (default: ``size``); as `max_pool2d`."""
    return _pool("avg_pool2d", x, size, stride)


def flatten(x) -> Tensor:
    """A matrix's entries read row by row as one 1×(H·W) row (PyTorch's ``flatten``), ready for a
    dense layer ``flatten(P) @ W``; a list of channels gives their rows joined, channel after channel."""
    rows = []
    for image in _channels(x, "flatten", same_shape=False):
        h, w = image.shape
        rows.append(image if h == 1 else Tensor("op", "flatten", (image,), (1, h * w)))
    if len(rows) == 1:
        return rows[0]
    return Tensor("op", "concat", tuple(rows), (1, builtins.sum(r.shape[1] for r in rows)))


# -- normalisation and dropout ---------------------------------------------------------------


def _normalised(op: str, x, gamma, beta, eps, axis: int) -> Tensor:
    x = as_tensor(x)
    eps = _setting(eps, f"{op}'s eps")
    if eps <= 0:
        raise _located(ModelError, f"{op}'s eps must be positive, not {eps}")
    lane = x.shape[0] if axis == 0 else x.shape[1]
    want = (1, x.shape[1])  # one gamma and beta per column (feature), for either axis
    for t, role in ((gamma, "gamma"), (beta, "beta")):
        t = as_tensor(t)
        if t.shape != want:
            raise _located(ShapeError, f"{op}'s {role} {t.describe()} is {fmt_shape(t.shape)}; it must be "
                           f"{fmt_shape(want)}, one per column of {x.describe()}")
    if lane < 2 and axis == 0:
        raise _located(ModelError, f"batch_norm of {x.describe()} needs a batch of at least 2 rows "
                       "(one row's variance is 0)")
    normalised = Tensor("op", "normalize", (x,), x.shape, {"axis": axis, "eps": eps})
    return normalised * gamma + beta


def batch_norm(x, gamma, beta, eps=1e-5) -> Tensor:
    """Batch normalisation in training mode: each column of the N×n batch ``x`` (samples as rows, as
    in ``X @ W``) less its mean over the batch, over √(variance + eps) (the biased variance), then
    scaled by ``gamma`` and shifted by ``beta`` (both 1×n).  Ioffe & Szegedy (2015), Algorithm 1."""
    return _normalised("batch_norm", x, gamma, beta, eps, 0)


def layer_norm(x, gamma, beta, eps=1e-5) -> Tensor:
    """Layer normalisation: each row of ``x`` normalised over its own n entries, then ``gamma`` and
    ``beta`` (1×n) applied, as PyTorch's ``layer_norm`` over the last dimension (Ba et al. 2016)."""
    return _normalised("layer_norm", x, gamma, beta, eps, 1)


def dropout(x, mask, p=0.5) -> Tensor:
    """Inverted dropout with a fixed mask, so the numbers are reproducible: ``x ⊙ mask / (1 − p)``.

    ``mask`` is data of x's shape holding 0 (dropped) and 1 (kept); ``p`` the drop probability in
    [0, 1).  Raises `ModelError` for another mask."""
    x = as_tensor(x)
    p = _setting(p, "dropout's p")
    if not 0 <= p < 1:
        raise _located(ModelError, f"dropout's p must be in [0, 1), not {p}")
    if not isinstance(mask, Tensor):
        mask = Tensor("data", None, value=_mask_value(mask))
    if mask.kind != "data":
        kind = {"param": "a parameter", "op": "a computed tensor", "const": "a constant"}[mask.kind]
        raise _located(ModelError, f"dropout's mask {mask.describe()} must be data (0s and 1s), not {kind}")
    _same_shape("dropout", x, mask)
    for value in mask.samples or [mask.value]:
        if not np.all(np.isin(to_float_array(value), (0.0, 1.0))):
            raise _located(ModelError, f"dropout's mask {mask.describe()} must hold only 0 and 1")
    return Tensor("op", "dropout", (x, mask), x.shape, {"scale": 1 / (1 - p), "p": p})


def _mask_value(mask):
    from .values import to_matrix

    try:
        return to_matrix(mask)
    except ModelError as e:
        raise _located(ModelError, e.message) from None


# -- more losses and a penalty -------------------------------------------------------------------


def abs(x) -> Tensor:  # noqa: A001 - the model's vocabulary
    """|x| elementwise; its derivative sign(x) is 0 at x = 0, as PyTorch's."""
    return apply("abs", x)


def mae(prediction, target) -> Tensor:
    """Mean absolute error, the mean of |prediction − target| (PyTorch's L1Loss); at a residual of
    exactly 0 its derivative is 0 (sign(0) = 0, PyTorch's convention)."""
    prediction, target = as_tensor(prediction), as_tensor(target)
    _same_shape("mae", prediction, target)
    return mean(abs(prediction - target))


def huber(prediction, target, delta=1.0) -> Tensor:
    """Huber loss (PyTorch's HuberLoss): the mean over entries of r²/2 where |r| ≤ delta, else
    delta·(|r| − delta/2), for the residual r = prediction − target."""
    prediction, target = as_tensor(prediction), as_tensor(target)
    _same_shape("huber", prediction, target)
    delta = _setting(delta, "huber's delta")
    if delta <= 0:
        raise _located(ModelError, f"huber's delta must be positive, not {delta}")
    return mean(apply("huber", prediction - target, params=(delta,)))


def hinge(scores, targets) -> Tensor:
    """The hinge loss of a linear classifier: mean(max(0, 1 − y ⊙ s)) for labels y of −1 and +1.

    Written with relu, so its kink (a margin of exactly 1) takes the model's ``relu_grad_at_zero``
    (0 by default, as ``torch.relu(1 - y * s)``)."""
    s, y = as_tensor(scores), as_tensor(targets)
    _same_shape("hinge", s, y)
    if not y.is_leaf or y.kind == "param":
        raise _located(ModelError, "hinge targets must be data (labels −1 and +1), not a computed tensor")
    for value in y.samples or [y.value]:
        if not np.all(np.isin(to_float_array(value), (-1.0, 1.0))):
            raise _located(ModelError, f"hinge targets {y.describe()} must be −1 or +1")
    return mean(relu(1 - y * s))


def l2_penalty(*tensors, weight_decay=None) -> Tensor:
    """The L2 penalty (weight_decay / 2)·Σ‖W‖², summed over ``tensors``: added to a loss, its
    gradient weight_decay·W is what PyTorch's SGD ``weight_decay`` adds."""
    if weight_decay is None:
        raise _located(ModelError, "l2_penalty needs weight_decay=λ, e.g. l2_penalty(W1, W2, weight_decay=0.01)")
    lam = _setting(weight_decay, "l2_penalty's weight_decay")
    tensors = [t for item in tensors for t in (item if isinstance(item, (list, tuple)) else [item])]  # W or [W1, W2]
    if lam < 0 or not tensors:
        raise _located(ModelError, f"l2_penalty needs one or more tensors and weight_decay ≥ 0, not {lam}")
    total = None
    for t in tensors:
        term = sum(as_tensor(t) ** 2)
        total = term if total is None else total + term
    return scale(total, lam / 2)
