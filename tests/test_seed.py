"""The seed exercise, all three epochs, against PyTorch written out by hand (float64)."""

import numpy as np
import pytest
from conftest import EXAMPLES
from oracle import seed_epochs as torch_seed_epochs

import symback


@pytest.fixture(scope="module")
def seed():
    return symback.load(EXAMPLES / "seed.py")


@pytest.fixture(scope="module")
def history(seed):
    return seed.train()


def test_three_epochs_against_torch(history):
    expected = torch_seed_epochs()
    assert len(history.steps) == 3
    for record, want in zip(history.steps, expected):
        for section in ("params", "forward", "grads", "updated"):
            ours = getattr(record, section)
            for name, value in want[section].items():
                np.testing.assert_allclose(np.array(ours[name], dtype=float), value, rtol=1e-13, atol=1e-15,
                                           err_msg=f"epoch {record.epoch} {section} {name}")


def test_published_outputs(history):
    """The exercise's published answers: out = 4.4718, 7.1885, 5.0746 and relu active throughout."""
    outs = [round(float(r.forward["out"][0, 0]), 4) for r in history.steps]
    assert outs == [4.4718, 7.1885, 5.0746]
    assert all(r.notes == [] for r in history.steps)


def test_high_precision_matches_finite_differences(seed):
    """50-digit gradients against 50-digit central differences of the loss (h = 1e-20)."""
    import mpmath

    from symback.numeric.program import MPMATH, to_mp

    program = seed.program
    leaves = [to_mp(leaf.value) for leaf in program.leaves]
    with mpmath.workdps(50):
        _, grads = program.full(leaves, MPMATH)
        h = mpmath.mpf("1e-20")
        for p in program.trainable:
            g = grads[p]
            k = program.leaves.index(p)
            for i in range(p.shape[0]):
                for j in range(p.shape[1]):
                    plus = [v.copy() for v in leaves]
                    minus = [v.copy() for v in leaves]
                    plus[k][i, j] += h
                    minus[k][i, j] -= h
                    up = program.forward(plus, MPMATH)[seed.loss][0, 0]
                    down = program.forward(minus, MPMATH)[seed.loss][0, 0]
                    fd = (up - down) / (2 * h)
                    assert abs(fd - g[i, j]) < mpmath.mpf("1e-30"), (p.name, i, j)


def test_derivation_shows_the_elementwise_tanh_factor(seed):
    from symback.numeric.printing import text

    g = seed.derive()["w1"]
    steps = {s.node.name: text(s.formula) for s in g.steps}
    assert steps["u1"] == "δ_h ⊙ (1 − h⊙h)"
    assert steps["h"] == "δ_z w2"
    assert steps["out"] == "out − 6"
    assert text(g.formula) == "x δ_u1"


def test_verification_three_ways(seed):
    v = seed.verify()
    assert v.ok
    for check in v.params.values():
        assert check.elementwise_method == "exact"
        assert check.fd_max_rel_err < 1e-6
        np.testing.assert_allclose(np.array(check.matrix, dtype=float), np.array(check.elementwise, dtype=float),
                                   rtol=1e-14)


def test_compile_takes_values_by_name(seed):
    f = seed.compile()
    w1 = np.zeros((2, 3))
    # with w1 = 0: u1 = b1, so h = tanh(b1) and z, out follow by hand
    h = np.tanh(np.array([[0, 0.01, 1.3]]))
    z = h @ np.array([[1.35, -0.5, 0.03]]).T + 0.1
    out = 0.1 + np.array([[-0.3, 1]]) @ np.array([[2], [3]]) + np.maximum(z, 0)
    assert f.loss({"w1": w1}) == pytest.approx(float((out[0, 0] - 6) ** 2 / 2), rel=1e-14)
    assert set(f.grad()) == {"w1", "b1", "w2", "b2", "w3", "b3"}
