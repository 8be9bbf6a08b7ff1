"""SymPy printers extended with symback's notation.

* `ProgramPrinter` prints the straight-line NumPy program that ``lambdify`` wraps.  It
  prints every operation as a call into a namespace (``_f_tanh``, ``_sum``, ``_q`` for a
  rational, ...), so the *same* source runs in float64 (NumPy) or in 50-digit mpmath
  (object arrays) depending on the namespace it is executed in — see ``numeric.py``.
* `TextPrinter` prints formulas for the terminal: ``δ_u1 = δ_h ⊙ (1 − h⊙h)``.
* `LatexPrinter` prints them for reports and ``result.json``: ``\\delta_{u_{1}}``, ``\\odot``.

To extend a printer for a new expression class ``Foo``, add ``_print_Foo``.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter as _SympyLatexPrinter
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence, precedence_traditional
from sympy.printing.str import StrPrinter

from ..engine.expr import ALL, Broadcast, Grad, Reduce
from ..engine.windows import Correlate, PoolRoute
from .formatting import setting, setting_latex

# ---------------------------------------------------------------------------------
# The program printer
# ---------------------------------------------------------------------------------


class ProgramPrinter(NumPyPrinter):
    """NumPy code whose every operation goes through namespace functions."""

    _default_settings = {**NumPyPrinter._default_settings, "fully_qualified_modules": False}

    def _print_MatrixSymbol(self, e):
        return e.name

    _print_Grad = _print_MatrixSymbol

    def _print_Integer(self, e):
        return str(int(e))

    def _print_Rational(self, e):
        return f"_q({e.p}, {e.q})"

    def _print_Half(self, e):
        return "_q(1, 2)"

    def _print_Float(self, e):
        return f"_q_float({sp.Rational(e).p}, {sp.Rational(e).q})"

    def _print_MatMul(self, e):
        coeff, matrices = e.as_coeff_matrices()
        # ndarray.dot, not @: the same product, a third of the call overhead on small matrices (0.34 µs vs 0.9 µs)
        body = self._print(matrices[0]) + "".join(f".dot({self._print(m)})" for m in matrices[1:])
        if coeff == 1:
            return f"({body})"
        return f"({self._print(coeff)} * ({body}))"

    def _print_MatAdd(self, e):
        out = self._print(e.args[0])
        for a in e.args[1:]:
            coeff, matrices = a.as_coeff_matrices() if isinstance(a, sp.MatMul) else (1, None)
            if coeff == -1 and len(matrices) == 1:  # 1 - h*h: one subtraction, not a product and a sum
                out += f" - {self._print(matrices[0])}"
            else:
                out += f" + {self._print(a)}"
        return f"({out})"

    def _print_HadamardProduct(self, e):
        return "(" + " * ".join(self._print(a) for a in e.args) + ")"

    def _print_HadamardPower(self, e):
        if e.exp == 2 and isinstance(e.base, sp.MatrixSymbol):  # a square as one product, no call
            return f"({self._print(e.base)} * {self._print(e.base)})"
        return f"_pow({self._print(e.base)}, {self._print(e.exp)})"

    def _print_Transpose(self, e):
        return f"({self._print(e.arg)}).T"

    def _print_Identity(self, e):
        return f"_ones({e.rows}, {e.cols})"

    def _print_OneMatrix(self, e):
        return f"_ones({e.rows}, {e.cols})"

    def _print_ZeroMatrix(self, e):
        return f"_zeros({e.rows}, {e.cols})"

    def _print_ImmutableDenseMatrix(self, e):
        rows = ", ".join("(" + ", ".join(self._print(sp.Rational(x)) for x in row) + ",)" for row in e.tolist())
        return f"_const(({rows},))"

    def _print_Apply(self, e):
        params = "".join(", " + self._print(p) for p in e.params)
        return f"_f_{e.fn}({self._print(e.arg)}{params})"

    def _print_Broadcast(self, e):
        return f"_broadcast({self._print(e.arg)}, {e.shape[0]}, {e.shape[1]})"

    def _print_Reduce(self, e):
        return f"_sum({self._print(e.arg)}, {e.axis})"

    def _print_Softmax(self, e):
        return f"_softmax({self._print(e.arg)}, {e.axis})"

    def _print_LogSoftmax(self, e):
        return f"_log_softmax({self._print(e.arg)}, {e.axis})"

    def _print_Normalize(self, e):
        return f"_normalize({self._print(e.arg)}, {e.axis}, {self._print(e.eps)})"

    def _print_InvStd(self, e):
        return f"_inv_std({self._print(e.arg)}, {e.axis}, {self._print(e.eps)})"

    def _print_Correlate(self, e):
        return f"_correlate({self._print(e.args[0])}, {self._print(e.args[1])}, {e.stride[0]}, {e.stride[1]})"

    def _print_Pad(self, e):
        return f"_pad({self._print(e.arg)}, {', '.join(str(w) for w in e.widths)})"

    def _print_Dilate(self, e):
        return f"_dilate({self._print(e.arg)}, {e.stride[0]}, {e.stride[1]})"

    def _print_Rot180(self, e):
        return f"({self._print(e.arg)})[::-1, ::-1]"

    def _print_MaxPool(self, e):
        return f"_max_pool({self._print(e.arg)}, {', '.join(map(str, e.window + e.stride))})"

    def _print_AvgPool(self, e):
        return f"_avg_pool({self._print(e.arg)}, {', '.join(map(str, e.window + e.stride))})"

    def _print_PoolRoute(self, e):
        x, g = (self._print(a) for a in e.args[:2])
        return f"_pool_route({x}, {g}, {', '.join(map(str, e.window + e.stride))})"

    def _print_PoolSpread(self, e):
        rows, cols = (int(n) for n in e.shape)
        return f"_pool_spread({self._print(e.arg)}, {', '.join(map(str, e.window + e.stride))}, {rows}, {cols})"

    def _print_Reshape(self, e):
        return f"({self._print(e.arg)}).reshape({e.shape[0]}, {e.shape[1]})"

    def _print_Concat(self, e):
        return f"_concat({', '.join(self._print(a) for a in e.args)})"

    def _print_Columns(self, e):
        start, stop = e.span
        return f"({self._print(e.arg)})[:, {start}:{stop}]"


# ---------------------------------------------------------------------------------
# Shared by the text and LaTeX printers: how symback writes its notation
# ---------------------------------------------------------------------------------

_FUNCTION_NAMES = {"relu": "relu", "leaky_relu": "leaky_relu", "step": "step", "leaky_step": "leaky_step",
                   "sigmoid": "σ", "tanh": "tanh", "exp": "exp", "log": "log", "softplus": "softplus",
                   "abs": "abs", "sign": "sign", "huber": "huber", "clip": "clip"}


def _pair_text(pair) -> str:
    """A stride or window as written: 2 for (2, 2), 2,1 otherwise."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def _widths_text(widths) -> str:
    """A padding as written: 1 for (1, 1, 1, 1), else top,left,bottom,right."""
    return str(widths[0]) if len(set(widths)) == 1 else ",".join(str(w) for w in widths)


