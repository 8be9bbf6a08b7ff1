"""Variants of the issue's cases on other models: softmax with cross-entropy, samples, several epochs.

The true and the mistaken numbers are computed here with NumPy or PyTorch, never by symback.
"""

import numpy as np
import pytest
import torch

import symback
from symback.check.grade import Checker
from symback.check.solution import parse_solution

CE_MODEL = """\
from symback import Model, param, data, cross_entropy
X = data([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
Y = data([[1, 0], [0, 1], [1, 0]])
W = param([[0.1, -0.2], [0.3, 0.4]])
logits = X @ W
loss = cross_entropy(logits, Y)
model = Model(loss, lr=0.5, epochs=1)
"""
X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
Y = np.array([[1, 0], [0, 1], [1, 0]], dtype=float)
W = np.array([[0.1, -0.2], [0.3, 0.4]])


def load(tmp_path, source, name="m.py"):
    (tmp_path / name).write_text(source)
    return symback.load(tmp_path / name)


def grade(model, text):
    return Checker(model).check(parse_solution(text, model, file="s.yaml"))


def rows(m) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.6f}" for v in r) + "]" for r in np.atleast_2d(m)) + "]"


def softmax_ce():
    Wt = torch.tensor(W, requires_grad=True)
    logits = torch.tensor(X) @ Wt
    torch.nn.functional.cross_entropy(logits, torch.tensor(Y).argmax(1)).backward()
    S = torch.softmax(logits, 1).detach().numpy()
    return Wt.grad.numpy(), S


@pytest.mark.parametrize("through", ["grads", "updated"])
@pytest.mark.parametrize(("mistake", "code"), [("twice", "derivative-twice"), ("no-batch", "missing-batch-factor")])
def test_softmax_cross_entropy_mistakes(tmp_path, mistake, code, through):
    grad, S = softmax_ce()
    assert grad == pytest.approx(X.T @ ((S - Y) / 3))  # the combined form, by hand
    wrong = X.T @ ((S - Y) / 3 * S * (1 - S)) if mistake == "twice" else X.T @ (S - Y)
    written = wrong if through == "grads" else W - 0.5 * wrong
    model = load(tmp_path, CE_MODEL)
    r = grade(model, f"epochs:\n  1:\n    {through}: {{W: {rows(written)}}}\n")
    assert [j.status for j in r.items] == ["wrong"] * 4
    assert {j.diagnosis["code"] for j in r.items} == {code}
    truth = grad if through == "grads" else W - 0.5 * grad
    assert [j.expected for j in r.items] == pytest.approx(truth.ravel(), rel=1e-12)
    right = grade(model, f"epochs:\n  1:\n    {through}: {{W: {rows(truth)}}}\n")
    assert right.verdict == "correct"


SAMPLES_MODEL = """\
from symback import Model, param, samples, sigmoid
x = samples([[[1.0], [2.0]], [[-1.0], [0.5]]])
y = samples([1.0, 0.0])
w = param([[0.3, -0.2]])
a = sigmoid(w @ x)
loss = (a - y) ** 2 / 2
model = Model(loss, lr=0.5, epochs=3)
"""


def sgd_by_hand(steps=6, lr=0.5, stale_sample_at=None):
    xs, ys = [np.array([[1.0], [2.0]]), np.array([[-1.0], [0.5]])], [1.0, 0.0]
    w = np.array([[0.3, -0.2]])
    out = []
    for k in range(steps):
        s = k % 2
        data = s - 1 if k == stale_sample_at else s
        a = 1 / (1 + np.exp(-(w @ xs[data])[0, 0]))
        g = (a - ys[data]) * a * (1 - a) * xs[data].T
        w = w - lr * g
        out.append((a, g, w.copy()))
    return out


def test_per_sample_steps_every_one_judged_and_a_stale_sample(tmp_path):
    model = load(tmp_path, SAMPLES_MODEL)
    right = sgd_by_hand()
    text = "epochs:\n" + "".join(
        f'  "{k // 2 + 1}.{k % 2 + 1}": {{forward: {{a: {a:.6f}}}, updated: {{w: {rows(w)}}}}}\n'
        for k, (a, g, w) in enumerate(right))
    r = grade(model, text)
    assert r.verdict == "correct" and len(r.items) == 6 * 3
    assert [j.expected for j in r.items if j.section == "forward"] == pytest.approx([a for a, _, _ in right])
    # sample 2 of epoch 2 computed with sample 1's data: its forward value is stale-sample
    stale = sgd_by_hand(stale_sample_at=3)
    a = stale[3][0]
    r = grade(model, f'epochs:\n  "2.2": {{forward: {{a: {a:.6f}}}}}\n')
    (j,) = r.items
    assert j.label() == "epoch 2.2 forward a" and j.status == "wrong" and j.diagnosis["code"] == "stale-sample"


