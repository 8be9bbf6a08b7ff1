"""Forms on the board (issue 11, cases ``log-softmax-form`` and ``ones-hadamard-form``): steps and
closed forms simplified the way a teacher writes them, and still the same gradient.  Oracles:
PyTorch autograd for the values; the forms expected are the ones EXPECTED.md gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT
from oracle import gradients

import symback
from symback.numeric.formatting import setting
from symback.numeric.printing import latex, text

CASES = ROOT / "tests" / "engine" / "cases"


def forms(model, name):
    g = model._derivation.gradients[name]
    return text(g.formula), text(g.closed)


def test_log_softmax_written_as_softmax_minus_the_target():
    model = symback.load(CASES / "log_softmax_form.py")
    step, closed = forms(model, "z")
    # exp∘log_softmax is softmax, the signs cancel, and ∑y = 1 for the one-hot y of the file: softmax(z) − y
    assert step == closed == "softmax(z) − y"
    check = model.verify()
    assert check.ok
    np.testing.assert_allclose(np.array(check.params["z"].matrix, dtype=float), gradients(model)["z"], rtol=1e-14)


def test_targets_that_do_not_sum_to_one_keep_their_sum(tmp_path):
    source = (CASES / "log_softmax_form.py").read_text().replace("y = data([0, 0, 1])", "y = data([0.2, 0.3, 0.4])")
    (tmp_path / "soft.py").write_text(source)
    model = symback.load(tmp_path / "soft.py")
    assert forms(model, "z")[0] == "softmax(z) ⊙ ∑_rows(y) − y"  # ∑y = 0.9 here
    check = model.verify()
    assert check.ok
    np.testing.assert_allclose(np.array(check.params["z"].matrix, dtype=float), gradients(model)["z"], rtol=1e-14)


def test_a_batch_mean_is_written_over_its_count():
    model = symback.load(ROOT / "examples" / "softmax_batch.py")
    g = model._derivation.gradients["b2"]
    logits = g.steps[0]
    assert text(logits.formula) == "(softmax(logits) − Y)/4"  # not 1/4 softmax(logits) − 1/4 Y
    assert latex(logits.formula) == r"\frac{\operatorname{softmax}\left(\mathit{logits}\right) - Y}{4}"
    assert text(g.closed) == "1/4 ∑_rows(softmax(logits) − Y)"
    check = model.verify()
    torch_grads = gradients(model)
    for name, c in check.params.items():
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)


def test_no_all_ones_factor_and_the_product_rule_terms_alike():
    model = symback.load(CASES / "ones_hadamard_form.py")
    step, closed = forms(model, "A")
    assert step == "A I + A Iᵀ" and sorted(closed.split(" + ")) == ["A I", "A Iᵀ"]
    check = model.verify()
    assert check.ok
    # tr(AᵀA): the gradient is 2A
    np.testing.assert_allclose(np.array(check.params["A"].matrix, dtype=float), 2 * np.array([[0.3, -1.2], [2.0, 0.5]]))
    np.testing.assert_allclose(gradients(model)["A"], 2 * np.array([[0.3, -1.2], [2.0, 0.5]]))


@pytest.mark.parametrize("value, written", [
    ("1e-8", "10⁻⁸"), ("1/100000000", "10⁻⁸"), ("2.5e-7", "2.5 × 10⁻⁷"), ("0.999", "0.999"), ("1/10", "0.1"),
    ("1/3", "1/3"), ("0.0001", "0.0001"), ("5e-5", "5 × 10⁻⁵"), ("1000000", "10⁶"), ("3", "3"),
])
def test_settings_are_written_as_people_write_them(value, written):
    assert setting(value) == written


def test_the_adam_sentence_gives_epsilon_as_a_power_of_ten():
    from symback.report.document import optimizer_sentence

    sentence = optimizer_sentence(symback.load(ROOT / "examples" / "tanh_chain8.py"))
    assert "ε = 10⁻⁸" in sentence and "β₂ = 0.999" in sentence and "100000000" not in sentence


def test_numbers_from_decimal_literals_are_written_as_decimals_in_formulas():
    import sympy as sp

    from symback.numeric.printing import code

    eps, one_eps = sp.Rational(1, 10**8), sp.Rational(10**8 + 1, 10**8)
    assert (text(eps), latex(eps)) == ("10⁻⁸", "10^{-8}")
    assert (text(one_eps), latex(one_eps)) == ("1.00000001", "1.00000001")
    assert latex(sp.Rational(25, 10**9)) == r"2.5 \times 10^{-8}"
    assert (text(sp.Rational(2, 3)), latex(sp.Rational(1, 4))) == ("2/3", r"\frac{1}{4}")  # fractions stay
    assert code(eps) == "1/100000000"  # a solution file's formula reads it back


def test_a_sum_beside_another_factor_is_parenthesised():
    """∑ runs to the end of what follows it: as a factor of ⊙ or under ᵀ it takes parentheses, (∑ A) ⊙ B —
    attention's ∂L/∂Wk read (∑ …) ⊙ Aᵀ as ∑ (… ⊙ Aᵀ); last in a product it stands as it is, ½ ∑ A."""
    import sympy as sp

    from symback.engine.expr import Broadcast, Reduce

    A, B = sp.MatrixSymbol("A", 3, 2), sp.MatrixSymbol("B", 3, 2)
    column = Broadcast(Reduce(A, 1), 3, 2)
    assert latex(sp.HadamardProduct(column, B)) == r"\left(\sum_{\text{cols}} A\right) \odot B"
    assert latex(sp.Transpose(Reduce(A, 1))) == r"\left(\sum_{\text{cols}} A\right)^{\top}"
    assert latex(sp.MatMul(sp.Rational(1, 2), Reduce(A, -1))) == r"\frac{1}{2} \sum_{} A"
    model = symback.load(ROOT / "examples" / "batchnorm_mlp.py")
    step = latex(model._derivation.steps[model.tensor("Z")].formula)
    assert r"\left(\left(\sum_{\text{rows}} \delta_{N} \odot \gamma \odot \widehat{Z}\right) \odot \widehat{Z}\right)" in step
