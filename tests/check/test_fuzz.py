"""Property-based tests (hypothesis) of everything that reads a solution file: every input ends
in a result or a one-line `SolutionError`, within a time bound, and arithmetic that parses is
computed right (checked against Python's exact `fractions`, an oracle independent of the parser)."""

import time
from fractions import Fraction

import mpmath
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symback.check.arith import parse_value
from symback.check.formula import parse_formula
from symback.check.solution import parse_solution
from symback.errors import SolutionError

SETTINGS = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
#: any single input, however hostile, is answered within this many seconds
BOUND = 2.0


def _answered(fn, *args):
    """Call ``fn``: a result or a one-line SolutionError, quickly. Returns the result or None."""
    started = time.perf_counter()
    try:
        out = fn(*args)
    except SolutionError as e:
        out = None
        assert str(e) and "\n" not in str(e), repr(str(e))
    assert time.perf_counter() - started < BOUND
    return out


# -- values --------------------------------------------------------------------------------

ALPHABET = st.sampled_from(list("0123456789+-*/^().eE ,") + ["**", "tanh", "exp", "log", "sqrt", "x", "_", "@",
                                                               "__import__", "lambda", "'", '"', "{", "}", "\\"])


@SETTINGS
@given(st.text(max_size=600))
def test_any_text_is_a_value_or_one_error(text):
    _answered(parse_value, text)


@SETTINGS
@given(st.lists(ALPHABET, max_size=200).map("".join))
def test_value_like_text_is_a_value_or_one_error(text):
    _answered(parse_value, text)


def _arithmetic(depth=4):
    """Random arithmetic on small integers and decimals, as text, with its exact value."""
    leaf = st.one_of(st.integers(0, 999).map(lambda n: (str(n), Fraction(n))),
                     st.tuples(st.integers(0, 99), st.integers(0, 99)).map(
                         lambda t: (f"{t[0]}.{t[1]:02d}", Fraction(t[0] * 100 + t[1], 100))))

    def combine(children):
        def build(op, a, b):
            (ta, va), (tb, vb) = a, b
            if op == "/" and vb == 0:
                return ta, va
            value = {"+": va + vb, "-": va - vb, "*": va * vb, "/": va / vb if vb else va}[op]
            return f"({ta} {op} {tb})", value

        return st.builds(build, st.sampled_from("+-*/"), children, children) | children.map(
            lambda c: (f"-{c[0]}", -c[1]))

    return st.recursive(leaf, combine, max_leaves=12)


@SETTINGS
@given(_arithmetic())
def test_arithmetic_is_computed_exactly(case):
    text, exact = case
    e = _answered(parse_value, text)
    if e is None:  # refused: only for a limit (length, nesting, magnitude)
        return
    with mpmath.workdps(60):
        expected = mpmath.mpf(exact.numerator) / exact.denominator
        assert abs(e.value - expected) <= mpmath.mpf(10) ** -45 * max(1, abs(expected)), (text, e.value, exact)


@pytest.mark.parametrize("text", [
    "(" * 10_000 + "1" + ")" * 10_000,  # deep nesting
    "-" * 10_000 + "1",  # deep signs
    "9" * 100_000,  # a long number
    "1e999999999",  # a huge exponent
    "2^2^2^2^2^2^2^2",  # a tower
    "10^64^64",
    "1" + "*1" * 50_000,  # long but flat
    "tanh(" * 5_000 + "1" + ")" * 5_000,
])
def test_pathological_values_are_refused_fast(text):
    assert _answered(parse_value, text) is None


# -- formulas ------------------------------------------------------------------------------

FORMULA_ALPHABET = st.sampled_from(["out", "z", "h", "x", "w1", "w2", "u1", "delta_h", "step", "tanh", "sum",
                                    "(", ")", "@", ".T", "*", "+", "-", "/", "^", "2", "1", "6", "axis=0", ","])


