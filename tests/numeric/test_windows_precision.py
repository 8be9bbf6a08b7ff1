"""Issue 14's operations at 50 digits.  Oracles: central differences (step 1e-20, 80 digits) of a
forward pass written here with mpmath alone — no symback code computes them — itself checked
against PyTorch's loss; and PyTorch autograd for the three checks of ``model.verify()``, also at a
max-pool tie, an mae zero residual and a hinge margin of exactly 1, where finite differences label
the entry a kink and the elementwise oracle still answers as PyTorch does."""

import random

import mpmath
import numpy as np
import pytest
from oracle import evaluate, gradients

import symback as sb
from symback.numeric import verify
from symback.numeric.program import MPMATH

#: the oracle's working precision and step: truncation h² ≈ 1e-40, rounding 10^-80 / h ≈ 1e-60
DPS = 80
STEP = mpmath.mpf(10) ** -20
#: agreement asked of symback's 50-digit gradient
AGREE = mpmath.mpf(10) ** -30
#: the point must be at least this far from every kink and tie, or the difference straddles it
AWAY = 1e-6


def rand(rows, cols, rng, low=-1.5, high=1.5):
    """Random three-decimal numbers: exact in symback, and continuous enough to avoid ties."""
    return [[round(rng.uniform(low, high), 3) for _ in range(cols)] for _ in range(rows)]


# -- the oracle's forward pass: object arrays of mpmath numbers, each operation from its definition --


def mp(matrix) -> np.ndarray:
    """An exact SymPy matrix (a leaf's value) as mpmath numbers at the current precision."""
    return np.array([[mpmath.mpf(v.p) / v.q for v in row] for row in matrix.tolist()], dtype=object)


def elementwise(f, x):
    return np.frompyfunc(f, 1, 1)(x).astype(object)


def conv(x, k, stride=(1, 1), padding=(0, 0)):
    """PyTorch's conv2d (a cross-correlation) of one channel, zero-padded, by its definition."""
    (sr, sc), (pr, pc) = stride, padding
    (h, w), (kh, kw) = x.shape, k.shape
    padded = np.full((h + 2 * pr, w + 2 * pc), mpmath.mpf(0), dtype=object)
    padded[pr:pr + h, pc:pc + w] = x
    rows, cols = (h + 2 * pr - kh) // sr + 1, (w + 2 * pc - kw) // sc + 1
    return np.array([[mpmath.fsum(padded[i * sr + a, j * sc + b] * k[a, b] for a in range(kh) for b in range(kw))
                      for j in range(cols)] for i in range(rows)], dtype=object)


def windows(x, size, stride):
    (kr, kc), (sr, sc) = size, stride
    rows, cols = (x.shape[0] - kr) // sr + 1, (x.shape[1] - kc) // sc + 1
    return [[[x[i * sr + a, j * sc + b] for a in range(kr) for b in range(kc)] for j in range(cols)]
            for i in range(rows)]


def max_pool(x, size, stride, margins):
    """Each window's maximum; ``margins`` gets the gap to the runner-up (0 at a tie)."""
    out = []
    for row in windows(x, size, stride):
        for w in row:
            top = sorted(w, reverse=True)
            margins.append(top[0] - top[1])
        out.append([max(w) for w in row])
    return np.array(out, dtype=object)


def avg_pool(x, size, stride):
    return np.array([[mpmath.fsum(w) / len(w) for w in row] for row in windows(x, size, stride)], dtype=object)


def normalise(x, eps, axis):
    """(x − mean) / √(biased variance + eps) over ``axis`` (0: batch norm's columns, 1: layer norm's rows)."""
    x = x if axis == 0 else x.T
    out = np.empty(x.shape, dtype=object)
    for j in range(x.shape[1]):
        column = x[:, j]
        mean = mpmath.fsum(column) / len(column)
        var = mpmath.fsum((v - mean) ** 2 for v in column) / len(column)
        out[:, j] = [(v - mean) / mpmath.sqrt(var + eps) for v in column]
    return out if axis == 0 else out.T


def mean(x):
    return mpmath.fsum(x.ravel()) / x.size


def cross_entropy(z, y):
    return mean(np.array([mpmath.log(mpmath.fsum(mpmath.exp(v) for v in zr)) - mpmath.fsum(zr * yr)
                          for zr, yr in zip(z, y)], dtype=object))