def _hadamard_order(args):
    """δ first, then the rest as SymPy ordered them: δ_h ⊙ (1 − h⊙h), as a teacher writes it."""
    return sorted(args, key=lambda a: 0 if isinstance(a, Grad) else 1)


def _is_scalar(e) -> bool:
    return tuple(e.shape) == (1, 1)


def _is_negative(term) -> bool:
    return bool(isinstance(term, sp.MatMul) and term.as_coeff_matrices()[0].is_negative)


def _sum_order(args):
    """Positive terms first, then the subtracted ones: 1 − h⊙h, out − 6."""
    return sorted(args, key=_is_negative)


def _is_unit(m) -> bool:
    return isinstance(m, (sp.Identity, sp.OneMatrix)) and _is_scalar(m)


_WORD_END = re.compile(r"\\mathit\{\w+\}\}?$")  # ends in a word, or the δ of one: out, δ_out


def juxtaposed(factors: list[str]) -> str:
    """Factors of a product side by side in LaTeX, as a reader can tell them apart: a number after
    another factor takes a ⋅ (0.1 ⋅ 1.188, never 0.1 1.188, which reads as 0.11188), a word a thin
    space (δ_out \\, out, never δ_outout); single letters stand as they are (x^⊤ w_1)."""
    out = factors[0]
    for left, right in zip(factors, factors[1:]):
        if right[:1].isdigit():
            out += r" \cdot " + right
        elif _WORD_END.search(left) or right.startswith((r"\mathit", r"\delta_{\mathit")) or left[-1:].isdigit():
            out += r" \, " + right
        else:
            out += " " + right
    return out


