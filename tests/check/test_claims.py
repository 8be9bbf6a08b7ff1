"""What a written number claims (``check/claims.py``), against plain decimal arithmetic."""

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import mpmath
import pytest

from symback.check.arith import parse_value
from symback.check.claims import Claim, Grading


def mp(x):
    """A number at 50 digits, as symback's exact values are."""
    with mpmath.workdps(50):
        return mpmath.mpf(x)


def claim(text, **grading):
    return Claim(parse_value(text), Grading(**grading))


@pytest.mark.parametrize("true", ["0.908877", "-0.908877", "12.34567", "0.000228159", "-3.5", "0.125"])
@pytest.mark.parametrize("decimals", [1, 2, 3, 4, 5])
def test_rounded_or_truncated_to_the_written_digits(true, decimals):
    exact = Decimal(true)
    quantum = Decimal(1).scaleb(-decimals)
    rounded = exact.quantize(quantum, rounding=ROUND_HALF_EVEN)
    truncated = exact.quantize(quantum, rounding=ROUND_DOWN)  # toward zero
    x = mp(true)
    with mpmath.workdps(50):
        rule = claim(str(rounded)).accepts(x)
        assert rule.startswith("rounded to") or (rule == "exact" and rounded == exact)
        rule = claim(str(truncated)).accepts(x)
        assert rule.startswith("truncated to" if truncated != rounded else "rounded to") or (
            rule == "exact" and truncated == exact)
        # one more unit in the last place, away from both, is wrong
        beyond = max(rounded, truncated) + quantum if exact >= 0 else min(rounded, truncated) - quantum
        if abs(beyond - exact) > quantum / 2:
            assert claim(str(beyond)).accepts(x) is None
        below = min(rounded, truncated) - quantum if exact >= 0 else max(rounded, truncated) + quantum
        assert claim(str(below)).accepts(x) is None


def test_a_trailing_zero_is_a_digit():
    assert claim("0.0020").accepts(mp("0.000759")) is None
    assert claim("0.001").accepts(mp("0.000759")) == "rounded to 3 decimals"
    assert claim("0.0007").accepts(mp("0.000759")) == "truncated to 4 decimals"


def test_half_way_either_way():
    assert claim("0.12").accepts(mp(1) / 8) and claim("0.13").accepts(mp(1) / 8)


@pytest.mark.parametrize(("text", "x", "accepted"), [
    ("0", mp("0.4"), False), ("0", mp("0.0001"), False), ("0", mp(0), True), ("2", mp("2.0001"), False),
    ("2", mp(2), True), ("-12", mp(-12), True), ("-12", mp("-12.4"), False), ("3.", mp("3.4"), True),
])
def test_a_whole_number_claims_that_exact_value(text, x, accepted):
    assert (claim(text).accepts(x) is not None) is accepted


def test_scientific_notation_counts_significant_digits():
    assert claim("1.5e-3").accepts(mp("0.00152")) == "rounded to 2 significant digits"
    assert claim("1.5e-3").accepts(mp("0.00156")) == "truncated to 2 significant digits"
    assert claim("1.5e-3").accepts(mp("0.00161")) is None


def test_arithmetic_carries_the_rounding_of_its_numbers():
    # 0.1*(4.47-6) with 4.47 good to ±0.005 (and 0.1 taken as rounded too): ±0.0005 + 0.05·1.53, which is
    # wider than 5 % of the value 0.153: a claim spreads at most that far (±0.00765)
    c = claim("0.1*(4.47-6)")
    assert c.accepts(mp("-0.153") + mp("0.0076")) == "arithmetic on rounded numbers"
    assert c.accepts(mp("-0.153") + mp("0.0078")) is None
    assert claim("99999*0.3-29999.7").accepts(mp("4.47177")) is None  # cancellation claims no spread


@pytest.mark.parametrize(("text", "x", "grading", "rule"), [
    ("4.47", mp("4.4718"), {"rtol": 1e-3}, "within rtol=0.001, atol=0"),
    ("4.5", mp("4.4718"), {"rtol": 1e-3}, None),
    ("0", mp("0.04"), {"atol": 0.05}, "within rtol=0, atol=0.05"),
    ("0", mp("0.04"), {"atol": 0.01}, None),
    ("4.4718", mp("4.4718"), {"rtol": 0, "atol": 0}, "within rtol=0, atol=0"),
])
def test_a_tolerance_instead_of_the_digits(text, x, grading, rule):
    assert claim(text, **grading).accepts(x) == rule


def test_min_digits_makes_few_digits_imprecise():
    c = claim("0.9", min_digits=3)
    assert c.accepts(mp("0.908877")) == "rounded to 1 decimal" and c.imprecise(mp("0.908877"))
    assert not claim("0.909", min_digits=3).imprecise(mp("0.908877"))
    assert not claim("0.5", min_digits=3).imprecise(mp("0.5"))  # an exact value is never imprecise
    assert not claim("3/10", min_digits=3).imprecise(mp("0.3"))


def test_widening_and_intervals():
    c = claim("4.470")
    assert c.accepts(mp("4.4718")) is None
    assert c.accepts(mp("4.4718"), mp("0.002")) == "rounded to 3 decimals"
    assert c.accepts_between(mp("4.4718"), mp("4.5")) is None
    assert c.accepts_between(mp("4.40"), mp("4.4718")) == "exact"  # 4.470 itself lies between


def test_radius_and_bare_zero():
    assert claim("0.908").radius == pytest.approx(0.0005, rel=1e-30)
    assert claim("0").radius == 0 and claim("0").is_bare_zero and not claim("0.0").is_bare_zero
    assert claim("1.0", atol=0.1, rtol=0.01).radius == pytest.approx(0.11)


def test_a_float_answer_is_sure_only_away_from_the_edges():
    c = claim("0.125")
    rule, sure = c.accepts_float(0.1252)
    assert rule == "rounded to 3 decimals" and sure
    rule, sure = c.accepts_float(0.1255)  # on the edge: the caller decides at 50 digits
    assert not sure
    assert claim("0").accepts_float(0.0)[1] is False  # an exact claim near its value is never sure in float64


def test_a_written_zero_is_rounded_never_truncated():
    # "0." for 0.997 would be 0.997 cut after the units — but a zero has no digit to cut after: it claims 0 ± ½
    assert claim("0.").accepts(mp("0.997")) is None
    assert claim("0.").accepts(mp("0.3")) == "rounded to 1 significant digit"
    assert claim("-0.0").accepts(mp("-0.07")) is None and claim("0.0").accepts(mp("0.04")) is not None