def huber(r, delta, margins):
    margins.extend(abs(abs(v) - delta) for v in r.ravel())  # r²/2's second derivative jumps at |r| = delta
    return mean(elementwise(lambda v: v * v / 2 if abs(v) <= delta else delta * (abs(v) - delta / 2), r))


def mae(r, margins):
    margins.extend(abs(v) for v in r.ravel())
    return mean(elementwise(abs, r))


def hinge(s, y, margins):
    margin = 1 - y * s
    margins.extend(abs(v) for v in margin.ravel())
    return mean(elementwise(lambda v: max(v, 0), margin))


def l2(weight_decay, *tensors):
    return weight_decay / 2 * mpmath.fsum(v * v for t in tensors for v in t.ravel())


# -- four models, each in symback and in the oracle's forward pass ------------------------------------


def cnn(r):
    """conv2d (stride and padding pairs, leftover rows) → tanh → non-square max-pool → flatten → dense →
    cross-entropy."""
    X = sb.data(rand(6, 5, r), name="X")
    K = sb.param(rand(3, 2, r), name="K")
    c = sb.param(0.05, name="c")
    W = sb.param(rand(4, 2, r), name="W")
    b = sb.param(rand(1, 2, r), name="b")
    Y = sb.data([[0, 1]], name="Y")
    P = sb.max_pool2d(sb.tanh(sb.conv2d(X, K, stride=(2, 1), padding=1) + c), (2, 3), stride=(1, 3))
    loss = sb.cross_entropy(sb.flatten(P) @ W + b, Y)

    def forward(v, margins):
        Z = conv(v["X"], v["K"], (2, 1), (1, 1)) + v["c"][0, 0]
        P = max_pool(elementwise(mpmath.tanh, Z), (2, 3), (1, 3), margins)
        return cross_entropy(P.reshape(1, -1) @ v["W"] + v["b"], v["Y"])

    return loss, forward


def channels(r):
    """Two input channels, three output channels (stride 2, padding 1) → avg-pool (overlapping) → flatten
    of the list → dense → Huber (delta 0.5)."""
    X = [sb.data(rand(5, 5, r), name=f"X{i}") for i in range(2)]
    K = [[sb.param(rand(2, 2, r, -0.5, 0.5), name=f"K{o}{i}") for i in range(2)] for o in range(3)]
    W = sb.param(rand(12, 1, r, -0.5, 0.5), name="W")
    T = sb.data(rand(1, 1, r), name="T")
    pooled = sb.avg_pool2d(sb.conv2d(X, K, stride=2, padding=1), 2, stride=1)
    loss = sb.huber(sb.flatten(pooled) @ W, T, delta=0.5)

    def forward(v, margins):
        pooled = [avg_pool(sum(conv(v[f"X{i}"], v[f"K{o}{i}"], (2, 2), (1, 1)) for i in range(2)), (2, 2), (1, 1))
                  for o in range(3)]
        flat = np.concatenate([p.reshape(1, -1) for p in pooled], axis=1)
        return huber(flat @ v["W"] - v["T"], mpmath.mpf(1) / 2, margins)

    return loss, forward


def batch_normed(r):
    """dense → batch norm (eps 1e-3) with gamma and beta → tanh → dropout (p = 0.25) → dense → mae, plus an
    L2 penalty on both weights."""
    X = sb.data(rand(4, 3, r), name="X")
    W1 = sb.param(rand(3, 3, r), name="W1")
    gamma = sb.param(rand(1, 3, r, 0.5, 1.5), name="gamma")
    beta = sb.param(rand(1, 3, r, -0.5, 0.5), name="beta")
    M = sb.data([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], name="M")
    W2 = sb.param(rand(3, 1, r), name="W2")
    T = sb.data(rand(4, 1, r), name="T")
    H = sb.dropout(sb.tanh(sb.batch_norm(X @ W1, gamma, beta, eps=1e-3)), M, p=0.25)
    loss = sb.mae(H @ W2, T) + sb.l2_penalty(W1, W2, weight_decay=0.1)

    def forward(v, margins):
        N = normalise(v["X"] @ v["W1"], mpmath.mpf(1) / 1000, 0) * v["gamma"] + v["beta"]
        H = elementwise(mpmath.tanh, N) * v["M"] * mpmath.mpf(4) / 3
        return mae(H @ v["W2"] - v["T"], margins) + l2(mpmath.mpf(1) / 10, v["W1"], v["W2"])

    return loss, forward


