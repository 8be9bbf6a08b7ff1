"""Loading a model file (``symback/loader.py``): names as a teacher writes them (issue 11's case
``loop-names``).  Oracle: PyTorch autograd on the same graph, and the names the issue asks for."""

import numpy as np
from conftest import ROOT
from oracle import gradients

import symback


def test_a_loop_numbers_its_layers(tmp_path):
    model = symback.load(ROOT / "tests" / "engine" / "cases" / "loop_names.py")
    assert [p.name for p in model.params] == ["W1", "b1", "W2", "b2"]
    named = [n.name for n in model.nodes if n.kind == "op" and n.name]
    assert named[:2] == ["h1", "h2"] and "loss" in named
    check = model.verify()
    assert check.ok
    torch_grads = gradients(model)
    for name, c in check.params.items():
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)


def test_loop_names_keep_a_given_name_and_avoid_the_files_own(tmp_path):
    path = tmp_path / "loop.py"
    path.write_text(
        "from symback import Model, param, data, tanh, mse\n"
        "x = data([0.5, -0.3])\nW1 = param([[0.1, 0.2], [0.3, 0.4]])  # the file's own W1\n"
        "h = tanh(W1 @ x)\n"
        "for k in range(2):\n"
        "    W = param([[0.5, -0.1], [0.2, 0.3]])\n"
        "    h = tanh(W @ h)\n"
        "out = tanh(param([[0.2, 0.1], [0.0, 0.3]], name='V') @ h)\n"
        "def total(t):\n    return mse(t, x)  # a function of the file sees its variables\n"
        "model = Model(total(out), lr=0.1)\n")
    model = symback.load(path)
    assert [p.name for p in model.params] == ["W1", "W_1", "W_2", "V"]
    assert [n.name for n in model.nodes if n.kind == "op" and n.name and n.name.startswith("h")] == ["h1", "h2", "h3"]


def test_a_recurrent_loop_numbers_its_time_steps_and_sums_the_shared_weights_gradient():
    """A recurrent network unrolled by a loop over time steps, sharing W, U, b: the state given as a value
    is h0, each step's h1, h2, h3; ∂L/∂W is the sum over the steps, one term per step (PyTorch's oracle)."""
    from symback.numeric.printing import text

    model = symback.load(ROOT / "tests" / "engine" / "cases" / "rnn_loop.py")
    names = [n.name for n in model.nodes if n.name]
    assert {"h0", "h1", "h2", "h3", "x1", "x2", "x3", "W", "U", "b"} <= set(names) and "h4" not in names
    terms = text(model._derivation.gradients["W"].formula).split(" + ")
    assert terms == ["(δ_h1 ⊙ (1 − h1⊙h1)) h0ᵀ", "(δ_h2 ⊙ (1 − h2⊙h2)) h1ᵀ", "(δ_h3 ⊙ (1 − h3⊙h3)) h2ᵀ"]
    assert [text(s.formula) for s in model._derivation.gradients["W"].steps[:-1]] == [
        "h3 − y", "Wᵀ (δ_h3 ⊙ (1 − h3⊙h3))", "Wᵀ (δ_h2 ⊙ (1 − h2⊙h2))"]
    check = model.verify()
    assert check.ok
    torch_grads = gradients(model)
    for name, c in check.params.items():
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)
