"""SymPy matrix expressions for the operations SymPy lacks, and tidy constructors.

SymPy has `MatMul`, `MatAdd`, `Transpose`, `HadamardProduct` and `HadamardPower`; symback
adds elementwise functions (`Apply`), NumPy broadcasting (`Broadcast`) and its inverse,
the sums (`Reduce`), softmax along an axis, and `Grad`, the upstream gradient δ of a node.
Each class knows its shape and its entries, so any expression can be expanded to scalars
for the elementwise check (see ``explicit.py``) and printed by the printers in
``printing.py``.

The constructors at the bottom (`hadamard`, `matmul`, `scaled`, ...) are what the rules
use: they drop factors of one and fold 1x1 transposes so the steps read as a teacher would
write them, and never change a value.
"""

from __future__ import annotations

from functools import cached_property

import sympy as sp
from sympy import Heaviside, Integer, Max, exp, log, tanh
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr, MatrixSymbol

# -- scalar meaning of each elementwise function ----------------------------------
# Used only to expand a matrix expression to scalars (the elementwise oracle).


def _step(x, c):
    return Heaviside(x, c)


def _leaky_step(x, alpha, c):
    # PyTorch: slope alpha for x <= 0, so leaky'(0) = alpha + c*(1 - alpha) with c = relu'(0) convention
    return alpha + (1 - alpha) * Heaviside(x, c)


class real_abs(sp.Function):  # noqa: N801 - a SymPy function, named as SymPy's are
    """|x| of a real x, whose derivative is sign(x), 0 at 0 (PyTorch's abs′(0); SymPy's own ``Abs``
    differentiates as if x could be complex)."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_comparable:
            return sp.Abs(x)
        return None

    def fdiff(self, argindex=1):
        return sp.sign(self.args[0])


def _clip(x, delta):
    return sp.Min(sp.Max(x, -delta), delta)


class huber_loss(sp.Function):  # noqa: N801
    """Huber's function of a residual r: r²/2 where |r| ≤ δ, δ(|r| − δ/2) beyond (PyTorch's HuberLoss);
    its derivative is r clipped to [−δ, δ] (Huber 1964, *Ann. Math. Statist.* 35(1), eq. 2)."""

    @classmethod
    def eval(cls, r, delta):
        if r.is_number and r.is_comparable and delta.is_number:
            return r**2 / 2 if abs(r) <= delta else delta * (abs(r) - delta / 2)
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return _clip(*self.args)


SCALAR_FUNCTIONS = {
    "tanh": tanh,
    "sigmoid": lambda x: 1 / (1 + exp(-x)),
    "relu": lambda x: Max(0, x),
    # α x + (1 − α) relu(x): its derivative under the relu′(0) convention c is α + (1 − α) c at 0, as leaky_step
    "leaky_relu": lambda x, alpha: alpha * x + (1 - alpha) * Max(0, x),
    "step": _step,
    "leaky_step": _leaky_step,
    "exp": exp,
    "log": log,
    "softplus": lambda x: log(1 + exp(x)),
    "abs": real_abs,
    "sign": sp.sign,
    "huber": huber_loss,
    "clip": _clip,
}

#: functions with a kink: finite differences across the kink are not judged
KINKED = {"relu", "leaky_relu", "step", "leaky_step", "abs", "sign"}


class Apply(MatrixExpr):
    """``fn`` applied to every entry of a matrix, e.g. ``Apply("tanh", u1)``."""

    def __new__(cls, fn, arg, *params):
        fn = fn if isinstance(fn, Str) else Str(fn)
        return MatrixExpr.__new__(cls, fn, arg, *[sp.sympify(p) for p in params])

    @property
    def fn(self) -> str:
        return self.args[0].name

    @property
    def arg(self):
        return self.args[1]

    @property
    def params(self):
        return self.args[2:]

    @cached_property
    def shape(self):  # cached: a chain's shapes are otherwise recomputed down to the leaves (quadratic)
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        return SCALAR_FUNCTIONS[self.fn](self.arg._entry(i, j, **kwargs), *self.params)


class Broadcast(MatrixExpr):
    """A 1x1, a row or a column stretched to ``rows x cols`` as NumPy broadcasting does."""

    def __new__(cls, arg, rows, cols):
        return MatrixExpr.__new__(cls, arg, Integer(rows), Integer(cols))

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return (self.args[1], self.args[2])

    def _entry(self, i, j, **kwargs):
        r, c = self.arg.shape
        return self.arg._entry(i if r != 1 else 0, j if c != 1 else 0, **kwargs)


# axis codes, as in NumPy with keepdims=True; ALL reduces to 1x1
ALL = -1


class Reduce(MatrixExpr):
    """The sum of a matrix's entries: over rows (axis 0), over columns (axis 1) or all (-1)."""

    def __new__(cls, arg, axis):
        return MatrixExpr.__new__(cls, arg, Integer(axis))

    @property
    def arg(self):
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    @cached_property
    def shape(self):
        r, c = self.arg.shape
        return {0: (Integer(1), c), 1: (r, Integer(1)), ALL: (Integer(1), Integer(1))}[self.axis]

    def _entry(self, i, j, **kwargs):
        r, c = (int(n) for n in self.arg.shape)
        if self.axis == 0:
            cells = [(k, j) for k in range(r)]
        elif self.axis == 1:
            cells = [(i, k) for k in range(c)]
        else:
            cells = [(a, b) for a in range(r) for b in range(c)]
        return sp.Add(*[self.arg._entry(a, b, **kwargs) for a, b in cells])