def layer_normed(r):
    """dense → layer norm (eps 0.01) with gamma and beta → |·| → dense → hinge."""
    X = sb.data(rand(3, 4, r), name="X")
    W1 = sb.param(rand(4, 3, r), name="W1")
    gamma = sb.param(rand(1, 3, r, 0.5, 1.5), name="gamma")
    beta = sb.param(rand(1, 3, r, -0.5, 0.5), name="beta")
    W2 = sb.param(rand(3, 1, r), name="W2")
    Y = sb.data([[1], [-1], [1]], name="Y")
    loss = sb.hinge(sb.abs(sb.layer_norm(X @ W1, gamma, beta, eps=0.01)) @ W2, Y)

    def forward(v, margins):
        N = normalise(v["X"] @ v["W1"], mpmath.mpf(1) / 100, 1) * v["gamma"] + v["beta"]
        margins.extend(abs(x) for x in N.ravel())  # |·|'s kink
        return hinge(elementwise(abs, N) @ v["W2"], v["Y"], margins)

    return loss, forward


MODELS = {"cnn": (cnn, 3), "channels": (channels, 2), "batch_normed": (batch_normed, 3),
          "layer_normed": (layer_normed, 3)}


def build(name):
    make, seed = MODELS[name]
    loss, forward = make(random.Random(seed))
    return sb.Model(loss), forward


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fifty_digit_gradients_equal_fifty_digit_finite_differences(name):
    model, forward = build(name)
    leaves = model.program.leaves
    _, grads = model.program.full([leaf.value for leaf in leaves], MPMATH)
    with mpmath.workdps(DPS):
        point = {leaf.name: mp(leaf.value) for leaf in leaves}
        margins = []
        ours = forward(point, margins)
        assert min(margins) > AWAY, "the point is at a kink or a tie: pick another seed"
        # the oracle's forward pass is PyTorch's loss (so both compute the same function)
        assert float(ours) == pytest.approx(evaluate(model.loss)[model.loss].item(), rel=1e-12)
        for p in model.trainable:
            g = grads[p]
            scale = max(1, *(abs(x) for x in g.ravel()))
            for (i, j), exact in np.ndenumerate(g):
                sides = []
                for sign in (1, -1):
                    moved = dict(point)
                    moved[p.name] = point[p.name].copy()
                    moved[p.name][i, j] += sign * STEP
                    sides.append(forward(moved, []))
                difference = (sides[0] - sides[1]) / (2 * STEP)
                assert abs(exact - difference) <= AGREE * scale, (p.name, i, j, exact, difference)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_model_passes_all_three_checks(name):
    model, _ = build(name)
    v = model.verify()
    assert v.ok, v.failures()
    theirs = gradients(model)
    for pname, check in v.params.items():
        assert check.kinks == [] and check.fd_ok and check.elementwise_ok, pname
        np.testing.assert_allclose(np.array(check.matrix, dtype=float), theirs[pname], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.array(check.elementwise, dtype=float), theirs[pname], rtol=1e-12, atol=1e-15)


# -- one model per operation: the three checks, each against PyTorch -----------------------------------


def weigh(t, rng):
    """A scalar loss with a generic upstream gradient: sum(t ⊙ R) for random data R."""
    return sb.sum(t * sb.data(rand(*t.shape, rng)))


