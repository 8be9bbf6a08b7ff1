"""The diagnosis catalogue, code by code, on tiny models.

Every number written in a solution here comes from an independent hand computation in this
file (plain ``math`` and NumPy float64 formulas of the forward pass, the chain rule and the
optimizers), never from symback: the true values, and the value a student makes with one
catalogued mistake.  Each mistake is written once through the gradient (``grads``; the update
computed from it must then be ``carried``) and, where it is a gradient mistake, once through the
update alone (the checker has to find it through the gradient the update implies).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import symback
from symback.check.grade import Checker
from symback.check.solution import parse_solution

X, Y_TARGET, LR = 1.5, 0.2, 0.1  # the scalar models: h = f(w x), loss = (h − 0.2)²/2, η = 0.1


def approx(v):
    return pytest.approx(v, rel=1e-9, abs=1e-12)


def sigma(v):
    return 1 / (1 + math.exp(-v))


# -- the models -----------------------------------------------------------------------------------------
#: per activation: (symback call, w0, f, f′ at its argument). relu′(0) = 0 (the model's default)
ACTIVATIONS = {
    "tanh": ("tanh(w * x)", 0.4, math.tanh, lambda v: 1 - math.tanh(v) ** 2),
    "sigmoid": ("sigmoid(w * x)", 0.4, sigma, lambda v: sigma(v) * (1 - sigma(v))),
    # a relu at a positive argument has derivative 1: leaving it out changes nothing, so a negative one
    "relu": ("relu(w * x)", -0.4, lambda v: max(v, 0.0), lambda v: 1.0 if v > 0 else 0.0),
    "leaky_relu": ("leaky_relu(w * x, 0.1)", -0.4, lambda v: v if v > 0 else 0.1 * v,
                   lambda v: 1.0 if v > 0 else 0.1),
    "exp": ("exp(w * x)", 0.4, math.exp, math.exp),
    "log": ("log(w * x)", 0.4, math.log, lambda v: 1 / v),
    "softplus": ("softplus(w * x)", 0.4, lambda v: math.log1p(math.exp(v)), sigma),
}

HEADER = ("from symback import Model, param, data, tanh, sigmoid, relu, leaky_relu, exp, log, softplus, mean, "
          "binary_cross_entropy\n")


def scalar_source(call, w0, options="lr=0.1, epochs=1"):
    return HEADER + f"x = data(1.5)\nw = param({w0})\nh = {call}\nloss = (h - 0.2) ** 2 / 2\n" \
                    f"model = Model(loss, {options})\n"


def named_source(fn):
    return HEADER + f"x = data(1.5)\nw = param(0.4)\nu = w * x\nh = {fn}(u)\nloss = (h - 0.2) ** 2 / 2\n" \
                    "model = Model(loss, lr=0.1, epochs=1)\n"


def scalar_oracle(act, factor=None):
    """One step of h = f(w x), loss = (h − 0.2)²/2 by hand; ``factor(u, h)`` replaces f′(u) (a mistake)."""
    _, _, f, df = ACTIVATIONS[act]

    def step(p):
        w = p["w"]
        u = w * X
        h = f(u)
        d_h = h - Y_TARGET
        d = df(u) if factor is None else factor(u, h)
        return {"h": h, "loss": d_h ** 2 / 2}, {"h": d_h}, {"w": d_h * d * X + 0.0}
    return step


def named_oracle(fn, factor=None):
    f, df = (math.tanh, lambda u, h: 1 - h * h) if fn == "tanh" else (sigma, lambda u, h: h * (1 - h))

    def step(p):
        u = p["w"] * X
        h = f(u)
        d_h = h - Y_TARGET
        d_u = d_h * (df if factor is None else factor)(u, h)
        return {"u": u, "h": h, "loss": d_h ** 2 / 2}, {"h": d_h, "u": d_u}, {"w": d_u * X}
    return step


BCE_SOURCE = HEADER + """\
x = data(1.5)
y = data(1)
w = param(0.4)
a = sigmoid(w * x)
loss = binary_cross_entropy(a, y)
model = Model(loss, lr=0.1, epochs=1)
"""


def bce_oracle(twice=False):
    def step(p):
        a = sigma(p["w"] * X)
        grad = (a - 1) * X * (a * (1 - a) if twice else 1)
        return {"a": a, "loss": -math.log(a)}, {"a": -1 / a}, {"w": grad}
    return step


COLLAPSED_SOURCE = """\
from symback import Model, param, data, tanh
x = data([[1], [2]])
W = param([[0.3, -0.2], [0.1, 0.4]])
v = param([[0.5], [-0.3]])
h = tanh(x.T @ W)
out = h @ v
loss = (out - 1) ** 2 / 2
model = Model(loss, lr=0.1, epochs=1)
"""
COLLAPSED_P0 = {"W": np.array([[0.3, -0.2], [0.1, 0.4]]), "v": np.array([[0.5], [-0.3]])}


def collapsed_oracle(collapsed=False):
    x = np.array([[1.0], [2.0]])

    def step(p):
        W, v = p["W"], p["v"]
        h = np.tanh(x.T @ W)  # 1x2
        out = float((h @ v)[0, 0])
        d_out = out - 1
        d_h = d_out * v.T  # 1x2
        factor = 1 - float((h @ h.T)[0, 0]) if collapsed else 1 - h * h  # 1 − h·hᵀ: one number
        d_u = d_h * factor
        return ({"h": h, "out": out, "loss": d_out ** 2 / 2}, {"h": d_h, "out": d_out},
                {"W": x @ d_u, "v": d_out * h.T})
    return step


BATCH_SOURCE = """\
from symback import Model, param, data, mean
X = data([[1, 2], [0.5, -1], [2, 1]])
Y = data([[1], [0], [2]])
w = param([[0.3], [-0.2]])
out = X @ w
loss = mean((out - Y) ** 2) / 2
model = Model(loss, lr=0.1, epochs=1)
"""
BATCH_P0 = {"w": np.array([[0.3], [-0.2]])}


def batch_oracle(scale=1.0):
    Xd = np.array([[1, 2], [0.5, -1], [2, 1]], dtype=float)
    Yd = np.array([[1.0], [0.0], [2.0]])

    def step(p):
        out = Xd @ p["w"]
        r = out - Yd
        return {"out": out, "loss": float(np.mean(r ** 2)) / 2}, {"out": r / 3}, {"w": scale * Xd.T @ r / 3}
    return step


TWO_SOURCE = HEADER + """\
x = data(1.5)
a = param(0.4)
b = param(-0.3)
h = tanh(a * x + b)
loss = (h - 0.2) ** 2 / 2
model = Model(loss, lr=0.1, epochs=1)
"""


def two_oracle(p):
    h = math.tanh(p["a"] * X + p["b"])
    d_h = h - Y_TARGET
    d_u = d_h * (1 - h * h)
    return {"h": h, "loss": d_h ** 2 / 2}, {"h": d_h}, {"a": d_u * X, "b": d_u}


#: relu(z) with z = w x + v exactly 0 (x = 2, w = 0.2, v = −0.4); the exercise takes relu′(0) = 1
RELU_KINK_SOURCE = """\
from symback import Model, param, data, relu
x = data(2)
w = param(0.2)
v = param(-0.4)
z = w * x + v
out = relu(z) + w
loss = (out - 1) ** 2 / 2
model = Model(loss, lr=0.1, epochs=1, relu_grad_at_zero=1)
"""


def relu_kink_oracle(convention=1.0):
    def step(p):
        z = p["w"] * 2 + p["v"]
        r = 1.0 if z > 0 else (convention if z == 0 else 0.0)
        out = max(z, 0.0) + p["w"]
        d_out = out - 1
        d_z = d_out * r
        return {"z": z, "out": out, "loss": d_out ** 2 / 2}, {"out": d_out, "z": d_z}, \
            {"w": d_z * 2 + d_out, "v": d_z + 0.0}
    return step


# -- the optimizers, by hand --------------------------------------------------------------------------------
def sgd(p, g, s, lr=LR):
    return {k: p[k] - lr * g[k] for k in p}, s


def momentum(p, g, s, lr=LR, beta=0.9, moving_average=False):
    """PyTorch's SGD with momentum: b ← βb + g (first b = g); the mistake: b ← βb + (1 − β)g."""
    buf = {}
    for k in p:
        new = (1 - beta) * g[k] if moving_average else g[k]
        buf[k] = new if k not in s else beta * s[k] + new
    return {k: p[k] - lr * buf[k] for k in p}, buf


