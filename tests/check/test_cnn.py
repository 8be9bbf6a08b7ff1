"""``symback check`` on convolution and pooling (issue 14): the CNN example's worksheet answers, a correct
hand solution and one with planted mistakes; the formula notation of the new operations; their mistakes
in the catalogue.

Oracles.  Every true number is PyTorch's: the model rebuilt with torch ops and differentiated by autograd
(``tests/oracle.py``).  A student's numbers with a planted mistake come from the hand computation in this
file (NumPy: the forward pass, then the chain rule as the student works it, with the one step changed),
which is checked against PyTorch first where it is right.  Where a test is about reading a formula, it
compares the formula read with the one expected — PyTorch's function of the same numbers, or the
derivation's own formula — never with an earlier output of the reader.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from conftest import EXAMPLES, ROOT
from oracle import evaluate, gradients

import symback
from symback.check.calls import MAX_SIZE
from symback.check.formula import parse_formula
from symback.check.grade import Checker
from symback.check.solution import parse_solution
from symback.engine.explicit import explicit
from symback.engine.expr import Apply, InvStd, Normalize
from symback.engine.windows import (
    AvgPool,
    Columns,
    Concat,
    Correlate,
    Dilate,
    MaxPool,
    Pad,
    PoolRoute,
    PoolSpread,
    Reshape,
    Rot180,
)
from symback.errors import SolutionError
from symback.numeric.printing import code
from symback.report import worksheet as ws

CNN = EXAMPLES / "cnn_small.py"
SOLUTION, MISTAKES = EXAMPLES / "cnn_small_solution.yaml", EXAMPLES / "cnn_small_mistakes.yaml"


@pytest.fixture(scope="module")
def cnn():
    return symback.load(CNN)


@pytest.fixture(scope="module")
def cnn_checker(cnn):
    return Checker(cnn)


def grade(checker, model, text):
    return checker.check(parse_solution(text, model, file="solution.yaml"))


def load_source(tmp_path_factory, name, source):
    path = tmp_path_factory.mktemp(name) / f"{name}.py"
    path.write_text(source)
    return symback.load(path)


# ---------------------------------------------------------------------------------------------------------
# The oracle: training in PyTorch, and the CNN by hand in NumPy (with the mistakes a student makes)
# ---------------------------------------------------------------------------------------------------------


def torch_steps(model, epochs: int) -> list[dict]:
    """Each epoch's forward values, δ of the named quantities, gradients and updates, by PyTorch autograd."""
    params = {p.name: np.array(p.value.tolist(), dtype=float) for p in model.params}
    lr = float(model.lr)
    named = list(model.program.named_deltas)
    steps = []
    for _ in range(epochs):
        values = evaluate(model.loss, {p: params[p.name] for p in model.params}, requires_grad=set(model.trainable))
        for n in named:
            values[n].retain_grad()
        values[model.loss].sum().backward()
        grads = {p.name: values[p].grad.numpy() for p in model.trainable}
        steps.append({"forward": {n.name: values[n].detach().numpy() for n in model.nodes if n.name and not n.is_leaf},
                      "deltas": {n.name: values[n].grad.numpy() for n in named}, "grads": grads,
                      "updated": {k: params[k] - lr * g for k, g in grads.items()}})
        params.update(steps[-1]["updated"])
    return steps


# the CNN example's numbers, as examples/cnn_small.py writes them
X0 = np.array([[0.1, 0.5, -0.2, 0.3, 0.0], [0.4, -0.1, 0.2, 0.6, -0.3], [0.0, 0.3, 0.5, -0.4, 0.2],
               [-0.2, 0.1, 0.4, 0.2, 0.1], [0.3, -0.3, 0.0, 0.1, 0.5]])
Y0 = np.array([[0.0, 1.0, 0.0]])
INIT = {"K": [[0.2, -0.1], [0.3, 0.4]], "c": [[0.1]],
        "W": [[0.1, -0.2, 0.3], [0.2, 0.1, -0.1], [-0.3, 0.2, 0.1], [0.1, 0.1, 0.2]], "b": [[0.0, 0.1, -0.1]]}
LR = 0.5


def correlate(a, k, stride=(1, 1)):
    """(a ⋆ k)[i, j] = Σ a[s·i + u, s·j + v] k[u, v], by the definition."""
    (kh, kw), (sr, sc) = k.shape, stride
    rows, cols = (a.shape[0] - kh) // sr + 1, (a.shape[1] - kw) // sc + 1
    return np.array([[np.sum(a[i * sr:i * sr + kh, j * sc:j * sc + kw] * k) for j in range(cols)]
                     for i in range(rows)])


def padded(a, top, left, bottom, right):
    out = np.pad(a, ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))))
    return out[-min(top, 0) or None:out.shape[0] + min(bottom, 0) or None,
               -min(left, 0) or None:out.shape[1] + min(right, 0) or None]


def dilated(a, s):
    out = np.zeros(((a.shape[0] - 1) * s + 1, (a.shape[1] - 1) * s + 1))
    out[::s, ::s] = a
    return out