def _is_sum(e) -> bool:
    return isinstance(e.arg if isinstance(e, Broadcast) else e, Reduce)


def _decimal(e) -> bool:
    """Whether a number came from a decimal literal and is written as one (ε = 1e-8 as 10⁻⁸, 1 + 1e-8 as
    1.00000001), not as the fraction 1/100000000; a fraction such as 2/3 or 1/4 is written as one."""
    return bool(e.is_Rational and e.q >= 1000 and 10 ** 30 % e.q == 0)


def _over(coeff, matrices) -> bool:
    """A sum times 1/n is written over n: (softmax(Z) − Y)/4."""
    return (len(matrices) == 1 and isinstance(matrices[0], sp.MatAdd) and coeff.is_Rational
            and abs(coeff.p) == 1 and coeff.q > 1)


_ATOM = PRECEDENCE["Pow"]
_FACTOR = PRECEDENCE["Mul"] + 1  # a factor of ⊙ or of a product: parenthesise sums and products


def _matmul_precedence(item) -> int | None:
    """A matrix product's precedence from its coefficient's sign.

    SymPy asks ``could_extract_minus_sign``, which builds ``-item`` and re-evaluates the whole
    product: once per parenthesised factor, quadratic in a formula's depth (7 of a 12-layer
    chain's 16 s were spent there)."""
    if isinstance(item, sp.MatMul):
        return PRECEDENCE["Add"] if item.as_coeff_matrices()[0].is_negative else PRECEDENCE["Mul"]
    return None


