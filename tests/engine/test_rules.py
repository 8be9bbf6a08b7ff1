"""Every rule in the registry against PyTorch autograd, on several shapes with broadcasting."""

import random

import numpy as np
import pytest
from oracle import gradients

import symback as sb
from symback.engine.graph import Tensor
from symback.engine.rules import RULES, rule_key


def rand(rows, cols, rng, low=-1.5, high=1.5):
    """A matrix of random two-decimal numbers (exact in symback, float64 in torch)."""
    return [[round(rng.uniform(low, high), 2) for _ in range(cols)] for _ in range(rows)]


def weigh(t: Tensor, rng) -> Tensor:
    """A scalar loss with a generic upstream gradient: sum(t * R) for random data R."""
    return sb.sum(t * sb.data(rand(*t.shape, rng)))


CASES = {
    "matmul 2x3 @ 3x4": lambda r: sb.param(rand(2, 3, r)) @ sb.param(rand(3, 4, r)),
    "matmul row @ column": lambda r: sb.param(rand(1, 3, r)) @ sb.param(rand(3, 1, r)),
    "transpose": lambda r: sb.param(rand(2, 3, r)).T @ sb.param(rand(2, 2, r)),
    "add same shape": lambda r: sb.param(rand(2, 3, r)) + sb.param(rand(2, 3, r)),
    "add broadcast row": lambda r: sb.param(rand(4, 3, r)) + sb.param(rand(1, 3, r)),
    "add broadcast column": lambda r: sb.param(rand(4, 3, r)) + sb.param(rand(4, 1, r)),
    "add broadcast 1x1": lambda r: sb.param(rand(2, 3, r)) + sb.param(rand(1, 1, r)),
    "sub and shift": lambda r: 3 - sb.param(rand(2, 2, r)) - 0.5,
    "mul broadcast": lambda r: sb.param(rand(3, 2, r)) * sb.param(rand(1, 2, r)),
    "mul 1x1 by row": lambda r: sb.param(rand(1, 1, r)) * sb.param(rand(1, 4, r)),
    "div": lambda r: sb.param(rand(2, 2, r)) / sb.param(rand(2, 2, r, 0.5, 2.0)),
    "scale": lambda r: sb.param(rand(2, 3, r)) / 4 * 3,
    "pow 2": lambda r: sb.param(rand(2, 3, r)) ** 2,
    "pow 3": lambda r: sb.param(rand(3, 1, r)) ** 3,
    "pow 1/2": lambda r: sb.param(rand(2, 2, r, 0.2, 2.0)) ** 0.5,
    "neg": lambda r: -sb.param(rand(2, 2, r)),
    "tanh": lambda r: sb.tanh(sb.param(rand(2, 3, r))),
    "sigmoid": lambda r: sb.sigmoid(sb.param(rand(3, 2, r))),
    "relu": lambda r: sb.relu(sb.param(rand(3, 3, r))),
    "leaky_relu": lambda r: sb.leaky_relu(sb.param(rand(3, 3, r)), 0.1),
    "exp": lambda r: sb.exp(sb.param(rand(2, 2, r))),
    "log": lambda r: sb.log(sb.param(rand(2, 2, r, 0.1, 3.0))),
    "softplus": lambda r: sb.softplus(sb.param(rand(2, 3, r))),
    "sum all": lambda r: sb.sum(sb.param(rand(3, 2, r))),
    "sum axis 0": lambda r: sb.sum(sb.param(rand(3, 2, r)), axis=0),
    "sum axis 1": lambda r: sb.sum(sb.param(rand(3, 2, r)), axis=1),
    "mean axis 0": lambda r: sb.mean(sb.param(rand(4, 2, r)), axis=0),
    "softmax column": lambda r: sb.softmax(sb.param(rand(3, 1, r))),
    "softmax rows": lambda r: sb.softmax(sb.param(rand(2, 3, r)), axis=1),
    "softmax columns": lambda r: sb.softmax(sb.param(rand(3, 2, r)), axis=0),
    "log_softmax row": lambda r: sb.log_softmax(sb.param(rand(1, 4, r))),
    "log_softmax axis 0": lambda r: sb.log_softmax(sb.param(rand(3, 2, r)), axis=0),
}


def scalar_cases():
    """Losses used as they are (already 1x1)."""
    return {
        "cross_entropy batch": lambda r: sb.cross_entropy(
            sb.param(rand(3, 4, r)), sb.data([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])),
        "cross_entropy column": lambda r: sb.cross_entropy(sb.param(rand(3, 1, r)), sb.data([0, 0, 1])),
        "mse": lambda r: sb.mse(sb.param(rand(2, 3, r)), sb.data(rand(2, 3, r))),
        "binary_cross_entropy": lambda r: sb.binary_cross_entropy(
            sb.sigmoid(sb.param(rand(3, 1, r))), sb.data([1, 0, 1])),
    }


def _check(loss):
    model = sb.Model(loss)
    ours = model.compile().grad()
    theirs = gradients(model)
    assert set(ours) == set(theirs)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-14, err_msg=name)
    return model


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_against_torch(case):
    r = random.Random(case)
    t = CASES[case](r)
    _check(weigh(t, r))


@pytest.mark.parametrize("case", sorted(scalar_cases()))
def test_loss_against_torch(case):
    r = random.Random(case)
    _check(scalar_cases()[case](r))


def test_every_rule_is_exercised():
    used = set()
    for make in list(CASES.values()) + list(scalar_cases().values()):
        r = random.Random(0)
        t = make(r)
        loss = weigh(t, r) if t.shape != (1, 1) else t
        used |= {rule_key(n) for n in sb.Model(loss).nodes if not n.is_leaf}
    assert set(RULES) <= used, f"rules without a test: {sorted(set(RULES) - used)}"


def test_missing_rule_names_the_operation():
    x = sb.param([[1.0]])
    weird = Tensor("op", "frobnicate", (x,), (1, 1))
    with pytest.raises(NotImplementedError, match="frobnicate"):
        sb.Model(weird).derive()


def test_high_precision_agrees_with_float64():
    """The 50-digit values and the float64 functions agree to ~1e-12 relative."""
    from symback.numeric.program import MPMATH

    r = random.Random(7)
    loss = weigh(sb.tanh(sb.param(rand(2, 3, r)) @ sb.param(rand(3, 2, r))), r)
    model = sb.Model(loss)
    leaves = [leaf.value for leaf in model.program.leaves]
    _, g64 = model.program.full(leaves)
    _, gmp = model.program.full(leaves, MPMATH)
    for p in g64:
        np.testing.assert_allclose(g64[p], np.array(gmp[p], dtype=float), rtol=1e-12, atol=1e-15)
