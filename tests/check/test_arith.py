"""The safe parser of solution-file values, against mpmath.

Every expected number is computed here independently (mpmath at 60 digits), never read back
from `symback.check.arith` itself.
"""

import builtins
import re
import time
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from symback.check.arith import MAX_LENGTH, parse_value
from symback.errors import SolutionError

mp = mpmath.mpf


def close(a, b, digits=45) -> bool:
    return abs(a - b) <= mp(10) ** -digits * max(1, abs(b))


# ---------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------

with mpmath.workdps(60):
    VALUES = [
        ("4.47", mp("4.47")),
        (".5", mp("0.5")),
        ("3.", mp(3)),
        ("1e-3", mp("0.001")),
        ("1.5E+2", mp(150)),
        ("0.0020", mp("0.002")),
        ("3/10", mp(3) / 10),
        ("1/3", mp(1) / 3),
        ("2+3*4^2", mp(50)),
        ("2+3*4**2", mp(50)),
        ("-2^2", mp(-4)),
        ("(-2)^2", mp(4)),
        ("2^-1", mp("0.5")),
        ("1 - -1", mp(2)),
        ("10/4/5", mp("0.5")),  # left to right
        ("2*3-4/8", mp("5.5")),
        (" 0.1*(4.47-6) ", mp("0.1") * (mp("4.47") - 6)),
        ("-(3/10)", -mp(3) / 10),
        ("tanh(0.5)", mpmath.tanh(mp("0.5"))),
        ("sigmoid(-3)", 1 / (1 + mpmath.exp(3))),
        ("sigmoid(40)", 1 / (1 + mpmath.exp(-40))),
        ("relu(-1.5)", mp(0)),
        ("relu(2.5)", mp("2.5")),
        ("exp(1.2)", mpmath.exp(mp("1.2"))),
        ("log(2.5)", mpmath.log(mp("2.5"))),
        ("sqrt(2)", mpmath.sqrt(2)),
        ("softplus(2)", mpmath.log(1 + mpmath.exp(2))),
        ("softplus(-30)", mpmath.log(1 + mpmath.exp(-30))),
        ("0.1*(1 - tanh(0.7)^2)", mp("0.1") * (1 - mpmath.tanh(mp("0.7")) ** 2)),
    ]


@pytest.mark.parametrize(("text", "expected"), VALUES)
def test_value(text, expected):
    assert close(parse_value(text).value, expected)


def test_value_has_50_digits():
    with mpmath.workdps(60):
        third = mp(1) / 3
    assert abs(parse_value("1/3").value - third) < mp(10) ** -49


@pytest.mark.parametrize(("text", "value", "half_unit"), [
    ("0.0020", Fraction(2, 1000), Fraction(5, 100000)),
    ("4.47", Fraction(447, 100), Fraction(5, 1000)),
    ("6", Fraction(6), Fraction(1, 2)),
    ("1.5e-3", Fraction(15, 10000), Fraction(5, 100000)),
    ("3.", Fraction(3), Fraction(1, 2)),
    (".5", Fraction(1, 2), Fraction(1, 20)),
    ("2E2", Fraction(200), Fraction(50)),
])
def test_literal_half_unit(text, value, half_unit):
    (literal,) = parse_value(text).literals
    assert (literal.text, literal.value, literal.half_unit, literal.position) == (text, value, half_unit, 0)


def test_literals_in_order_with_positions():
    e = parse_value("0.1*(4.47-6)")
    assert [(lit.text, lit.position) for lit in e.literals] == [("0.1", 0), ("4.47", 5), ("6", 10)]


@pytest.mark.parametrize(("text", "is_number"), [
    ("4.47", True), ("-4.47", True), ("+6", True), (" 0.0020 ", True),
    ("3/10", False), ("(4.47)", False), ("--6", False), ("2^2", False), ("tanh(1)", False),
])
def test_is_number(text, is_number):
    assert parse_value(text).is_number is is_number


def test_rounding_of_a_plain_number():
    with mpmath.workdps(60):
        assert close(parse_value("0.0020").rounding(set()), mp("0.00005"))
        assert close(parse_value("-4.47").rounding(set()), mp("0.005"))
        # a whole number claims its exact value (issue 10: "0" must not pass for 0.4)
        assert parse_value("6").rounding(set()) == 0 and parse_value("0").rounding(set()) == 0
        assert close(parse_value("6.").rounding(set()), mp("0.5"))


@pytest.mark.parametrize(("text", "kind", "significant"), [
    ("0", "whole", None), ("-12", "whole", None), ("+3", "whole", None), ("3.", "decimal", 1), (".0", "decimal", 1),
    ("0.0020", "decimal", 2), ("12.50", "decimal", 4), ("1.50e-3", "decimal", 3), ("0.1*(4.47-6)", "expression", 1),
    ("3/10", "expression", None), ("1/3 + 0.25", "expression", 2),
])
def test_what_kind_of_number_is_written(text, kind, significant):
    e = parse_value(text)
    assert (e.kind, e.significant) == (kind, significant)


