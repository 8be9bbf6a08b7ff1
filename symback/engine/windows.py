"""Matrix expressions over sliding windows: convolution, pooling, and reshaping an image.

Each class is one operation a lecture writes on the board, kept in matrix form (a 28×28
image is one symbol, never 784 scalars): ``X ⋆ K`` (`Correlate`), ``pad_p(X)`` (`Pad`),
``dilate_s(δ)`` (`Dilate`), ``rot180(K)`` (`Rot180``), ``maxpool(X)`` (`MaxPool`) and the
routing of δ back through it (`PoolRoute`), ``avgpool(X)`` (`AvgPool`) and its spreading
(`PoolSpread`), ``flatten`` (`Reshape`), and the joining and slicing of channels
(`Concat`, `Columns`).  As in ``expr.py``, each knows its shape and its entries
(``_entry``), so the elementwise oracle can expand it to scalars and ``printing.py`` prints it.

Convolution is cross-correlation, as PyTorch's ``conv2d`` computes it (Goodfellow et al.,
*Deep Learning*, §9.1, eq. 9.6): ``(X ⋆ K)[i, j] = Σ_{a,b} X[i·s + a, j·s + b] K[a, b]``.
Indices here are 0-based.
"""

from __future__ import annotations

from functools import cached_property

import sympy as sp
from sympy import Integer
from sympy.matrices.expressions import MatrixExpr
from sympy.printing.precedence import PRECEDENCE


def _ints(*values):
    return tuple(Integer(int(v)) for v in values)


def _size(e) -> tuple[int, int]:
    return tuple(int(n) for n in e.shape)  # type: ignore[return-value]