class TextPrinter(StrPrinter):
    """Formulas for the terminal: δ_u1 = δ_h ⊙ (1 − h⊙h), xᵀ, ∑."""

    def _print_Rational(self, e):
        return setting(e) if _decimal(e) else super()._print_Rational(e)

    def parenthesize(self, item, level, strict=False):
        value = _matmul_precedence(item)
        value = precedence(item) if value is None else value
        return f"({self._print(item)})" if value < level or (not strict and value <= level) else self._print(item)

    def _print_MatrixSymbol(self, e):
        return e.name

    def _print_Grad(self, e):
        return "δ_" + e.name.removeprefix("delta_")

    def _print_Identity(self, e):
        return "1" if e.rows == 1 else "I"

    def _print_OneMatrix(self, e):
        return "1"

    def _print_Transpose(self, e):
        return self.parenthesize(e.arg, _ATOM) + "ᵀ"

    def _print_HadamardProduct(self, e):
        sep = " · " if _is_scalar(e) else " ⊙ "
        return sep.join(self.parenthesize(a, _FACTOR) for a in _hadamard_order(e.args))

    def _print_HadamardPower(self, e):
        base = self.parenthesize(e.base, _ATOM)
        if e.exp == 2:
            return f"{base}⊙{base}" if not _is_scalar(e) else f"{base}²"
        return f"{base}^{self._print(e.exp)}"

    def _print_MatMul(self, e):
        coeff, matrices = e.as_coeff_matrices()
        matrices = [m for m in matrices if not _is_unit(m)]
        if not matrices:
            return self._print(coeff)
        body = " ".join(self.parenthesize(m, _FACTOR) for m in matrices)
        if coeff == -1:
            return "-" + body
        if _over(coeff, matrices):  # (softmax(Z) − Y)/4, as on the board
            return f"{'-' if coeff < 0 else ''}({self._print(matrices[0])})/{coeff.q}"
        if coeff != 1:
            return f"{self._print(coeff)} {body}"
        return body

    def _print_MatAdd(self, e):
        text = ""
        for k, term in enumerate(_sum_order(e.args)):
            s = self._print(term)
            if k and s.startswith("-"):
                text += " − " + s[1:]
            elif k:
                text += " + " + s
            else:
                text += s
        return text

    def _print_Apply(self, e):
        if e.fn.startswith("leaky"):  # the slope is part of the function: leaky_relu(z, α = 0.01)
            return f"{_FUNCTION_NAMES[e.fn]}({self._print(e.arg)}, α = {setting(e.params[0])})"
        if e.fn in ("huber", "clip"):  # Huber's δ: huber(r, δ = 1)
            return f"{e.fn}({self._print(e.arg)}, δ = {setting(e.params[0])})"
        if e.fn == "abs":
            return f"|{self._print(e.arg)}|"
        return f"{_FUNCTION_NAMES[e.fn]}({self._print(e.arg)})"

    def _print_Broadcast(self, e):
        return self._print(e.arg)

    def _print_Reduce(self, e):
        where = {0: "rows", 1: "columns", ALL: "all"}[e.axis]
        return f"∑_{where}({self._print(e.arg)})"

    def _print_Softmax(self, e):
        return f"softmax({self._print(e.arg)})"

    def _print_LogSoftmax(self, e):
        return f"log_softmax({self._print(e.arg)})"

    def _print_ImmutableDenseMatrix(self, e):
        if e.shape == (1, 1):
            return self._print(e[0, 0])
        return "[" + "; ".join(", ".join(self._print(x) for x in row) for row in e.tolist()) + "]"

    def _print_Normalize(self, e):
        return f"normalize_{'columns' if e.axis == 0 else 'rows'}({self._print(e.arg)})"

    def _print_InvStd(self, e):
        return f"1/σ_{'columns' if e.axis == 0 else 'rows'}({self._print(e.arg)})"

    def _print_Correlate(self, e):
        star = "⋆" if e.stride == (1, 1) else f"⋆_{_pair_text(e.stride)}"
        return f"{self.parenthesize(e.args[0], _FACTOR)} {star} {self.parenthesize(e.args[1], _FACTOR)}"

    def _print_Pad(self, e):
        return f"pad_{_widths_text(e.widths)}({self._print(e.arg)})"

    def _print_Dilate(self, e):
        return f"dilate_{_pair_text(e.stride)}({self._print(e.arg)})"

    def _print_Rot180(self, e):
        return f"rot180({self._print(e.arg)})"

    def _print_MaxPool(self, e):
        return f"maxpool_{_pair_text(e.window)}({self._print(e.arg)})"

    def _print_AvgPool(self, e):
        return f"avgpool_{_pair_text(e.window)}({self._print(e.arg)})"

    def _print_PoolRoute(self, e):
        return f"route_max({self._print(e.args[1])} → {self._print(e.args[0])})"

    def _print_PoolSpread(self, e):
        return f"spread_{_pair_text(e.window)}({self._print(e.arg)})"

    def _print_Reshape(self, e):
        if e.shape[0] == 1:  # a matrix read row by row into one row, as the model file's flatten(P)
            return f"flatten({self._print(e.arg)})"
        return f"reshape_{e.shape[0]}×{e.shape[1]}({self._print(e.arg)})"

    def _print_Concat(self, e):
        return "[" + "  ".join(self._print(a) for a in e.args) + "]"

    def _print_Columns(self, e):
        start, stop = e.span
        return f"{self.parenthesize(e.arg, _ATOM)}[:, {start + 1}..{stop}]"