def adam(p, g, s, lr=LR, b1=0.9, b2=0.999, eps=1e-8, corrected=True):
    t = s.get("t", 0) + 1
    out, state = {}, {"t": t}
    for k in p:
        m = b1 * s.get(("m", k), 0.0) + (1 - b1) * g[k]
        v = b2 * s.get(("v", k), 0.0) + (1 - b2) * g[k] ** 2
        state[("m", k)], state[("v", k)] = m, v
        if corrected:
            out[k] = p[k] - lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
        else:
            out[k] = p[k] - lr * m / (math.sqrt(v) + eps)
    return out, state


def train(step, p0, epochs=1, optimizer=sgd):
    """The per-epoch values {"forward", "deltas", "grads", "updated"} of a hand computation."""
    p, s, out = dict(p0), {}, []
    for _ in range(epochs):
        f, d, g = step(p)
        new, s = optimizer(p, g, s)
        out.append({"forward": f, "deltas": d, "grads": g, "updated": new})
        p = new
    return out


# -- solutions and grading ------------------------------------------------------------------------------------
def text(v) -> str:
    """A value as a student writes it: 6 decimals (a string is written as it is)."""
    if isinstance(v, str):
        return v
    a = np.asarray(v, dtype=float)
    if a.size == 1:
        return f"{float(a.reshape(-1)[0]) + 0.0:.6f}"
    return "[" + ", ".join("[" + ", ".join(f"{float(e) + 0.0:.6f}" for e in row) + "]" for row in a) + "]"


