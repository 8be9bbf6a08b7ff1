"""Activations at their kink (issue 11's cases ``leaky-kink`` and ``kink-fd``, in ``cases/``): one
derivative at the kink for the matrix form, the elementwise check and the notes; finite differences
skip only the entries whose step crosses the kink.  Oracles: PyTorch autograd (its leaky_relu′(0)
is the slope α, its relu′(0) is 0) and the hand count of which entries feed the zero."""

from fractions import Fraction

import numpy as np
import pytest
from conftest import ROOT
from oracle import gradients

import symback

CASES = ROOT / "tests" / "numeric" / "cases"


@pytest.mark.parametrize("convention", [0, "1/2", 1])
def test_leaky_relu_at_its_kink_is_one_derivative_everywhere(convention):
    model = symback.load(CASES / "leaky_kink.py")
    model.configure(relu_grad_at_zero=convention)
    check = model.verify()
    assert check.ok, check.failures()  # the elementwise oracle takes the same derivative at 0 as the rule
    slope = 0.1 + 0.9 * float(Fraction(str(convention)))
    step = model.train(epochs=1).steps[0]
    assert any(f"derivative there is {slope:g}: α + (1 − α)·relu′(0)" in n for n in step.notes), step.notes
    if convention == 0:  # PyTorch's convention: leaky_relu′(0) = α
        torch_grads = gradients(model)
        for name, c in check.params.items():
            np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)


def test_finite_differences_skip_only_the_steps_across_the_kink():
    model = symback.load(CASES / "kink_fd.py")
    check = model.verify()
    # (X W1 + b1)[1, 1] = 0 is moved only by W1[1, 1], W1[2, 1] (column 1 of W1 against row 1 of X) and b1[1, 1]
    assert check.params["W1"].kinks == [(0, 0), (1, 0)] and check.params["b1"].kinks == [(0, 0)]
    for name in ("W2", "b2"):  # they do not feed the relu: every entry judged
        assert check.params[name].kinks == [] and check.params[name].fd_max_rel_err < 1e-6
    assert check.params["W1"].fd_max_rel_err < 1e-6 and check.ok
    torch_grads = gradients(model)
    for name, c in check.params.items():
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)
    (note,) = [n for n in model.train(epochs=1).steps[0].notes if "exactly 0" in n]
    assert note == ("relu argument (X @ W1) + b1 is exactly 0 at entry [1, 1]: its derivative there is 0 by the "
                    "convention relu′(0) = 0")
