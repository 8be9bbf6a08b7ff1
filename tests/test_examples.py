"""Every bundled example derives, verifies three ways, and matches PyTorch autograd."""

import numpy as np
import pytest
from conftest import EXAMPLES
from oracle import gradients

import symback

NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", NAMES)
def test_example_verifies_and_matches_torch(name):
    model = symback.load(EXAMPLES / f"{name}.py")
    verification = model.verify()
    assert verification.ok, verification.failures()
    ours = model.compile().grad()
    theirs = gradients(model)
    for p in ours:
        np.testing.assert_allclose(ours[p], theirs[p], rtol=1e-11, atol=1e-14, err_msg=p)
    history = model.train()
    assert len(history.steps) == model.epochs * model.samples


def test_sigmoid_222_matches_the_published_worked_example():
    """Mazur's well-known step-by-step backprop example: after one update w5 = 0.35891648, w1 = 0.14978072.

    Our w2[0, 0] is his w5 and w1[0, 0] his w1 (same network, same numbers, lr 0.5; his
    biases are not updated, ours are, which does not change the first update).
    """
    model = symback.load(EXAMPLES / "sigmoid_222.py")
    first = model.train(epochs=1).steps[0]
    assert float(first.forward["loss"][0, 0]) == pytest.approx(0.298371109, abs=1e-9)
    assert float(first.updated["w2"][0, 0]) == pytest.approx(0.35891648, abs=1e-8)
    assert float(first.updated["w1"][0, 0]) == pytest.approx(0.14978072, abs=1e-8)


def test_deep_chain_derivation_is_linear():
    """The depth-8 chain derives in one symbol per node: step formulas stay short."""
    model = symback.load(EXAMPLES / "tanh_chain8.py")
    d = model.derive()
    from symback.numeric.printing import text

    # by hand: h1 = tanh(w1 x), so ∂L/∂w1 = (δ_h1 ⊙ (1 − h1⊙h1)) xᵀ  (h0 is another name for x)
    assert text(d["w1"].formula) == "(δ_h1 ⊙ (1 − h1⊙h1)) xᵀ"
    assert max(len(text(s.formula)) for g in d.gradients.values() for s in g.steps) < 40
