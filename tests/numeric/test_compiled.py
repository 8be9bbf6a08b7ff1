"""``model.compile()``: the float64 loss and gradients through the Python API (issue 11's case
``api-shape``).  Oracle: PyTorch autograd at the values given."""

import numpy as np
import pytest
from conftest import EXAMPLES
from oracle import gradients

import symback
from symback.errors import OptionError

W = np.array([[1.3, -0.13, 0], [0.2, -1.3, 0.03]])


def test_values_given_by_name_are_used_as_given():
    model = symback.load(EXAMPLES / "seed.py")
    f = model.compile()
    w1 = next(p for p in model.params if p.name == "w1")
    expected = gradients(model, {w1: W})
    loss, grads = f({"w1": W})
    np.testing.assert_allclose(grads["w1"], expected["w1"], rtol=1e-12)
    assert f.loss({"w1": W}) == pytest.approx(loss, rel=1e-15)
    np.testing.assert_allclose(f.grad({"b3": 0.1, "w3": [0.0, 1.5]})["w3"], gradients(
        model, {next(p for p in model.params if p.name == n): v for n, v in
                (("b3", [[0.1]]), ("w3", [[0.0], [1.5]]))})["w3"], rtol=1e-12)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("w1", W.T, "w1 is 2×3; the value given is 3×2"),
    ("w1", W.ravel(), "w1 is 2×3; the value given is 6"),
    ("b3", [[0.1, 0.2]], "b3 is 1×1; the value given is 1×2"),
])
def test_a_value_of_another_shape_is_refused_never_reshaped(name, value, message):
    f = symback.load(EXAMPLES / "seed.py").compile()
    with pytest.raises(OptionError, match=message):
        f.loss({name: value})
