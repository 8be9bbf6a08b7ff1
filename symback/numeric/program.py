"""From the derivation to numbers: one generated program, two precisions.

The derivation's straight-line program (every node's value, then every δ) is handed to
``lambdify`` as its common-subexpression list, so the function it generates computes each
node once and shares it between the loss and all gradients.  `ProgramPrinter` prints every
operation as a call into a namespace; executing the same source in

* `FLOAT64` gives fast NumPy functions (``Model.compile()``, long training runs), and in
* `MPMATH` gives 50-significant-digit values on NumPy object arrays of ``mpmath.mpf``
  (the numbers in reports, and the exact-zero test of relu arguments).

The generated source is kept in the function's ``__doc__`` and in `Program.source`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from ..engine.derive import Derivation
from ..engine.expr import Grad
from ..engine.graph import Tensor
from .printing import ProgramPrinter

#: significant digits of the high-precision evaluation
DIGITS = 50
#: a high-precision relu argument smaller than this is exactly 0 (inputs are exact to DIGITS)
ZERO_TOLERANCE = mpmath.mpf(10) ** -(DIGITS - 12)


# -- sliding windows (conv2d, pooling), written once for float64 and mpmath object arrays -----------


def _windows(kr, kc, sr, sc, rows, cols):
    """Output size and, per window offset (u, v), the slices of the input it reads."""
    oh, ow = (rows - kr) // sr + 1, (cols - kc) // sc + 1
    return oh, ow, [((u, v), (slice(u, u + (oh - 1) * sr + 1, sr), slice(v, v + (ow - 1) * sc + 1, sc)))
                    for u in range(kr) for v in range(kc)]


def _correlate(a, b, sr, sc):
    """(a ⋆ b)[i, j] = Σ a[i·sr + u, j·sc + v] b[u, v]: a loop over the kernel's entries, or over the
    output's when the kernel is the larger (∂L/∂K = X ⋆ δ has a δ-sized kernel)."""
    (kr, kc), (rows, cols) = b.shape, a.shape
    oh, ow = (rows - kr) // sr + 1, (cols - kc) // sc + 1
    if kr * kc <= oh * ow:
        _, _, offsets = _windows(kr, kc, sr, sc, rows, cols)
        out = None
        for (u, v), cells in offsets:
            term = b[u, v] * a[cells]
            out = term if out is None else out + term
        return out
    windows = np.lib.stride_tricks.sliding_window_view(a, (kr, kc))[::sr, ::sc][:oh, :ow]
    return np.tensordot(windows, b, axes=2)


def _pad(a, zero, top, left, bottom, right):
    """``a`` with zero rows/columns added (a negative count crops)."""
    a = a[max(0, -top):a.shape[0] - max(0, -bottom), max(0, -left):a.shape[1] - max(0, -right)]
    widths = ((max(0, top), max(0, bottom)), (max(0, left), max(0, right)))
    return np.pad(a, widths, constant_values=zero) if any(w for pair in widths for w in pair) else a


def _dilate(a, zero, sr, sc):
    out = np.full(((a.shape[0] - 1) * sr + 1, (a.shape[1] - 1) * sc + 1), zero, dtype=a.dtype)
    out[::sr, ::sc] = a
    return out


def _max_pool(x, kr, kc, sr, sc):
    _, _, offsets = _windows(kr, kc, sr, sc, *x.shape)
    out = None
    for _, cells in offsets:
        out = x[cells] if out is None else np.maximum(out, x[cells])
    return out


def _avg_pool(x, kr, kc, sr, sc):
    _, _, offsets = _windows(kr, kc, sr, sc, *x.shape)
    total = None
    for _, cells in offsets:
        total = x[cells] if total is None else total + x[cells]
    return total / (kr * kc)


