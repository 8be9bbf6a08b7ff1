"""The thirteen cases of issue 10 (``tests/check/cases/``), each with its right verdict.

Every expected number is worked out here by hand — fractions, mpmath or NumPy on the case's
own formulas, PyTorch where a network is involved — never read back from symback.
"""

import math
import subprocess
import sys
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from conftest import ROOT

import symback
from symback.check.grade import Checker

CASES = ROOT / "tests" / "check" / "cases"


@pytest.fixture(scope="module")
def seed_checker():
    return Checker(symback.load(ROOT / "examples" / "seed.py"))


def grade(name, text=None, **grading):
    from symback.check.claims import Grading
    from symback.check.solution import parse_solution

    model = symback.load(CASES / name / "model.py")
    checker = Checker(model, Grading(**grading))
    if text is None:
        return checker.check_file(CASES / name / "solution.yaml")
    return checker.check(parse_solution(text, model, file="s.yaml"))


def item(result, label):
    return next(j for j in result.items if j.label() == label)


def code(j):
    return None if j.diagnosis is None else j.diagnosis["code"]


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "100"})


def test_batch_mean_factor():
    X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    Y = np.array([[1.0], [0.0], [2.0]])
    w = np.array([[0.5], [-0.25]])
    grad = X.T @ (X @ w - Y) / 3  # d/dw of mean((Xw − Y)²)/2
    assert grad.ravel() == pytest.approx([-0.916667, -0.833333], abs=1e-6)
    r = grade("batch-mean-factor")
    g1, g2, u1, u2 = r.items
    assert [j.status for j in r.items] == ["wrong", "wrong", "carried", "carried"]
    assert code(g1) == code(g2) == "missing-batch-factor"
    assert [g1.expected, g2.expected] == pytest.approx(grad.ravel(), rel=1e-12)
    assert [u1.expected, u2.expected] == pytest.approx((w - 0.1 * grad).ravel(), rel=1e-12)
    # w[2] = −0.25 − 0.1·(−2.5) = 0 exactly: the written 0 is an exact zero from the author's gradient
    assert u2.text == "0" and u2.from_your_values == 0 and u2.carried_from == ["epoch 1 grads w[2]"]
    assert u1.carried_from == ["epoch 1 grads w[1]"]
    assert r.verdict == "mistakes"


def test_carried_by_dependency():
    r = grade("carried-by-dependency")
    ga, gb, ub = r.items
    assert (ga.status, gb.status, ub.status) == ("wrong", "wrong", "carried")
    assert (ga.expected, gb.expected, ub.expected) == pytest.approx((2, 6, 3 - Fraction(6, 10)))  # 2a, 2b, b − 0.1·2b
    assert ub.carried_from == ["epoch 1 grads b"]  # what it is computed from, not the file's first mistake
    assert ub.from_your_values == pytest.approx(3 - 0.1 * 3.0)


def test_carried_by_dependency_and_correct_from_correct_inputs():
    # the update of b follows from a right gradient of b: correct, whatever happened to a
    r = grade("carried-by-dependency", "epochs: {1: {grads: {a: 5, b: 6}, updated: {a: 0.5, b: 2.4}}}\n")
    assert [j.status for j in r.items] == ["wrong", "correct", "carried", "correct"]
    assert item(r, "epoch 1 updated a").carried_from == ["epoch 1 grads a"]  # 1 − 0.1·5 = 0.5