@SETTINGS
@given(st.lists(FORMULA_ALPHABET, max_size=60).map(" ".join))
def test_formula_like_text_is_a_matrix_or_one_error(seed, text):
    d = seed._derivation
    symbols = {n.name: d.value[n] for n in d.order if n.name}
    symbols.update({f"delta_{n.name}": d.delta[n] for n in d.order if n.name and n in d.delta_defs})
    _answered(lambda t: parse_formula(t, symbols), text)


# -- whole files ---------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_are_a_solution_or_one_error(seed, data):
    _answered(lambda t: parse_solution(t, seed), data.decode("utf-8", errors="replace"))


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                     st.text(max_size=30), st.sampled_from(["0.1*(4.47-6)", "3/10", "tanh(1.39)", "1e400"]))
_KEYS = st.one_of(st.sampled_from(["epochs", "formulas", "forward", "grads", "updated", "w1", "b1", "out", "z",
                                   "1", "2", "1.1", "student"]), st.integers(0, 5), st.text(max_size=8))
_TREES = st.recursive(_SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(_KEYS, c, max_size=4),
                      max_leaves=30)


@SETTINGS
@given(st.dictionaries(_KEYS, _TREES, max_size=4))
def test_random_yaml_is_a_solution_or_one_error(seed, tree):
    _answered(lambda t: parse_solution(t, seed), yaml.safe_dump(tree, allow_unicode=True))


@SETTINGS
@given(st.integers(1, 3), st.sampled_from(["forward", "grads", "updated"]),
       st.sampled_from(["w1", "b1", "w2", "out", "z", "h", "loss"]), _TREES)
def test_plausible_files_with_random_values(seed, checker, epoch, section, name, value):
    text = yaml.safe_dump({"epochs": {epoch: {section: {name: value}}}})
    solution = _answered(lambda t: parse_solution(t, seed), text)
    if solution is not None:  # a file that loads is graded: every item gets a status, unreadable parts `error`
        result = _answered(checker.check, solution)
        assert result is not None
        assert result.verdict in ("correct", "mistakes", "error")
        assert all(j.status in ("correct", "imprecise", "carried", "wrong", "error") for j in result.items)
        assert (result.verdict == "error") == (any(j.status == "error" for j in result.items) or not result.items)


@pytest.mark.parametrize("text", [
    "epochs:\n" + "  " * 0 + "- " * 5_000 + "1\n",  # deep sequence nesting
    "a: " + "[" * 5_000 + "]" * 5_000 + "\n",
    "a: " + "{a: " * 2_000 + "1" + "}" * 2_000 + "\n",
])
def test_pathological_files_are_refused_fast(seed, text):
    assert _answered(lambda t: parse_solution(t, seed), text) is None


# -- LaTeX / Markdown hand solutions (issue 13) ------------------------------------------------------


def _latex(model, text, markdown=True, separator="."):
    """Read ``text`` as a LaTeX (``markdown=False``) or Markdown hand solution; every part it could
    not read is a one-line error with a line and column inside the text."""
    from symback.check.latex import parse_latex_solution

    solution = parse_latex_solution(text, model, file="s.md", decimal_separator=separator, markdown=markdown)
    lines = text.count("\n") + 1
    for e in solution.errors:
        assert str(e) and "\n" not in str(e), repr(str(e))
        assert e.line is None or 1 <= e.line <= lines, (e.line, lines, str(e))
    for item in solution.items:
        assert 1 <= item.line <= lines and item.column >= 1, item
    return solution