class CodePrinter(TextPrinter):
    """Formulas as a solution file writes them: ``(out - 6) * step(z) * h``, ``x @ d.T``."""

    _print_Rational = StrPrinter._print_Rational  # a formula a solution file can hold: 1/100000000

    def _print_Grad(self, e):
        return "delta_" + e.name.removeprefix("delta_")

    def _print_Transpose(self, e):
        return self.parenthesize(e.arg, _ATOM) + ".T"

    def _print_HadamardProduct(self, e):
        return " * ".join(self.parenthesize(a, _FACTOR) for a in _hadamard_order(e.args))

    def _print_HadamardPower(self, e):
        return f"{self.parenthesize(e.base, _ATOM)}**{self._print(e.exp)}"

    def _print_MatMul(self, e):
        coeff, matrices = e.as_coeff_matrices()
        matrices = [m for m in matrices if not _is_unit(m)]
        if not matrices:
            return self._print(coeff)
        body = self.parenthesize(matrices[0], _FACTOR)
        for left, right in zip(matrices, matrices[1:]):  # a 1×1 factor multiplies, as in the model file
            body += (" * " if _is_scalar(left) or _is_scalar(right) else " @ ") + self.parenthesize(right, _FACTOR)
        if coeff.is_negative:
            return "-" + (body if coeff == -1 else f"{self.parenthesize(-coeff, _FACTOR)} * {body}")
        if coeff != 1:
            return f"{self.parenthesize(coeff, _FACTOR)} * {body}"
        return body

    def _print_MatAdd(self, e):
        return TextPrinter._print_MatAdd(self, e).replace(" − ", " - ")

    def _print_Apply(self, e):
        # step(x) and leaky_step(x, α) leave out the relu′(0) convention: the model gives it
        params = e.params[:-1] if e.fn.endswith("step") else e.params
        return f"{e.fn}({self._print(e.arg)}{''.join(', ' + self._print(p) for p in params)})"

    def _print_Reduce(self, e):
        axis = "" if e.axis == ALL else f", axis={e.axis}"
        return f"sum({self._print(e.arg)}{axis})"

    def _print_Softmax(self, e, name="softmax"):
        rows, cols = (int(n) for n in e.arg.shape)
        axis = f", axis={e.axis}" if rows > 1 and cols > 1 else ""
        return f"{name}({self._print(e.arg)}{axis})"

    def _print_LogSoftmax(self, e):
        return self._print_Softmax(e, "log_softmax")

    # -- windows, reshaping and normalisation: function calls of ``check/calls.py``, as the model file
    # writes its own (a size or stride 2 or (2, 1)); a call needs no brackets around it

    def parenthesize(self, item, level, strict=False):
        if isinstance(item, Correlate):
            return self._print(item)
        return super().parenthesize(item, level, strict)

    @staticmethod
    def _pair(pair) -> str:
        return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"

    def _stride(self, e, default=(1, 1)) -> str:
        return "" if e.stride == default else f", stride={self._pair(e.stride)}"

    def _print_Correlate(self, e):
        return f"correlate({self._print(e.args[0])}, {self._print(e.args[1])}{self._stride(e)})"

    def _print_Pad(self, e):
        top, left, bottom, right = e.widths
        if (top, left) != (bottom, right) or min(e.widths) < 0:
            return f"pad({self._print(e.arg)}, top={top}, left={left}, bottom={bottom}, right={right})"
        return f"pad({self._print(e.arg)}, {self._pair((top, left))})"

    def _print_Dilate(self, e):
        return f"dilate({self._print(e.arg)}, {self._pair(e.stride)})"

    def _print_Rot180(self, e):
        return f"rot180({self._print(e.arg)})"

    def _print_MaxPool(self, e, name="max_pool2d"):
        return f"{name}({self._print(e.arg)}, {self._pair(e.window)}{self._stride(e, e.window)})"

    def _print_AvgPool(self, e):
        return self._print_MaxPool(e, "avg_pool2d")

    def _print_PoolRoute(self, e):
        x, g = e.args[:2]
        return f"route_max({self._print(g)}, {self._print(x)}, {self._pair(e.window)}{self._stride(e, e.window)})"

    def _print_PoolSpread(self, e):
        (m, n), (kr, kc), (sr, sc) = (int(k) for k in e.arg.shape), e.window, e.stride
        shape = (int(e.shape[0]), int(e.shape[1]))
        covered = "" if shape == ((m - 1) * sr + kr, (n - 1) * sc + kc) else f", shape=({shape[0]}, {shape[1]})"
        return f"spread_avg({self._print(e.arg)}, {self._pair(e.window)}{self._stride(e, e.window)}{covered})"

    def _print_Reshape(self, e):
        if e.shape[0] == 1:  # a matrix read row by row into one row, as the model file's flatten(P)
            return f"flatten({self._print(e.arg)})"
        return f"reshape({self._print(e.arg)}, {e.shape[0]}, {e.shape[1]})"

    def _print_Concat(self, e):
        return f"concat({', '.join(self._print(a) for a in e.args)})"

    def _print_Columns(self, e):
        start, stop = e.span
        return f"columns({self._print(e.arg)}, {start + 1}, {stop})"  # counted from 1, both included

    def _print_Normalize(self, e, name="normalize"):
        return f"{name}({self._print(e.arg)}, axis={e.axis}, eps={self._print(e.eps)})"

    def _print_InvStd(self, e):
        return self._print_Normalize(e, "inv_std")


def code(e) -> str:
    """A formula in the model's names as Python-like text: ``@``, ``.T``, ``*`` elementwise."""
    return CodePrinter().doprint(e)


def text(e) -> str:
    """Terminal text of a formula."""
    return TextPrinter().doprint(e)