def test_collapsed_elementwise_seen_only_through_updates():
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    W = torch.tensor([[0.3, -0.4], [0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[0.7], [-0.6]], dtype=torch.float64, requires_grad=True)
    h = torch.tanh(x.T @ W)
    out = h @ v
    ((out - 1) ** 2 / 2).sum().backward()
    true_W = (W - 0.1 * W.grad).detach().numpy()
    assert true_W == pytest.approx(np.array([[0.339952, -0.43839], [0.279904, 0.42322]]), abs=1e-6)
    # what the author did, from their own rounded h and out: 1 − h hᵀ as one number
    hw, ow = np.array([[0.6044, 0.5370]]), 0.1008
    collapsed = 1 - (hw @ hw.T)[0, 0]
    author = np.array([[0.3, -0.4], [0.2, 0.5]]) - 0.1 * np.array([[1.0], [2.0]]) @ ((ow - 1) * np.array(
        [[0.7, -0.6]]) * collapsed)
    assert author == pytest.approx(np.array([[0.3218, -0.4187], [0.2436, 0.4626]]), abs=6e-5)
    r = grade("collapsed-from-updates")
    W_items = [j for j in r.items if j.section == "updated" and j.name == "W"]
    assert [j.status for j in W_items] == ["wrong"] * 4
    assert {code(j) for j in W_items} == {"collapsed-elementwise"}
    assert [j.expected for j in W_items] == pytest.approx(true_W.ravel(), rel=1e-12)
    others = [j for j in r.items if j.name != "W"]
    assert [j.status for j in others] == ["correct"] * 5  # h, out and v
    assert [j.expected for j in others[-2:]] == pytest.approx((v - 0.1 * v.grad).detach().numpy().ravel())


def test_derivative_at_the_output():
    h = math.tanh(0.8)
    assert (h - 0.2) * (1 - h * h) == pytest.approx(0.259422, abs=1e-6)
    assert (0.6640 - 0.2) * (1 - math.tanh(0.6640) ** 2) == pytest.approx(0.3074, abs=5e-5)
    r = grade("derivative-at-output")
    assert item(r, "epoch 1 forward h").status == "correct"
    g = item(r, "epoch 1 grads w")
    assert (g.status, code(g)) == ("wrong", "derivative-at-output")
    assert g.expected == pytest.approx((h - 0.2) * (1 - h * h), rel=1e-12)


def test_derivative_applied_twice():
    a = 1 / (1 + math.exp(-0.5))
    assert (a - 1) == pytest.approx(-0.377541, abs=1e-6)  # BCE on σ: (a − y) x
    assert (0.6225 - 1) * 0.6225 * (1 - 0.6225) == pytest.approx(-0.0887, abs=5e-5)
    r = grade("derivative-twice")
    g = item(r, "epoch 1 grads w")
    assert (g.status, code(g)) == ("wrong", "derivative-twice")
    assert g.expected == pytest.approx(a - 1, rel=1e-12)


def test_every_step_is_judged():
    r = grade("every-step-judged")
    assert [(j.label(), j.status) for j in r.items] == [
        ("epoch 10 updated w", "correct"), ("epoch 11 updated w", "wrong"), ("epoch 21 updated w", "wrong")]
    # w ← w − 0.1·2w = 0.8 w: after epoch k, w = 0.8^k
    assert [j.expected for j in r.items] == pytest.approx([0.8**10, 0.8**11, 0.8**21], rel=1e-12)
    assert r.items[2].expected == pytest.approx(0.009223, abs=1e-6)
    assert r.verdict == "mistakes"


def test_every_step_of_a_thousand_epochs_is_judged(tmp_path):
    (tmp_path / "m.py").write_text("from symback import Model, param\nw = param(1)\nloss = w ** 2\n"
                                   "model = Model(loss, lr=0.001, epochs=1000)\n")
    model = symback.load(tmp_path / "m.py")
    with mpmath.workdps(30):
        w1000 = mpmath.mpf("0.998") ** 1000
        w999 = mpmath.mpf("0.998") ** 999
    text = (f"epochs:\n  999: {{updated: {{w: {mpmath.nstr(w999, 8)}}}}}\n"
            f"  1000: {{forward: {{loss: {mpmath.nstr(w999 ** 2, 8)}}}, grads: {{w: 7}}, "
            f"updated: {{w: {mpmath.nstr(w1000, 8)}}}}}\n")
    from symback.check.solution import parse_solution

    r = Checker(model).check(parse_solution(text, model))
    assert [(j.label(), j.status) for j in r.items] == [
        ("epoch 999 updated w", "correct"), ("epoch 1000 forward loss", "correct"),
        ("epoch 1000 grads w", "wrong"), ("epoch 1000 updated w", "correct")]
    assert r.items[3].expected == pytest.approx(float(w1000), rel=1e-12)
    # the update after a wrong gradient is right: the author's gradient 7 gives 0.135… − 0.007, not it
    assert r.items[3].carried_from == []


def test_a_wrong_formula_is_the_first_mistake_and_its_cause_named(tmp_path):
    r = grade("formula-first-mistake")
    assert item(r, "epoch 1 forward out").status == "correct"
    f = item(r, "formula ∂L/∂w")
    assert (f.status, code(f)) == ("wrong", "derivative-left-out")
    assert r.first_mistake is f and f.line == 5
    shown = run("check", CASES / "formula-first-mistake" / "model.py", CASES / "formula-first-mistake" /
                "solution.yaml", cwd=tmp_path)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert "first mistake at formula ∂L/∂w (line 5)" in shown.stdout
    junit = run("check", CASES / "formula-first-mistake" / "model.py", CASES / "formula-first-mistake" /
                "solution.yaml", "--junit", "j.xml", cwd=tmp_path)
    assert junit.returncode == 1 and (tmp_path / "j.xml").exists()


@pytest.mark.parametrize("formula", ["(out - 1) ** * x", "the gradient of the loss", "x @ @ out"])
def test_an_unreadable_formula_is_an_error_item(tmp_path, formula):
    text = f'epochs:\n  1:\n    forward: {{out: 0.5374}}\nformulas:\n  w: "{formula}"\n'
    r = grade("formula-first-mistake", text)
    assert [j.status for j in r.items] == ["correct", "error"]
    assert r.verdict == "error" and r.summary() == "1 correct, 1 unreadable or not judged"
    (tmp_path / "bad.yaml").write_text(text)
    (tmp_path / "good.yaml").write_text("epochs:\n  1:\n    forward: {out: 0.5374}\n")
    shown = run("check", CASES / "formula-first-mistake" / "model.py", "bad.yaml", "good.yaml", cwd=tmp_path)
    assert shown.returncode == 2  # that file is an error; the other is still graded
    assert "good.yaml: correct — 1 correct" in shown.stdout


def test_the_momentum_convention():
    # PyTorch: b = g on the first step, then βb + g; the author: b = (1 − β)g, then βb + (1 − β)g
    x = torch.tensor(10.0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.2, momentum=0.9)
    true = []
    for _ in range(2):
        optimizer.zero_grad()
        ((x - 4) ** 2).backward()
        optimizer.step()
        true.append(x.item())
    u1 = 10 - 0.2 * 0.1 * 12  # g1 = 2(10 − 4) = 12, b = 0.1·12
    g2 = 2 * (u1 - 4)
    u2 = u1 - 0.2 * (0.9 * 0.1 * 12 + 0.1 * g2)
    assert (u1, g2, u2) == pytest.approx((9.76, 11.52, 9.3136))
    r = grade("momentum-convention")
    assert [j.status for j in r.items] == ["correct", "wrong", "carried", "carried"]
    assert code(r.items[1]) == "momentum-convention"
    assert [r.items[1].expected, r.items[3].expected] == pytest.approx(true, rel=1e-12)
    assert r.items[2].carried_from == ["epoch 1 updated x"]
    assert r.items[3].carried_from == ["epoch 1 updated x"]
    assert len(r.mistakes) == 1


def test_the_relu_convention_at_its_kink():
    # z = 0.2·2 − 0.4 = 0 exactly; relu′(0) = 1 here: ∂L/∂w = (h − 1)·1·x = −2, ∂L/∂v = −1
    r = grade("relu-zero-convention")
    assert [j.status for j in r.items] == ["correct"] * 3 + ["wrong", "wrong"]
    assert [j.expected for j in r.items[3:]] == [-2, -1]
    assert [code(j) for j in r.items[3:]] == ["relu-convention"] * 2
    assert "relu′(0) was taken as 0; this exercise uses relu′(0) = 1" in r.items[3].diagnosis["message"]


def test_truncated_digits_are_correct_and_what_follows_uses_them():
    a = 1 / (1 + math.exp(-2.3))
    assert (round(a, 3), math.floor(a * 1000) / 1000) == (0.909, 0.908)
    r = grade("truncated-digits")
    (j,) = r.items
    assert (j.status, j.rule) == ("correct", "truncated to 3 decimals")
    assert r.verdict == "correct"
    # δ_a = a − 1 from the truncated a: −0.092, which is not the true δ rounded (−0.091) — correct for your values
    r = grade("truncated-digits", "epochs: {1: {forward: {a: 0.908}, deltas: {a: -0.092}}}\n")
    assert [j.status for j in r.items] == ["correct", "correct"]
    assert r.items[1].rule.startswith("correct for your values")
    assert r.items[1].expected == pytest.approx(a - 1) and r.items[1].from_your_values == pytest.approx(-0.092)
    # truncation is noted, never a mistake, also for a negative number (toward zero)
    assert (round(a - 1, 6), math.ceil((a - 1) * 1e6) / 1e6) == (-0.091123, -0.091122)
    r = grade("truncated-digits", "epochs: {1: {deltas: {a: -0.091122}}}\n")
    assert (r.items[0].status, r.items[0].rule) == ("correct", "truncated to 6 decimals")


def test_an_update_is_judged_through_the_gradient_it_implies():
    r = grade("update-implies-gradient")
    (j,) = r.items
    assert (j.status, j.expected) == ("wrong", pytest.approx(5 - 0.1 * 2))
    assert j.diagnosis is None  # 4.95 implies ∂L/∂w = 0.5 where 2 is right: not an arithmetic slip
    assert "implies ∂L/∂w = 0.5" in j.reason and "too far off to be a slip" in j.reason
    # a real slip in the subtraction after a right gradient is arithmetic
    r = grade("update-implies-gradient", "epochs: {1: {grads: {w: 2}, updated: {w: 4.08}}}\n")
    assert code(r.items[1]) == "arithmetic"


def test_whole_numbers_claim_their_exact_value():
    r = grade("whole-numbers")
    assert [(j.label(), j.status, j.expected) for j in r.items] == [
        ("epoch 1 forward loss", "wrong", pytest.approx(0.04)), ("epoch 1 grads w", "wrong", pytest.approx(0.4))]
    # a course that wants looser grading says so
    r = grade("whole-numbers", atol=0.5)
    assert [j.status for j in r.items] == ["correct", "correct"]
    assert r.items[0].rule == "within rtol=0, atol=0.5"
    r = grade("whole-numbers", "epochs: {1: {forward: {loss: 0.04}, grads: {w: 0.4}}}\n")
    assert r.verdict == "correct"


def test_an_update_started_from_another_parameter():
    a, b = 0.5, 2
    ga, gb = (a * b - 3) * b, (a * b - 3) * a
    assert (ga, gb, a - 0.1 * ga, b - 0.1 * gb, b - 0.1 * ga) == pytest.approx((-4, -1, 0.9, 2.1, 2.4))
    r = grade("wrong-base-update")
    assert [j.status for j in r.items] == ["correct", "correct", "wrong", "correct"]
    assert code(item(r, "epoch 1 updated a")) == "update-other-parameter"
    assert "started from b" in item(r, "epoch 1 updated a").diagnosis["message"]


# -- what scores: four of the hostile cases are about judging, not about hostility ---------------------
HOSTILE = CASES / "hostile"


def test_0e1_everywhere_is_an_exact_zero_and_earns_nothing(seed_checker):
    r = seed_checker.check_file(HOSTILE / "all-0e1.yaml")
    assert r.verdict == "mistakes" and r.counts["wrong"] == len(r.items) == 123
    # nothing is carried from nonsense: no value credited for following 0e1's
    assert r.counts["carried"] == 0


def test_a_file_that_judges_nothing_is_not_correct(seed_checker):
    r = seed_checker.check_file(HOSTILE / "empty.yaml")
    assert r.verdict == "error" and "nothing to judge" in r.error


def test_a_formula_off_by_1e_40_is_wrong(seed_checker):
    r = seed_checker.check_file(HOSTILE / "formula-plus-tiny.yaml")
    (f,) = r.items
    assert f.status == "wrong" and f.diagnosis is None
    assert "by 1.00E-40" in f.reason and "exact arithmetic" in f.reason


def test_a_formula_undefined_at_the_point_is_wrong_and_the_values_still_graded(seed_checker):
    r = seed_checker.check_file(HOSTILE / "valid-wrong-formula.yaml")
    log = next(j for j in r.items if j.label() == "formula ∂L/∂b3")
    assert log.status == "wrong" and "is not a real number" in log.reason  # log(out − 6) with out < 6
    assert r.counts["correct"] >= 120 and r.verdict == "mistakes"