def test_rounding_of_the_learning_rate_example():
    e = parse_value("0.1*(4.47-6)")
    with mpmath.workdps(60):
        only_output = mp("0.1") * mp("0.005")
        both = only_output + mp("0.05") * abs(mp("4.47") - 6)  # 0.1 rounded too: ±0.05 × |4.47 − 6|
        spread = mp("0.05") * mp("0.153")  # … which is wider than 5 % of the value: capped there
    assert close(e.rounding({Fraction(1, 10)}), only_output)
    assert both > spread and close(e.rounding(set()), spread)


def test_cancellation_does_not_widen_a_claim_to_anything():
    # 99999 × (0.3 ± 0.05) − 29999.7 would be 0 ± 5,000: it claims 0, to 5 % of 0
    assert parse_value("99999*0.3-29999.7").rounding(set()) < 1e-40  # 0, up to 50-digit arithmetic
    with mpmath.workdps(60):
        assert close(parse_value("99999*0.3-29995.23").rounding(set()), mp("0.05") * mp("4.47"))


def test_rounding_skips_integers_and_exponents_and_follows_functions():
    assert parse_value("3/10").rounding(set()) == 0
    assert parse_value("2^0.5").rounding(set()) == 0
    with mpmath.workdps(60):
        expected = mpmath.tanh(mp("0.505")) - mpmath.tanh(mp("0.5"))
    assert close(parse_value("tanh(0.50)").rounding(set()), expected)


def test_evaluate_with_a_literal_replaced():
    e = parse_value("0.1*(4.47-6)")
    with mpmath.workdps(60):
        assert close(e.evaluate({1: mp("4.5")}), mp("0.1") * (mp("4.5") - 6))
    assert close(e.evaluate({}), e.value)


def test_custom_functions():
    double = {"double": lambda x: 2 * x}
    assert parse_value("double(2.5)", functions=double).value == 5
    with pytest.raises(SolutionError, match="unknown function 'tanh'"):
        parse_value("tanh(1)", functions=double)


def test_longest_allowed_sum():
    text = "1+" * 249 + "1"
    assert len(text) < MAX_LENGTH and parse_value(text).value == 250


HOSTILE_VALUES = [
    "__import__('os')",
    "__import__(os)",
    "().__class__",
    "lambda: 1",
    "{0}",
    "[1]",
    "1e999999",
    "1e" + "9" * 400,
    "9^9^9^9",
    "2^3^2",
    "2**100000",
    "2^(1+1)",
    "(" * 10000,
    "1+" * 300,
    "1+" * 200,
    "x" * 10_000,
    "1/0",
    "1/(0.5-0.5)",
    "0^-1",
    "log(-1)",
    "log(0)",
    "sqrt(-2)",
    "(-8)^0.5",
    "exp(1000)",
    "10^100*10^100*10",
    "1" * 61,
    "x.__dict__",
    "'1'",
    'f"{1}"',
    "(" * 40 + "1" + ")" * 40,
    "-" * 40 + "1",
    "",
    "   ",
    "1 2",
    "2x",
    "1.2.3",
    "1 @ 2",
    "tanh",
    "tanh(1, 2)",
    "tahn(1)",
    "1\u22122",
    "2\u00d73",
    "1;2",
    "1\n+\x00",
]


@pytest.mark.parametrize("text", HOSTILE_VALUES, ids=lambda t: repr(t[:20]))
def test_hostile_value_is_refused_quickly(text):
    start = time.perf_counter()
    with pytest.raises(SolutionError) as caught:
        parse_value(text)
    assert time.perf_counter() - start < 0.5
    message = caught.value.message
    assert message and "\n" not in message


@pytest.mark.parametrize(("text", "says"), [
    ("tahn(0.5)", "unknown function 'tahn' at character 1 (did you mean 'tanh'?)"),
    ("1 + sigmod(2)", "character 5 (did you mean 'sigmoid'?)"),
    ("1/0", "division by zero at character 2"),
    ("log(-1)", "log of a number that is not positive at character 1"),
    ("(1 + 2", "expected ')', found the end of the text at character 7"),
    ("2**100", "an exponent larger than 64"),
    ("'1'", "without quotes"),
    ("1e999999", "beyond ±400"),
    ("(" * 40 + "1" + ")" * 40, "nested more than 32 levels deep at character 33"),
    ("x" * 10_000, "at most 500"),
    ("1\u22122", "MINUS SIGN at character 2 (write -)"),
])
def test_value_error_messages(text, says):
    with pytest.raises(SolutionError) as caught:
        parse_value(text)
    assert says in caught.value.message


def test_error_carries_its_offset():
    with pytest.raises(SolutionError) as caught:
        parse_value("1 + foo")
    assert caught.value.position == 4


# ---------------------------------------------------------------------------------
# Nothing evaluates the text
# ---------------------------------------------------------------------------------


# formula.py builds on arith.py's parser: a formula's text passes through both
@pytest.mark.parametrize("module", ["arith.py", "formula.py"])
def test_source_never_evaluates_text(module):
    source = (Path(__file__).resolve().parents[2] / "symback" / "check" / module).read_text()
    assert not re.search(r"(?<![.\w])(eval|exec|compile)\s*\(", source)
    assert not re.search(r"(sympify|parse_expr|literal_eval)\s*\(|\bimport ast\b|\bfrom ast\b", source)


def test_parsing_calls_no_builtin_evaluator(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the text reached eval/exec/compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    parse_value("0.1*(4.47-6) + tanh(0.5)^2").rounding(set())
