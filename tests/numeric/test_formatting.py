"""Rounding as a reader expects it, and the TeX log excerpt of a failed run."""

import mpmath
import numpy as np
import pytest
import sympy as sp

from symback.numeric.formatting import entry_latex, matrix_latex, matrix_text, number, number_latex
from symback.report.pdf import log_excerpt


@pytest.mark.parametrize(("value", "shown"), [
    (sp.Rational(13, 10), "1.3"),  # exact: no invented zeros
    (sp.Rational(1300456, 10**6), "1.300"),  # rounded: the zeros are digits
    (sp.Rational(-7592, 10**7), "-0.0007592"),
    (sp.Rational(1234, 10**8), "1.234e-05"),
    (sp.Integer(2), "2"),
    (sp.Integer(0), "0"),
    (0.1, "0.1"),
    (0.30000000000000004, "0.3000"),
    (123456.0, "123500"),
    (float("nan"), "nan"),
])
def test_number(value, shown):
    with mpmath.workdps(50):
        assert number(value, 4) == shown


def test_latex_forms():
    assert number_latex(sp.Rational(1234, 10**8), 4) == r"1.234 \times 10^{-5}"
    assert matrix_latex(sp.Matrix([[1, sp.Rational(-1, 2)]]), 4) == \
        r"\left(\begin{array}{@{}r@{}l@{\hspace{0.8em}}r@{}l@{}} 1 &  & -0 & .5 \end{array}\right)"
    assert matrix_latex(sp.Matrix([[1, sp.Rational(-1, 2)]]), 4, "bmatrix") == r"\begin{bmatrix} 1 & -0.5 \end{bmatrix}"
    assert matrix_latex(sp.Matrix([[sp.Rational(1, 10)]]), 4) == "0.1"
    assert matrix_latex(np.arange(100.0).reshape(10, 10), 3).count(r"\cdots") == 0  # 10 × 10: every entry
    big = matrix_latex(np.arange(144.0).reshape(12, 12), 3)  # 5 rows, the dots, the last 4
    assert big.count(r"\\") == 9 and r"\cdots" in big and r"\ddots" in big and "143" in big
    assert matrix_text(sp.Matrix([[1, 2], [3, 4]]), 4) == "[1, 2; 3, 4]"


def test_entry_names():
    assert entry_latex("w_{1}", 1, 2, (2, 3)) == r"\left(w_{1}\right)_{23}"  # never w_{1,23}
    assert entry_latex("h", 0, 1, (1, 3)) == "h_{2}"
    assert entry_latex(r"\alpha", 0, 1, (1, 3)) == r"\alpha_{2}"
    assert entry_latex(r"\delta_{\mathit{logits}}", 3, 0, (4, 3)) == r"\left(\delta_{\mathit{logits}}\right)_{41}"
    assert entry_latex("x", 1, 9, (2, 10)) == "x_{2,10}"
    assert entry_latex(r"\mathit{out}", 0, 0, (1, 1)) == r"\mathit{out}"


def test_log_excerpt_names_the_error():
    log = "This is pdfTeX\n(./d.tex\n./d.tex:12: Undefined control sequence.\nl.12 \\notacommand\n\n)\n"
    assert log_excerpt(log) == r"./d.tex:12: Undefined control sequence. | l.12 \notacommand"
    assert log_excerpt("! Missing $ inserted.\n<inserted text>\n$\n") == "! Missing $ inserted. | <inserted text> | $"


def test_numbers_in_prose_use_a_times_sign_and_superscripts():
    from symback.numeric.formatting import number_unicode, setting_latex

    assert number_unicode(3.6e-08, 2) == "3.6 × 10⁻⁸"
    assert number_unicode(1e-9, 2) == "10⁻⁹"
    assert number_unicode(-2.5e-7, 2) == "−2.5 × 10⁻⁷"
    assert number_unicode(0.0123, 2) == "0.012"
    assert setting_latex(sp.Rational(1, 10)) == "0.1"
    assert setting_latex(sp.Rational(1, 10 ** 8)) == "10^{-8}"
    assert setting_latex(sp.Rational(1, 3)) == r"\frac{1}{3}"


def test_ties_round_away_from_zero_as_on_paper():
    # −2.3375 is computed as −2.33749999… in binary: the decimal value decides, and a tie rounds up
    import mpmath

    assert number(-2.3375, 4) == "-2.338" and number(0.26875, 4) == "0.2688"
    with mpmath.workdps(50):
        assert number(mpmath.mpf(187) / 80, 4) == "2.338"  # 2.3375 at 50 digits
        assert number(mpmath.mpf("0.72375"), 4) == "0.7238"
    assert number(sp.Rational(-27, 80), 3) == "-0.338"
    assert number(4.4721359, 4) == "4.472" and number(-0.0136665, 4) == "-0.01367"


def test_a_numbers_power_is_the_ordinary_one():
    from symback.numeric.printing import latex

    p, h = sp.MatrixSymbol("p", 1, 1), sp.MatrixSymbol("h", 1, 3)
    one = sp.OneMatrix(1, 1)
    assert latex(sp.HadamardPower(p, -1)) == r"\frac{1}{p}"
    assert latex(sp.HadamardPower(one - p, -1)) == r"\frac{1}{1 - p}"
    assert latex(sp.HadamardPower(h, -1)) == r"h^{\circ -1}"  # of a matrix, entrywise
