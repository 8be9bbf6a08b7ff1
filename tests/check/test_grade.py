"""``symback.check``: rounding, error carried forward, and every diagnosis code.

Solutions are written by an independent hand computation of the exercise in NumPy
(`hand_seed`), with one classic mistake injected each time, never by symback itself.
"""

import numpy as np
import pytest
from conftest import EXAMPLES, RELU_AT_ITS_KINK

import symback
from symback.check.grade import Checker
from symback.check.solution import parse_solution

SEED_INIT = {"w1": [[1.3, -0.13, 0], [0.2, -1.3, 0.03]], "b1": [[0, 0.01, 1.3]], "w2": [[1.35, -0.5, 0.03]],
             "b2": [[0.1]], "w3": [[-0.3], [1]], "b3": [[0.1]]}
PARAMS = list(SEED_INIT)


def hand_seed(mistake=None, epochs=3, lr=0.1):
    """The seed exercise by hand in float64, optionally with one mistake from epoch 1 on."""
    x = np.array([[2.0], [3.0]])
    p = {k: np.array(v, dtype=float) for k, v in SEED_INIT.items()}
    previous = {k: v.copy() for k, v in p.items()}
    out = []
    for e in range(epochs):
        used = p if not (mistake == "stale-forward" and e == 1) else previous
        u1 = used["b1"] + x.T @ used["w1"]
        h = np.tanh(u1)
        z = h @ used["w2"].T + used["b2"]
        o = used["b3"] + used["w3"].T @ x + np.maximum(z, 0)
        loss = (o - 6) ** 2 / 2
        d_out = (o - 6) * (2 if mistake == "missing-half" and e == 0 else 1)
        d_z = d_out * (z > 0)
        d_h = d_z * p["w2"]
        factor = {"wrong-activation": h * (1 - h), "pre-post": 1 - u1 * u1, "collapsed": 1 - h @ h.T}.get(
            mistake if e == 0 else None, 1 - h * h)
        d_u1 = d_h * factor
        g = {"w1": x @ d_u1, "b1": d_u1, "w2": d_z * h, "b2": d_z, "w3": x * d_out, "b3": d_out}
        rate = {"learning-rate": 1.0}.get(mistake if e == 0 else None, lr)
        upd = {k: p[k] - rate * g[k] for k in p}
        if mistake == "update-sign" and e == 0:
            upd["b3"] = p["b3"] + lr * g["b3"]
        out.append({"forward": {"u1": u1, "h": h, "z": z, "out": o, "loss": loss}, "grads": g, "updated": upd})
        previous, p = p, upd
    return out


def as_yaml(epochs, decimals=4, only=None) -> str:
    lines = ["epochs:"]
    for k, e in enumerate(epochs, 1):
        lines.append(f"  {k}:")
        for section in ("forward", "grads", "updated"):
            lines.append(f"    {section}:")
            for name, value in e[section].items():
                if only is not None and (k, section, name) not in only:
                    continue
                rows = ", ".join("[" + ", ".join(f"{v:.{decimals}f}" for v in row) + "]" for row in value)
                lines.append(f"      {name}: [{rows}]")
    return "\n".join(line for line in lines) + "\n"


def grade(checker, seed, text):
    return checker.check(parse_solution(text, seed, file="solution.yaml"))


def statuses(result):
    return {(j.epoch, j.section, j.name, tuple(j.index) if j.index else None): j.status for j in result.items}


def test_a_correct_solution_has_no_mistakes(checker, seed):
    result = grade(checker, seed, as_yaml(hand_seed()))
    assert result.verdict == "correct"
    assert all(j.status == "correct" and j.diagnosis is None for j in result.items)
    assert len(result.items) == 3 * (3 + 3 + 1 + 1 + 1 + 6 + 3 + 3 + 1 + 2 + 1 + 6 + 3 + 3 + 1 + 2 + 1)


@pytest.mark.parametrize("decimals", [2, 3, 4])
def test_values_rounded_to_any_number_of_decimals_are_accepted(checker, seed, decimals):
    result = grade(checker, seed, as_yaml(hand_seed(), decimals=decimals))
    assert result.verdict == "correct", [j.label() for j in result.items if j.status != "correct"][:3]


def test_last_digit_off_by_one_is_wrong_unless_the_inputs_explain_it(checker, seed):
    # exact out = 4.47177; alone, 4.473 is wrong and 4.472 right
    assert grade(checker, seed, "epochs:\n  1:\n    forward: {out: 4.472}\n").verdict == "correct"
    assert grade(checker, seed, "epochs:\n  1:\n    forward: {out: 4.473}\n").items[0].status == "wrong"
    assert grade(checker, seed, "epochs:\n  1:\n    forward: {out: 4.470}\n").items[0].status == "wrong"
    # with z written as 1.97 (correct to its digits), out = 0.1 + 2.4 + 1.97 = 4.470 follows from it
    result = grade(checker, seed, "epochs:\n  1:\n    forward: {z: 1.97, out: 4.470}\n")
    assert [j.status for j in result.items] == ["correct", "correct"]
    # a trailing zero is a digit: 0.0020 claims ±0.00005, and the true b1 gradient [0,1] is 0.000759
    result = grade(checker, seed, "epochs:\n  1:\n    grads: {b1: [[~, 0.0020, ~]]}\n")
    assert result.items[0].status == "wrong" and result.items[0].text == "0.0020"
    assert grade(checker, seed, "epochs:\n  1:\n    grads: {b1: [[~, 0.001, ~]]}\n").verdict == "correct"


