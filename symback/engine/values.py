"""Turning the numbers people write into exact matrices.

A decimal literal means its decimal value: ``0.1`` is 1/10, not the nearest binary
double.  Python's ``repr`` of a float is the shortest decimal that round-trips, which is
exactly the literal the person typed, so ``Rational(repr(x))`` recovers it.  NumPy arrays
are the exception: they stay float64, for models too large for exact arithmetic.

>>> to_matrix([[0.1, "1/3"]])
Matrix([[1/10, 1/3]])
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from numbers import Integral

import numpy as np
import sympy as sp

from ..errors import ModelError
from ..limits import MAX_ENTRIES

Value = sp.ImmutableMatrix | np.ndarray


def exact_scalar(x: object) -> sp.Rational:
    """One number as an exact rational: ints, floats (by their decimal literal), strings, fractions."""
    if isinstance(x, bool):
        raise ModelError(f"{x!r} is not a number")
    if isinstance(x, sp.Rational):
        return x
    if isinstance(x, Integral):
        return sp.Integer(int(x))
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(float(x)):
            raise ModelError(f"initial value {float(x)} is not finite")
        return sp.Rational(repr(float(x)))
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise ModelError(f"initial value {x} is not finite")
        return sp.Rational(str(x))
    if isinstance(x, str):
        try:
            f = Fraction(x.strip().replace("_", ""))
        except (ValueError, ZeroDivisionError):
            raise ModelError(f"{x!r} is not a number (write e.g. 0.25 or \"1/3\")") from None
        return sp.Rational(f.numerator, f.denominator)
    raise ModelError(f"{x!r} ({type(x).__name__}) is not a number")


def to_matrix(value: object) -> Value:
    """A value as a 2-D matrix: a scalar is 1x1, a flat list a column, a list of lists a matrix.

    Raises `ModelError` for what is not a matrix of numbers, a dimension of size 0, or more than
    `MAX_ENTRIES` entries."""
    matrix = _matrix(value)
    rows, columns = matrix.shape
    if rows == 0 or columns == 0:
        raise ModelError(f"the value is {rows}×{columns}: a tensor needs at least one row and one column")
    if rows * columns > MAX_ENTRIES:
        raise ModelError(f"the value is {rows}×{columns} ({rows * columns:,} entries); symback works with tensors of "
                         f"at most {MAX_ENTRIES:,} entries")
    return matrix


def _matrix(value: object) -> Value:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ModelError(f"array of dtype {value.dtype} is not numeric")
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 0:
            array = array.reshape(1, 1)
        elif array.ndim == 1:
            array = array.reshape(-1, 1)
        elif array.ndim != 2:
            raise ModelError(f"array has {array.ndim} dimensions; symback tensors are 2-D")
        if not np.all(np.isfinite(array)):
            raise ModelError("initial value contains NaN or infinity")
        return array
    if isinstance(value, sp.MatrixBase):
        return sp.ImmutableMatrix(value.applyfunc(exact_scalar))
    if isinstance(value, (list, tuple)):
        if not value:
            raise ModelError("empty list is not a tensor")
        if all(isinstance(row, (list, tuple)) for row in value):
            widths = {len(row) for row in value}
            if len(widths) != 1 or 0 in widths:
                raise ModelError(f"rows of unequal length {sorted(widths)}: a matrix must be rectangular")
            return sp.ImmutableMatrix([[exact_scalar(x) for x in row] for row in value])
        if any(isinstance(row, (list, tuple)) for row in value):
            raise ModelError("mix of numbers and lists: write a matrix as a list of rows")
        return sp.ImmutableMatrix([[exact_scalar(x)] for x in value])
    return sp.ImmutableMatrix([[exact_scalar(value)]])


def shape_of(value: Value) -> tuple[int, int]:
    return tuple(int(n) for n in value.shape)  # type: ignore[return-value]


def to_float_array(value: Value) -> np.ndarray:
    """float64 copy of an exact or float matrix."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64, copy=True)
    return np.array([[float(x) for x in row] for row in value.tolist()], dtype=np.float64)