class _Normalise(MatrixExpr):
    def __new__(cls, arg, axis):
        return MatrixExpr.__new__(cls, arg, Integer(axis))

    @property
    def arg(self):
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    @cached_property
    def shape(self):
        return self.arg.shape

    def _lane(self, i, j, **kwargs):
        r, c = (int(n) for n in self.arg.shape)
        if self.axis == 0:
            return [self.arg._entry(k, j, **kwargs) for k in range(r)]
        return [self.arg._entry(i, k, **kwargs) for k in range(c)]


class Softmax(_Normalise):
    """softmax along ``axis``: exp(x_i) / Σ_k exp(x_k) within each row (1) or column (0)."""

    def _entry(self, i, j, **kwargs):
        lane = self._lane(i, j, **kwargs)
        return exp(self.arg._entry(i, j, **kwargs)) / sp.Add(*[exp(v) for v in lane])


class LogSoftmax(_Normalise):
    """log softmax along ``axis``: x_i − log Σ_k exp(x_k)."""

    def _entry(self, i, j, **kwargs):
        lane = self._lane(i, j, **kwargs)
        return self.arg._entry(i, j, **kwargs) - log(sp.Add(*[exp(v) for v in lane]))


def _moments(lane: list) -> tuple:
    """The mean and the biased variance (divided by n, as PyTorch normalises) of a lane's entries."""
    mean = sp.Add(*lane) / len(lane)
    return mean, sp.Add(*[(v - mean) ** 2 for v in lane]) / len(lane)


class _Moments(_Normalise):
    """The statistics of each column (axis 0) or row (axis 1) with ε: what batch and layer normalisation share."""

    def __new__(cls, arg, axis, eps):
        return MatrixExpr.__new__(cls, arg, Integer(axis), sp.sympify(eps))

    @property
    def eps(self):
        return self.args[2]

    def entry_terms(self) -> int:
        r, c = (int(n) for n in self.arg.shape)
        return 2 * (r if self.axis == 0 else c)


class Normalize(_Moments):
    """x̂: each column (axis 0, batch normalisation) or row (axis 1, layer normalisation) less its mean,
    over √(variance + ε); the variance is the biased one (divided by n), as PyTorch normalises."""

    def _entry(self, i, j, **kwargs):
        mean, variance = _moments(self._lane(i, j, **kwargs))
        return (self.arg._entry(i, j, **kwargs) - mean) / sp.sqrt(variance + self.eps)


class InvStd(_Moments):
    """1/σ with σ = √(variance + ε) of each column (axis 0: a row of them) or row (axis 1: a column)."""

    @cached_property
    def shape(self):
        r, c = self.arg.shape
        return (Integer(1), c) if self.axis == 0 else (r, Integer(1))

    def _entry(self, i, j, **kwargs):  # entry (0, j) is column j's, (i, 0) row i's: the lane _lane reads
        return 1 / sp.sqrt(_moments(self._lane(i, j, **kwargs))[1] + self.eps)


class Grad(MatrixSymbol):
    """δ_name: the gradient of the loss with respect to the named quantity (same shape)."""


# -- tidy constructors used by the rules ------------------------------------------

ONE = sp.Identity(1)  # the seed: δ_loss = 1


def is_one(e) -> bool:
    return e == ONE or (isinstance(e, sp.OneMatrix) and e.shape == (1, 1))


def is_scalar(e) -> bool:
    return tuple(e.shape) == (1, 1)


def transpose(e):
    if is_scalar(e):
        return e
    return e.T


def matmul(*factors):
    kept = [f for f in factors if not (is_one(f))] or [ONE]
    if len(kept) == 1:
        return kept[0]
    return sp.MatMul(*kept).doit(deep=False)


def scaled(c, e):
    """c·e for a number c."""
    c = sp.sympify(c)
    if c == 1:
        return e
    if is_one(e):
        return sp.MatMul(c, sp.OneMatrix(1, 1))
    return sp.MatMul(c, e).doit(deep=False)


def _split(e):
    """(numeric coefficient, matrix part) of e."""
    if isinstance(e, sp.MatMul):
        coeff, matrices = e.as_coeff_matrices()
        if coeff != 1:
            return coeff, (sp.MatMul(*matrices) if len(matrices) > 1 else matrices[0])
    return sp.Integer(1), e


def hadamard(*factors):
    """Elementwise product of same-shape factors; numeric coefficients move to the front."""
    coeff = sp.Integer(1)
    kept = []
    for f in factors:
        c, m = _split(f)
        coeff *= c
        if not is_one(m):
            kept.append(m)
    if not kept:
        body = sp.OneMatrix(*factors[0].shape)
    elif len(kept) == 1:
        body = kept[0]
    elif all(is_scalar(k) for k in kept):
        body = sp.MatMul(*kept)
    else:
        body = sp.HadamardProduct(*kept)
    return scaled(coeff, body) if coeff != 1 else body


def times_scalar(s, m):
    """A 1x1 quantity ``s`` times a matrix ``m`` (scalar multiplication)."""
    if is_one(s):
        return m
    coeff, s_body = _split(s)
    rows, cols = (int(n) for n in m.shape)
    if is_one(s_body):
        body = m
    elif rows == 1:
        body = matmul(s_body, m)
    elif cols == 1:
        body = matmul(m, s_body)
    else:
        body = hadamard(Broadcast(s_body, rows, cols), m)
    return scaled(coeff, body)


def add(*terms):
    terms = [t for t in terms if not isinstance(t, sp.ZeroMatrix)]
    if not terms:
        raise ValueError("add() of nothing")
    if len(terms) == 1:
        return terms[0]
    return sp.MatAdd(*terms)


def ones_like(e):
    return sp.OneMatrix(*e.shape)
