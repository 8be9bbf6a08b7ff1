"""Numbers and matrices as a reader sees them: rounded to the model's ``digits``.

Every value in a report passes through here, so rounding is the same everywhere: ``digits``
significant digits, trailing zeros dropped, scientific notation only for very small or very
large magnitudes.  Large tensors are shown by their corners with dots between.

>>> number(mpmath.mpf("4.4717679"), 4)
'4.472'
>>> matrix_latex(np.array([[0.5, -1.25]]), 4)
'\\\\begin{pmatrix} 0.5 & -1.25 \\\\end{pmatrix}'
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

#: tensors with more rows or columns than this are shown by their corners
MAX_SHOWN = 10  # a row of 10 numbers of 4 digits still fits across the page at the body's size
_CORNER = 5  # rows/columns kept before the dots (and MAX_SHOWN - _CORNER - 1 after)


def _mpf(v):
    if isinstance(v, sp.Rational):
        return mpmath.mpf(v.p) / v.q
    if isinstance(v, sp.Basic):  # an exact number such as −25√60765/36459 (batch norm of data)
        return mpmath.mpf(sp.N(v, 50))
    return mpmath.mpf(v)


def _half_up(x, digits: int, significant: int):
    """``x`` rounded to ``digits`` significant digits as a person rounds: ties away from zero, a tie being
    judged on the decimal value at ``significant`` digits (the ones its precision holds) — −2.3375 computed
    as −2.33749999…(binary noise) is −2.338, as on paper, not −2.337."""
    from decimal import ROUND_HALF_UP, Decimal

    d = Decimal(mpmath.nstr(x, significant, min_fixed=-mpmath.inf, max_fixed=mpmath.inf))
    return mpmath.mpf(str(d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1), rounding=ROUND_HALF_UP)))


def number(v, digits: int) -> str:
    """``v`` rounded to ``digits`` significant digits: ``4.472``, ``-0.01367``, ``1.2e-07``."""
    with mpmath.workdps(max(30, digits + 5)):
        x = _mpf(v)
        if mpmath.isnan(x):
            return "nan"
        if mpmath.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        rounded = _half_up(x, digits, 15 if isinstance(v, (float, np.floating)) else 25)
        s = mpmath.nstr(rounded, digits, min_fixed=-5, max_fixed=max(digits, 6), strip_zeros=False)
        # trailing zeros are dropped only where the rounding is exact: 1.3 is 1.3, 1.300456 is 1.300
        exact = float(s) == float(v) if isinstance(v, (float, np.floating)) else mpmath.mpf(s) == +x
        if exact:
            s = mpmath.nstr(x, digits, min_fixed=-5, max_fixed=max(digits, 6))
    if "e" in s:
        mantissa, exponent = s.split("e")
        return f"{mantissa.removesuffix('.0').removesuffix('.')}e{int(exponent):+03d}"
    return s.removesuffix(".0").removesuffix(".")


def number_unicode(v, digits: int) -> str:
    """`number` as prose writes it: ``3.6 × 10⁻⁸`` for ``3.6e-08``, ``−0.5`` with a real minus sign."""
    s = number(v, digits)
    if "e" in s:
        mantissa, exponent = s.split("e")
        power = f"10{str(int(exponent)).translate(_SUPERSCRIPT)}"
        s = power if mantissa == "1" else f"{mantissa} × {power}"
    return s.replace("-", "−")


def number_latex(v, digits: int) -> str:
    """LaTeX of `number`: ``1.2\\times 10^{-7}``."""
    s = number(v, digits)
    if s in ("nan", "inf", "-inf"):
        return {"nan": r"\mathrm{NaN}", "inf": r"\infty", "-inf": r"-\infty"}[s]
    if "e" in s:
        mantissa, exponent = s.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return s


def _shown(n: int) -> list[int | None]:
    """Indices shown along an axis of length ``n``; ``None`` marks the dots."""
    if n <= MAX_SHOWN:
        return list(range(n))
    tail = MAX_SHOWN - _CORNER - 1
    return [*range(_CORNER), None, *range(n - tail, n)]


def _entries(value) -> np.ndarray:
    if isinstance(value, sp.MatrixBase):
        return np.array(value.tolist(), dtype=object)
    return np.asarray(value, dtype=object).reshape(np.shape(value) if np.ndim(value) == 2 else (1, -1))


def matrix_latex(value, digits: int, environment: str = "pmatrix") -> str:
    """A matrix in parentheses, its columns aligned on the decimal point; a 1×1 matrix as its number.

    Each column is a pair of array columns, the integer part right-aligned and the rest (``.01367``,
    ``.2 \\times 10^{-7}``) left-aligned, so a column of numbers reads as a hand-set table does.
    ``environment`` other than pmatrix (bmatrix, …) gives that environment, centred entries.
    """
    m = _entries(value)
    if m.shape == (1, 1):
        return number_latex(m[0, 0], digits)
    aligned = environment == "pmatrix"
    rows = []
    for i in _shown(m.shape[0]):
        cells = []
        for j in _shown(m.shape[1]):
            if i is None or j is None:
                dots = r"\ddots" if i is None and j is None else r"\vdots" if i is None else r"\cdots"
                cells.append(rf"\multicolumn{{2}}{{c}}{{{dots}}}" if aligned else dots)
                continue
            written = number_latex(m[i, j], digits)
            if aligned:
                whole, point, rest = written.partition(".")
                written = f"{whole} & {point}{rest}"
            cells.append(written)
        rows.append(" & ".join(cells))
    body = r" \\ ".join(rows)
    if not aligned:
        return rf"\begin{{{environment}}} {body} \end{{{environment}}}"
    columns = r"@{\hspace{0.8em}}".join(["r@{}l"] * len(list(_shown(m.shape[1]))))  # pmatrix's 10pt
    return rf"\left(\begin{{array}}{{@{{}}{columns}@{{}}}} {body} \end{{array}}\right)"


def matrix_text(value, digits: int) -> str:
    """A matrix on one line: ``[1.3, -0.13, 0; 0.2, -1.3, 0.03]``; a 1×1 as its number."""
    m = _entries(value)
    if m.shape == (1, 1):
        return number(m[0, 0], digits)
    rows = []
    for i in _shown(m.shape[0]):
        if i is None:
            rows.append("…")
            continue
        rows.append(", ".join(number(m[i, j], digits) if j is not None else "…" for j in _shown(m.shape[1])))
    return "[" + "; ".join(rows) + "]"


def shape_latex(shape) -> str:
    return rf"{int(shape[0])}\times {int(shape[1])}"


def shape_text(shape) -> str:
    return f"{int(shape[0])}×{int(shape[1])}"


def entry_text(name: str, i: int, j: int, shape) -> str:
    """One entry in plain text, 1-based as a teacher writes it (the same entries as `entry_latex`):
    ``out`` (1×1), ``h[2]`` (a row or column), ``w1[1, 3]`` (a matrix)."""
    rows, cols = (int(n) for n in shape)
    if (rows, cols) == (1, 1):
        return name
    if rows == 1 or cols == 1:
        return f"{name}[{(j if rows == 1 else i) + 1}]"
    return f"{name}[{i + 1}, {j + 1}]"


def entry_latex(name_latex: str, i: int, j: int, shape) -> str:
    """LaTeX of one entry, 1-based, one convention for every name: ``h_{2}``, ``(w_{1})_{23}`` (entry
    (2, 3) of w₁), ``(\\delta_{h})_{2}``, ``(\\mathit{logits})_{41}``, ``x_{2,10}`` past 9 rows or columns.

    A name that has a subscript or is a word is put in parentheses before the entry's index: w_{1,23}
    would read as a three-index name, and h_{1}^{2} as the square of an entry of h.
    """
    rows, cols = (int(n) for n in shape)
    if (rows, cols) == (1, 1):
        return name_latex
    if rows == 1 or cols == 1:
        index = str((j if rows == 1 else i) + 1)
    else:
        index = f"{i + 1}{j + 1}" if max(rows, cols) < 10 else f"{i + 1},{j + 1}"
    simple = len(name_latex) == 1 or (name_latex.startswith("\\") and name_latex[1:].isalpha())  # h, \alpha
    return f"{name_latex}_{{{index}}}" if simple else f"\\left({name_latex}\\right)_{{{index}}}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decimal_parts(value) -> tuple[str, str, int | None] | None:
    """A terminating decimal as a person writes it: (sign, digits, exponent) — ("", "0.1", None) for 0.1,
    ("", "", -8) for 10⁻⁸, ("-", "2.5", -7) for −2.5 × 10⁻⁷ (scientific below 10⁻⁴ or from 10⁶ on);
    None for zero and for any other fraction (1/3)."""
    r = sp.Rational(value)
    q = r.q
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    if q != 1 or r == 0:
        return None
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        d = (abs(Decimal(r.p)) / Decimal(r.q)).normalize()
    sign, exponent = "-" if r < 0 else "", d.adjusted()
    if -4 <= exponent < 6:
        return sign, format(d, "f"), None
    mantissa = d.scaleb(-exponent).normalize()
    return sign, "" if mantissa == 1 else format(mantissa, "f"), exponent


def setting_latex(value) -> str:
    """`setting` in LaTeX: ``0.1``, ``10^{-8}``, ``3.6 \\times 10^{-8}``, ``\\frac{1}{3}``."""
    parts = decimal_parts(value)
    if parts is None:
        return sp.latex(sp.Rational(value))
    sign, digits, exponent = parts
    if exponent is None:
        return sign + digits
    return sign + (digits + r" \times " if digits else "") + f"10^{{{exponent}}}"


def setting(value) -> str:
    """A hyperparameter as a person writes it: 0.1, 0.999, 10⁻⁸, 3.6 × 10⁻⁸, 1/3 (never 1/100000000)."""
    parts = decimal_parts(value)
    if parts is None:
        return str(sp.Rational(value))
    sign, digits, exponent = parts
    if exponent is None:
        return sign + digits
    power = f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return sign + (f"{digits} × {power}" if digits else power)