def per_op():
    return {
        "conv2d": lambda r: weigh(sb.conv2d(sb.param(rand(5, 4, r)), sb.param(rand(2, 3, r)), 2, 1), r),
        "conv2d channels": lambda r: weigh(sb.flatten(sb.conv2d(
            [sb.param(rand(3, 3, r)) for _ in range(2)], [[sb.param(rand(2, 2, r)) for _ in range(2)]
                                                         for _ in range(3)])), r),
        "max_pool2d": lambda r: weigh(sb.max_pool2d(sb.param(rand(5, 4, r)), (3, 2), stride=(2, 1)), r),
        "avg_pool2d": lambda r: weigh(sb.avg_pool2d(sb.param(rand(5, 4, r)), (2, 3), stride=1), r),
        "flatten": lambda r: weigh(sb.flatten([sb.param(rand(2, 2, r)), sb.param(rand(3, 1, r))]), r),
        "batch_norm": lambda r: weigh(sb.batch_norm(sb.param(rand(3, 2, r)), sb.param(rand(1, 2, r)),
                                                    sb.param(rand(1, 2, r)), eps=0.01), r),
        "layer_norm": lambda r: weigh(sb.layer_norm(sb.param(rand(2, 3, r)), sb.param(rand(1, 3, r)),
                                                    sb.param(rand(1, 3, r))), r),
        "dropout": lambda r: weigh(sb.dropout(sb.param(rand(2, 3, r)), [[1, 0, 1], [0, 1, 1]], p=0.5), r),
        "abs": lambda r: weigh(sb.abs(sb.param(rand(2, 3, r))), r),
        "mae": lambda r: sb.mae(sb.param(rand(3, 2, r)), sb.data(rand(3, 2, r))),
        "huber": lambda r: sb.huber(sb.param(rand(3, 2, r, -3, 3)), sb.data(rand(3, 2, r)), delta=0.75),
        "hinge": lambda r: sb.hinge(sb.param(rand(4, 1, r)), sb.data([[1], [-1], [-1], [1]])),
        "l2_penalty": lambda r: sb.l2_penalty(sb.param(rand(2, 2, r)), sb.param(rand(1, 2, r)), weight_decay=0.3),
    }