def written(v) -> float | np.ndarray:
    """The value as it reads once written (rounded to 6 decimals): what a student computes on with."""
    if isinstance(v, (int, float)):
        return float(text(v))
    return np.round(np.asarray(v, dtype=float), 6)


def as_yaml(epochs: dict) -> str:
    lines = ["epochs:"]
    for k in sorted(epochs):
        lines.append(f"  {k}:")
        for section in ("forward", "deltas", "grads", "updated"):
            values = epochs[k].get(section)
            if values:
                lines.append(f"    {section}:")
                lines += [f"      {name}: {text(v)}" for name, v in values.items()]
    return "\n".join(lines) + "\n"


_MODELS: dict = {}


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    """Model source → (model, checker), compiled once per module."""
    def get(source):
        if source not in _MODELS:
            path = tmp_path_factory.mktemp("model") / "model.py"
            path.write_text(source)
            model = symback.load(path)
            _MODELS[source] = (model, Checker(model))
        return _MODELS[source]
    return get


def grade(load, source, epochs):
    model, checker = load(source)
    return checker.check(parse_solution(as_yaml(epochs), model, file="s.yaml"))


def at(result, epoch, section, name, index=(0, 0)):
    return next(j for j in result.items if (j.epoch, j.section, j.name, tuple(j.index)) == (epoch, section, name,
                                                                                          tuple(index)))


def describe(result) -> str:
    return "\n".join(f"{j.label()}: {j.status} {j.diagnosis and j.diagnosis['code']} {j.reason or ''}"
                     for j in result.items)


def assert_wrong(j, code, expected, result=None):
    assert j.status == "wrong", describe(result) if result else j
    assert j.diagnosis is not None and j.diagnosis["code"] == code, (j.diagnosis, j.reason)
    assert j.diagnosis["message"]
    assert j.expected == approx(expected)


def assert_correct(j, expected):
    assert j.status == "correct" and j.diagnosis is None, (j.label(), j.status, j.reason)
    assert j.expected == approx(expected)


def assert_carried(j, expected, sources):
    assert j.status == "carried", (j.label(), j.status, j.diagnosis, j.reason)
    assert j.carried_from == sources
    assert j.expected == approx(expected)


def entries(shape):
    return [(i, k) for i in range(shape[0]) for k in range(shape[1])]


# -- 1. an activation's derivative: left out, applied twice, taken at the output ----------------------------
MISTAKEN_FACTORS = {
    "derivative-left-out": lambda df, u, h: 1.0,
    "derivative-twice": lambda df, u, h: df(u) ** 2,
    "derivative-at-output": lambda df, u, h: df(h),
}


def _differs(act, code) -> bool:
    _, w0, f, df = ACTIVATIONS[act]
    u = w0 * X
    return abs(MISTAKEN_FACTORS[code](df, u, f(u)) - df(u)) > 1e-3


DERIVATIVE_CASES = [(act, code) for act in ACTIVATIONS for code in MISTAKEN_FACTORS if _differs(act, code)]


def activation_case(act, code):
    call, w0, f, df = ACTIVATIONS[act]
    true = train(scalar_oracle(act), {"w": w0})[0]
    wrong = scalar_oracle(act, lambda u, h: MISTAKEN_FACTORS[code](df, u, h))({"w": w0})[2]["w"]
    assert abs(wrong - true["grads"]["w"]) > 1e-3  # the mistake shows at 6 decimals
    return scalar_source(call, w0), w0, true, wrong


def test_the_derivative_cases_cover_every_activation():
    assert {a for a, c in DERIVATIVE_CASES if c == "derivative-left-out"} == set(ACTIVATIONS)
    # relu′ and leaky_relu′ at the output have the argument's sign: the same value; step² = step
    assert ("relu", "derivative-twice") not in DERIVATIVE_CASES
    assert ("leaky_relu", "derivative-twice") in DERIVATIVE_CASES
    assert len(DERIVATIVE_CASES) == 18


