"""The safe parser of gradient formulas, against NumPy.

Every expected array is computed here independently (NumPy in float64), never read back from
`symback.check.formula` itself.
"""

import builtins
import re
import time

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import MatrixExpr, MatrixSymbol

from symback.check.formula import parse_formula
from symback.engine.explicit import explicit
from symback.engine.expr import Apply, Broadcast, Grad, Reduce, add, hadamard, matmul, ones_like, scaled, times_scalar
from symback.errors import SolutionError

# ---------------------------------------------------------------------------------
# Formulas: the seed network's names, plus a few extra shapes
# ---------------------------------------------------------------------------------

SHAPES = {"x": (2, 1), "w1": (2, 3), "u1": (1, 3), "h": (1, 3), "w2": (1, 3), "z": (1, 1), "out": (1, 1),
          "w3": (2, 1), "A": (3, 4), "B": (3, 4), "r": (1, 4), "c": (3, 1)}
S = {name: sp.MatrixSymbol(name, *shape) for name, shape in SHAPES.items()}
S["delta_u1"] = Grad("delta_u1", 1, 3)
POSITIVE = {"B"}  # for log, sqrt and division


def draw(seed: int) -> dict[str, np.ndarray]:
    """Two-decimal numbers, never zero, so that SymPy (exact) and NumPy (float64) see the same data."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, symbol in S.items():
        low = 0.2 if name in POSITIVE else -1.5
        v = np.round(rng.uniform(low, 1.5, tuple(int(n) for n in symbol.shape)), 2)
        values[name] = np.where(v == 0, 0.37, v)
    return values


def expand(e, values: dict[str, np.ndarray]) -> np.ndarray:
    env = {S[n]: sp.ImmutableMatrix(sp.Matrix(v.shape[0], v.shape[1], [sp.Rational(str(a)) for a in v.flat]))
           for n, v in values.items()}
    return np.array(explicit(e, env).evalf(30).tolist(), dtype=float)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


x, w1, u1, h, w2, z, out, w3, A, B, r, c = (S[n] for n in SHAPES)
d = S["delta_u1"]
step = Apply("step", z, 0)

# text, the same formula with symback's constructors, the same formula in NumPy
FORMULAS = [
    ("(out - 6) * step(z) * h",
     times_scalar(hadamard(add(out, scaled(-6, ones_like(out))), step), h),
     lambda v: (v["out"] - 6) * (v["z"] > 0) * v["h"]),
    ("x @ (((out - 6) * step(z) * w2) * (1 - h**2))",
     matmul(x, hadamard(times_scalar(hadamard(add(out, scaled(-6, ones_like(out))), step), w2),
                        add(ones_like(h), scaled(-1, sp.HadamardPower(h, 2))))),
     lambda v: v["x"] @ (((v["out"] - 6) * (v["z"] > 0) * v["w2"]) * (1 - v["h"] ** 2))),
    ("x * delta_u1", hadamard(Broadcast(x, 2, 3), Broadcast(d, 2, 3)), lambda v: v["x"] * v["delta_u1"]),
    ("w3.T @ x", matmul(w3.T, x), lambda v: v["w3"].T @ v["x"]),
    ("x.T @ w1 + u1", add(matmul(x.T, w1), u1), lambda v: v["x"].T @ v["w1"] + v["u1"]),
    ("z * A", hadamard(Broadcast(z, 3, 4), A), lambda v: v["z"] * v["A"]),
    ("A * z", hadamard(Broadcast(z, 3, 4), A), lambda v: v["A"] * v["z"]),
    ("A * c", hadamard(A, Broadcast(c, 3, 4)), lambda v: v["A"] * v["c"]),
    ("A + r", add(A, Broadcast(r, 3, 4)), lambda v: v["A"] + v["r"]),
    ("c - A", add(Broadcast(c, 3, 4), scaled(-1, A)), lambda v: v["c"] - v["A"]),
    ("A / 4 - 1", add(scaled(sp.Rational(1, 4), A), scaled(-1, ones_like(A))), lambda v: v["A"] / 4 - 1),
    ("2 / B", scaled(2, sp.HadamardPower(B, -1)), lambda v: 2 / v["B"]),
    ("A / B", hadamard(A, sp.HadamardPower(B, -1)), lambda v: v["A"] / v["B"]),
    ("-A.T.T", scaled(-1, A), lambda v: -v["A"]),
    ("sum(A)", Reduce(A, -1), lambda v: v["A"].sum(keepdims=True)),
    ("sum(A, axis=0)", Reduce(A, 0), lambda v: v["A"].sum(axis=0, keepdims=True)),
    ("sum(A, axis=1)", Reduce(A, 1), lambda v: v["A"].sum(axis=1, keepdims=True)),
    ("sum(A * B, axis=1).T @ c", matmul(Reduce(hadamard(A, B), 1).T, c),
     lambda v: (v["A"] * v["B"]).sum(axis=1, keepdims=True).T @ v["c"]),
    ("tanh(A)**2", sp.HadamardPower(Apply("tanh", A), 2), lambda v: np.tanh(v["A"]) ** 2),
    ("1 - sigmoid(u1)", add(ones_like(u1), scaled(-1, Apply("sigmoid", u1))), lambda v: 1 - sigmoid(v["u1"])),
    ("exp(z) * h", times_scalar(Apply("exp", z), h), lambda v: np.exp(v["z"]) * v["h"]),
    ("log(B) ^ 3", sp.HadamardPower(Apply("log", B), 3), lambda v: np.log(v["B"]) ** 3),
    ("softplus(A) + relu(A)", add(Apply("softplus", A), Apply("relu", A)),
     lambda v: np.log1p(np.exp(v["A"])) + np.maximum(v["A"], 0)),
    ("B ** 0.5 * 2 * 3", scaled(6, sp.HadamardPower(B, sp.Rational(1, 2))), lambda v: np.sqrt(v["B"]) * 6),
    ("1/2 * (out - 6)**2", scaled(sp.Rational(1, 2), sp.HadamardPower(add(out, scaled(-6, ones_like(out))), 2)),
     lambda v: (v["out"] - 6) ** 2 / 2),
    ("0.5", scaled(sp.Rational(1, 2), sp.Identity(1)), lambda v: np.array([[0.5]])),
]


@pytest.mark.parametrize(("text", "built", "numpy"), FORMULAS, ids=[f[0] for f in FORMULAS])
def test_formula(text, built, numpy):
    parsed = parse_formula(text, S)
    for seed in (1, 2, 3):
        values = draw(seed)
        oracle = np.asarray(numpy(values), dtype=float)
        assert tuple(parsed.shape) == oracle.shape
        np.testing.assert_allclose(expand(parsed, values), oracle, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(expand(built, values), oracle, rtol=1e-12, atol=1e-12)


def test_formula_uses_the_constructors_as_the_rules_do():
    assert parse_formula("z * h", S) == times_scalar(z, h)
    assert parse_formula("x.T.T", S) == x
    assert parse_formula("w1.T", S) == w1.T
    assert parse_formula("step(z)", S, relu_grad_at_zero=1) == Apply("step", z, 1)
    assert parse_formula("sum(A, 1)", S) == Reduce(A, 1)


@pytest.mark.parametrize(("convention", "expected"), [(0, 0.0), (1, 1.0), (sp.Rational(1, 2), 0.5)])
def test_step_at_zero_follows_the_relu_convention(convention, expected):
    values = {**draw(1), "z": np.array([[0.0]])}
    e = parse_formula("step(z) * h", S, relu_grad_at_zero=convention)
    np.testing.assert_allclose(expand(e, values), expected * values["h"])


@pytest.mark.parametrize(("text", "says"), [
    ("h @ x", "@ needs matching inner sizes: 1×3 @ 2×1"),
    ("w3 @ x", "@ needs matching inner sizes: 2×1 @ 2×1"),
    ("A + c.T", "3×4 + 1×3"),
    ("A * r.T", "3×4 * 4×1"),
    ("A / w1", "3×4 / 2×3"),
    ("(out - 6) * step(z) * h + w1.T", "1×3 + 3×2"),
])
def test_shape_errors_name_both_shapes(text, says):
    with pytest.raises(SolutionError, match=re.escape(says)):
        parse_formula(text, S)


@pytest.mark.parametrize(("text", "says"), [
    ("(out - 6) * stepp(z) * h", "unknown function 'stepp' at character 13 (did you mean 'step'?)"),
    ("hh * 2", "unknown name 'hh' at character 1 (did you mean 'h'?)"),
    ("np.tanh(A)", "unknown name 'np'"),
    ("x(1)", "'x' is not a function"),
    ("A.__dict__", "expected T after '.', found '__dict__'"),
    ("A.T.shape", "found 'shape'"),
    ("2 @ A", "@ needs two matrices"),
    ("sum(A, axis=2)", "axis must be 0"),
    ("sum(A, axis=0, axis=1)", "axis= is given twice"),
    ("sum(A, keepdims=1)", "sum is written"),
    ("tanh(A, 2)", "tanh is written tanh(x)"),
    ("A / 0", "division by zero"),
    ("A ** h", "exponent after '**' must be a plain number"),
    ("A ** 65", "exponent larger than 64"),
    ("tanh", "needs its argument in parentheses"),
])
def test_formula_error_messages(text, says):
    with pytest.raises(SolutionError) as caught:
        parse_formula(text, S)
    assert says in caught.value.message


HOSTILE_FORMULAS = [
    "__import__('os').system('ls')",
    "A.__class__.__mro__",
    "lambda: A",
    "[A for A in A]",
    "A if A else A",
    "(" * 10000,
    "A" + "**2" * 200,
    "((10^60)^64)^64",
    "tanh(" * 40 + "A" + ")" * 40,
    "A" + ".T" * 300,
    "A @ " * 200,
    "A; A",
    "A = 1",
    "`A`",
]


@pytest.mark.parametrize("text", HOSTILE_FORMULAS, ids=lambda t: repr(t[:20]))
def test_hostile_formula_is_refused_quickly(text):
    start = time.perf_counter()
    with pytest.raises(SolutionError):
        parse_formula(text, S)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("text", ["*".join(["A"] * 240), "@".join(["A.T @ A"] * 60), "-".join(["z"] * 240)])
def test_long_formulas_are_quick(text):
    start = time.perf_counter()
    parse_formula(text, S)
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------------------
# Nothing evaluates the text
# ---------------------------------------------------------------------------------


def test_parsing_calls_no_builtin_evaluator(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the text reached eval/exec/compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    parse_formula("x @ (((out - 6) * step(z) * w2) * (1 - h**2)) + sum(w1, axis=0)", S)


def test_softmax_and_leaky_relu_read_as_the_worksheet_writes_them():
    X, logits, z = (MatrixSymbol(n, 4, 3) for n in ("X", "logits", "z"))
    row = MatrixSymbol("r", 1, 3)
    s = parse_formula("softmax(logits, axis=1) - X", {"logits": logits, "X": X})
    assert s.shape == (4, 3) and any(getattr(a, "axis", None) == 1 for a in s.atoms(MatrixExpr))
    assert parse_formula("log_softmax(r)", {"r": row}).axis == 1  # a row: along its length
    with pytest.raises(SolutionError, match="needs axis=0 or axis=1"):
        parse_formula("softmax(logits)", {"logits": logits})
    leaky = parse_formula("leaky_step(z, 0.1) * leaky_relu(z, 1/100)", {"z": z}, relu_grad_at_zero=1)
    assert {a.fn for a in leaky.atoms(Apply)} == {"leaky_step", "leaky_relu"}
    with pytest.raises(SolutionError, match="leaky_relu is written leaky_relu"):
        parse_formula("leaky_relu(z)", {"z": z})


def test_a_formula_budget_follows_the_model_size():
    from symback.check.budget import FORMULA_FLOOR, FORMULA_SECONDS, formula_seconds

    assert formula_seconds(0.04) == FORMULA_FLOOR == 1.0  # the seed: its formulas take a few ms
    assert formula_seconds(0.21) == 2.1
    assert formula_seconds(0.53) == FORMULA_SECONDS == 5.0  # an 8-layer chain: capped