def pool_windows(a):
    """The 2×2 windows of max_pool2d(a, 2): (i, j, the window's cells row by row)."""
    return [(i, j, [(2 * i + u, 2 * j + v) for u in range(2) for v in range(2)])
            for i in range(a.shape[0] // 2) for j in range(a.shape[1] // 2)]


def routed(a, g):
    """Each window's δ to its first maximum, reading the window row by row."""
    out = np.zeros_like(a)
    for i, j, cells in pool_windows(a):
        values = [a[c] for c in cells]
        out[cells[values.index(max(values))]] += g[i, j]
    return out


def hand_cnn(epochs: int, pool: str | None = None, uphill: bool = False, slip=None) -> list[dict]:
    """The CNN example as a student works it: ``pool`` "whole" gives max-pool's δ to every entry of its window,
    "shared" a quarter to each; ``uphill`` adds epoch 1's gradient of b; ``slip`` = (epoch, name, index, text):
    that gradient entry written as ``text``, and the update computed from what was written."""
    p = {k: np.array(v, dtype=float) for k, v in INIT.items()}
    out = []
    for e in range(1, epochs + 1):
        Z = correlate(X0, p["K"]) + p["c"]
        A = np.maximum(Z, 0)
        P = np.array([[max(A[c] for c in cells) for *_, cells in pool_windows(A)]]).reshape(2, 2)
        f = P.reshape(1, 4)
        logits = f @ p["W"] + p["b"]
        s = np.exp(logits) / np.exp(logits).sum()
        d_logits = s - Y0
        d_P = (d_logits @ p["W"].T).reshape(2, 2)
        d_A = {"whole": np.kron(d_P, np.ones((2, 2))), "shared": np.kron(d_P, np.ones((2, 2))) / 4,
               None: routed(A, d_P)}[pool]
        d_Z = d_A * (Z > 0)
        grads = {"K": correlate(X0, d_Z), "c": np.array([[d_Z.sum()]]), "W": f.T @ d_logits, "b": d_logits}
        used = {k: v.copy() for k, v in grads.items()}
        if slip and slip[0] == e:
            used[slip[1]][slip[2]] = float(slip[3])
        updated = {k: p[k] - LR * used[k] for k in p}
        if uphill and e == 1:
            updated["b"] = p["b"] + LR * grads["b"]
        out.append({"forward": {"Z": Z, "A": A, "P": P, "logits": logits, "loss": np.array([[-np.log(s[0, 1])]])},
                    "deltas": {"logits": d_logits, "P": d_P, "A": d_A, "Z": d_Z}, "grads": grads, "updated": updated})
        p = updated
    return out


def test_the_hand_computation_is_pytorchs(cnn):
    truth = torch_steps(cnn, 3)
    assert truth[0]["grads"].keys() == gradients(cnn).keys()
    for name, g in gradients(cnn).items():
        np.testing.assert_allclose(truth[0]["grads"][name], g, atol=1e-15)
    for hand, torch_step in zip(hand_cnn(3), truth):
        for section, values in hand.items():
            for name, v in values.items():
                np.testing.assert_allclose(v, torch_step[section][name], rtol=1e-12, atol=1e-14,
                                           err_msg=f"{section} {name}")


def rounds_to(text: str, value: float) -> bool:
    """The written text is ``value`` rounded to the digits written (a whole 0: exactly 0)."""
    if "." not in text:
        return float(text) == value
    unit = 10.0 ** -len(text.split(".")[1])
    return abs(float(text) - value) <= unit / 2 * (1 + 1e-9) + 1e-15


# ---------------------------------------------------------------------------------------------------------
# The CNN example graded
# ---------------------------------------------------------------------------------------------------------


def test_the_worksheets_answers_are_graded_correct_formulas_and_all(cnn, cnn_checker):
    answers = ws.solution_yaml(cnn, cnn.train(), True, "cnn_small.py")
    formulas = dict(re.findall(r'^  (\w+): "(.*)"$', answers.split("formulas:\n")[1], re.M))
    assert set(formulas) == {"K", "c", "W", "b"}
    assert "correlate(X, " in formulas["K"] and "route_max(" in formulas["K"] and "flatten(P)" in formulas["W"]
    result = cnn_checker.check(parse_solution(answers, cnn, file="answers.yaml"))
    assert result.verdict == "correct", [(j.label(), j.status, j.reason) for j in result.items if j.status != "correct"]
    judged = [j for j in result.items if j.section == "formulas"]
    assert [j.name for j in judged] == ["K", "c", "W", "b"]
    assert all(j.status == "correct" and j.reason == "equal exactly (SymPy)" for j in judged)


def test_the_worksheets_numbers_are_pytorchs(cnn):
    answers = parse_solution(ws.solution_yaml(cnn, cnn.train(), True, "cnn_small.py"), cnn)
    truth = torch_steps(cnn, 3)
    for item in answers.items:
        assert rounds_to(item.text, truth[item.epoch - 1][item.section][item.name][item.index]), item


def run_check(*args):
    return subprocess.run([sys.executable, "-m", "symback", "check", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "160"})


def test_the_correct_hand_solution_is_pytorchs_rounded_and_exits_0(cnn, cnn_checker):
    solution = parse_solution(SOLUTION.read_text(), cnn, file=SOLUTION.name)
    truth = torch_steps(cnn, 3)
    assert len(solution.items) == 357 and not solution.errors
    for item in solution.items:
        assert rounds_to(item.text, truth[item.epoch - 1][item.section][item.name][item.index]), item
    result = cnn_checker.check(solution)
    assert result.verdict == "correct" and {j.status for j in result.items} == {"correct"}
    assert {j.name for j in result.items if j.section == "formulas"} == {"K", "c", "W", "b"}
    r = run_check(CNN, SOLUTION)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every value is correct (361 correct)" in r.stdout


SLIP = (2, "K", (0, 1), "-0.1518")  # epoch 2's ∂L/∂K[1, 2] = -0.1581…, two digits swapped


@pytest.fixture(scope="module")
def mistakes(cnn, cnn_checker):
    solution = parse_solution(MISTAKES.read_text(), cnn, file=MISTAKES.name)
    return solution, cnn_checker.check(solution)


def test_the_planted_numbers_are_the_students_process(mistakes):
    """Every number of the mistakes file is the hand computation with the three planted mistakes, rounded."""
    solution, _ = mistakes
    student = hand_cnn(2, pool="whole", uphill=True, slip=SLIP)
    assert len(solution.items) == 238 and not solution.errors
    for item in solution.items:
        value = student[item.epoch - 1][item.section][item.name][item.index]
        if (item.epoch, item.section, item.name, item.index) == (2, "grads", "K", (0, 1)):
            assert rounds_to("-0.1581", value) and item.text == SLIP[3]
        else:
            assert rounds_to(item.text, value), item


def maxima(epoch_values) -> set:
    """The entries of A that are their window's maximum, where the true δ_A lives."""
    A = epoch_values["forward"]["A"]
    out = set()
    for *_, cells in pool_windows(A):
        values = [A[c] for c in cells]
        out.add(cells[values.index(max(values))])
    return out


def test_the_mistakes_file_verdicts_item_by_item(mistakes):
    _, result = mistakes
    by = {(j.epoch, j.section, j.name, tuple(j.index) if j.index else None): j for j in result.items}
    assert result.verdict == "mistakes"
    first = result.first_mistake
    assert (first.epoch, first.section, first.name, first.index) == (1, "deltas", "A", [0, 0])
    # the independent mistakes, and nothing else wrong
    at_max = maxima(hand_cnn(1)[0])
    off_max = [(i, j) for i in range(4) for j in range(4) if (i, j) not in at_max]
    wrong = {(1, "deltas", "A", e) for e in off_max} | {(1, "updated", "b", (0, k)) for k in range(3)} \
        | {(2, "grads", "K", (0, 1)), (None, "formulas", "K", None)}
    assert {key for key, j in by.items() if j.status == "wrong"} == wrong
    assert {by[(1, "deltas", "A", e)].diagnosis["code"] for e in off_max} == {"pool-routing"}
    assert "to every entry of the window" in by[(1, "deltas", "A", off_max[0])].diagnosis["message"]
    assert all(by[(1, "deltas", "A", e)].status == "correct" for e in at_max)  # the maximum's δ is right
    assert {by[(1, "updated", "b", (0, k))].diagnosis["code"] for k in range(3)} == {"update-sign"}
    slip = by[(2, "grads", "K", (0, 1))]
    assert slip.diagnosis["code"] == "arithmetic" and "-0.1581" in slip.diagnosis["message"]
    formula = by[(None, "formulas", "K", None)]
    assert formula.diagnosis["code"] == "pool-routing" and "average pool" in formula.diagnosis["message"]
    assert all(by[(None, "formulas", n, None)].status == "correct" for n in ("c", "W", "b"))
    # carried forward: what follows from the student's own δ_A, b and slip is not marked wrong
    for index in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        j = by[(1, "grads", "K", index)]
        assert j.status == "carried" and all(c.startswith("epoch 1 deltas Z[") for c in j.carried_from)
    assert by[(1, "grads", "c", (0, 0))].status == "carried"
    assert {by[(1, "updated", "K", (i, k))].status for i in range(2) for k in range(2)} == {"carried"}
    assert {j.status for key, j in by.items() if key[:2] == (2, "forward")} <= {"carried", "correct"}
    assert by[(2, "forward", "loss", (0, 0))].status == "carried"
    assert by[(2, "updated", "K", (0, 1))].carried_from == ["epoch 1 updated K[1, 2]", "epoch 2 grads K[1, 2]"]
    # the same misconception again in epoch 2 is carried, and still named
    again = [by[(2, "deltas", "A", e)] for e in off_max if by[(2, "deltas", "A", e)].diagnosis]
    assert again and all(j.status == "carried" and j.diagnosis["code"] == "pool-routing" for j in again)
    assert {j.status for j in result.items} == {"correct", "carried", "wrong"}


def test_the_mistakes_file_exits_1():
    r = run_check(CNN, MISTAKES)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "first mistake at epoch 1 deltas A[1, 1]" in r.stdout
    assert "4 independent mistakes" in r.stdout


# ---------------------------------------------------------------------------------------------------------
# The notation, read: each function against PyTorch on the same numbers
# ---------------------------------------------------------------------------------------------------------

SHAPES = {"X": (5, 5), "A": (4, 4), "B": (2, 2), "D": (2, 2), "E": (3, 3), "M": (3, 4), "G": (1, 6), "R": (1, 3)}
S = {name: sp.MatrixSymbol(name, *shape) for name, shape in SHAPES.items()}


def draw(seed: int) -> dict[str, np.ndarray]:
    """Two-decimal numbers, all different (no tied maxima) and never zero."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in SHAPES.items():
        n = shape[0] * shape[1]
        picks = rng.choice(np.concatenate([np.arange(-150, 0), np.arange(1, 151)]), size=n, replace=False) / 100
        values[name] = picks.reshape(shape)
    return values


def expand(e, values) -> np.ndarray:
    env = {S[n]: sp.ImmutableMatrix(sp.Matrix(*v.shape, [sp.Rational(str(a)) for a in v.flat]))
           for n, v in values.items()}
    return np.array(explicit(e, env).evalf(30).tolist(), dtype=float)


def t(v) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def image(v) -> torch.Tensor:
    return t(v)[None, None]


def pool_gradient(pool, x, g, *args) -> np.ndarray:
    """∂/∂x of Σ pool(x) ⊙ g, by autograd: how PyTorch sends g back through the pool."""
    x = t(x).requires_grad_(True)
    (pool(x[None, None], *args)[0, 0] * t(g)).sum().backward()
    return x.grad.numpy()


def inv_std(m, dim):
    return 1 / torch.sqrt(t(m).var(dim=dim, unbiased=False, keepdim=True) + 1e-5)


NOTATION = [
    ("correlate(X, B)", lambda v: F.conv2d(image(v["X"]), image(v["B"]))[0, 0]),
    ("correlate(X, B, stride=2)", lambda v: F.conv2d(image(v["X"]), image(v["B"]), stride=2)[0, 0]),
    ("correlate(X, B, (2, 1))", lambda v: F.conv2d(image(v["X"]), image(v["B"]), stride=(2, 1))[0, 0]),
    ("conv2d(X, B, padding=1)", lambda v: F.conv2d(image(v["X"]), image(v["B"]), padding=1)[0, 0]),
    ("conv2d(X, E, 2, (1, 0))", lambda v: F.conv2d(image(v["X"]), image(v["E"]), stride=2, padding=(1, 0))[0, 0]),
    ("rot180(B)", lambda v: torch.flip(t(v["B"]), (0, 1))),
    ("pad(A, 1)", lambda v: F.pad(t(v["A"]), (1, 1, 1, 1))),
    ("pad(A, (1, 2))", lambda v: F.pad(t(v["A"]), (2, 2, 1, 1))),
    ("pad(A, top=0, left=1, bottom=2, right=0)", lambda v: F.pad(t(v["A"]), (1, 0, 0, 2))),
    ("pad(X, bottom=-1, right=-2)", lambda v: F.pad(t(v["X"]), (0, -2, 0, -1))),
    ("dilate(B, 2)", lambda v: F.conv_transpose2d(image(v["B"]), image([[1.0]]), stride=2)[0, 0]),
    ("dilate(B, (1, 3))", lambda v: F.conv_transpose2d(image(v["B"]), image([[1.0]]), stride=(1, 3))[0, 0]),
    ("max_pool2d(A, 2)", lambda v: F.max_pool2d(image(v["A"]), 2)[0, 0]),
    ("max_pool2d(X, 2, stride=1)", lambda v: F.max_pool2d(image(v["X"]), 2, 1)[0, 0]),
    ("avg_pool2d(A, (2, 1))", lambda v: F.avg_pool2d(image(v["A"]), (2, 1))[0, 0]),
    ("route_max(D, A, 2)", lambda v: pool_gradient(F.max_pool2d, v["A"], v["D"], 2)),
    ("route_max(D, X, 2)", lambda v: pool_gradient(F.max_pool2d, v["X"], v["D"], 2)),  # the floor rule
    ("route_max(E, A, 2, stride=1)", lambda v: pool_gradient(F.max_pool2d, v["A"], v["E"], 2, 1)),
    ("spread_avg(D, 2)", lambda v: pool_gradient(F.avg_pool2d, v["A"], v["D"], 2)),
    ("spread_avg(D, 2, shape=(5, 5))", lambda v: pool_gradient(F.avg_pool2d, v["X"], v["D"], 2)),
    ("spread_avg(E, 2, stride=1)", lambda v: pool_gradient(F.avg_pool2d, v["A"], v["E"], 2, 1)),
    ("flatten(A)", lambda v: t(v["A"]).flatten()[None]),
    ("flatten(R)", lambda v: t(v["R"])),
    ("reshape(G, 2, 3)", lambda v: t(v["G"]).reshape(2, 3)),
    ("reshape(G, (3, 2))", lambda v: t(v["G"]).reshape(3, 2)),
    ("concat(R, G, R)", lambda v: torch.cat([t(v["R"]), t(v["G"]), t(v["R"])], dim=1)),
    ("columns(G, 2, 4)", lambda v: t(v["G"])[:, 1:4]),
    ("normalize(M, axis=0)", lambda v: F.batch_norm(t(v["M"]), None, None, training=True, eps=1e-5)),
    ("normalize(M, axis=1, eps=0.001)", lambda v: F.layer_norm(t(v["M"]), (4,), eps=1e-3)),
    ("normalize(R)", lambda v: F.layer_norm(t(v["R"]), (3,), eps=1e-5)),
    ("inv_std(M, axis=0)", lambda v: inv_std(v["M"], 0)),
    ("inv_std(M, axis=1, eps=1/100000)", lambda v: inv_std(v["M"], 1)),
    ("abs(M) + sign(M)", lambda v: torch.abs(t(v["M"])) + torch.sign(t(v["M"]))),
    ("huber(M, 0.5)", lambda v: F.huber_loss(t(v["M"]), torch.zeros(3, 4, dtype=torch.float64), reduction="none",
                                             delta=0.5)),
    ("clip(M, 1/2)", lambda v: torch.clamp(t(v["M"]), -0.5, 0.5)),
    ("clip(M, -0.5, 0.5)", lambda v: torch.clamp(t(v["M"]), -0.5, 0.5)),
    ("mean(M, axis=0) + mean(M)", lambda v: t(v["M"]).mean(0, keepdim=True) + t(v["M"]).mean()),
    ("sum(route_max(D, A, 2), axis=1) @ flatten(D)",
     lambda v: pool_gradient(F.max_pool2d, v["A"], v["D"], 2).sum(1, keepdims=True) @ v["D"].reshape(1, 4)),
]


@pytest.mark.parametrize(("text", "oracle"), NOTATION, ids=[n[0] for n in NOTATION])
def test_each_new_function_reads_as_pytorch_computes_it(text, oracle):
    parsed = parse_formula(text, S)
    for seed in (1, 2):
        values = draw(seed)
        truth = np.asarray(oracle(values), dtype=float)
        assert tuple(parsed.shape) == truth.shape
        np.testing.assert_allclose(expand(parsed, values), truth, rtol=1e-12, atol=1e-12)


# every class of the new operations, as the derivation builds it: printed by CodePrinter and read back as itself
X, A, B, D, E, M, G, R = (S[n] for n in SHAPES)
DERIVED = [
    Correlate(X, B), Correlate(X, B, 2, 1), Correlate(Pad(X, 1, 1, 1, 1), Rot180(B)), Pad(X, 0, 0, -1, -1),
    Pad(A, 2, 1, 2, 1), Pad(A, 1, 0, 2, 0), Dilate(B, 2, 2), Dilate(B, 1, 3), MaxPool(A, 2, 2, 2, 2),
    MaxPool(X, 2, 2, 1, 1), AvgPool(A, 2, 1, 2, 1), PoolRoute(A, D, 2, 2, 2, 2), PoolRoute(A, E, 2, 2, 1, 1),
    PoolSpread(D, 2, 2, 2, 2, 4, 4), PoolSpread(D, 2, 2, 2, 2, 5, 5), PoolSpread(E, 2, 2, 1, 1, 4, 4),
    Reshape(A, 1, 16), Reshape(G, 2, 3), Concat(R, G), Columns(G, 1, 4), Normalize(M, 0, sp.Rational(1, 10**5)),
    InvStd(M, 1, sp.Rational(1, 1000)), Apply("abs", M), Apply("sign", M), Apply("huber", M, sp.Rational(1, 2)),
    Apply("clip", M, 1),
]


@pytest.mark.parametrize("e", DERIVED, ids=[code(e) for e in DERIVED])
def test_the_derivations_notation_reads_back_as_the_same_expression(e):
    assert parse_formula(code(e), S) == e


# ---------------------------------------------------------------------------------------------------------
# Formulas judged: right ones in other words, wrong ones with the mistake named
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "formula"), [
    ("K", "correlate(X, delta_Z)"),
    ("K", "conv2d(X, delta_Z)"),
    ("K", "correlate(X, step(Z) * delta_A)"),
    ("K", "correlate(X, step(Z) * route_max(delta_P, A, 2))"),
    ("K", "correlate(X, step(Z) * route_max(reshape(delta_logits @ W.T, (2, 2)), A, (2, 2), stride=2))"),
    ("K", "rot180(correlate(rot180(X), rot180(delta_Z)))"),
    ("c", "sum(step(Z) * route_max(delta_P, A, 2))"),
    ("W", "reshape(P, 1, 4).T @ (softmax(logits) - Y)"),
])
def test_right_cnn_formulas_in_other_words_are_correct(cnn, cnn_checker, name, formula):
    (item,) = grade(cnn_checker, cnn, f'formulas:\n  {name}: "{formula}"\n').items
    assert item.status == "correct", item.reason


@pytest.mark.parametrize(("name", "formula", "named", "says"), [
    # X ⋆ δ with the operands swapped: δ is the smaller, so it cannot slide over X
    ("K", "correlate(delta_Z, X)", None, "a 5×5 kernel over a 4×4 matrix"),
    ("K", "rot180(correlate(X, delta_Z))", "kernel-rotation", "differs from ∂L/∂K"),
    ("K", "correlate(X, step(Z) * spread_avg(delta_P, 2))", "pool-routing", "differs from ∂L/∂K"),
    ("K", "correlate(X, step(Z) * 4 * spread_avg(delta_P, 2))", "pool-routing", "differs from ∂L/∂K"),
    ("K", "correlate(X, step(Z) * route_max(reshape(delta_logits @ W.T, 2, 2).T, A, 2))", "flatten-order",
     "differs from ∂L/∂K"),
    # relu′ left out after the pool: the same at the exercise's values (no maximum is negative), not at others
    ("c", "sum(delta_A)", "derivative-left-out", "at a random point"),
])
def test_wrong_cnn_formulas_are_wrong_with_the_mistake_named(cnn, cnn_checker, name, formula, named, says):
    (item,) = grade(cnn_checker, cnn, f'formulas:\n  {name}: "{formula}"\n').items
    assert item.status == "wrong" and says in str(item.reason), item.reason
    assert (item.diagnosis or {}).get("code") == named


#: two convolutions, the second strided: the input's gradient δ ⋆ rot180(K) is asked of the first
TWO_CONVS = """\
from symback import Model, conv2d, data, param, relu, sum
X = data([[0.1, 0.5, -0.2, 0.3, 0.0, 0.2], [0.4, -0.1, 0.2, 0.6, -0.3, 0.1], [0.0, 0.3, 0.5, -0.4, 0.2, -0.2],
          [-0.2, 0.1, 0.4, 0.2, 0.1, 0.3], [0.3, -0.3, 0.0, 0.1, 0.5, 0.4], [0.2, 0.1, -0.1, 0.3, 0.2, -0.5]])
T = data([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3], [-0.1, 0.2, 0.6]])
K1 = param([[0.2, -0.1, 0.1], [0.3, 0.4, -0.2], [0.1, 0.05, 0.3]])
K2 = param([[0.5, -0.3], [0.2, 0.1]])
Z1 = conv2d(X, K1, padding=1)
A1 = relu(Z1)
Z2 = conv2d(A1, K2, stride=2)
loss = sum(Z2 * T)
model = Model(loss, lr=0.1, epochs=1)
"""


@pytest.fixture(scope="module")
def two_convs(tmp_path_factory):
    model = load_source(tmp_path_factory, "two_convs", TWO_CONVS)
    return model, Checker(model)


@pytest.mark.parametrize(("name", "formula", "named"), [
    ("K1", "conv2d(X, step(Z1) * conv2d(dilate(delta_Z2, 2), rot180(K2), padding=1), padding=1)", None),
    ("K1", "correlate(pad(X, 1), step(Z1) * correlate(pad(dilate(T, 2), 1), rot180(K2)))", None),
    ("K2", "correlate(A1, dilate(delta_Z2, 2))", None),
    ("K1", "conv2d(X, step(Z1) * conv2d(dilate(delta_Z2, 2), K2, padding=1), padding=1)", "kernel-rotation"),
    ("K2", "rot180(correlate(A1, dilate(T, 2)))", "kernel-rotation"),
    ("K2", "correlate(pad(A1, bottom=-2, right=-2), delta_Z2)", "conv-stride"),  # X[i + a, j + b]: no stride
])
def test_formulas_through_a_strided_convolution(two_convs, name, formula, named):
    model, checker = two_convs
    (item,) = grade(checker, model, f'formulas:\n  {name}: "{formula}"\n').items
    assert item.status == ("correct" if named is None else "wrong"), item.reason
    assert (item.diagnosis or {}).get("code") == named


# ---------------------------------------------------------------------------------------------------------
# The catalogue through values: each mistake written as a gradient, by hand, and named
# ---------------------------------------------------------------------------------------------------------


def two_convs_by_hand(turn_input=True, turn_kernel=False, stride=True):
    """∂L/∂K1, ∂L/∂K2 of TWO_CONVS by the chain rule, optionally with one step done wrong."""
    x = np.array([[0.1, 0.5, -0.2, 0.3, 0.0, 0.2], [0.4, -0.1, 0.2, 0.6, -0.3, 0.1], [0.0, 0.3, 0.5, -0.4, 0.2, -0.2],
                  [-0.2, 0.1, 0.4, 0.2, 0.1, 0.3], [0.3, -0.3, 0.0, 0.1, 0.5, 0.4], [0.2, 0.1, -0.1, 0.3, 0.2, -0.5]])
    target = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3], [-0.1, 0.2, 0.6]])
    k1 = np.array([[0.2, -0.1, 0.1], [0.3, 0.4, -0.2], [0.1, 0.05, 0.3]])
    k2 = np.array([[0.5, -0.3], [0.2, 0.1]])
    z1 = correlate(padded(x, 1, 1, 1, 1), k1)
    a1 = np.maximum(z1, 0)
    d_z2 = target  # loss = Σ Z2 ⊙ T
    g2 = correlate(a1, dilated(d_z2, 2)) if stride else correlate(a1[:4, :4], d_z2)
    d_a1 = correlate(padded(dilated(d_z2, 2), 1, 1, 1, 1), k2[::-1, ::-1] if turn_input else k2)
    g1 = correlate(padded(x, 1, 1, 1, 1), d_a1 * (z1 > 0))
    return {"K1": g1, "K2": g2[::-1, ::-1] if turn_kernel else g2}


def matrix_text(m) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.6f}" for v in row) + "]" for row in m) + "]"


@pytest.mark.parametrize(("name", "how"), [("K1", {"turn_input": False}), ("K2", {"turn_kernel": True}),
                                           ("K2", {"stride": False})])
def test_convolution_mistakes_in_values_are_named(two_convs, name, how):
    model, checker = two_convs
    truth = gradients(model)
    right = two_convs_by_hand()
    for k in ("K1", "K2"):
        np.testing.assert_allclose(right[k], truth[k], rtol=1e-12, atol=1e-14)
    wrong = two_convs_by_hand(**how)[name]
    assert not np.allclose(wrong, truth[name])
    result = grade(checker, model, f"epochs:\n  1:\n    grads: {{{name}: {matrix_text(wrong)}}}\n")
    first = result.first_mistake
    assert first is not None and first.diagnosis["code"] == {"K1": "kernel-rotation"}.get(
        name, "conv-stride" if "stride" in how else "kernel-rotation")


AVG_POOL = """\
from symback import Model, avg_pool2d, data, param, sum
X = data([[0.1, 0.5, -0.2, 0.3], [0.4, -0.1, 0.2, 0.6], [0.0, 0.3, 0.5, -0.4], [-0.2, 0.1, 0.4, 0.2]])
T = data([[0.3, -0.2], [0.1, 0.4]])
V = param([[0.2, -0.1, 0.1, 0.3], [0.3, 0.4, -0.2, 0.1], [0.1, 0.05, 0.3, -0.4], [0.2, 0.6, -0.1, 0.15]])
A = X * V
P = avg_pool2d(A, 2)
loss = sum(P * T)
model = Model(loss, lr=0.1, epochs=1)
"""


@pytest.mark.parametrize("how", ["whole", "to-the-maximum"])
def test_average_pool_mistakes_in_values_are_named(tmp_path_factory, how):
    model = load_source(tmp_path_factory, "avg", AVG_POOL)
    x = np.array([[0.1, 0.5, -0.2, 0.3], [0.4, -0.1, 0.2, 0.6], [0.0, 0.3, 0.5, -0.4], [-0.2, 0.1, 0.4, 0.2]])
    v = np.array([[0.2, -0.1, 0.1, 0.3], [0.3, 0.4, -0.2, 0.1], [0.1, 0.05, 0.3, -0.4], [0.2, 0.6, -0.1, 0.15]])
    d_p = np.array([[0.3, -0.2], [0.1, 0.4]])
    right = np.kron(d_p, np.ones((2, 2))) / 4 * x
    np.testing.assert_allclose(right, gradients(model)["V"], atol=1e-15)
    d_a = np.kron(d_p, np.ones((2, 2))) if how == "whole" else routed(x * v, d_p)
    result = grade(Checker(model), model, f"epochs:\n  1:\n    grads: {{V: {matrix_text(d_a * x)}}}\n")
    assert result.first_mistake.diagnosis["code"] == "pool-routing"


def test_a_flattened_delta_put_back_column_by_column_is_named(cnn, cnn_checker):
    truth = torch_steps(cnn, 1)[0]["deltas"]
    written = truth["P"].T  # δ_P[i, j] = δ_flat[2j + i] instead of δ_flat[2i + j]
    assert not np.allclose(written, truth["P"])
    result = grade(cnn_checker, cnn, f"epochs:\n  1:\n    deltas: {{P: {matrix_text(written)}}}\n")
    assert result.first_mistake.diagnosis["code"] == "flatten-order"


# ---------------------------------------------------------------------------------------------------------
# Hostile formulas with the new functions: refused quickly, nothing run, nothing huge built
# ---------------------------------------------------------------------------------------------------------

HOSTILE = [
    "correlate(X, __import__('os'))",
    "pad(X, __class__=1)",
    "rot180(X).__class__",
    "dilate(X, 1000)",
    "dilate(dilate(X, 999), 999)",
    "pad(X, 10**6)",
    f"pad(X, {MAX_SIZE + 1})",
    "pad(X, 1e9)",
    "flatten(pad(X, 60)).T @ flatten(pad(X, 60))",
    "flatten(pad(X, 40)).T * flatten(pad(X, 40))",
    "reshape(X, 1000000000, 0)",
    "spread_avg(D, 1, shape=(1000, 1000))",
    "max_pool2d(X, (1, 1, 1))",
    "max_pool2d(X, 0)",
    "route_max(X, X, 2)",
    "correlate(X, X, stride=(1, 2).T)",
    "(" + "1, " * 100 + "1)",
    "rot180(" * 40 + "X" + ")" * 40,
    "concat(" + "X, " * 200 + "X)",
    "columns(G, 4, 2)",
    "normalize(M, eps=-1)",
    "huber(M, M)",
    "clip(M, 0, 1)",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_formulas_with_the_new_functions_are_refused_fast(text, monkeypatch):
    import builtins

    def refuse(*args, **kwargs):
        raise AssertionError("the text reached eval/exec/compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    started = time.perf_counter()
    with pytest.raises(SolutionError):
        parse_formula(text, S)
    assert time.perf_counter() - started < 0.5


def test_a_hostile_formula_in_a_solution_file_is_an_item_of_its_own(cnn, cnn_checker):
    result = grade(cnn_checker, cnn, 'formulas:\n  K: "dilate(X, 1000)"\n  W: "flatten(P).T @ delta_logits"\n')
    assert [j.status for j in result.items] == ["error", "correct"]
    assert "at most" in result.items[0].reason


# ---------------------------------------------------------------------------------------------------------
# LaTeX: the report's own notation and a hand's, read into the same formulas
# ---------------------------------------------------------------------------------------------------------

MISTAKES_MD = EXAMPLES / "cnn_small_mistakes.md"


def verdicts(result) -> list:
    """Every verdict of a graded file: (epoch, section, name, index, status, diagnosis code), in order."""
    return sorted((j.epoch or 0, j.section, j.name, tuple(j.index or ()), j.status,
                   (j.diagnosis or {}).get("code") or "") for j in result.items)


def test_the_markdown_twin_is_graded_as_the_yaml(cnn, cnn_checker, mistakes):
    """The oracle here is the YAML twin, graded by the YAML path (its numbers held to the hand computation and
    its verdicts item by item above); the line of each item is found by searching the Markdown."""
    from symback.check.solution import load_solution

    solution = load_solution(MISTAKES_MD, cnn)
    assert not solution.errors, [str(e) for e in solution.errors]
    result = cnn_checker.check(solution)
    assert verdicts(result) == verdicts(mistakes[1])
    lines = MISTAKES_MD.read_text().splitlines()
    first = result.first_mistake
    assert lines[first.line - 1].startswith(r"\delta_A^{(1)} &= ")
    formula = next(j for j in result.items if j.section == "formulas" and j.name == "K")
    assert r"\operatorname{spread}_{2}" in lines[formula.line - 1]


def latex_judged(model, checker, latex):
    from symback.check.latex import parse_latex_solution

    solution = parse_latex_solution(f"$$ {latex} $$\n", model)
    assert not solution.errors, [str(e) for e in solution.errors]
    (j,) = [j for j in checker.check(solution).items if j.section == "formulas"]
    return j


def test_the_reports_latex_of_a_cnn_gradient_reads_back_as_correct(cnn, cnn_checker):
    """What the derivation report prints for ∂L/∂K, ∂L/∂W and ∂L/∂b, copied into a hand solution."""
    from symback.numeric.printing import latex, latex_names

    gradients_ = cnn.derive().gradients
    for name, written in (("K", "K"), ("W", "W"), ("b", "b")):
        printed = latex(gradients_[name].closed, latex_names(cnn))
        j = latex_judged(cnn, cnn_checker, rf"\frac{{\partial L}}{{\partial {written}}} = {printed}")
        assert j.status == "correct", (printed, j.reason)
    assert r"\star" in latex(gradients_["K"].closed, latex_names(cnn))


def test_the_reports_latex_through_a_strided_padded_convolution_reads_back(two_convs):
    from symback.numeric.printing import latex, latex_names

    model, checker = two_convs
    for name, written in (("K1", "K_1"), ("K2", "K_2")):
        printed = latex(model.derive().gradients[name].closed, latex_names(model))
        j = latex_judged(model, checker, rf"\frac{{\partial L}}{{\partial {written}}} = {printed}")
        assert j.status == "correct", (printed, j.reason)


@pytest.mark.parametrize(("latex", "twin"), [
    (r"X \star \delta_Z", "correlate(X, delta_Z)"),
    (r"X ⋆ \delta_{Z}", "correlate(X, delta_Z)"),
    (r"\operatorname{rot180}(\operatorname{rot180}(X) \star \operatorname{rot180}(\delta_Z))",
     "rot180(correlate(rot180(X), rot180(delta_Z)))"),
    (r"X \star (\text{step}(Z) \odot \operatorname{route}_{\max}(\delta_P \to A))",
     "correlate(X, step(Z) * route_max(delta_P, A, 2))"),
    (r"X \star (\operatorname{step}(Z) \odot \operatorname{route\_max}(\delta_P, A, 2))",
     "correlate(X, step(Z) * route_max(delta_P, A, 2))"),
    (r"X \star \left(\operatorname{step}(Z) \odot \operatorname{spread}_{2}(\delta_P)\right)",
     "correlate(X, step(Z) * spread_avg(delta_P, 2))"),
    (r"\operatorname{conv2d}(\operatorname{pad}_{1}(X), \operatorname{pad}_{1}(\delta_Z))",
     "correlate(pad(X, 1), pad(delta_Z, 1))"),
    (r"X \star \operatorname{reshape}_{4 \times 4}(\operatorname{flatten}(\delta_Z))", "correlate(X, delta_Z)"),
])
def test_hand_latex_of_convolution_is_graded_as_its_yaml_twin(cnn, cnn_checker, latex, twin):
    j = latex_judged(cnn, cnn_checker, rf"\frac{{\partial L}}{{\partial K}} = {latex}")
    (t_,) = grade(cnn_checker, cnn, f'formulas:\n  K: "{twin}"\n').items
    assert (j.status, (j.diagnosis or {}).get("code")) == (t_.status, (t_.diagnosis or {}).get("code"))


def test_an_underbrace_under_a_correlation_claims_its_shape(cnn, cnn_checker):
    from symback.check.latex import parse_latex_solution

    solution = parse_latex_solution(r"$$ \frac{\partial L}{\partial K} = \underbrace{X}_{5 \times 5} \star "
                                    r"\underbrace{\delta_Z}_{(4 \times 4)} $$" "\n"
                                    r"$$ \frac{\partial L}{\partial W} = \underbrace{\operatorname{flatten}(P)^T}"
                                    r"_{1 \times 4} \delta_{logits} $$" "\n", cnn)
    assert [(c.claimed, c.actual) for c in solution.shapes] == [((5, 5), (5, 5)), ((4, 4), (4, 4)), ((1, 4), (4, 1))]
    result = cnn_checker.check(solution)
    wrong = [j for j in result.items if j.status != "correct"]
    assert [(j.name, j.status, j.diagnosis["code"]) for j in wrong] == [("W", "wrong", "wrong-shape")]
    assert "is marked 1×4, but it is 4×1" in wrong[0].reason
    assert len(result.items) == 5  # two formulas, three shapes


# ---------------------------------------------------------------------------------------------------------
# Every new operation's worksheet formulas, read back and judged equal to the derivation
# ---------------------------------------------------------------------------------------------------------

#: channels (conv2d with a list of kernels, flatten of a list: concat and columns), overlapping max-pool windows
CHANNELS = """\
from symback import Model, conv2d, cross_entropy, data, flatten, max_pool2d, param, relu
X = data([[0.1, 0.5, -0.2, 0.3, 0.0], [0.4, -0.1, 0.2, 0.6, -0.3], [0.0, 0.3, 0.5, -0.4, 0.2],
          [-0.2, 0.1, 0.4, 0.2, 0.1], [0.3, -0.3, 0.0, 0.1, 0.5]])
Y = data([[0, 1]])
K = [param([[0.2, -0.1], [0.3, 0.4]]), param([[-0.1, 0.2], [0.1, 0.3]])]
Z = conv2d(X, [[K[0]], [K[1]]])
A = [relu(z) for z in Z]
P = max_pool2d(A, 2, stride=1)
W = param([[0.1, -0.2]] * 9 + [[0.2, 0.1]] * 9)
logits = flatten(P) @ W
loss = cross_entropy(logits, Y)
model = Model(loss, lr=0.5, epochs=1)
"""
#: a strided convolution whose windows leave a row and a column out (the kernel's gradient crops the input), an
#: average pool of a 1×2 window
LEFTOVER = """\
from symback import Model, avg_pool2d, conv2d, data, flatten, mse, param, relu
X = data([[0.1, 0.5, -0.2, 0.3, 0.0, 0.2], [0.4, -0.1, 0.2, 0.6, -0.3, 0.1], [0.0, 0.3, 0.5, -0.4, 0.2, -0.2],
          [-0.2, 0.1, 0.4, 0.2, 0.1, 0.3], [0.3, -0.3, 0.0, 0.1, 0.5, 0.4], [0.2, 0.1, -0.1, 0.3, 0.2, -0.5]])
K1 = param([[0.2, -0.1, 0.1], [0.3, 0.4, -0.2], [0.1, 0.0, 0.3]])
K3 = param([[0.5, -0.3, 0.1], [0.2, 0.1, 0.0], [0.1, 0.2, -0.2]])
T = data([[0.1, 0.2]])
A1 = relu(conv2d(X, K1, padding=1))
Z2 = conv2d(A1, K3, stride=2)
out = flatten(avg_pool2d(Z2, (1, 2)))
loss = mse(out, T)
model = Model(loss, lr=0.1, epochs=1)
"""
#: layer norm, and the losses whose derivatives are sign (mae), clip (huber) and a step (hinge)
NORMS = """\
from symback import Model, data, param, layer_norm, huber, mae, hinge
X = data([[0.5, -1.0, 0.3], [1.5, 0.5, -0.2]])
W = param([[0.2, -0.3, 0.4], [0.1, 0.5, -0.2], [0.3, 0.1, 0.1]])
g = param([[1.0, 0.9, 1.1]])
b = param([[0.0, 0.1, 0.0]])
T = data([[0.2, 0.1, 1.5], [0.0, -0.4, 0.3]])
S = data([[1, -1, 1], [-1, 1, 1]])
H = layer_norm(X @ W, g, b)
loss = huber(H, T, delta=0.5) + mae(H, T) + hinge(H, S)
model = Model(loss, lr=0.1, epochs=1)
"""
MODELS = {"channels": CHANNELS, "leftover": LEFTOVER, "norms": NORMS, "two_convs": TWO_CONVS}


@pytest.mark.parametrize("name", [*MODELS, "batchnorm_mlp"])
def test_every_worksheet_formula_of_the_new_operations_is_read_and_proven_equal(tmp_path_factory, name):
    model = symback.load(EXAMPLES / f"{name}.py") if name not in MODELS else load_source(tmp_path_factory, name,
                                                                                          MODELS[name])
    answers = ws.solution_yaml(model, model.train(), True, f"{name}.py")
    formulas = "formulas:\n" + answers.split("\nformulas:\n")[1]  # the formulas alone: what this test is about
    result = Checker(model).check(parse_solution(formulas, model))
    judged = [j for j in result.items if j.section == "formulas"]
    assert len(judged) == len(model.trainable)
    assert all(j.status == "correct" and j.reason == "equal exactly (SymPy)" for j in judged), \
        [(j.name, j.written, j.reason) for j in judged]
