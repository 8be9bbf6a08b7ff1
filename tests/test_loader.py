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


def test_a_list_of_tensors_names_its_channels_and_kernels_by_place(tmp_path):
    """Channels as a list and kernels as a list of lists, bound to a variable, are named by their place
    (X1, X2; K11, K12, …), a computed list too (the conv's output channels); the gradients are PyTorch's."""
    path = tmp_path / "channels.py"
    path.write_text(
        "from symback import Model, conv2d, data, flatten, max_pool2d, mse, param, relu\n"
        "X = [data([[0.1, 0.5, -0.2], [0.4, -0.1, 0.2], [0.0, 0.3, 0.5]]),\n"
        "     data([[0.2, 0.0, 0.1], [0.1, 0.2, -0.1], [0.3, -0.2, 0.0]])]\n"
        "K = [[param([[0.2, -0.1], [0.3, 0.4]]), param([[0.1, 0.2], [-0.2, 0.1]])],\n"
        "     [param([[-0.1, 0.3], [0.2, 0.1]]), param([[0.3, -0.2], [0.1, 0.2]])]]\n"
        "K12 = data([[1.0]])  # the file's own K12: the kernel takes K_1_2\n"
        "maps = conv2d(X, K)\n"
        "loss = mse(flatten([max_pool2d(relu(m), 2) for m in maps]), data([[0.1, -0.2]])) + mse(K12, K12)\n"
        "model = Model(loss)\n")
    model = symback.load(path)
    assert [p.name for p in model.params] == ["K11", "K_1_2", "K21", "K22"]
    assert {"X1", "X2", "maps1", "maps2"} <= {n.name for n in model.nodes}
    ours, theirs = model.compile().grad(), gradients(model)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-15)


def test_a_list_past_nine_items_separates_its_indices(tmp_path):
    path = tmp_path / "many.py"
    path.write_text("from symback import Model, data, param, sum\n"
                    "w = [param(float(k)) for k in range(11)]\n"
                    "loss = sum(w[0] * w[10])\nmodel = Model(loss)\n")
    assert [p.name for p in symback.load(path).params] == ["w_1", "w_11"]


def test_a_lists_bias_taken_as_a_loops_start_value_keeps_the_lists_name(tmp_path):
    """``Z = bs[o]`` then ``Z = Z + conv2d(…)`` per channel: the biases are bs1, bs2 (they were Z0 and Z3),
    the partial sums Z1…Z4; a loop over a list of parameters still numbers them by the loop (W1, W2)."""
    path = tmp_path / "channels.py"
    path.write_text(
        "from symback import Model, conv2d, data, flatten, param, relu, sum, tanh\n"
        "X = [data([[0.1, 0.5, -0.2], [0.4, -0.1, 0.2], [0.0, 0.3, 0.5]]),\n"
        "     data([[0.2, 0.0, 0.1], [0.1, 0.2, -0.1], [0.3, -0.2, 0.0]])]\n"
        "Ks = [[param([[0.2, -0.1], [0.3, 0.4]]), param([[0.1, 0.2], [-0.2, 0.1]])],\n"
        "      [param([[-0.1, 0.3], [0.2, 0.1]]), param([[0.3, -0.2], [0.1, 0.2]])]]\n"
        "bs = [param(0.1), param(-0.1)]\n"
        "outs = []\n"
        "for o in range(2):\n"
        "    Z = bs[o]\n"
        "    for i in range(2):\n"
        "        Z = Z + conv2d(X[i], Ks[o][i])\n"
        "    outs.append(relu(Z))\n"
        "h = flatten(outs).T\n"
        "for W in [param([[0.1] * 8] * 8), param([[0.2] * 8] * 8)]:\n"
        "    h = tanh(W @ h)\n"
        "loss = sum(h)\n"
        "model = Model(loss)\n")
    model = symback.load(path)
    assert [p.name for p in model.params] == ["Ks11", "Ks12", "Ks21", "Ks22", "bs1", "bs2", "W1", "W2"]
    assert {"Z1", "Z2", "Z3", "Z4"} <= {n.name for n in model.nodes} and "Z0" not in {n.name for n in model.nodes}