MOMENTUM_MODEL = """\
from symback import Model, param, data, tanh
x = data([[1.0, -2.0]])
w = param([[0.5], [0.25]])
h = tanh(x @ w)
loss = (h - 0.5) ** 2 / 2
model = Model(loss, lr=0.3, epochs=3, optimizer="momentum", beta=0.8)
"""


def test_three_epochs_of_a_momentum_mistake_count_once(tmp_path):
    model = load(tmp_path, MOMENTUM_MODEL)
    x = np.array([[1.0, -2.0]])
    w, buf, lines = np.array([[0.5], [0.25]]), None, []
    wt = torch.tensor([[0.5], [0.25]], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([wt], lr=0.3, momentum=0.8)
    for epoch in range(1, 4):
        h = np.tanh(x @ w)[0, 0]
        g = (h - 0.5) * (1 - h * h) * x.T
        buf = 0.2 * g if buf is None else 0.8 * buf + 0.2 * g  # the moving average
        w = w - 0.3 * buf
        lines.append(f"  {epoch}: {{grads: {{w: {rows(g.T)[1:-1]}}}, updated: {{w: {rows(w.T)[1:-1]}}}}}\n")
        optimizer.zero_grad()
        ((torch.tanh(torch.tensor(x) @ wt) - 0.5) ** 2 / 2).sum().backward()
        optimizer.step()
    r = grade(model, "epochs:\n" + "".join(lines))  # w is a column: written as a flat list
    statuses = [(j.label(), j.status) for j in r.items]
    assert statuses[:4] == [("epoch 1 grads w[1]", "correct"), ("epoch 1 grads w[2]", "correct"),
                            ("epoch 1 updated w[1]", "wrong"), ("epoch 1 updated w[2]", "wrong")]
    assert all(s == "carried" for _, s in statuses[4:]), statuses
    assert [g[0].diagnosis["code"] for g in r.mistake_groups()] == ["momentum-convention"]
    assert r.items[-1].expected == pytest.approx(wt.detach().numpy()[1, 0], rel=1e-12)


def test_an_exact_zero_written_as_0_is_right(tmp_path):
    # relu of a negative argument: h = 0 exactly, and so is every gradient that passes through it
    model = load(tmp_path, "from symback import Model, param, data, relu\nx = data(1)\nw = param(-0.5)\n"
                           "h = relu(w * x)\nloss = (h - 1) ** 2 / 2\nmodel = Model(loss, lr=0.1, epochs=1)\n")
    r = grade(model, "epochs: {1: {forward: {h: 0, loss: 0.5}, grads: {w: 0}, updated: {w: -0.5}}}\n")
    assert r.verdict == "correct" and {j.rule for j in r.items} == {"exact"}
    r = grade(model, "epochs: {1: {forward: {h: 0.0001}}}\n")
    assert r.items[0].status == "wrong"


def test_momentum_forgotten_for_five_epochs_is_one_mistake(tmp_path):
    # plain gradient descent where the exercise uses momentum: the second step is the first that differs
    model = load(tmp_path, MOMENTUM_MODEL.replace("epochs=3", "epochs=5"))
    x, w, lines = np.array([[1.0, -2.0]]), np.array([[0.5], [0.25]]), []
    for epoch in range(1, 6):
        h = np.tanh(x @ w)[0, 0]
        g = (h - 0.5) * (1 - h * h) * x.T
        w = w - 0.3 * g
        lines.append(f"  {epoch}: {{grads: {{w: {rows(g.T)[1:-1]}}}, updated: {{w: {rows(w.T)[1:-1]}}}}}\n")
    r = grade(model, "epochs:\n" + "".join(lines))
    assert [g[0].label() for g in r.mistake_groups()] == ["epoch 2 updated w[1]"]
    assert r.mistake_groups()[0][0].diagnosis["code"] == "optimizer-left-out"
    assert "momentum (β = 0.8)" in r.mistake_groups()[0][0].diagnosis["message"]
    assert r.counts == {"correct": 6, "imprecise": 0, "carried": 12, "wrong": 2, "error": 0}


def test_a_stale_sample_is_found_through_the_update_alone(tmp_path):
    model = load(tmp_path, SAMPLES_MODEL)
    stale = sgd_by_hand(stale_sample_at=1)
    r = grade(model, f'epochs:\n  "1.2": {{updated: {{w: {rows(stale[1][2])}}}}}\n')
    assert [j.status for j in r.items] == ["wrong", "wrong"]
    assert {j.diagnosis["code"] for j in r.items} == {"stale-sample"}