@pytest.mark.parametrize(("act", "code"), DERIVATIVE_CASES)
def test_derivative_mistake_through_the_gradient(load, act, code):
    source, w0, true, wrong = activation_case(act, code)
    updated = w0 - LR * written(wrong)
    result = grade(load, source, {1: {"forward": {"h": true["forward"]["h"]}, "deltas": {"h": true["deltas"]["h"]},
                                      "grads": {"w": wrong}, "updated": {"w": updated}}})
    assert_correct(at(result, 1, "forward", "h"), true["forward"]["h"])
    assert_correct(at(result, 1, "deltas", "h"), true["deltas"]["h"])
    assert_wrong(at(result, 1, "grads", "w"), code, true["grads"]["w"], result)
    assert_carried(at(result, 1, "updated", "w"), true["updated"]["w"], ["epoch 1 grads w"])
    assert result.verdict == "mistakes" and len(result.mistakes) == 1


@pytest.mark.parametrize(("act", "code"), DERIVATIVE_CASES)
def test_derivative_mistake_through_the_update_alone(load, act, code):
    source, w0, true, wrong = activation_case(act, code)
    result = grade(load, source, {1: {"updated": {"w": w0 - LR * wrong}}})
    assert len(result.items) == 1
    assert_wrong(result.items[0], code, true["updated"]["w"], result)


@pytest.mark.parametrize("via", ["grads", "updated"])
def test_sigmoid_then_binary_cross_entropy_derivative_twice(load, via):
    # the combined derivative is (a − y) x; with σ′ once more: (a − y) a(1 − a) x
    true = train(bce_oracle(), {"w": 0.4})[0]
    wrong = bce_oracle(twice=True)({"w": 0.4})[2]["w"]
    values = {"grads": {"w": wrong}, "updated": {"w": 0.4 - LR * written(wrong)}} if via == "grads" else \
        {"updated": {"w": 0.4 - LR * wrong}}
    result = grade(load, BCE_SOURCE, {1: {"forward": {"a": true["forward"]["a"]}, **values}})
    assert_correct(at(result, 1, "forward", "a"), true["forward"]["a"])
    assert_wrong(at(result, 1, via, "w"), "derivative-twice", true[via]["w"], result)
    if via == "grads":
        assert_carried(at(result, 1, "updated", "w"), true["updated"]["w"], ["epoch 1 grads w"])


# -- 2. the wrong function's derivative; pre- and post-activation confused ----------------------------------
NAMED_CASES = [
    ("tanh", "wrong-activation-derivative", lambda u, h: h * (1 - h)),  # σ′'s form h(1 − h)
    ("sigmoid", "wrong-activation-derivative", lambda u, h: 1 - h * h),  # tanh′'s form 1 − a²
    ("tanh", "pre-post-activation", lambda u, h: 1 - u * u),  # the output form on the input u
    ("sigmoid", "pre-post-activation", lambda u, h: u * (1 - u)),
]


@pytest.mark.parametrize("via", ["grads", "updated"])
@pytest.mark.parametrize(("fn", "code", "factor"), NAMED_CASES)
def test_named_pre_activation_derivative_mistakes(load, fn, code, factor, via):
    true = train(named_oracle(fn), {"w": 0.4})[0]
    wrong = named_oracle(fn, factor)({"w": 0.4})[2]["w"]
    assert abs(wrong - true["grads"]["w"]) > 1e-3
    forward = {"u": true["forward"]["u"], "h": true["forward"]["h"]}
    if via == "grads":
        values = {"forward": forward, "grads": {"w": wrong}, "updated": {"w": 0.4 - LR * written(wrong)}}
    else:
        values = {"forward": forward, "updated": {"w": 0.4 - LR * wrong}}
    result = grade(load, named_source(fn), {1: values})
    assert_correct(at(result, 1, "forward", "u"), true["forward"]["u"])
    assert_correct(at(result, 1, "forward", "h"), true["forward"]["h"])
    assert_wrong(at(result, 1, via, "w"), code, true[via]["w"], result)
    if via == "grads":
        assert_carried(at(result, 1, "updated", "w"), true["updated"]["w"], ["epoch 1 grads w"])


@pytest.mark.parametrize("fn", ["tanh", "sigmoid"])
def test_activation_not_applied_in_the_forward_pass(load, fn):
    true = train(named_oracle(fn), {"w": 0.4})[0]
    u = true["forward"]["u"]
    result = grade(load, named_source(fn), {1: {"forward": {"u": u, "h": u, "loss": (u - Y_TARGET) ** 2 / 2}}})
    assert_correct(at(result, 1, "forward", "u"), u)
    assert_wrong(at(result, 1, "forward", "h"), "pre-post-activation", true["forward"]["h"], result)
    assert_carried(at(result, 1, "forward", "loss"), true["forward"]["loss"], ["epoch 1 forward h"])