class Correlate(MatrixExpr):
    """``A ⋆ B`` with stride (sr, sc): the valid cross-correlation of A with the kernel B.

    Shape: ``((ra − rb) // sr + 1, (ca − cb) // sc + 1)``; rows or columns of A past the last
    whole window are not used (PyTorch's floor rule)."""

    precedence = PRECEDENCE["Mul"]

    def __new__(cls, a, b, sr=1, sc=1):
        return MatrixExpr.__new__(cls, a, b, *_ints(sr, sc))

    @property
    def stride(self) -> tuple[int, int]:
        return int(self.args[2]), int(self.args[3])

    @cached_property
    def shape(self):
        (ra, ca), (rb, cb), (sr, sc) = _size(self.args[0]), _size(self.args[1]), self.stride
        return Integer((ra - rb) // sr + 1), Integer((ca - cb) // sc + 1)

    #: operand entries read per entry (``explicit.entry_size``)
    def entry_terms(self) -> int:
        rb, cb = _size(self.args[1])
        return rb * cb

    def _entry(self, i, j, **kwargs):
        a, b = self.args[0], self.args[1]
        rb, cb = _size(b)
        sr, sc = self.stride
        return sp.Add(*[a._entry(i * sr + u, j * sc + v, **kwargs) * b._entry(u, v, **kwargs)
                        for u in range(rb) for v in range(cb)])


class Pad(MatrixExpr):
    """``A`` with zero rows/columns added: (top, left, bottom, right); a negative count crops."""

    def __new__(cls, a, top, left, bottom, right):
        return MatrixExpr.__new__(cls, a, *_ints(top, left, bottom, right))

    @property
    def arg(self):
        return self.args[0]

    @property
    def widths(self) -> tuple[int, int, int, int]:
        return tuple(int(n) for n in self.args[1:5])  # type: ignore[return-value]

    @cached_property
    def shape(self):
        r, c = _size(self.arg)
        top, left, bottom, right = self.widths
        return Integer(r + top + bottom), Integer(c + left + right)

    def _entry(self, i, j, **kwargs):
        r, c = _size(self.arg)
        top, left, _, _ = self.widths
        u, v = int(i) - top, int(j) - left
        if 0 <= u < r and 0 <= v < c:
            return self.arg._entry(u, v, **kwargs)
        return sp.Integer(0)


class Dilate(MatrixExpr):
    """``A`` with (sr − 1) zero rows between its rows and (sc − 1) zero columns between its columns:
    how a strided layer's δ is spread back to the positions its windows started at."""

    def __new__(cls, a, sr, sc):
        return MatrixExpr.__new__(cls, a, *_ints(sr, sc))

    @property
    def arg(self):
        return self.args[0]

    @property
    def stride(self) -> tuple[int, int]:
        return int(self.args[1]), int(self.args[2])

    @cached_property
    def shape(self):
        (r, c), (sr, sc) = _size(self.arg), self.stride
        return Integer((r - 1) * sr + 1), Integer((c - 1) * sc + 1)

    def _entry(self, i, j, **kwargs):
        sr, sc = self.stride
        i, j = int(i), int(j)
        if i % sr or j % sc:
            return sp.Integer(0)
        return self.arg._entry(i // sr, j // sc, **kwargs)


class Rot180(MatrixExpr):
    """``A`` turned by 180°: its rows and its columns in reverse order."""

    def __new__(cls, a):
        return MatrixExpr.__new__(cls, a)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        r, c = _size(self.arg)
        return self.arg._entry(r - 1 - int(i), c - 1 - int(j), **kwargs)


class _Windows(MatrixExpr):
    """Settings of windows of (kr, kc) entries moved by (sr, sc), held in ``args[_at:_at + 4]``."""

    _at = 1

    @property
    def arg(self):
        return self.args[0]

    @property
    def window(self) -> tuple[int, int]:
        return int(self.args[self._at]), int(self.args[self._at + 1])

    @property
    def stride(self) -> tuple[int, int]:
        return int(self.args[self._at + 2]), int(self.args[self._at + 3])

    def entry_terms(self) -> int:
        """Operand entries read per entry (``explicit.entry_size``)."""
        kr, kc = self.window
        return kr * kc


class _Pool(_Windows):
    """Windows over the matrix ``arg`` (floor rule: rows or columns past the last whole window are unused)."""

    def __new__(cls, a, kr, kc, sr, sc):
        return MatrixExpr.__new__(cls, a, *_ints(kr, kc, sr, sc))

    @cached_property
    def shape(self):
        (r, c), (kr, kc), (sr, sc) = _size(self.arg), self.window, self.stride
        return Integer((r - kr) // sr + 1), Integer((c - kc) // sc + 1)

    def cells(self, i, j) -> list[tuple[int, int]]:
        """The window of output entry (i, j), row by row."""
        (kr, kc), (sr, sc) = self.window, self.stride
        return [(int(i) * sr + u, int(j) * sc + v) for u in range(kr) for v in range(kc)]


class MaxPool(_Pool):
    """The maximum of each window."""

    def _entry(self, i, j, **kwargs):
        return window_max(*[self.arg._entry(u, v, **kwargs) for u, v in self.cells(i, j)])


class AvgPool(_Pool):
    """The mean of each window."""

    def _entry(self, i, j, **kwargs):
        cells = self.cells(i, j)
        return sp.Add(*[self.arg._entry(u, v, **kwargs) for u, v in cells]) / len(cells)


def _windows_holding(u: int, v: int, shape, window, stride):
    """The output entries (i, j) whose window holds input entry (u, v)."""
    (rows, cols), (kr, kc), (sr, sc) = shape, window, stride
    for i in range(max(0, -(-(u - kr + 1) // sr)), min(rows - 1, u // sr) + 1):
        for j in range(max(0, -(-(v - kc + 1) // sc)), min(cols - 1, v // sc) + 1):
            yield i, j


class PoolRoute(_Windows):
    """δ of a max-pool's input: each window's δ goes to the entry that was the window's maximum;
    of tied maxima, to the first reading the window row by row (PyTorch's choice).  ``x`` is the
    pooled input, ``g`` the δ of the pooled output; the shape is ``x``'s."""

    _at = 2

    def __new__(cls, x, g, kr, kc, sr, sc):
        return MatrixExpr.__new__(cls, x, g, *_ints(kr, kc, sr, sc))

    @property
    def shape(self):
        return self.args[0].shape

    def entry_terms(self) -> int:
        return 2 * super().entry_terms()

    def _entry(self, u, v, **kwargs):
        x, g = self.args[0], self.args[1]
        pool = MaxPool(x, *self.window, *self.stride)
        terms = []
        for i, j in _windows_holding(int(u), int(v), _size(g), self.window, self.stride):
            cells = pool.cells(i, j)
            k = cells.index((int(u), int(v)))
            chosen = first_max_indicator(k, [x._entry(a, b, **kwargs) for a, b in cells])
            terms.append(g._entry(i, j, **kwargs) * chosen)
        return sp.Add(*terms)


class PoolSpread(_Windows):
    """δ of an average-pool's input: each window's δ shared equally among its (kr·kc) entries.
    ``g`` is the δ of the pooled output; (rows, cols) the input's shape."""

    def __new__(cls, g, kr, kc, sr, sc, rows, cols):
        return MatrixExpr.__new__(cls, g, *_ints(kr, kc, sr, sc, rows, cols))

    @property
    def shape(self):
        return self.args[5], self.args[6]

    def _entry(self, u, v, **kwargs):
        kr, kc = self.window
        return sp.Add(*[self.arg._entry(i, j, **kwargs) for i, j in
                        _windows_holding(int(u), int(v), _size(self.arg), self.window, self.stride)]) / (kr * kc)


class Reshape(MatrixExpr):
    """``A``'s entries, read row by row, as a rows × cols matrix (NumPy's C order; PyTorch's flatten)."""

    def __new__(cls, a, rows, cols):
        return MatrixExpr.__new__(cls, a, *_ints(rows, cols))

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.args[1], self.args[2]

    def _entry(self, i, j, **kwargs):
        _, c = _size(self.arg)
        k = int(i) * int(self.args[2]) + int(j)
        return self.arg._entry(k // c, k % c, **kwargs)


class Concat(MatrixExpr):
    """Rows side by side: ``[A  B  …]`` (each the same number of rows)."""

    def __new__(cls, *parts):
        return MatrixExpr.__new__(cls, *parts)

    @cached_property
    def shape(self):
        return self.args[0].shape[0], Integer(sum(int(p.shape[1]) for p in self.args))

    def _entry(self, i, j, **kwargs):
        j = int(j)
        for part in self.args:
            width = int(part.shape[1])
            if j < width:
                return part._entry(i, j, **kwargs)
            j -= width
        raise IndexError(j)


class Columns(MatrixExpr):
    """Columns ``start`` to ``stop − 1`` of ``A``: the part of a joined row that one channel gave."""

    def __new__(cls, a, start, stop):
        return MatrixExpr.__new__(cls, a, *_ints(start, stop))

    @property
    def arg(self):
        return self.args[0]

    @property
    def span(self) -> tuple[int, int]:
        return int(self.args[1]), int(self.args[2])

    @property
    def shape(self):
        start, stop = self.span
        return self.arg.shape[0], Integer(stop - start)

    def _entry(self, i, j, **kwargs):
        return self.arg._entry(i, self.span[0] + int(j), **kwargs)


# -- the scalar meaning of a window's maximum (for the elementwise oracle) -----------------

#: two 50-digit values closer than this are a tie (the inputs are exact to 50 digits)
TIE = sp.Rational(1, 10**38)


def first_max_indicator(k: int, values: list) -> sp.Expr:
    """1 if ``values[k]`` is the window's maximum and no earlier entry ties it, else 0."""
    x = values[k]
    conditions = [sp.StrictGreaterThan(x - v, TIE) for v in values[:k]]
    conditions += [sp.GreaterThan(x - v, -TIE) for v in values[k + 1:]]
    return sp.Piecewise((1, sp.And(*conditions)), (0, True))


class window_max(sp.Function):  # noqa: N801 - a SymPy function, named as SymPy's are
    """max(x₁, …, xₙ) whose derivative by xₖ is 1 where xₖ is the first maximum and 0 elsewhere:
    the tie convention of the max-pool rule, so SymPy's ``diff`` answers at ties as PyTorch does."""

    @classmethod
    def eval(cls, *args):
        if len(args) == 1:
            return args[0]
        if all(a.is_number and a.is_comparable for a in args):
            return sp.Max(*args)
        return None

    def fdiff(self, argindex=1):
        return first_max_indicator(argindex - 1, list(self.args))