#: what a normalisation runs over, named as the sums of its gradient name theirs: batch norm (axis 0) over the
#: rows of each column, as ∑_rows sums them
_AXIS_WORDS = {0: "rows", 1: "cols"}


class LatexPrinter(_SympyLatexPrinter):
    """LaTeX with symback's notation: δ, ⊙, ᵀ, named functions."""

    def __init__(self, settings=None, names: dict[str, str] | None = None):
        super().__init__(settings)
        self._names = names or {}

    def _print_Rational(self, e):
        return setting_latex(e) if _decimal(e) else super()._print_Rational(e)

    def parenthesize(self, item, level, is_neg=False, strict=False):
        value = _matmul_precedence(item)
        value = precedence_traditional(item) if value is None else value
        if _is_sum(item):
            # ∑ binds as a product does: beside ⊙ or under ᵀ it needs its parentheses, (∑ A) ⊙ B, not ∑ A ⊙ B
            value = PRECEDENCE["Mul"]
        if (is_neg and strict) or value < level or (not strict and value <= level):
            return self._add_parens(self._print(item))
        return self._print(item)

    def _name(self, name: str) -> str:
        if name in self._names:
            return self._names[name]
        return latex_name(name)

    def _print_MatrixSymbol(self, e):
        return self._name(e.name)

    def _print_Symbol(self, e, style="plain"):
        if e.name in self._names:  # an entry of a named tensor: w_{1,23}
            return self._names[e.name]
        return super()._print_Symbol(e, style)

    def _print_Heaviside(self, e):
        return rf"\operatorname{{step}}\left({self._print(e.args[0])}\right)"

    def _print_Grad(self, e):
        if e.name in self._names:  # a δ shown by its numbers (report.document._numbers)
            return self._names[e.name]
        return r"\delta_{" + self._name(e.name.removeprefix("delta_")) + "}"

    def _print_Identity(self, e):
        return "1" if e.rows == 1 else r"I"

    def _print_OneMatrix(self, e):
        return r"\mathbf{1}" if (e.rows, e.cols) != (1, 1) else "1"

    def _print_Transpose(self, e):
        return self.parenthesize(e.arg, _ATOM) + r"^{\top}"

    def _print_HadamardProduct(self, e):
        sep = r" \cdot " if _is_scalar(e) else r" \odot "
        return sep.join(self.parenthesize(a, _FACTOR) for a in _hadamard_order(e.args))

    def _print_HadamardPower(self, e):
        base = self.parenthesize(e.base, _ATOM)
        if e.exp == 2:
            return f"{base}^{{2}}" if _is_scalar(e) else rf"{base} \odot {base}"
        if _is_scalar(e):  # a number's power is the ordinary one: 1/(1 − p), not (1 − p)^{∘−1}
            return rf"\frac{{1}}{{{self._print(e.base)}}}" if e.exp == -1 else f"{base}^{{{self._print(e.exp)}}}"
        return f"{base}^{{\\circ {self._print(e.exp)}}}"

    def _print_MatMul(self, e):
        coeff, matrices = e.as_coeff_matrices()
        matrices = [m for m in matrices if not _is_unit(m)]
        if not matrices:
            return self._print(coeff)
        # a sum as the last factor runs to the end as it is: ½ ∑ (out − y)², not ½ (∑ (out − y)²)
        body = juxtaposed([self._print(m) if k == len(matrices) - 1 and _is_sum(m) else self.parenthesize(m, _FACTOR)
                           for k, m in enumerate(matrices)])
        if coeff == -1:
            return "-" + body
        if _over(coeff, matrices):
            return rf"{'-' if coeff < 0 else ''}\frac{{{self._print(matrices[0])}}}{{{coeff.q}}}"
        if coeff != 1:
            return juxtaposed([self._print(coeff), body])
        return body

    def _print_MatAdd(self, e):
        out = ""
        for k, term in enumerate(_sum_order(e.args)):
            s = self._print(term)
            if k and s.startswith("-"):
                out += " - " + s[1:]
            elif k:
                out += " + " + s
            else:
                out += s
        return out

    def _print_Apply(self, e):
        escaped = e.fn.replace("_", r"\_")
        name = {"sigmoid": r"\sigma", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log"}.get(
            e.fn, rf"\operatorname{{{escaped}}}"
        )
        if e.fn.startswith("leaky"):  # the slope is part of the function: leaky_relu(z, α = 0.01)
            return rf"{name}\left({self._print(e.arg)},\ \alpha = {setting_latex(e.params[0])}\right)"
        if e.fn in ("huber", "clip"):  # Huber's δ is part of the function
            return rf"{name}_{{{setting_latex(e.params[0])}}}\left({self._print(e.arg)}\right)"
        if e.fn == "abs":
            return rf"\left|{self._print(e.arg)}\right|"
        return rf"{name}\left({self._print(e.arg)}\right)"

    def _print_Broadcast(self, e):
        return self._print(e.arg)

    def _print_Reduce(self, e):
        where = {0: r"\text{rows}", 1: r"\text{cols}", ALL: ""}[e.axis]
        return rf"\sum_{{{where}}} {self.parenthesize(e.arg, 45)}"

    def _print_Softmax(self, e):
        return rf"\operatorname{{softmax}}\left({self._print(e.arg)}\right)"

    def _print_LogSoftmax(self, e):
        return rf"\operatorname{{log\_softmax}}\left({self._print(e.arg)}\right)"

    def _print_Normalize(self, e):
        # x̂ over a name or a short formula (the model states which axis); over a matrix of numbers a hat would
        # be lost on its first entry, so the operation is named: normalize_cols(…)
        arg = self._print(e.arg)
        if r"\begin" in arg or not isinstance(e.arg, sp.MatrixSymbol):  # a hat over X W₁ + b₁ covers "W₁ +"
            return rf"\operatorname{{normalize}}_{{\text{{{_AXIS_WORDS[e.axis]}}}}}\left({arg}\right)"
        return rf"\widehat{{{arg}}}"

    def _print_InvStd(self, e):
        arg = self._print(e.arg)
        if r"\begin" in arg or not isinstance(e.arg, sp.MatrixSymbol):  # numbers or a formula: 1/σ_cols(…)
            return rf"1/\sigma_{{\text{{{_AXIS_WORDS[e.axis]}}}}}\left({arg}\right)"
        return rf"\frac{{1}}{{\sigma_{{{arg}}}}}"

    def _print_Correlate(self, e):
        star = r"\star" if e.stride == (1, 1) else rf"\star_{{{_pair_text(e.stride)}}}"
        return rf"{self.parenthesize(e.args[0], _FACTOR)} {star} {self.parenthesize(e.args[1], _FACTOR)}"

    def _print_Pad(self, e):
        return rf"\operatorname{{pad}}_{{{_widths_text(e.widths)}}}\left({self._print(e.arg)}\right)"

    def _print_Dilate(self, e):
        return rf"\operatorname{{dilate}}_{{{_pair_text(e.stride)}}}\left({self._print(e.arg)}\right)"

    def _print_Rot180(self, e):
        return rf"\operatorname{{rot180}}\left({self._print(e.arg)}\right)"

    def _print_MaxPool(self, e):
        return rf"\operatorname{{maxpool}}_{{{_pair_text(e.window)}}}\left({self._print(e.arg)}\right)"

    def _print_AvgPool(self, e):
        return rf"\operatorname{{avgpool}}_{{{_pair_text(e.window)}}}\left({self._print(e.arg)}\right)"

    def _print_PoolRoute(self, e):
        return rf"\operatorname{{route}}_{{\max}}\left({self._print(e.args[1])} \to {self._print(e.args[0])}\right)"

    def _print_PoolSpread(self, e):
        return rf"\operatorname{{spread}}_{{{_pair_text(e.window)}}}\left({self._print(e.arg)}\right)"

    def _print_Reshape(self, e):
        if e.shape[0] == 1:
            return rf"\operatorname{{flatten}}\left({self._print(e.arg)}\right)"
        return rf"\operatorname{{reshape}}_{{{e.shape[0]}\times {e.shape[1]}}}\left({self._print(e.arg)}\right)"

    def _print_Concat(self, e):
        return r"\begin{bmatrix} " + " & ".join(self._print(a) for a in e.args) + r" \end{bmatrix}"

    def _print_Columns(self, e):
        start, stop = e.span
        return rf"{self.parenthesize(e.arg, _ATOM)}_{{[:,\, {start + 1}..{stop}]}}"

    def _print_ImmutableDenseMatrix(self, e):
        if e.shape == (1, 1):
            return self._print(e[0, 0])
        return super()._print_MatrixBase(e)  # SymPy's LaTeX printer has no _print_ImmutableDenseMatrix