# -- 3. an elementwise factor collapsed into one number ----------------------------------------------------
@pytest.mark.parametrize("via", ["grads", "updated"])
def test_collapsed_elementwise_on_a_row(load, via):
    true = train(collapsed_oracle(), COLLAPSED_P0)[0]
    wrong = collapsed_oracle(collapsed=True)(COLLAPSED_P0)[2]["W"]
    assert np.all(np.abs(wrong - true["grads"]["W"]) > 1e-3)
    forward = {"h": true["forward"]["h"], "out": true["forward"]["out"]}
    if via == "grads":
        values = {"forward": forward, "grads": {"W": wrong},
                  "updated": {"W": COLLAPSED_P0["W"] - LR * written(wrong)}}
    else:
        values = {"forward": forward, "updated": {"W": COLLAPSED_P0["W"] - LR * wrong}}
    result = grade(load, COLLAPSED_SOURCE, {1: values})
    for index in [(0, 0), (0, 1)]:
        assert_correct(at(result, 1, "forward", "h", index), true["forward"]["h"][index])
    assert_correct(at(result, 1, "forward", "out"), true["forward"]["out"])
    for index in entries((2, 2)):
        assert_wrong(at(result, 1, via, "W", index), "collapsed-elementwise", true[via]["W"][index], result)
        if via == "grads":
            label = f"epoch 1 grads W[{index[0] + 1}, {index[1] + 1}]"
            assert_carried(at(result, 1, "updated", "W", index), true["updated"]["W"][index], [label])


# -- 4. scale factors, the update, the optimizers, relu′(0), stale parameters ------------------------------
TANH_SOURCE = scalar_source("tanh(w * x)", 0.4)
TANH = scalar_oracle("tanh")


def gradient_and_update_case(load, source, p0, step, scale, via, code, name="w"):
    """A gradient scaled by ``scale`` (every δ and gradient of the model the same way)."""
    true = train(step, p0)[0]
    wrong = scale * true["grads"][name]
    if via == "grads":
        values = {"grads": {name: wrong}, "updated": {name: p0[name] - LR * written(wrong)}}
    else:
        values = {"updated": {name: p0[name] - LR * wrong}}
    result = grade(load, source, {1: values})
    shape = np.shape(np.atleast_2d(true["grads"][name]))
    for index in entries(shape):
        assert_wrong(at(result, 1, via, name, index), code, np.atleast_2d(true[via][name])[index], result)
        if via == "grads":
            label = f"epoch 1 grads {name}" if shape == (1, 1) else f"epoch 1 grads {name}[{index[0] + 1}]"
            assert_carried(at(result, 1, "updated", name, index), np.atleast_2d(true["updated"][name])[index], [label])
    return result


@pytest.mark.parametrize("via", ["grads", "updated"])
@pytest.mark.parametrize("scale", [2.0, 0.5])
def test_missing_half(load, scale, via):
    gradient_and_update_case(load, TANH_SOURCE, {"w": 0.4}, TANH, scale, via, "missing-half")


@pytest.mark.parametrize("via", ["grads", "updated"])
@pytest.mark.parametrize("scale", [3.0, 1 / 3])
def test_missing_batch_factor(load, scale, via):
    # N = 3 rows: the sum instead of the mean (×3), or 1/3 once more
    result = gradient_and_update_case(load, BATCH_SOURCE, BATCH_P0, batch_oracle(), scale, via, "missing-batch-factor")
    assert "N = 3" in result.first_mistake.diagnosis["detail"]


def test_update_sign(load):
    true = train(TANH, {"w": 0.4})[0]
    g = true["grads"]["w"]
    result = grade(load, TANH_SOURCE, {1: {"grads": {"w": g}, "updated": {"w": 0.4 + LR * written(g)}}})
    assert_correct(at(result, 1, "grads", "w"), g)
    assert_wrong(at(result, 1, "updated", "w"), "update-sign", true["updated"]["w"], result)


LR_SOURCE = scalar_source("tanh(w * x)", 0.4, "lr=0.05, epochs=1")  # η = 1 and 10η differ


@pytest.mark.parametrize(("rate", "detail"), [(1.0, "η = 1"), (0.5, "10 η")])
def test_learning_rate(load, rate, detail):
    f, _, g = TANH({"w": 0.4})
    result = grade(load, LR_SOURCE, {1: {"grads": {"w": g["w"]}, "updated": {"w": 0.4 - rate * written(g["w"])}}})
    assert_correct(at(result, 1, "grads", "w"), g["w"])
    j = at(result, 1, "updated", "w")
    assert_wrong(j, "learning-rate", 0.4 - 0.05 * g["w"], result)
    assert detail in j.diagnosis["detail"]


