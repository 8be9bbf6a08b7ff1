"""The three checks of ``symback/verify.py``: each tier of the elementwise oracle agrees with
PyTorch autograd, catches a wrong derivative rule, and handles relu kinks by the convention."""

import dataclasses
import sys

import numpy as np
import pytest
from conftest import EXAMPLES, RELU_AT_ITS_KINK, ROOT
from oracle import gradients

import symback
from symback.engine import rules
from symback.engine.expr import add, hadamard, ones_like
from symback.numeric import verify

sys.path.insert(0, str(ROOT))
from bench.models import chain_source  # noqa: E402


def load_chain(tmp_path, depth):
    path = tmp_path / f"chain{depth}.py"
    path.write_text(chain_source(depth))
    return symback.load(path)


@pytest.mark.parametrize(("example", "method"), [("seed", "exact"), ("sigmoid_222", "exact"),
                                                 ("softmax_batch", "node by node"),
                                                 ("tanh_chain8", "node by node")])
def test_each_tier_agrees_with_pytorch(example, method):
    model = symback.load(EXAMPLES / f"{example}.py")
    v = model.verify()
    theirs = gradients(model)
    for name, check in v.params.items():
        assert check.elementwise_method == method
        assert check.elementwise_ok
        np.testing.assert_allclose(np.array(check.elementwise, dtype=float), theirs[name], rtol=1e-12, atol=1e-15)


def test_a_depth_32_chain_is_checked_node_by_node_in_every_entry(tmp_path):
    model = load_chain(tmp_path, 32)
    v = model.verify()
    assert v.ok, v.failures()
    theirs = gradients(model)
    for name, check in v.params.items():
        assert (check.elementwise_method, check.reason) == ("node by node", "all 9 entries, chained at 50 digits")
        np.testing.assert_allclose(np.array(check.elementwise, dtype=float), theirs[name], rtol=1e-10, atol=1e-15)


@pytest.fixture
def wrong_tanh_rule(monkeypatch):
    """tanh′ written as 1 − tanh (the square forgotten): a rule bug the oracles must catch."""
    right = rules.RULES["tanh"]
    wrong = dataclasses.replace(right, vjps=(lambda g, c: hadamard(g, add(ones_like(c.out), -c.out)),))
    monkeypatch.setitem(rules.RULES, "tanh", wrong)


@pytest.mark.parametrize(("example", "upstream"), [("seed", "w1"), ("tanh_chain8", "w1")])
def test_a_wrong_rule_fails_verification(wrong_tanh_rule, example, upstream):
    model = symback.load(EXAMPLES / f"{example}.py")
    v = model.verify()
    assert not v.ok
    check = v.params[upstream]
    assert check.elementwise_ok is False and check.fd_ok is False
    assert any(f"∂L/∂{upstream}" in line for line in v.failures())
    # the oracle's own values are still PyTorch's (the wrong rule is symback's, not SymPy's)
    with_right_rules = gradients(model)
    np.testing.assert_allclose(np.array(check.elementwise, dtype=float), with_right_rules[upstream], rtol=1e-10)




@pytest.mark.parametrize(("convention", "expected"), [(0, -12), (1, -16)])
@pytest.mark.parametrize("tier", ["whole", "node"])
def test_relu_at_its_kink_takes_the_convention(tmp_path, monkeypatch, convention, expected, tier):
    # w x + b = 0 exactly; out = 3; ∂L/∂w = (out − 5)(relu′(0) x + 3x) = −2 (2 relu′(0) + 6): −12 or −16
    if tier == "node":
        monkeypatch.setattr(verify, "WHOLE_TREE", 0)
    path = tmp_path / "kink.py"
    path.write_text(RELU_AT_ITS_KINK.format(convention=convention))
    check = symback.load(path).verify().params["w"]
    if tier == "node":
        assert check.elementwise_method == "node by node"
        assert float(check.elementwise[0, 0]) == expected
    assert float(check.matrix[0, 0]) == expected
    assert check.elementwise_ok
    assert check.kinks == [(0, 0)]  # finite differences straddle the kink: labelled, not judged


def test_finite_differences_that_come_out_nan_fail_verification(tmp_path):
    # log(w) at w = 1e-7: the matrix form's 1/w = 1e7 is right (the oracle: PyTorch below), but a
    # central difference steps to w − h < 0, where log is NaN — a check that did not run is no pass
    path = tmp_path / "near_zero.py"
    path.write_text("from symback import Model, param, log\nw = param(1e-7)\nmodel = Model(log(w), lr=0.1)\n")
    model = symback.load(path)
    check = model.verify().params["w"]
    import torch

    w = torch.tensor(1e-7, dtype=torch.float64, requires_grad=True)
    torch.log(w).backward()
    assert float(check.matrix[0, 0]) == pytest.approx(w.grad.item(), rel=1e-12)
    assert check.elementwise_ok is True and check.fd_ok is False and not check.ok
    assert check.fd_undefined == [(0, 0)] and check.fd_max_rel_err is None  # no error figure for no check
    assert model.verify().failures() == ["∂L/∂w: finite differences are NaN or infinite at w"]