@pytest.mark.parametrize("op", sorted(per_op()))
def test_each_operation_passes_all_three_checks(op):
    model = sb.Model(per_op()[op](random.Random(op)))
    v = model.verify()
    assert v.ok, v.failures()
    theirs = gradients(model)
    for name, check in v.params.items():
        assert check.kinks == [] and check.fd_ok and check.elementwise_ok, name
        np.testing.assert_allclose(np.array(check.matrix, dtype=float), theirs[name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.array(check.elementwise, dtype=float), theirs[name], rtol=1e-12, atol=1e-15)


# -- at a kink: labelled by the finite differences, answered by the elementwise oracle as PyTorch --------


def _at_a_kink(loss, kinked):
    """verify() passes; the entries ``kinked`` (name -> entries) are labelled kinks; matrix form and
    elementwise oracle equal PyTorch's gradient exactly (integer upstreams: integers and simple fractions)."""
    model = sb.Model(loss)
    v = model.verify()
    assert v.ok, v.failures()
    theirs = gradients(model)
    for name, check in v.params.items():
        assert set(kinked[name]) <= set(check.kinks), name
        assert check.elementwise_ok and check.fd_ok is not False, name
        assert np.array_equal(np.array(check.matrix, dtype=float), theirs[name]), name
        assert np.array_equal(np.array(check.elementwise, dtype=float), theirs[name]), name
    return v


#: windows [1 3; 3 0] (3 tied at (0, 1), (1, 0)), [2 2; 2 1] (three 2s tied), [4 4; 4 4] (all tied) and
#: [0 5; 1 0] (no tie); PyTorch routes each window's δ to its first maximum reading row by row
TIED = [[1, 3, 2, 2], [3, 0, 2, 1], [4, 4, 0, 5], [4, 4, 1, 0]]
TIED_MAXIMA = [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (2, 0), (2, 1), (3, 0), (3, 1)]
#: stride 1, 2×2 windows over [1 2 2; 2 2 1]: windows [1 2; 2 2] and [2 2; 2 1], every 2 tied
OVERLAPPING = [[1, 2, 2], [2, 2, 1]]
OVERLAPPING_MAXIMA = [(0, 1), (0, 2), (1, 0), (1, 1)]


def tied_pool():
    return sb.sum(sb.max_pool2d(sb.param(TIED, name="X"), 2) * sb.data([[2, -3], [5, 7]]))


def overlapping_pool():
    return sb.sum(sb.max_pool2d(sb.param(OVERLAPPING, name="X"), 2, stride=1) * sb.data([[3, -2]]))


@pytest.fixture(params=["whole", "node"])
def tier(request, monkeypatch):
    """The elementwise oracle's two tiers: SymPy's diff of the whole loss, and node by node."""
    if request.param == "node":
        monkeypatch.setattr(verify, "WHOLE_TREE", 0)
    return {"whole": "exact", "node": "node by node"}[request.param]


def test_a_max_pool_tie_is_a_kink_and_the_first_maximum_takes_delta(tier):
    v = _at_a_kink(tied_pool(), {"X": TIED_MAXIMA})
    assert v.params["X"].elementwise_method == tier


def test_overlapping_windows_at_a_tie(tier):
    v = _at_a_kink(overlapping_pool(), {"X": OVERLAPPING_MAXIMA})
    assert v.params["X"].elementwise_method == tier


@pytest.mark.parametrize(("loss", "maxima"), [(tied_pool, TIED_MAXIMA), (overlapping_pool, OVERLAPPING_MAXIMA)])
def test_only_the_tied_maxima_are_kinks(loss, maxima):
    assert sb.Model(loss()).verify().params["X"].kinks == maxima


def test_an_mae_zero_residual_is_a_kink_where_sign_0_is_0(tier):
    P = sb.param([[0.5, -1, 2], [0.25, 3, 0]], name="P")
    loss = sb.mae(P, sb.data([[0.5, 1, -2], [0.25, 3, 1]]))  # residuals 0 at (0, 0), (1, 0), (1, 1)
    v = _at_a_kink(loss, {"P": [(0, 0), (1, 0), (1, 1)]})
    assert v.params["P"].kinks == [(0, 0), (1, 0), (1, 1)] and v.params["P"].elementwise_method == tier


def hinge_at_margin_one():
    S = sb.param([[1], [-1], [0.5], [-2]], name="S")
    return sb.hinge(S, sb.data([[1], [-1], [-1], [1]]))  # margins y·s: 1, 1, −0.5, −2


def test_a_hinge_margin_of_exactly_one_is_a_kink_where_relu_0_is_0():
    model = sb.Model(hinge_at_margin_one())
    check = model.verify().params["S"]
    assert check.ok and check.kinks == [(0, 0), (1, 0)]
    assert np.array_equal(np.array(check.matrix, dtype=float), gradients(model)["S"])


@pytest.mark.parametrize("whole_tree", [
    verify.WHOLE_TREE,  # the whole loss differentiated: Heaviside(0) takes the model's relu′(0), not SymPy's 1/2
    0,  # node by node
])
def test_the_elementwise_oracle_takes_relu_0_at_a_hinge_margin_of_one(monkeypatch, whole_tree):
    monkeypatch.setattr(verify, "WHOLE_TREE", whole_tree)
    model = sb.Model(hinge_at_margin_one())
    check = model.verify().params["S"]
    assert np.array_equal(np.array(check.elementwise, dtype=float), gradients(model)["S"])


def test_relu_zeros_tied_in_a_max_pool_window():
    # a negative kernel over a positive image: most of relu's outputs are 0, so whole windows tie at 0
    r = random.Random(11)
    X = sb.data([[round(r.uniform(0.1, 1.5), 2) for _ in range(6)] for _ in range(6)], name="X")
    K = sb.param([[-0.5, 0.25], [0.5, -0.75]], name="K")
    P = sb.max_pool2d(sb.relu(sb.conv2d(X, K)), 2, stride=1)
    model = sb.Model(sb.sum(P * sb.data([[r.randint(-3, 3) for _ in range(4)] for _ in range(4)])))
    v = model.verify()
    assert v.ok, v.failures()
    assert (evaluate(model.loss)[P] == 0).sum() >= 3  # windows all of relu's zeros: ties there are
    check, theirs = v.params["K"], gradients(model)["K"]
    np.testing.assert_allclose(np.array(check.matrix, dtype=float), theirs, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.array(check.elementwise, dtype=float), theirs, rtol=1e-12, atol=1e-15)


def test_the_exact_tier_finds_a_matrix_form_with_the_wrong_relu_0(monkeypatch):
    """A relu rule that took relu′(0) = 1 in a model of relu′(0) = 0 is caught at the hinge's margins of 1,
    where only the convention decides (the symbolic proof alone is blind to it)."""
    from symback.engine import rules
    from symback.engine.expr import Apply, hadamard

    wrong = rules.Rule("relu", rules.RULES["relu"].forward,
                       (lambda g, c: hadamard(g, Apply("step", c.args[0], 1)),), rules.RULES["relu"].says)
    monkeypatch.setitem(rules.RULES, "relu", wrong)
    check = sb.Model(hinge_at_margin_one()).verify().params["S"]
    assert check.elementwise_method == "exact" and not check.elementwise_ok
    assert [m.index for m in check.mismatches] == [(0, 0), (1, 0)]