@pytest.mark.parametrize("how", ["started from b", "used the gradient of b"])
def test_update_other_parameter(load, how):
    p0 = {"a": 0.4, "b": -0.3}
    true = train(two_oracle, p0)[0]
    g = true["grads"]
    a1 = p0["b"] - LR * written(g["a"]) if how == "started from b" else p0["a"] - LR * written(g["b"])
    result = grade(load, TWO_SOURCE, {1: {"grads": dict(g), "updated": {"a": a1, "b": true["updated"]["b"]}}})
    assert_correct(at(result, 1, "grads", "a"), g["a"])
    assert_correct(at(result, 1, "grads", "b"), g["b"])
    assert_wrong(at(result, 1, "updated", "a"), "update-other-parameter", true["updated"]["a"], result)
    assert_correct(at(result, 1, "updated", "b"), true["updated"]["b"])


def test_update_not_applied(load):
    true = train(TANH, {"w": 0.4})[0]
    result = grade(load, TANH_SOURCE, {1: {"grads": {"w": true["grads"]["w"]}, "updated": {"w": 0.4}}})
    assert_correct(at(result, 1, "grads", "w"), true["grads"]["w"])
    assert_wrong(at(result, 1, "updated", "w"), "update-not-applied", true["updated"]["w"], result)


MOMENTUM_SOURCE = scalar_source("tanh(w * x)", 0.4, 'lr=0.1, epochs=2, optimizer="momentum", beta=0.9')


def momentum_student(rounded: bool, sections=("forward", "grads", "updated")):
    """Two epochs of the moving-average student: b1 = (1 − β) g1, b2 = β b1 + (1 − β) g2, each step on
    their own parameters.  ``rounded``: every value is rounded to its 6 written decimals before the
    student computes on with it (by hand); otherwise the calculator keeps every digit."""
    keep = written if rounded else (lambda v: v)
    p, buf, mine = {"w": 0.4}, None, []
    for _ in range(2):
        f, _, g = TANH(p)
        h, g = keep(f["h"]), keep(g["w"])
        buf = keep(0.1 * g if buf is None else 0.9 * buf + 0.1 * g)
        new = keep(p["w"] - LR * buf)
        mine.append({k: v for k, v in {"forward": {"h": h}, "grads": {"w": g}, "updated": {"w": new}}.items()
                     if k in sections})
        p = {"w": new}
    return {1: mine[0], 2: mine[1]}


def test_momentum_convention_then_the_next_forward_pass_carried(load):
    true = train(TANH, {"w": 0.4}, epochs=2, optimizer=momentum)
    solution = momentum_student(rounded=False)
    del solution[2]["updated"]
    result = grade(load, MOMENTUM_SOURCE, solution)
    assert_correct(at(result, 1, "forward", "h"), true[0]["forward"]["h"])
    assert_correct(at(result, 1, "grads", "w"), true[0]["grads"]["w"])
    assert_wrong(at(result, 1, "updated", "w"), "momentum-convention", true[0]["updated"]["w"], result)
    assert_carried(at(result, 2, "forward", "h"), true[1]["forward"]["h"], ["epoch 1 updated w"])
    assert_carried(at(result, 2, "grads", "w"), true[1]["grads"]["w"], ["epoch 2 forward h"])
    assert len(result.mistakes) == 1


def _momentum_epoch_2_carried(load, solution):
    true = train(TANH, {"w": 0.4}, epochs=2, optimizer=momentum)
    result = grade(load, MOMENTUM_SOURCE, solution)
    assert_wrong(at(result, 1, "updated", "w"), "momentum-convention", true[0]["updated"]["w"], result)
    j = at(result, 2, "updated", "w")
    assert j.status == "carried", describe(result)  # the same convention again: not a second mistake
    assert j.expected == approx(true[1]["updated"]["w"])
    assert len(result.mistakes) == 1


@pytest.mark.parametrize("sections", [("forward", "grads", "updated"), ("updated",)], ids=["all", "updates-alone"])
def test_momentum_convention_again_in_epoch_2_is_carried(load, sections):
    _momentum_epoch_2_carried(load, momentum_student(rounded=True, sections=sections))


# the buffer symback infers from a written update, b = (w0 − w1)/η, carries that update's rounding (×β) into
# the next step: the widening follows it (without it, 0.389588 missed by 1.25e-6 and was called 'arithmetic')
@pytest.mark.parametrize("sections", [("forward", "grads", "updated"), ("updated",)], ids=["all", "updates-alone"])
def test_momentum_convention_again_in_epoch_2_is_carried_at_full_precision(load, sections):
    _momentum_epoch_2_carried(load, momentum_student(rounded=False, sections=sections))


ADAM_SOURCE = scalar_source("tanh(w * x)", 0.4, 'lr=0.1, epochs=2, optimizer="adam"')