LATEX_PIECES = st.sampled_from([
    "\\frac{", "{", "}", "^", "_", "\\begin{pmatrix}", "\\end{pmatrix}", "\\begin{bmatrix}", "\\end{bmatrix}", "&",
    "\\\\", "$", "$$", "\\[", "\\]", "=", "\\approx", " ", "\n", "\n\n", "%", "```", "~~~", "`",
    "out", "h", "z", "x", "loss", "L", "u_1", "w_1", "w_{3}", "b_3", "\\delta_{out}", "\\partial", "\\partial loss",
    "\\underbrace{", "_{(1 \\times 1)}", "_{(1 \\times 3)}", "(", ")", "[", "]", "T", "^T", "^\\top", "^{1}", "^{(2)}",
    "^{4}", "^{99}", "0", "1", "6", "0.5", "-1.528", "4/472", "-", "+", "*", "/", ",", ";", ".", "۴", "۰", "٫", "٤",
    "\\tanh", "\\sigma", "\\text{relu}", "u(z)", "\\odot", "\\circ", "\\cdot", "\\times", "\\quad", "\\alpha",
    "\\begin{aligned}", "\\end{aligned}", "\\begin{align*}", "\\end{align*}", "\\left(", "\\right)", "\\def\\x{",
    "\\input{", "\\x", "'", "\u202e", "\u200c", "\x00", "مرحله", "E", "10^{10^{", "9" * 70,
])


@SETTINGS
@given(st.lists(LATEX_PIECES, max_size=80).map("".join), st.booleans(), st.sampled_from([".", "/"]))
def test_latex_like_text_is_a_solution_or_one_error(seed, text, markdown, separator):
    _answered(lambda t: _latex(seed, t, markdown, separator), text)


@SETTINGS
@given(st.text(max_size=600), st.booleans())
def test_any_text_is_a_latex_solution_or_one_error(seed, text, markdown):
    _answered(lambda t: _latex(seed, t, markdown), text)


@SETTINGS
@given(st.lists(LATEX_PIECES, max_size=40).map("".join))
def test_latex_like_math_in_a_display_block(seed, math):
    _answered(lambda t: _latex(seed, t), f"Prose.\n$$\n{math}\n$$\n")
    _answered(lambda t: _latex(seed, t, markdown=False), f"\\begin{{align*}}\n{math}\n\\end{{align*}}\n")


_LATEX_NAMES = st.sampled_from(["out", "z", "h", "u_1", "loss", "w_1", "b_1", "w_2", "b_2", "w_3", "b_3", "w_4",
                                "\\delta_{out}", "\\delta_{h}", "\\frac{\\partial loss}{\\partial w_1",
                                "\\frac{\\partial L}{\\partial b_3", "\\frac{\\partial loss}{\\partial out"])
_LATEX_NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(-1e6, 1e6).map(lambda f: f"{f:.4f}"),
                           st.sampled_from(["\\frac{3}{10}", "1.2 \\times 10^{-3}", "۰٫۲۵۳", "-0", "1e400", ""]))


def _matrix(rows, cols, numbers):
    return "\\begin{pmatrix} " + " \\\\ ".join(" & ".join(numbers[r * cols:(r + 1) * cols]) for r in range(rows)) + \
        " \\end{pmatrix}"


@SETTINGS
@given(_LATEX_NAMES, st.integers(0, 5), st.integers(1, 3), st.integers(1, 3), st.booleans(),
       st.lists(_LATEX_NUMBERS, min_size=9, max_size=9), st.sampled_from(["=", "\\approx"]))
def test_plausible_latex_values_are_graded(seed, checker, name, epoch, rows, cols, transposed, numbers, relation):
    """``NAME^{k} = matrix`` of any shape, any epoch: read and graded — every item a status, a
    misfit an error item — within the bound."""
    value = numbers[0] if rows == cols == 1 else _matrix(rows, cols, numbers) + ("^T" if transposed else "")
    left = f"{name}^{{{epoch}}}}}" if name.startswith("\\frac") else f"{name}^{{{epoch}}}"
    text = f"$$\n{left} {relation} {value}\n$$\n"
    solution = _answered(lambda t: _latex(seed, t), text)
    if solution is not None:
        result = _answered(checker.check, solution)
        assert result.verdict in ("correct", "mistakes", "error")
        assert all(j.status in ("correct", "imprecise", "carried", "wrong", "error") for j in result.items)
        assert all(j.line == 2 for j in result.items if j.line is not None), [(j.label(), j.line) for j in result.items]


