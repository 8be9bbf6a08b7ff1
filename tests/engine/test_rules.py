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


def params(count, rows, cols, rng, low=-1.5, high=1.5):
    """``count`` parameters of one shape: the channels of an image or a kernel bank."""
    return [sb.param(rand(rows, cols, rng, low, high)) for _ in range(count)]


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
    # -- issue 14: convolution (cross-correlation), the image and the kernel both trainable ------------
    "conv2d 4x5 by 2x3": lambda r: sb.conv2d(sb.param(rand(4, 5, r)), sb.param(rand(2, 3, r))),
    "conv2d data image": lambda r: sb.conv2d(sb.data(rand(5, 4, r)), sb.param(rand(3, 3, r))),
    "conv2d stride 2 leftover row": lambda r: sb.conv2d(sb.param(rand(7, 6, r)), sb.param(rand(2, 2, r)), stride=2),
    "conv2d stride 3 padding 1": lambda r: sb.conv2d(sb.param(rand(6, 5, r)), sb.param(rand(3, 2, r)), 3, 1),
    "conv2d stride 3 gaps": lambda r: sb.conv2d(sb.param(rand(8, 7, r)), sb.param(rand(2, 1, r)), stride=3),
    "conv2d padding 1 same": lambda r: sb.conv2d(sb.param(rand(4, 4, r)), sb.param(rand(3, 3, r)), padding=1),
    "conv2d padding 2 past the kernel": lambda r: sb.conv2d(sb.param(rand(3, 4, r)), sb.param(rand(2, 2, r)),
                                                            padding=2),
    "conv2d padding 2 stride 2": lambda r: sb.conv2d(sb.param(rand(5, 3, r)), sb.param(rand(3, 3, r)), 2, 2),
    "conv2d pairs": lambda r: sb.conv2d(sb.param(rand(5, 6, r)), sb.param(rand(3, 2, r)), stride=(1, 2),
                                        padding=(2, 0)),
    "conv2d pairs leftover both": lambda r: sb.conv2d(sb.param(rand(6, 7, r)), sb.param(rand(2, 3, r)),
                                                      stride=(3, 2), padding=(0, 1)),
    "conv2d kernel wider than the image": lambda r: sb.conv2d(sb.param(rand(2, 3, r)), sb.param(rand(3, 4, r)),
                                                              padding=1),
    "conv2d kernel the whole image": lambda r: sb.conv2d(sb.param(rand(3, 2, r)), sb.param(rand(3, 2, r))),
    "conv2d kernel larger both ways": lambda r: sb.conv2d(sb.param(rand(2, 2, r)), sb.param(rand(4, 4, r)), padding=2),
    "conv2d 1x1 kernel stride 2 padding 1": lambda r: sb.conv2d(sb.param(rand(3, 4, r)), sb.param(rand(1, 1, r)), 2, 1),
    "conv2d one-row image": lambda r: sb.conv2d(sb.param(rand(1, 6, r)), sb.param(rand(1, 3, r)), stride=(1, 2)),
    "conv2d an image with itself": lambda r: (lambda x: sb.conv2d(x, x, padding=1))(sb.param(rand(3, 3, r))),
    "conv2d one kernel, two images": lambda r: (lambda k: sb.conv2d(sb.param(rand(4, 4, r)), k)
                                                + sb.conv2d(sb.param(rand(4, 4, r)), k))(sb.param(rand(2, 2, r))),
    "conv2d float values": lambda r: sb.conv2d(sb.param(np.array(rand(5, 5, r))), sb.param(np.array(rand(2, 2, r))), 2),
    "conv2d of a max_pool2d": lambda r: sb.conv2d(sb.max_pool2d(sb.param(rand(6, 6, r)), 2), sb.param(rand(2, 2, r))),
    "conv2d 2 in 1 out": lambda r: sb.conv2d(params(2, 4, 4, r), params(2, 2, 2, r)),
    "conv2d 2 in 3 out": lambda r: sb.flatten(sb.conv2d(params(2, 5, 4, r), [params(2, 2, 3, r) for _ in range(3)])),
    "conv2d 2 in 3 out stride 2 padding 1": lambda r: sb.flatten(
        sb.conv2d(params(2, 5, 6, r), [params(2, 3, 3, r) for _ in range(3)], stride=2, padding=1)),
    "conv2d relu max_pool dense": lambda r: sb.flatten(sb.max_pool2d(sb.relu(
        sb.conv2d(sb.data(rand(6, 6, r)), sb.param(rand(3, 3, r))) + sb.param(rand(1, 1, r))), 2))
    @ sb.param(rand(4, 3, r)),
    # -- max-pool: ties resolved as PyTorch (the first maximum reading the window row by row) ---------
    "max_pool2d ties": lambda r: sb.max_pool2d(sb.param([[1, 3, 2, 2], [3, 0, 2, 1], [4, 4, 0, 0], [4, 4, 0, 0]]), 2),
    "max_pool2d overlapping ties": lambda r: sb.max_pool2d(
        sb.param([[r.randint(0, 2) for _ in range(5)] for _ in range(5)]), 3, stride=1),
    "max_pool2d overlapping stride 2": lambda r: sb.max_pool2d(
        sb.param([[r.randint(-1, 1) for _ in range(7)] for _ in range(6)]), 3, stride=2),
    "max_pool2d non-square": lambda r: sb.max_pool2d(sb.param(rand(5, 7, r)), (2, 3), stride=(1, 2)),
    "max_pool2d leftover": lambda r: sb.max_pool2d(sb.param(rand(7, 5, r)), 2),
    "max_pool2d stride past the window": lambda r: sb.max_pool2d(sb.param(rand(7, 7, r)), 2, stride=3),
    "max_pool2d 1x1": lambda r: sb.max_pool2d(sb.param(rand(3, 3, r)), 1, stride=2),
    "max_pool2d whole matrix": lambda r: sb.max_pool2d(sb.param(rand(3, 4, r)), (3, 4)),
    "max_pool2d of relu zeros": lambda r: sb.max_pool2d(sb.relu(sb.param(rand(4, 6, r, -1.5, 0.5))), 2),
    "max_pool2d channels": lambda r: sb.flatten(sb.max_pool2d(params(2, 4, 4, r), 2)),
    # -- average-pool ---------------------------------------------------------------------------------
    "avg_pool2d 4x6": lambda r: sb.avg_pool2d(sb.param(rand(4, 6, r)), 2),
    "avg_pool2d overlapping": lambda r: sb.avg_pool2d(sb.param(rand(5, 5, r)), 3, stride=1),
    "avg_pool2d non-square": lambda r: sb.avg_pool2d(sb.param(rand(6, 5, r)), (2, 3), stride=(2, 1)),
    "avg_pool2d leftover": lambda r: sb.avg_pool2d(sb.param(rand(5, 7, r)), 2),
    "avg_pool2d stride past the window": lambda r: sb.avg_pool2d(sb.param(rand(8, 7, r)), (2, 1), stride=3),
    "avg_pool2d channels": lambda r: sb.flatten(sb.avg_pool2d(params(3, 4, 5, r), 2, stride=(1, 2))),
    # -- flatten and its joined channels (concat) --------------------------------------------------------
    "flatten 3x4": lambda r: sb.flatten(sb.param(rand(3, 4, r))),
    "flatten column": lambda r: sb.flatten(sb.param(rand(4, 1, r))),
    "flatten dense": lambda r: sb.flatten(sb.param(rand(2, 3, r))) @ sb.param(rand(6, 2, r)),
    "flatten list": lambda r: sb.flatten([sb.param(rand(2, 3, r)), sb.param(rand(2, 2, r))]),
    "flatten list with a row": lambda r: sb.flatten([sb.param(rand(1, 3, r)), sb.param(rand(2, 2, r)),
                                                     sb.param(rand(3, 1, r))]),
    # -- normalisation, with trainable gamma and beta -------------------------------------------------------
    "batch_norm 4x3": lambda r: sb.batch_norm(sb.param(rand(4, 3, r)), sb.param(rand(1, 3, r)),
                                              sb.param(rand(1, 3, r))),
    "batch_norm 2x2 eps 0.1": lambda r: sb.batch_norm(sb.param(rand(2, 2, r)), sb.param(rand(1, 2, r)),
                                                      sb.param(rand(1, 2, r)), eps=0.1),
    "batch_norm 5x1 eps 1e-3": lambda r: sb.batch_norm(sb.param(rand(5, 1, r)), sb.param(rand(1, 1, r)),
                                                       sb.param(rand(1, 1, r)), eps=1e-3),
    "batch_norm of a layer": lambda r: sb.batch_norm(sb.data(rand(3, 2, r)) @ sb.param(rand(2, 4, r)),
                                                     sb.param(rand(1, 4, r)), sb.param(rand(1, 4, r)), eps=0.01),
    "batch_norm constant column": lambda r: sb.batch_norm(sb.param([[0.5, 1.0], [0.5, -2.0], [0.5, 0.25]]),
                                                          sb.param(rand(1, 2, r)), sb.param(rand(1, 2, r))),
    "layer_norm 3x4": lambda r: sb.layer_norm(sb.param(rand(3, 4, r)), sb.param(rand(1, 4, r)),
                                              sb.param(rand(1, 4, r))),
    "layer_norm 1x5 eps 0.5": lambda r: sb.layer_norm(sb.param(rand(1, 5, r)), sb.param(rand(1, 5, r)),
                                                      sb.param(rand(1, 5, r)), eps=0.5),
    "layer_norm 2x2 eps 1e-3": lambda r: sb.layer_norm(sb.param(rand(2, 2, r)), sb.param(rand(1, 2, r)),
                                                       sb.param(rand(1, 2, r)), eps=1e-3),
    "layer_norm 3x1": lambda r: sb.layer_norm(sb.param(rand(3, 1, r)), sb.param(rand(1, 1, r)),
                                              sb.param(rand(1, 1, r))),
    "layer_norm of a layer": lambda r: sb.layer_norm(sb.tanh(sb.data(rand(2, 3, r)) @ sb.param(rand(3, 3, r))),
                                                     sb.param(rand(1, 3, r)), sb.param(rand(1, 3, r))),
    # -- dropout with a fixed mask ----------------------------------------------------------------------------
    "dropout p 0": lambda r: sb.dropout(sb.param(rand(3, 4, r)), sb.data([[1, 1, 0, 1]] * 3), p=0),
    "dropout p 0.25": lambda r: sb.dropout(sb.param(rand(3, 4, r)),
                                           sb.data([[r.randint(0, 1) for _ in range(4)] for _ in range(3)]), p=0.25),
    "dropout p 0.5 mask as a list": lambda r: sb.dropout(sb.param(rand(2, 3, r)) @ sb.param(rand(3, 2, r)),
                                                         [[1, 0], [0, 1]]),
    # -- |x|, with zeros where its derivative is sign(0) = 0 (torch.abs's) -------------------------------
    "abs with zeros": lambda r: sb.abs(sb.param([[0, -1.5, 2], [0.25, 0, -0.5]])),
    "abs of a layer": lambda r: sb.abs(sb.param(rand(2, 3, r)) @ sb.param(rand(3, 2, r))),
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
        # residuals −2.5, −1, −0.25, 0, 0.5, 1 and 3: on both sides of delta = 1 and exactly at it
        "huber delta 1": lambda r: sb.huber(sb.param([[-2.5, -1, -0.25], [0, 0.5, 4]]),
                                            sb.data([[0, 0, 0], [0, 0, 1]])),
        "huber delta 0.5": lambda r: sb.huber(sb.param(rand(3, 3, r)), sb.data(rand(3, 3, r)), delta=0.5),
        "huber delta 2": lambda r: sb.huber(sb.param(rand(2, 4, r, -3, 3)), sb.data(rand(2, 4, r)), delta=2),
        "huber delta 0.1 of a layer": lambda r: sb.huber(sb.data(rand(3, 2, r)) @ sb.param(rand(2, 1, r)),
                                                         sb.data(rand(3, 1, r)), delta=0.1),
        # margins y·s of exactly 1 (entries 0 and 1): relu′(0) = 0, as torch.relu(1 − y·s)
        "hinge margins of 1": lambda r: sb.hinge(sb.param([[1], [-1], [0.5], [-2], [3]]),
                                                 sb.data([[1], [-1], [-1], [1], [1]])),
        "hinge matrix": lambda r: sb.hinge(sb.param(rand(2, 3, r)) @ sb.param(rand(3, 2, r)),
                                           sb.data([[1, -1], [-1, -1]])),
        "mae with zero residuals": lambda r: sb.mae(sb.param([[0.5, -1, 2], [0.25, 3, 0]]),
                                                    sb.data([[0.5, 1, -2], [0.25, 3, 1]])),
        "mae of a layer": lambda r: sb.mae(sb.data(rand(4, 2, r)) @ sb.param(rand(2, 2, r)), sb.data(rand(4, 2, r))),
        "l2_penalty": lambda r: sb.l2_penalty(sb.param(rand(2, 3, r)), sb.param(rand(1, 3, r)), weight_decay=0.01),
        "mse plus l2_penalty": _penalised,
    }


def _penalised(r):
    w = sb.param(rand(2, 1, r))
    return sb.mse(sb.data(rand(3, 2, r)) @ w, sb.data(rand(3, 1, r))) + sb.l2_penalty(w, weight_decay=0.5)


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
