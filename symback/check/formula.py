"""Safe parsing of the gradient formulas written in a solution file.

A formula is untrusted text like a value and is read by the same tokenizer and parser
(`symback.check.arith`), so it never reaches ``eval``, ``exec``, ``compile``, ``sympify`` or
Python's ``ast``, it follows the grammar written there (names, ``@``, ``.T`` and ``axis=``
included), and every bad input raises `SolutionError` with one sentence saying what is wrong
and at which character (counted from 1; the 0-based offset is on the error as ``.position``).

Limits: those of `symback.check.arith` (``MAX_LENGTH`` = 500 characters, ``MAX_DEPTH`` = 32 levels,
exponents that are number literals with ``|n| <= MAX_EXPONENT`` = 64, numbers of at most
``MAX_DIGITS`` = 60 digits with ``|e| <= MAX_SCIENTIFIC`` = 400 and no larger than
``MAX_MAGNITUDE`` = 1e200); and the constant parts of a formula, which stay exact fractions
until they meet a matrix, may not grow larger than 1e200 or to more than 1000 digits, nor
divide by zero; no part of a formula may have more entries than 4 times the model's largest tensor
(at least 10,000: `symback.check.calls.entry_limit`).  Names are the model's symbols and `FORMULA_FUNCTIONS` only, and shapes must
match for ``@`` and broadcast for the rest, or the error names both shapes.

**Formulas** (`parse_formula`) are gradients in the model's own names, built with symback's
constructors (``expr.py``) so that ``explicit()`` can expand them entry by entry::

    >>> h, z, out = MatrixSymbol("h", 1, 3), MatrixSymbol("z", 1, 1), MatrixSymbol("out", 1, 1)
    >>> parse_formula("(out - 6) * step(z) * h", {"h": h, "z": z, "out": out}).shape
    (1, 3)

``@`` is the matrix product, ``*``, ``/``, ``+`` and ``-`` work entry by entry with NumPy
broadcasting (a 1×1 operand times a matrix is a scalar multiple), ``.T`` transposes and
``sum(x, axis=0)`` keeps dimensions like NumPy's ``keepdims=True``.  The functions — activations,
sums, softmax, and convolution, pooling and reshaping (``correlate(X, delta_Z)``, ``rot180(K)``,
``route_max(delta_P, A, 2)``, ``flatten(P)``, …) — and their signatures are `symback.check.calls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import sympy as sp
from sympy.matrices.expressions import MatrixExpr, MatrixSymbol

from ..engine.expr import ONE, Broadcast, add, hadamard, matmul, ones_like, scaled, times_scalar, transpose
from . import calls
from .arith import MAX_MAGNITUDE, Literal, _error, _Node, _parse
from .calls import FORMULA_FUNCTIONS, show

# A formula's constant parts stay exact `Fraction`s until they meet a matrix.
Term = Fraction | MatrixExpr


def _shape(m: MatrixExpr) -> tuple[int, int]:
    return int(m.shape[0]), int(m.shape[1])


_show = show


def _matrix(x: Term) -> MatrixExpr:
    return x if isinstance(x, MatrixExpr) else scaled(sp.Rational(x.numerator, x.denominator), ONE)


_MAX_DENOMINATOR = 10**1000


def _number(x: Fraction, pos: int) -> Fraction:
    if abs(x) > MAX_MAGNITUDE or x.denominator > _MAX_DENOMINATOR:
        raise _error("a number larger than 1e200 or with more than 1000 digits", pos)
    return x


def _broadcast(op: str, a: MatrixExpr, b: MatrixExpr, pos: int) -> tuple[MatrixExpr, MatrixExpr]:
    """``a`` and ``b`` stretched to one shape, as NumPy broadcasting does."""
    shape = []
    for m, n in zip(_shape(a), _shape(b)):
        if m != n and 1 not in (m, n):
            raise _error(f"{op} needs equal shapes or NumPy broadcasting: {_show(a)} {op} {_show(b)}", pos)
        shape.append(max(m, n))
    return tuple(x if _shape(x) == tuple(shape) else Broadcast(x, *shape) for x in (a, b))


def _combine(op: str, a: Term, b: Term, pos: int) -> Term:
    numbers = not isinstance(a, MatrixExpr) and not isinstance(b, MatrixExpr)
    if op == "@":
        if not isinstance(a, MatrixExpr) or not isinstance(b, MatrixExpr):
            raise _error("@ needs two matrices; multiply by a number with *", pos)
        if _shape(a)[1] != _shape(b)[0]:
            raise _error(f"@ needs matching inner sizes: {_show(a)} @ {_show(b)}", pos)
        return matmul(a, b)
    if op == "/":
        if not isinstance(b, MatrixExpr):
            if b == 0:
                raise _error("division by zero", pos)
            return _number(a / b, pos) if numbers else scaled(sp.Rational(b.denominator, b.numerator), a)
        if isinstance(a, MatrixExpr):
            _broadcast(op, a, b, pos)  # so that a shape error names '/'
        return _combine("*", a, sp.HadamardPower(b, -1), pos)
    if numbers:
        return _number({"+": a + b, "-": a - b, "*": a * b}[op], pos)
    if op == "*":
        if not isinstance(a, MatrixExpr) or not isinstance(b, MatrixExpr):
            c, m = (a, b) if isinstance(b, MatrixExpr) else (b, a)
            return scaled(sp.Rational(c.numerator, c.denominator), m)
        if (_shape(a) == (1, 1)) != (_shape(b) == (1, 1)):
            return times_scalar(a, b) if _shape(a) == (1, 1) else times_scalar(b, a)
        return hadamard(*_broadcast(op, a, b, pos))
    a = a if isinstance(a, MatrixExpr) else scaled(sp.Rational(a.numerator, a.denominator), ones_like(b))
    b = b if isinstance(b, MatrixExpr) else scaled(sp.Rational(b.numerator, b.denominator), ones_like(a))
    a, b = _broadcast(op, a, b, pos)
    terms = [t for t in (a, b if op == "+" else scaled(-1, b)) if not isinstance(t, sp.ZeroMatrix)]
    return add(*terms) if terms else a


class _Formula:
    def __init__(self, symbols: Mapping[str, MatrixExpr], relu_grad_at_zero, literals: list[Literal]):
        self.symbols, self.literals = symbols, literals
        self.relu_grad_at_zero = sp.Rational(relu_grad_at_zero)
        self.limit = calls.entry_limit(symbols)

    def build(self, node: _Node) -> Term:
        kind, parts = node.kind, node.parts
        if kind == "num":
            return self.literals[node.data].value
        if kind == "name":
            return self.symbols[node.data]
        if kind == "neg":
            x = self.build(parts[0])
            return -x if not isinstance(x, MatrixExpr) else scaled(-1, x)
        if kind == "T":
            x = self.build(parts[0])
            return transpose(x) if isinstance(x, MatrixExpr) else x
        if kind == "pow":
            base, exponent = self.build(parts[0]), self.build(parts[1])
            if isinstance(base, MatrixExpr) or exponent.denominator != 1:
                return sp.HadamardPower(_matrix(base), sp.Rational(exponent.numerator, exponent.denominator))
            if base == 0 and exponent < 0:
                raise _error("division by zero", node.pos)
            return _number(base**exponent, node.pos)
        if kind == "call":
            return self.call(node)
        if kind == "tuple":
            raise _error("a pair such as (2, 1) is read only as a size, stride, padding or shape of a function", node.pos)
        x = self.build(parts[0])
        for (op, pos), part in zip(node.data[1:], parts[1:]):
            x = _combine(op, x, self.build(part), pos)
            if isinstance(x, MatrixExpr) and _shape(x)[0] * _shape(x)[1] > self.limit:  # an outer product of rows
                raise _error("a part of this formula would have {} by {} entries; at most {:,} are allowed".format(
                    *_shape(x), self.limit), pos)
        return x

    def call(self, node: _Node) -> MatrixExpr:
        return calls.call(node, self.build, self.relu_grad_at_zero, self.limit)


def parse_formula(text: str, symbols: Mapping[str, MatrixSymbol], *, relu_grad_at_zero: object = 0) -> MatrixExpr:
    """A gradient formula such as ``"x @ (delta_h * (1 - h**2))"`` as a SymPy matrix expression.

    ``symbols`` maps the model's names to their matrix symbols; ``step(z)`` is relu′ with
    ``relu_grad_at_zero`` at 0.  A formula that is only a number is a 1×1 matrix.
    """
    parser = _parse(text, FORMULA_FUNCTIONS, symbols)
    return _matrix(_Formula(symbols, relu_grad_at_zero, parser.literals).build(parser.tree))