def _pool_route(x, g, kr, kc, sr, sc, zero, tie):
    """Each window's δ added at its first maximum (row by row); values within ``tie`` of the maximum tie."""
    oh, ow = g.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (kr, kc))[::sr, ::sc][:oh, :ow].reshape(oh, ow, kr * kc)
    top = np.max(windows, axis=-1, keepdims=True)
    first = np.argmax(windows >= top - tie, axis=-1)  # the first True: the first maximum, reading row by row
    rows = np.arange(oh)[:, None] * sr + first // kc
    cols = np.arange(ow)[None, :] * sc + first % kc
    out = np.full(x.shape, zero, dtype=g.dtype if g.dtype == object else np.float64)
    np.add.at(out, (rows, cols), g)  # overlapping windows may route to one entry
    return out


def _pool_spread(g, kr, kc, sr, sc, rows, cols, zero):
    """Each window's δ shared equally among its entries."""
    out = np.full((rows, cols), zero, dtype=g.dtype if g.dtype == object else np.float64)
    _, _, offsets = _windows(kr, kc, sr, sc, rows, cols)
    share = g / (kr * kc)
    for _, cells in offsets:
        out[cells] = out[cells] + share
    return out


def _float_namespace() -> dict:
    def step(x, c):
        return np.heaviside(x, float(c))  # one ufunc: 0 below, c at, 1 above 0

    def leaky_step(x, alpha, c):
        return float(alpha) + (1 - float(alpha)) * step(x, c)

    def sigmoid(x):
        with np.errstate(over="ignore"):
            return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))

    def softmax(x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(shifted)
        return e / np.sum(e, axis=axis, keepdims=True)

    def log_softmax(x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def normalize(x, axis, eps):
        centred = x - np.mean(x, axis=axis, keepdims=True)
        return centred / np.sqrt(np.mean(centred * centred, axis=axis, keepdims=True) + float(eps))

    def inv_std(x, axis, eps):
        centred = x - np.mean(x, axis=axis, keepdims=True)
        return 1 / np.sqrt(np.mean(centred * centred, axis=axis, keepdims=True) + float(eps))

    def huber(x, delta):
        a, d = np.abs(x), float(delta)
        return np.where(a <= d, 0.5 * x * x, d * (a - 0.5 * d))

    return {
        "_normalize": normalize,
        "_inv_std": inv_std,
        "_correlate": _correlate,
        "_pad": lambda a, *widths: _pad(a, 0.0, *widths),
        "_dilate": lambda a, sr, sc: _dilate(a, 0.0, sr, sc),
        "_max_pool": _max_pool,
        "_avg_pool": _avg_pool,
        "_pool_route": lambda x, g, *window: _pool_route(x, g, *window, 0.0, 0.0),
        "_pool_spread": lambda g, *window: _pool_spread(g, *window, 0.0),
        "_concat": lambda *parts: np.concatenate(parts, axis=1),
        "_f_abs": np.abs,
        "_f_sign": np.sign,
        "_f_huber": huber,
        "_f_clip": lambda x, delta: np.clip(x, -float(delta), float(delta)),
        "_q": lambda p, q: p / q,
        "_q_float": lambda p, q: p / q,
        "_pow": lambda x, n: x * x if n == 2 else np.power(x, float(n)),
        "_ones": lambda r, c: np.ones((r, c)),
        "_zeros": lambda r, c: np.zeros((r, c)),
        "_const": lambda rows: np.array(rows, dtype=np.float64),
        "_broadcast": lambda x, r, c: np.broadcast_to(x, (r, c)),
        "_sum": lambda x, axis: np.sum(x, axis=None if axis == -1 else axis, keepdims=True),
        "_softmax": softmax,
        "_log_softmax": log_softmax,
        "_f_tanh": np.tanh,
        "_f_sigmoid": sigmoid,
        "_f_relu": lambda x: np.maximum(x, 0.0),
        "_f_leaky_relu": lambda x, alpha: np.where(x > 0, x, float(alpha) * x),
        "_f_step": step,
        "_f_leaky_step": leaky_step,
        "_f_exp": np.exp,
        "_f_log": np.log,
        "_f_softplus": lambda x: np.logaddexp(0.0, x),
    }


def _mp_namespace() -> dict:
    mpf = mpmath.mpf
    zero_tol = ZERO_TOLERANCE

    def real(v):  # as float64 does: a result that is not real is NaN (log(-1), (-1)**0.5)
        return v if not isinstance(v, mpmath.mpc) else (v.real if v.imag == 0 else mpmath.nan)

    def power(v, n):
        if v == 0 and n < 0:  # 1/0: infinite, as in float64 (mpmath raises)
            return mpmath.inf
        return real(v**n)

    def elementwise(f):
        ufunc = np.frompyfunc(f, 1, 1)
        return lambda x: np.asarray(ufunc(x), dtype=object)

    def sign(v):
        return 0 if abs(v) <= zero_tol else (1 if v > 0 else -1)

    def step(x, c):
        table = {1: mpf(1), -1: mpf(0), 0: mpf(c.p) / c.q if isinstance(c, sp.Rational) else mpf(c)}
        return np.asarray(np.frompyfunc(lambda v: table[sign(v)], 1, 1)(x), dtype=object)

    def leaky_step(x, alpha, c):
        return alpha + (1 - alpha) * step(x, c)

    def relu(x):
        return np.asarray(np.frompyfunc(lambda v: v if sign(v) > 0 else mpf(0), 1, 1)(x), dtype=object)

    def softmax(x, axis):
        e = elementwise(mpmath.exp)(x)
        return e / np.sum(e, axis=axis, keepdims=True)

    def log_softmax(x, axis):
        total = np.sum(elementwise(mpmath.exp)(x), axis=axis, keepdims=True)
        return x - elementwise(mpmath.log)(total)

    def ones(r, c):
        return np.full((r, c), mpf(1), dtype=object)

    sqrt = elementwise(mpmath.sqrt)

    def moments(x, axis):
        n = x.shape[axis]
        centred = x - np.sum(x, axis=axis, keepdims=True) / n
        return centred, np.sum(centred * centred, axis=axis, keepdims=True) / n

    def normalize(x, axis, eps):
        centred, variance = moments(x, axis)
        return centred / sqrt(variance + eps)

    def inv_std(x, axis, eps):
        return 1 / sqrt(moments(x, axis)[1] + eps)

    def huber(x, delta):
        return np.asarray(np.frompyfunc(lambda v: v * v / 2 if abs(v) <= delta else delta * (abs(v) - delta / 2),
                                        1, 1)(x), dtype=object)

    def clip(x, delta):
        return np.asarray(np.frompyfunc(lambda v: min(max(v, -delta), delta), 1, 1)(x), dtype=object)

    zero = mpf(0)
    return {
        "_normalize": normalize,
        "_inv_std": inv_std,
        "_correlate": _correlate,
        "_pad": lambda a, *widths: _pad(a, zero, *widths),
        "_dilate": lambda a, sr, sc: _dilate(a, zero, sr, sc),
        "_max_pool": _max_pool,
        "_avg_pool": _avg_pool,
        "_pool_route": lambda x, g, *window: _pool_route(x, g, *window, zero, zero_tol),
        "_pool_spread": lambda g, *window: _pool_spread(g, *window, zero),
        "_concat": lambda *parts: np.concatenate(parts, axis=1),
        "_f_abs": elementwise(abs),
        "_f_sign": elementwise(lambda v: mpf(sign(v))),
        "_f_huber": huber,
        "_f_clip": clip,
        "_q": lambda p, q: mpf(p) / q,
        "_q_float": lambda p, q: mpf(p) / q,
        "_pow": lambda x, n: np.asarray(np.frompyfunc(lambda v: power(v, n), 1, 1)(x), dtype=object),
        "_ones": ones,
        "_zeros": lambda r, c: np.full((r, c), mpf(0), dtype=object),
        "_const": lambda rows: np.array([[mpf(v) for v in row] for row in rows], dtype=object),
        "_broadcast": lambda x, r, c: np.broadcast_to(x, (r, c)),
        "_sum": lambda x, axis: np.sum(x, axis=None if axis == -1 else axis, keepdims=True),
        "_softmax": softmax,
        "_log_softmax": log_softmax,
        "_f_tanh": elementwise(mpmath.tanh),
        "_f_sigmoid": elementwise(lambda v: 1 / (1 + mpmath.exp(-v))),
        "_f_relu": relu,
        "_f_leaky_relu": lambda x, alpha: relu(x) + alpha * (x - relu(x)),
        "_f_step": step,
        "_f_leaky_step": leaky_step,
        "_f_exp": elementwise(mpmath.exp),
        "_f_log": elementwise(lambda v: mpmath.log(v) if v >= 0 else mpmath.nan),
        "_f_softplus": elementwise(lambda v: mpmath.log(1 + mpmath.exp(v))),
    }


FLOAT64 = "float64"
MPMATH = "mpmath"
_NAMESPACES = {FLOAT64: _float_namespace, MPMATH: _mp_namespace}


@dataclass
class Program:
    """The derivation as a program over one symbol per node."""

    leaves: list[Tensor]  # arguments, in order
    nodes: list[Tensor]  # every node, in evaluation order
    trainable: list[Tensor]
    named_deltas: list[Tensor]  # named intermediates whose δ ``full`` returns too
    forward_source: str
    full_source: str
    _forward: dict
    _full: dict

    def forward(self, leaf_values: list, precision: str = FLOAT64) -> dict[Tensor, object]:
        """Value of every node."""
        values = self._call(self._forward, leaf_values, precision)
        return dict(zip(self.nodes, values))

    def full(self, leaf_values: list, precision: str = FLOAT64) -> tuple[dict, dict]:
        """(value of every node, gradient of every trainable parameter and δ of every named node).

        The second dict is keyed by node: the trainable parameters first, then each named
        intermediate through which a parameter reaches the loss.
        """
        out = self._call(self._full, leaf_values, precision)
        n = len(self.nodes)
        return dict(zip(self.nodes, out[:n])), dict(zip(self.trainable + self.named_deltas, out[n:]))

    def _call(self, functions: dict, leaf_values: list, precision: str):
        if precision == MPMATH:
            with mpmath.workdps(DIGITS):
                out = functions[MPMATH](*[to_mp(v) for v in leaf_values])
            return [snap_zero(v) for v in out] if isinstance(out, (list, tuple)) else snap_zero(out)
        with np.errstate(all="ignore"):
            return functions[FLOAT64](*[np.asarray(v, dtype=np.float64) for v in leaf_values])


def to_mp(value) -> np.ndarray:
    """An exact (SymPy) or float matrix as an object array of mpmath numbers at `DIGITS` digits,
    whatever precision the caller's context has (0.1 is 1/10 to 50 digits, not the nearest double)."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value
    if isinstance(value, np.ndarray):
        return np.array([[mpmath.mpf(float(v)) for v in row] for row in value], dtype=object)
    with mpmath.workdps(DIGITS):
        return np.array(
            [[mpmath.mpf(v.p) / v.q if isinstance(v, sp.Rational) else mpmath.mpf(str(v)) for v in row]
             for row in value.tolist()],
            dtype=object,
        )


def snap_zero(value):
    """A high-precision result with every entry within ZERO_TOLERANCE of 0 set to exactly 0.

    Exact inputs such as 0.3 carry a rounding of 1e-50 at DIGITS digits, so a quantity that is
    exactly 0 (tanh of a pre-activation 0.3 - 0.3) comes out as 1.6e-50; the relu sign test
    already treats such a value as 0, and so do the reports.
    """
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.asarray(np.frompyfunc(_snap, 1, 1)(value), dtype=object)
    return _snap(value)


def _snap(v):
    return mpmath.mpf(0) if isinstance(v, mpmath.mpf) and abs(v) <= ZERO_TOLERANCE else v


def mp_sqrt(x):
    """Square root of an mpmath number or of an object array of them (Adam's update)."""
    if isinstance(x, np.ndarray):
        return np.asarray(np.frompyfunc(mpmath.sqrt, 1, 1)(x), dtype=object)
    return mpmath.sqrt(x)


def to_float(value) -> np.ndarray:
    """float64 array of an mpmath object array (nearest double) or a float array."""
    return np.array(value, dtype=np.float64)


def _hoist(e, constants: dict):
    """``e`` with every largest constant matrix subexpression (``-6 * ones(1, 1)``, ``1/2 ones``)
    replaced by a symbol ``c<k>`` whose value the program computes once."""
    if isinstance(e, (MatrixExpr, sp.MatrixBase)) and not isinstance(e, sp.MatrixSymbol) and e.shape != () \
            and not any(isinstance(a, sp.MatrixSymbol) for a in e.free_symbols):
        if e not in constants:
            constants[e] = sp.MatrixSymbol(f"c{len(constants)}", *e.shape)
        return constants[e]
    if not isinstance(e, MatrixExpr) or not e.args:
        return e
    args = tuple(_hoist(a, constants) if isinstance(a, MatrixExpr) else a for a in e.args)
    return e if args == e.args else e.func(*args)


def _frozen(value):
    value = np.asarray(value)
    value.flags.writeable = False  # shared by every call: never to be changed in place
    return value


def build_program(d: Derivation) -> Program:
    """Print the derivation's program as NumPy code, in both precisions."""
    nodes = d.order
    leaves = [n for n in nodes if n.is_leaf]
    ops = [n for n in nodes if not n.is_leaf]
    symbol = {}
    for k, n in enumerate(nodes):
        symbol[d.value[n]] = sp.MatrixSymbol(f"v{k}", *n.shape)
        if isinstance(d.delta[n], Grad):
            symbol[d.delta[n]] = sp.MatrixSymbol(f"g{k}", *n.shape)
    forward = [(symbol[d.value[n]], d.forward_defs[n].xreplace(symbol)) for n in ops]
    backward = [
        (symbol[d.delta[n]], d.delta_defs[n].xreplace(symbol))
        for n in reversed(nodes)
        if n in d.delta_defs and n is not d.loss
    ]
    args = [symbol[d.value[n]] for n in leaves]
    values = [symbol[d.value[n]] for n in nodes]
    grads = [symbol[d.delta[p]] if p in d.delta_defs else sp.ZeroMatrix(*p.shape) for p in d.trainable]
    named_deltas = [n for n in nodes if n.name and not n.is_leaf and n in d.delta_defs and n is not d.loss]
    grads += [symbol[d.delta[n]] for n in named_deltas]

    constants: dict = {}
    forward = [(v, _hoist(e, constants)) for v, e in forward]
    backward = [(v, _hoist(e, constants)) for v, e in backward]

    printer = ProgramPrinter()
    forward_fns, full_fns = {}, {}
    for precision, namespace in _NAMESPACES.items():
        names = namespace()
        if constants:  # computed once here, not on every call
            with mpmath.workdps(DIGITS):  # the mp constants at full precision
                computed = sp.lambdify([], list(constants), modules=[names], printer=printer)()
            names.update({c.name: _frozen(v) for c, v in zip(constants.values(), computed)})
        forward_fns[precision] = sp.lambdify(
            args, values, modules=[names], printer=printer, cse=lambda e: (forward, e), docstring_limit=None
        )
        full_fns[precision] = sp.lambdify(
            args, values + grads, modules=[names], printer=printer,
            cse=lambda e: (forward + backward, e), docstring_limit=None,
        )
    return Program(
        leaves, nodes, list(d.trainable), named_deltas,
        inspect.getsource(forward_fns[FLOAT64]), inspect.getsource(full_fns[FLOAT64]),
        forward_fns, full_fns,
    )
