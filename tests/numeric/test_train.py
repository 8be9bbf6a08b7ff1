"""Optimizers against torch.optim, the relu'(0) convention, per-sample data, notes."""

import numpy as np
import pytest
import torch

import symback as sb


def _mlp(optimizer, **options):
    x = sb.data([[0.5], [-1.2]])
    w = sb.param([[0.3, -0.7], [1.1, 0.4], [-0.6, 0.9]])
    b = sb.param([[0.1], [-0.2], [0.05]])
    v = sb.param([[0.8, -1.3, 0.5]])
    out = v @ sb.tanh(w @ x + b)
    loss = (out - 0.7) ** 2
    return sb.Model(loss, optimizer=optimizer, lr=0.05, epochs=6, **options)


def _torch_run(optimizer, steps=6, **options):
    t = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
    x = torch.tensor([[0.5], [-1.2]], dtype=torch.float64)
    w = t([[0.3, -0.7], [1.1, 0.4], [-0.6, 0.9]])
    b = t([[0.1], [-0.2], [0.05]])
    v = t([[0.8, -1.3, 0.5]])
    params = [w, b, v]
    opt = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.05),
        "momentum": lambda: torch.optim.SGD(params, lr=0.05, momentum=options.get("beta", 0.9)),
        "adam": lambda: torch.optim.Adam(params, lr=0.05, betas=(options.get("beta1", 0.9), options.get("beta2", 0.999)),
                                         eps=options.get("eps", 1e-8)),
    }[optimizer]()
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((v @ torch.tanh(w @ x + b)) - 0.7) ** 2
        loss.backward()
        opt.step()
        trace.append([p.detach().numpy().copy() for p in params])
    return trace


@pytest.mark.parametrize("optimizer,options", [
    ("sgd", {}), ("momentum", {"beta": 0.9}), ("momentum", {"beta": 0.5}),
    ("adam", {}), ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
])
def test_optimizer_matches_torch(optimizer, options):
    history = _mlp(optimizer, **options).train()
    expected = _torch_run(optimizer, **options)
    for record, want in zip(history.steps, expected, strict=True):
        for name, value in zip(("w", "b", "v"), want):
            np.testing.assert_allclose(np.array(record.updated[name], dtype=float), value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("convention,expected", [(0, 0), ("1/2", 0.5), (1, 1)])
def test_relu_convention_at_exact_zero(convention, expected):
    """z = w·x + b = 0.3·2 − 0.6 = 0 exactly; loss = 3·relu(z), so ∂L/∂w = 3·relu'(0)·x by hand."""
    x = sb.data(2)
    w = sb.param(0.3)
    b = sb.param(-0.6)
    z = w * x + b
    loss = 3 * sb.relu(z)
    model = sb.Model(loss, relu_grad_at_zero=convention, epochs=1)
    record = model.train().steps[0]
    assert float(record.grads["w"][0, 0]) == pytest.approx(3 * expected * 2, abs=0)
    assert float(record.grads["b"][0, 0]) == pytest.approx(3 * expected, abs=0)
    assert any("exactly 0" in note for note in record.notes)
    # the elementwise check labels the kink instead of judging it
    check = model.verify().params["w"]
    assert check.kinks == [(0, 0)]


def test_inactive_relu_note_names_starved_parameters():
    x = sb.data([[1.0], [2.0]])
    w = sb.param([[-1.0, -0.5]])
    b = sb.param(0.1)
    c = sb.param(0.2)
    z = w @ x + b  # −1.9 < 0
    out = sb.relu(z) + c
    loss = (out - 1) ** 2
    record = sb.Model(loss, epochs=1).train().steps[0]
    assert record.notes == ["relu inactive (z = -1.9 < 0): no gradient reaches w, b this epoch"]
    assert not np.any(np.array(record.grads["w"], dtype=float))
    assert float(record.grads["c"][0, 0]) == pytest.approx(2 * (0.2 - 1))


def test_per_sample_updates_against_torch():
    xs = [[0.5, 1.0], [-1.0, 0.25], [2.0, -0.5]]
    ys = [1.0, 0.0, 0.5]
    x = sb.samples(xs)
    y = sb.samples(ys)
    w = sb.param([[0.2, -0.4]])
    loss = sb.mse(sb.sigmoid(w @ x), y)
    model = sb.Model(loss, lr=0.5, epochs=2)
    history = model.train()
    assert [(r.epoch, r.sample) for r in history.steps] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]

    wt = torch.tensor([[0.2, -0.4]], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([wt], lr=0.5)
    for record in history.steps:
        xt = torch.tensor(xs[record.sample - 1], dtype=torch.float64).reshape(2, 1)
        opt.zero_grad()
        loss_t = torch.nn.functional.mse_loss(torch.sigmoid(wt @ xt), torch.tensor([[ys[record.sample - 1]]],
                                                                                   dtype=torch.float64))
        loss_t.backward()
        opt.step()
        np.testing.assert_allclose(np.array(record.updated["w"], dtype=float), wt.detach().numpy(), rtol=1e-13)


def test_frozen_parameter_is_not_trained():
    x = sb.data(1.5)
    w = sb.param(0.5)
    b = sb.param(0.25)
    loss = (w * x + b - 2) ** 2
    record = sb.Model(loss, frozen=[b], epochs=1).train().steps[0]
    assert set(record.grads) == {"w"}
    assert float(record.grads["w"][0, 0]) == pytest.approx(2 * (0.5 * 1.5 + 0.25 - 2) * 1.5)


def test_divergence_stops_cleanly():
    w = sb.param(3.0)
    loss = w**2  # with lr = 50 each step multiplies w by −99: the loss overflows near step 78
    history = sb.Model(loss, lr=50, epochs=200).train()
    assert history.stopped is not None and "not finite" in history.stopped
    assert 70 < len(history.losses) < 90
    assert "training stopped" in history.steps[-1].notes[-1]


def test_many_epochs_are_cheap():
    import time

    model = _mlp("sgd")
    model.train(epochs=10)  # compile once
    start = time.perf_counter()
    history = model.train(epochs=10_000)
    elapsed = time.perf_counter() - start
    assert len(history.losses) == 10_000 and history.elided
    assert history.losses[-1] < history.losses[0]
    print(f"10,000 epochs: {elapsed:.2f} s")  # speed is reported by bench/, not asserted here


def test_a_feature_maps_inactive_units_are_listed_briefly():
    """A 5×5 map with 12 negative entries: the note counts all 12 (counted here from the data, the
    oracle) and lists the first 8 by entry, row by row, then how many more."""
    values = [[(-1) ** (i + j) * (i + 1) * 0.1 for j in range(5)] for i in range(5)]  # 12 negatives
    z = sb.param(values, name="z")
    a = sb.relu(z)
    loss = sb.sum(a * sb.data([[1.0] * 5] * 5))
    record = sb.Model(loss, epochs=1).train().steps[0]
    negatives = [(i + 1, j + 1) for i in range(5) for j in range(5) if values[i][j] < 0]
    listed = ", ".join(f"[{i}, {j}]" for i, j in negatives[:8])
    assert record.notes == [f"a: {len(negatives)} of 25 relu units inactive, entries {listed}, … (+{len(negatives) - 8})"]
