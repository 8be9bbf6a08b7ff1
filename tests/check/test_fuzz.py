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