_FORMULA_PIECES = st.sampled_from(["out", "6", "-", "+", "(", ")", "x", "h", "z", "w_2", "w_1", "b_1", "u(z)", "^T",
                                   "^2", "\\cdot", "\\odot", "\\times", "\\tanh(", "\\sigma(", "\\text{relu}(", "1",
                                   "\\delta_{out}", "\\underbrace{", "}_{(1 \\times 3)}", "}_{(2 \\times 1)}", " "])


@SETTINGS
@given(st.sampled_from(["w1", "b1", "w2", "b2", "w3", "b3"]), st.lists(_FORMULA_PIECES, max_size=30).map(" ".join))
def test_latex_like_formulas_are_read_or_one_error(seed, name, formula):
    text = f"$$\\frac{{\\partial loss}}{{\\partial {name[0]}_{name[1]}}} = {formula}$$\n"
    solution = _answered(lambda t: _latex(seed, t), text)
    if solution is not None:
        assert all(f.name == name and f.line == 1 for f in solution.formulas)


@pytest.mark.parametrize("text", [
    "$$out^{1} = " + "{" * 50_000 + "4.472" + "}" * 50_000 + "$$",  # deep braces
    "$$out^{1} = " + "(" * 50_000 + "4.472" + ")" * 50_000 + "$$",
    "$$out^{1} = " + "\\frac{1}{" * 10_000 + "2" + "}" * 10_000 + "$$",
    "$$out^{1} = " + "\\begin{pmatrix}" * 5_000 + "1" + "\\end{pmatrix}" * 5_000 + "$$",
    "$$out^{1} = " + "\\underbrace{" * 5_000 + "1" + "}_{(1 \\times 1)}" * 5_000 + "$$",
    "$$out^{1} = 10^{10^{10^{10}}}$$",
    "$$out^{1} = 2^{2^{2^{2^{2^{2^{2^{2}}}}}}}$$",
    "$$out^{1} = 4." + "4" * 1_000 + "$$",  # a 1,000-digit number
    "$$out^{1} = " + "9" * 100_000 + "$$",
    "$$" * 20_000,
    "$" * 40_001,
    "\\[" * 20_000,
    "$$" + "\\\\" * 100_000 + "$$",
    "$$" + "&" * 100_000 + "$$",
    "$$" + "=" * 100_000 + "$$",
    "$$out^{1} = " + "1 + " * 50_000 + "1$$",
    "$$w_1^{2} = \\begin{pmatrix}" + " \\\\ ".join(" & ".join(["0.5"] * 300) for _ in range(300)) + "\\end{pmatrix}$$",
    "$$" + "^" * 50_000 + "$$",
    "$$" + "x^{" * 20_000 + "$$",
    "$$\\frac{\\partial loss}{\\partial w_1} = " + "(" * 2_000 + "x" + ")" * 2_000 + "$$",
    "$$\\frac{\\partial loss}{\\partial w_1} = " + " \\odot ".join(["(1 - h^2)"] * 2_000) + "$$",
    "```\n" * 10_000,
    "%" * 100_000 + "\n$out^{1} = 4.472$",
])
@pytest.mark.parametrize("markdown", [True, False])
def test_pathological_latex_is_answered_fast(seed, text, markdown):
    _answered(lambda t: _latex(seed, t, markdown), text)


@pytest.mark.parametrize("text", [
    "$$out^{1} = " + "{" * 50_000 + "4.472" + "}" * 50_000 + "$$\n",
    "$$out^{1} = 10^{10^{10^{10}}}$$\n",
    "$$out^{1} = 4." + "4" * 1_000 + "$$\n",
])
def test_pathological_latex_values_are_not_judged_correct(seed, checker, text):
    """Refused with a reason on the line, or judged — never taken as out's value by accident."""
    solution = _answered(lambda t: _latex(seed, t), text)
    if solution is not None:
        result = _answered(checker.check, solution)
        assert result.verdict == "error" and all(j.status == "error" and j.line == 1 for j in result.items), \
            [(j.label(), j.status, j.reason) for j in result.items]