def test_arithmetic_expressions_and_fractions(checker, seed):
    text = 'epochs:\n  1:\n    forward: {out: "4.47"}\n    updated: {b3: "1/10 - 0.1*(4.47-6)"}\n'
    assert grade(checker, seed, text).verdict == "correct"


def test_one_early_mistake_then_consistent_work_is_one_wrong_and_the_rest_carried(checker, seed):
    result = grade(checker, seed, as_yaml(hand_seed("update-sign")))
    wrong = [j for j in result.items if j.status == "wrong"]
    carried = [j for j in result.items if j.status == "carried"]
    assert [j.label() for j in wrong] == ["epoch 1 updated b3"]
    assert wrong[0].diagnosis["code"] == "update-sign"
    labels = [j.label() for j in result.items]
    # carried by data flow: each names the written values it is computed from, all earlier, all wrong or carried
    for j in carried:
        assert j.carried_from
        for source in j.carried_from:
            assert labels.index(source) < labels.index(j.label())
            assert next(i for i in result.items if i.label() == source).status in ("wrong", "carried")
    assert {(j.epoch, j.section, j.name) for j in carried} >= {(2, "forward", "out"), (2, "grads", "b3"),
                                                               (3, "forward", "loss")}
    out2 = next(j for j in carried if j.label() == "epoch 2 forward out")
    assert out2.carried_from == ["epoch 1 updated b3"]  # out = b3 + w3ᵀx + relu(z): only b3 was wrong
    loss2 = next(j for j in carried if j.label() == "epoch 2 forward loss")
    assert loss2.carried_from == ["epoch 2 forward out"]  # the nearest written value, not the first mistake
    assert result.first_mistake.label() == "epoch 1 updated b3"


def test_a_wrong_value_without_an_earlier_mistake_is_not_carried(checker, seed):
    result = grade(checker, seed, "epochs:\n  1:\n    forward: {out: 5.1, loss: 0.405}\n")
    assert [j.status for j in result.items] == ["wrong", "carried"]
    result = grade(checker, seed, "epochs:\n  1:\n    forward: {loss: 0.405}\n")
    assert [j.status for j in result.items] == ["wrong"]


@pytest.mark.parametrize(("mistake", "label", "code"), [
    ("missing-half", "epoch 1 grads w1[1, 1]", "missing-half"),
    ("update-sign", "epoch 1 updated b3", "update-sign"),
    ("learning-rate", "epoch 1 updated w1[1, 1]", "learning-rate"),
    ("wrong-activation", "epoch 1 grads w1[1, 1]", "wrong-activation-derivative"),
    ("pre-post", "epoch 1 grads w1[1, 1]", "pre-post-activation"),
    ("collapsed", "epoch 1 grads w1[1, 1]", "collapsed-elementwise"),
    ("stale-forward", "epoch 2 forward u1[1]", "stale-parameters"),
])
def test_each_injected_mistake_is_diagnosed(checker, seed, mistake, label, code):
    result = grade(checker, seed, as_yaml(hand_seed(mistake)))
    first = result.first_mistake
    assert first.label() == label
    assert first.diagnosis["code"] == code, first.diagnosis
    assert first.diagnosis["message"]


def test_an_arithmetic_slip(checker, seed):
    result = grade(checker, seed, "epochs:\n  1:\n    forward: {z: 1.972, out: 4.427}\n")
    assert result.items[1].status == "wrong"
    assert result.items[1].diagnosis["code"] == "arithmetic" and "4.472" in result.items[1].diagnosis["message"]


def test_the_bundled_hand_solutions():
    seed = symback.load(EXAMPLES / "seed.py")
    good, bad = symback.check(seed, EXAMPLES / "seed_solution.yaml", EXAMPLES / "seed_mistakes.yaml")
    assert good.verdict == "correct" and len(good.items) > 100
    assert bad.verdict == "mistakes"
    assert bad.first_mistake.label() == "epoch 1 grads w1[1, 1]"
    assert bad.first_mistake.diagnosis["code"] == "collapsed-elementwise"
    wrong = [j for j in bad.items if j.status == "wrong"]
    assert {j.diagnosis["code"] for j in wrong} == {"collapsed-elementwise", "update-sign"}
    assert {(j.section, j.name) for j in wrong} == {("grads", "w1"), ("grads", "b1"), ("updated", "b3"),
                                                   ("formulas", "w1")}
    # the SPEC's example: the first update of w1 follows from the collapsed gradient
    w1 = next(j for j in bad.items if j.label() == "epoch 1 updated w1[1, 1]")
    assert w1.status == "carried" and w1.expected == pytest.approx(1.30273, abs=1e-5)