_WORD = re.compile(r"^(?P<word>[A-Za-z]{2,})(?P<rest>(_\{.*\})?)$")


def latex_name(name: str) -> str:
    """LaTeX of a quantity's name, by SymPy's conventions (``w1`` → ``w_{1}``, ``alpha`` → ``\\alpha``);
    a word is set as one italic word (``\\mathit{out}``), not as a product of letters."""
    printed = _SympyLatexPrinter()._print_Symbol(sp.Symbol(name))
    match = _WORD.match(printed)
    if match:
        return rf"\mathit{{{match['word']}}}{match['rest']}"
    return printed


def latex_names(model) -> dict[str, str]:
    """LaTeX of every named quantity of ``model`` (``latex=`` overrides, else `latex_name`)."""
    return {n.name: n.latex or latex_name(n.name) for n in model.nodes if n.name}


def latex(e, names: dict[str, str] | None = None) -> str:
    """LaTeX of a formula; ``names`` maps a quantity's name to its LaTeX (``latex=`` overrides)."""
    return LatexPrinter(names=names).doprint(e)


def latex_shaped(e, names: dict[str, str] | None = None) -> str:
    """LaTeX of a step's right-hand side with the shape of each factor underbraced.

    ``x δ_u1`` becomes ``\\underbrace{x}_{2\\times 1} \\underbrace{\\delta_{u_{1}}}_{1\\times 3}``,
    as a hand solution writes it; a product of scalars is printed as it is.  A sum of products is
    shaped term by term — a shared weight's gradient, one outer product per time step:
    ``h_0ᵀ (2×1) (δ_h1 ⊙ (1 − h1⊙h1)) (1×2) + …``; max-pool's routing shapes the δ it routes and the
    quantity whose maxima receive it (2×2 → 4×4).
    """
    printer = LatexPrinter(names=names)

    def braced(f, last: bool = False) -> str:
        # a sum as the last factor runs to the end as it is (as in _print_MatMul)
        inner = printer._print(f) if last and _is_sum(f) else printer.parenthesize(f, _FACTOR)
        return rf"\underbrace{{{inner}}}_{{{int(f.shape[0])}\times {int(f.shape[1])}}}"

    def factors_of(e):
        """(coefficient, factors, separator) of a product; a lone factor for anything else."""
        coeff = sp.Integer(1)
        while isinstance(e, sp.MatMul):
            coeff_here, matrices = e.as_coeff_matrices()
            matrices = [m for m in matrices if not _is_unit(m)]
            if len(matrices) != 1:
                break
            coeff, e = coeff * coeff_here, matrices[0]
        if isinstance(e, sp.MatMul):
            coeff_here, factors = e.as_coeff_matrices()
            return coeff * coeff_here, [m for m in factors if not _is_unit(m)], r"\,", e
        if isinstance(e, sp.HadamardProduct):
            return coeff, _hadamard_order(e.args), r" \odot ", e
        if isinstance(e, Correlate):  # X ⋆ δ: both operands' shapes, as the lecture shows them
            sep = r" \star " if e.stride == (1, 1) else rf" \star_{{{_pair_text(e.stride)}}} "
            return coeff, list(e.args[:2]), sep, e
        return coeff, [e], "", e

    def shaped(e) -> str:
        coeff, factors, sep, e = factors_of(e)
        if all(_is_scalar(f) for f in factors) and (len(factors) > 1 or _is_scalar(e)):
            return printer.doprint(sp.MatMul(coeff, e) if coeff != 1 else e)  # as the numbers line: 2 (out − d₁)
        if isinstance(e, PoolRoute):
            body = (rf"\operatorname{{route}}_{{\max}}\left({braced(e.args[1])} \to {braced(e.args[0])}\right)")
        else:
            body = sep.join(braced(f, k == len(factors) - 1) for k, f in enumerate(factors))
        if coeff == -1:
            return "-" + body
        if coeff != 1:
            return f"{printer._print(coeff)} {body}"
        return body

    if isinstance(e, sp.MatAdd) and any(len(factors_of(t)[1]) > 1 for t in e.args):
        out = ""
        for k, term in enumerate(_sum_order(e.args)):
            t = shaped(term)
            out += (f" - {t[1:]}" if t.startswith("-") else f" + {t}") if k else t
        return out
    return shaped(e)