def test_adam_without_bias_correction(load):
    true = train(TANH, {"w": 0.4}, epochs=2, optimizer=adam)
    g1 = true[0]["grads"]["w"]
    w1 = adam({"w": 0.4}, {"w": g1}, {}, corrected=False)[0]["w"]  # 0.4 − η (0.1 g)/(√(0.001 g²) + ε)
    h2 = math.tanh(written(w1) * X)
    result = grade(load, ADAM_SOURCE, {1: {"grads": {"w": g1}, "updated": {"w": w1}}, 2: {"forward": {"h": h2}}})
    assert_correct(at(result, 1, "grads", "w"), g1)
    assert_wrong(at(result, 1, "updated", "w"), "adam-bias-correction", true[0]["updated"]["w"], result)
    assert_carried(at(result, 2, "forward", "h"), true[1]["forward"]["h"], ["epoch 1 updated w"])


@pytest.mark.parametrize("rounded", [True, False], ids=["by-hand", "full-precision"])
def test_adam_without_bias_correction_again_in_epoch_2_is_carried(load, rounded):
    true = train(TANH, {"w": 0.4}, epochs=2, optimizer=adam)
    keep = written if rounded else (lambda v: v)
    p, s, mine = {"w": 0.4}, {}, {}
    for k in (1, 2):
        f, _, g = TANH(p)
        g = {"w": keep(g["w"])}
        new, s = adam(p, g, s, corrected=False)
        p = {"w": keep(new["w"])}
        mine[k] = {"forward": {"h": f["h"]}, "grads": g, "updated": p}
    result = grade(load, ADAM_SOURCE, mine)
    assert_wrong(at(result, 1, "updated", "w"), "adam-bias-correction", true[0]["updated"]["w"], result)
    assert_carried(at(result, 2, "forward", "h"), true[1]["forward"]["h"], ["epoch 1 updated w"])
    assert_carried(at(result, 2, "grads", "w"), true[1]["grads"]["w"], ["epoch 2 forward h"])
    j = at(result, 2, "updated", "w")
    assert j.status == "carried", describe(result)
    assert j.expected == approx(true[1]["updated"]["w"])
    assert len(result.mistakes) == 1


@pytest.mark.parametrize("via", ["grads", "updated"])
def test_relu_convention(load, via):
    p0 = {"w": 0.2, "v": -0.4}
    assert p0["w"] * 2 + p0["v"] == 0  # the relu sits exactly at its kink
    true = train(relu_kink_oracle(1.0), p0)[0]
    wrong = relu_kink_oracle(0.0)(p0)[2]  # the student took relu′(0) = 0
    assert wrong["w"] == approx(-0.8) and true["grads"]["w"] == approx(-2.4)
    forward = {"z": true["forward"]["z"], "out": true["forward"]["out"]}
    if via == "grads":
        values = {"forward": forward, "grads": {"w": wrong["w"], "v": wrong["v"]},
                  "updated": {"w": p0["w"] - LR * written(wrong["w"])}}
    else:  # (v alone would be ambiguous here: a zero gradient leaves v as it was, like update-not-applied)
        values = {"forward": forward, "updated": {"w": p0["w"] - LR * wrong["w"]}}
    result = grade(load, RELU_KINK_SOURCE, {1: values})
    assert_correct(at(result, 1, "forward", "z"), 0.0)
    assert_correct(at(result, 1, "forward", "out"), true["forward"]["out"])
    j = at(result, 1, via, "w")
    assert_wrong(j, "relu-convention", true[via]["w"], result)
    assert j.diagnosis["detail"] == "0"
    if via == "grads":
        assert_wrong(at(result, 1, "grads", "v"), "relu-convention", true["grads"]["v"], result)
        assert_carried(at(result, 1, "updated", "w"), true["updated"]["w"], ["epoch 1 grads w"])


STALE_SOURCE = scalar_source("tanh(w * x)", 0.4, "lr=0.1, epochs=2")


def test_stale_parameters_in_the_second_forward_pass(load):
    true = train(TANH, {"w": 0.4}, epochs=2)
    stale = TANH({"w": 0.4})  # epoch 2 computed again with w0 instead of w1
    result = grade(load, STALE_SOURCE, {
        1: {"forward": {"h": true[0]["forward"]["h"]}, "updated": {"w": true[0]["updated"]["w"]}},
        2: {"forward": {"h": stale[0]["h"], "loss": (written(stale[0]["h"]) - Y_TARGET) ** 2 / 2}}})
    assert_correct(at(result, 1, "forward", "h"), true[0]["forward"]["h"])
    assert_correct(at(result, 1, "updated", "w"), true[0]["updated"]["w"])
    assert_wrong(at(result, 2, "forward", "h"), "stale-parameters", true[1]["forward"]["h"], result)
    assert_carried(at(result, 2, "forward", "loss"), true[1]["forward"]["loss"], ["epoch 2 forward h"])


