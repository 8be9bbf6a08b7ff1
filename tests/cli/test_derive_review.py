"""What a review as a new user found in issue 14's models, each derived to its reports as a user runs it."""

import json

import numpy as np
import pytest
from oracle import gradients
from test_derive import run

import symback

MODELS = {
    # batch norm of the input features: its normalised data is an exact √ expression the report formats
    "bn_of_data": """
from symback import *
X = data([[0.5, -1.0], [1.5, 0.5], [-0.5, 2.0], [1.0, 1.0]])
Y = data([[1, 0], [0, 1], [0, 1], [1, 0]])
g = param([[1.0, 1.0]]); b = param([[0.0, 0.0]])
W = param([[0.3, -0.2], [-0.4, 0.2]])
N = batch_norm(X, g, b)
loss = cross_entropy(N @ W, Y)
model = Model(loss)
""",
    # a fixed kernel written as a literal matrix (Sobel): a constant in the formulas
    "sobel": """
from symback import *
X = param([[0.1, 0.5, -0.2, 0.3], [0.4, -0.1, 0.2, 0.6], [0.0, 0.3, 0.5, -0.4], [-0.2, 0.1, 0.4, 0.2]])
loss = sum(tanh(conv2d(X, [[1, 0, -1], [2, 0, -2], [1, 0, -1]])))
model = Model(loss)
""",
    # layer norm of an unnamed sum: no hat over X W1 + b1 (it covered "W1 +" only)
    "ln_of_sum": """
from symback import *
X = data([[0.5, -1.0], [1.5, 0.5], [-0.5, 2.0]])
W1 = param([[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]]); b1 = param([[0.1, 0.0, -0.1]])
g = param([[1.0, 0.5, 1.0]]); be = param([[0.0, 0.1, 0.0]])
H = tanh(layer_norm(X @ W1 + b1, g, be))
loss = huber(H, data([[0.1, 0.2, 0.3]] * 3))
model = Model(loss)
""",
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_model_derives_to_its_reports_with_pytorchs_gradients(tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(MODELS[name])
    r = run("derive", path, "--out", tmp_path / "out", "--no-pdf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    model = symback.load(path)
    for param, expected in gradients(model).items():
        np.testing.assert_allclose(np.array(result["epochs"][0]["grads"][param], dtype=float), expected,
                                   rtol=1e-9, atol=1e-12, err_msg=param)
    text = (tmp_path / "out" / "derivation.md").read_text()
    if name == "ln_of_sum":
        assert r"\widehat{X W_{1}" not in text and r"\operatorname{normalize}" in text