SQUARE = """\
from symback import Model, data, param, tanh, sum
x = data([[1], [2]])
W = param([[0.5, -0.3], [0.2, 0.4]])
h = tanh(W @ x)
loss = sum(h * h) / 2
model = Model(loss, lr=0.1, epochs=1)
"""


def test_relu_convention(tmp_path):
    path = tmp_path / "kink.py"
    path.write_text(RELU_AT_ITS_KINK.format(convention=0))
    model = symback.load(path)
    # w x + b = 0 exactly; out = 0 + 3 = 3; δ_out = −2; ∂L/∂w = δ_out (relu′(0) x + 3x): −12 with relu′(0) = 0,
    # −16 with relu′(0) = 1
    result = Checker(model).check(parse_solution("epochs:\n  1:\n    grads: {w: -16}\n", model))
    assert result.items[0].diagnosis["code"] == "relu-convention"
    assert Checker(model).check(parse_solution("epochs:\n  1:\n    grads: {w: -12}\n", model)).verdict == "correct"


def test_missing_transpose(tmp_path):
    path = tmp_path / "square.py"
    path.write_text(SQUARE)
    model = symback.load(path)
    x = np.array([[1.0], [2.0]])
    W = np.array([[0.5, -0.3], [0.2, 0.4]])
    h = np.tanh(W @ x)
    grad = (h * (1 - h * h)) @ x.T  # the oracle: ∂/∂W of Σh²/2
    assert not np.allclose(grad, grad.T)
    written = "[" + ", ".join("[" + ", ".join(f"{v:.5f}" for v in row) + "]" for row in grad.T) + "]"
    result = Checker(model).check(parse_solution(f"epochs:\n  1:\n    grads: {{W: {written}}}\n", model))
    first = result.first_mistake
    assert first.index == [0, 1] and first.diagnosis["code"] == "missing-transpose"


@pytest.mark.parametrize(("name", "formula"), [
    ("w2", "(out - 6) * step(z) * h"),
    ("w2", "h * step(z) * (out - 6)"),
    ("w1", "x @ ((out - 6) * step(z) * w2 * (1 - h**2))"),
    ("w1", "x @ (delta_h * (1 - h * h))"),
    ("w1", "x @ delta_u1"),
    ("w3", "x * (out - 6)"),
    ("b1", "delta_z * w2 * (1 - tanh(u1)^2)"),
])
def test_equivalent_formulas_are_accepted(checker, seed, name, formula):
    result = grade(checker, seed, f'formulas:\n  {name}: "{formula}"\n')
    assert result.items[0].status == "correct", result.items[0].reason
    # each of these is a polynomial identity in the named quantities (h = tanh(u1) where needed): proven
    assert result.items[0].reason == "equal exactly (SymPy)"


def test_an_identity_expand_cannot_prove_is_accepted_at_random_points(checker, seed):
    # tanh(u) = 2 sigmoid(2u) - 1 holds, but not as a polynomial identity: judged at the points only
    result = grade(checker, seed, 'formulas:\n  w2: "(out - 6) * step(z) * (2 * sigmoid(2 * u1) - 1)"\n')
    assert result.items[0].status == "correct"
    assert result.items[0].reason.startswith("equal at all 9 points")


@pytest.mark.parametrize(("name", "formula", "reason"), [
    ("w1", "x.T @ delta_u1", "@ needs"),  # a transpose too many: a shape error
    ("w1", "x @ ((out - 6) * w2 * (1 - h**2))", "differs"),  # step(z) dropped: differs where z < 0
    ("w2", "(out - 6) * h", "differs"),
    ("w1", "delta_u1", "the formula is 1×3"),
])
def test_wrong_formulas_are_caught_with_a_counterexample(checker, seed, name, formula, reason):
    result = grade(checker, seed, f'formulas:\n  {name}: "{formula}"\n')
    assert result.items[0].status == "wrong" and reason in result.items[0].reason


def test_nonsense_early_is_not_a_licence_for_carried_values(checker, seed):
    # out = 5000 is no slip; the loss "computed from it" is not credited
    result = grade(checker, seed, "epochs:\n  1:\n    forward: {out: 5000, loss: 12470018}\n")
    assert [j.status for j in result.items] == ["wrong", "wrong"]
    assert "not credited" in result.items[1].reason
    # a plausible slip is: out = 5.1 (within a factor 10), loss (5.1 − 6)²/2 = 0.405 carried
    result = grade(checker, seed, "epochs:\n  1:\n    forward: {out: 5.1, loss: 0.405}\n")
    assert [j.status for j in result.items] == ["wrong", "carried"]


def test_the_readme_lists_every_diagnosis_code_with_its_sentence():
    from conftest import ROOT

    from symback.check.mistakes import EXAMPLES, MESSAGES, message

    readme = (ROOT / "README.md").read_text()
    for code in MESSAGES:
        assert f"| `{code}` | {message(code, **EXAMPLES.get(code, {}))} |" in readme, code