# -- 5. arithmetic slips, and values too far off to be one -------------------------------------------------
def test_two_adjacent_digits_swapped_is_arithmetic(load):
    h = math.tanh(0.6)
    right = f"{h:.6f}"  # 0.537050
    swapped = right[:2] + right[3] + right[2] + right[4:]  # 0.357050
    assert swapped != right and abs(float(swapped) - h) > 0.01 * h
    result = grade(load, TANH_SOURCE, {1: {"forward": {"h": swapped}}})
    j = result.items[0]
    assert_wrong(j, "arithmetic", h, result)
    assert right[:6] in j.diagnosis["message"]


@pytest.mark.parametrize("how", ["sign", "one digit", "power of ten"])
def test_other_typos_of_a_gradient_are_arithmetic(load, how):
    g = TANH({"w": 0.4})[2]["w"]
    right = f"{g:.6f}"  # 0.359755
    typo = {"sign": "-" + right, "one digit": right[:4] + str((int(right[4]) + 3) % 10) + right[5:],
            "power of ten": f"{10 * g:.5f}"}[how]
    assert abs(float(typo) - g) > 0.01 * abs(g)
    result = grade(load, TANH_SOURCE, {1: {"grads": {"w": typo}}})
    assert_wrong(result.items[0], "arithmetic", g, result)


def test_a_gradient_far_off_is_no_slip(load):
    g = TANH({"w": 0.4})[2]["w"]
    result = grade(load, TANH_SOURCE, {1: {"grads": {"w": 0.25 * g}}})
    j = result.items[0]
    assert j.status == "wrong" and j.diagnosis is None and "too far off to be a slip" in j.reason


def test_an_update_far_off_is_no_slip(load):
    true = train(TANH, {"w": 0.4})[0]
    result = grade(load, TANH_SOURCE, {1: {"updated": {"w": 0.4 - LR * 0.25 * true["grads"]["w"]}}})
    j = result.items[0]
    assert j.status == "wrong" and j.diagnosis is None
    assert "too far off to be a slip" in j.reason
    assert j.expected == approx(true["updated"]["w"])


# -- 6. negative controls: every value right, nothing diagnosed ---------------------------------------------
CONTROLS = {
    **{f"scalar-{act}": (scalar_source(call, w0), scalar_oracle(act), {"w": w0}, 1, sgd)
       for act, (call, w0, _, _) in ACTIVATIONS.items()},
    "relu-positive": (scalar_source("relu(w * x)", 0.4), scalar_oracle("relu"), {"w": 0.4}, 1, sgd),
    "named-tanh": (named_source("tanh"), named_oracle("tanh"), {"w": 0.4}, 1, sgd),
    "named-sigmoid": (named_source("sigmoid"), named_oracle("sigmoid"), {"w": 0.4}, 1, sgd),
    "bce": (BCE_SOURCE, bce_oracle(), {"w": 0.4}, 1, sgd),
    "collapsed": (COLLAPSED_SOURCE, collapsed_oracle(), COLLAPSED_P0, 1, sgd),
    "batch": (BATCH_SOURCE, batch_oracle(), BATCH_P0, 1, sgd),
    "two-parameters": (TWO_SOURCE, two_oracle, {"a": 0.4, "b": -0.3}, 1, sgd),
    "relu-kink": (RELU_KINK_SOURCE, relu_kink_oracle(1.0), {"w": 0.2, "v": -0.4}, 1, sgd),
    "learning-rate": (LR_SOURCE, TANH, {"w": 0.4}, 1, lambda p, g, s: sgd(p, g, s, lr=0.05)),
    "stale": (STALE_SOURCE, TANH, {"w": 0.4}, 2, sgd),
    "momentum": (MOMENTUM_SOURCE, TANH, {"w": 0.4}, 2, momentum),
    "adam": (ADAM_SOURCE, TANH, {"w": 0.4}, 2, adam),
}


@pytest.mark.parametrize("name", list(CONTROLS))
def test_a_correct_solution_has_no_diagnosis(load, name):
    source, step, p0, epochs, optimizer = CONTROLS[name]
    true = train(step, p0, epochs=epochs, optimizer=optimizer)
    result = grade(load, source, {k + 1: e for k, e in enumerate(true)})
    assert result.verdict == "correct", describe(result)
    assert all(j.status == "correct" and j.diagnosis is None for j in result.items)
    n = sum(np.size(v) for e in true for section in e.values() for v in section.values())
    assert len(result.items) == n
    for j in result.items:  # symback's true values are the hand computation's
        value = true[j.epoch - 1][j.section][j.name]
        assert j.expected == approx(np.atleast_2d(value)[tuple(j.index)])
