"""The peers, written the way their users write them: PyTorch autograd (float64) and plain
elementwise SymPy (``diff`` of the scalar loss by every entry, then ``lambdify``).

Each builder returns ``(grad, loss)``: two zero-argument callables at the model's values, so
the benchmark times exactly one gradient call (forward + backward) and one loss call.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .models import chain_values, conv_values

SEED = {"x": [[2.0], [3.0]], "w1": [[1.3, -0.13, 0.0], [0.2, -1.3, 0.03]], "b1": [[0.0, 0.01, 1.3]],
        "w2": [[1.35, -0.5, 0.03]], "b2": [[0.1]], "w3": [[-0.3], [1.0]], "b3": [[0.1]]}
SIGMOID_222 = {"x": [[0.05], [0.10]], "y": [[0.01], [0.99]], "w1": [[0.15, 0.20], [0.25, 0.30]],
               "b1": [[0.35], [0.35]], "w2": [[0.40, 0.45], [0.50, 0.55]], "b2": [[0.60], [0.60]]}


# -- PyTorch -------------------------------------------------------------------------------


def _torch_pair(forward, values: dict, params: list[str]):
    import torch

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in params) for k, v in values.items()}
    leaves = [t[p] for p in params]

    def grad():
        for p in leaves:
            p.grad = None
        forward(t).backward()
        return [p.grad for p in leaves]

    def loss():
        with torch.no_grad():
            return forward(t)

    return grad, loss


def torch_seed():
    import torch

    def forward(t):
        h = torch.tanh(t["b1"] + t["x"].T @ t["w1"])
        out = t["b3"] + t["w3"].T @ t["x"] + torch.relu(h @ t["w2"].T + t["b2"])
        return ((out - 6) ** 2 / 2).sum()

    return _torch_pair(forward, SEED, ["w1", "b1", "w2", "b2", "w3", "b3"])


def torch_chain(depth: int):
    import torch

    def forward(t):
        h = t["x"]
        for k in range(1, depth + 1):
            h = torch.tanh(t[f"w{k}"] @ h)
        return ((h - t["y"]) ** 2).mean()

    return _torch_pair(forward, chain_values(depth), [f"w{k}" for k in range(1, depth + 1)])


def mnist_values(batch: int = 64) -> dict:
    """The same arrays as ``models.mnist_source`` (same generator, same order of draws)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (batch, 784))
    Y = np.eye(10)[rng.integers(0, 10, batch)]
    W1 = rng.normal(0, 0.05, (784, 128))
    b1 = np.zeros((1, 128))
    W2 = rng.normal(0, 0.05, (128, 10))
    b2 = np.zeros((1, 10))
    return {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}


def torch_mnist(batch: int = 64):
    import torch
    import torch.nn.functional as F

    def forward(t):
        logits = torch.relu(t["X"] @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
        return F.cross_entropy(logits, t["Y"].argmax(dim=1))

    return _torch_pair(forward, mnist_values(batch), ["W1", "b1", "W2", "b2"])


def conv_params(kind: str) -> list[str]:
    """The convolution models' trainable parameters, in the model file's order."""
    return ["K"] if kind == "tanh" else ["K", "c", "W", "b"]


def torch_conv(kind: str, size: int = 28):
    """`models.conv_source`'s model with ``torch.nn.functional`` (float64): conv2d of a 1×1×size×size
    batch, then tanh and mse, or relu, max_pool2d, flatten, the dense layer and cross_entropy."""
    import torch
    import torch.nn.functional as F

    def forward(t):
        z = F.conv2d(t["X"][None, None], t["K"][None, None])
        if kind == "tanh":
            return F.mse_loss(torch.tanh(z)[0, 0], t["Y"])
        p = F.max_pool2d(torch.relu(z + t["c"]), 2)
        return F.cross_entropy(p.flatten(1) @ t["W"] + t["b"], t["Y"].argmax(dim=1))

    return _torch_pair(forward, conv_values(kind, size), conv_params(kind))


def torch_train_222(epochs: int) -> float:
    """``epochs`` steps of plain gradient descent on the 2-2-2 sigmoid example; the final loss."""
    import torch

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k not in ("x", "y")) for k, v in SIGMOID_222.items()}
    params = [t["w1"], t["b1"], t["w2"], t["b2"]]
    for _ in range(epochs):
        out = torch.sigmoid(t["w2"] @ torch.sigmoid(t["w1"] @ t["x"] + t["b1"]) + t["b2"])
        loss = ((out - t["y"]) ** 2).sum() / 2
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.5 * p.grad
    return float(loss.detach())


# -- plain SymPy ---------------------------------------------------------------------------


def _symbols(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}"))


def sympy_chain(depth: int):
    """(loss, [symbols], {symbol: value}) of the chain, elementwise, exact data."""
    values = chain_values(depth)
    x = sp.Matrix([[sp.Rational(str(v[0]))] for v in values["x"]])
    y = sp.Matrix([[sp.Rational(str(v[0]))] for v in values["y"]])
    h, symbols, point = x, [], {}
    for k in range(1, depth + 1):
        w = _symbols(f"w{k}", 3, 3)
        symbols += list(w)
        point.update({w[i, j]: values[f"w{k}"][i][j] for i in range(3) for j in range(3)})
        h = (w * h).applyfunc(sp.tanh)
    loss = sum((h - y).applyfunc(lambda e: e**2)) / 3
    return loss, symbols, point


def sympy_seed():
    x = sp.Matrix([[2], [3]])
    w1, b1, w2 = _symbols("w1", 2, 3), _symbols("b1", 1, 3), _symbols("w2", 1, 3)
    b2, w3, b3 = _symbols("b2", 1, 1), _symbols("w3", 2, 1), _symbols("b3", 1, 1)
    h = (b1 + x.T * w1).applyfunc(sp.tanh)
    z = h * w2.T + b2
    out = b3 + w3.T * x + z.applyfunc(lambda e: sp.Max(0, e))
    loss = (out[0, 0] - 6) ** 2 / 2
    symbols = [*w1, *b1, *w2, *b2, *w3, *b3]
    flat = [v for k in ("w1", "b1", "w2", "b2", "w3", "b3") for row in SEED[k] for v in row]
    return loss, symbols, dict(zip(symbols, flat))


def sympy_mlp(width: int):
    """The one-hidden-layer sigmoid MLP of ``models.mlp_source``, elementwise."""
    rng = np.random.default_rng(0)
    x = sp.Matrix(rng.uniform(-1, 1, (2, 1)))
    y = sp.Matrix(rng.uniform(0, 1, (2, 1)))
    w1, b1 = _symbols("w1", width, 2), _symbols("b1", width, 1)
    w2, b2 = _symbols("w2", 2, width), _symbols("b2", 2, 1)
    h = (w1 * x + b1).applyfunc(lambda e: 1 / (1 + sp.exp(-e)))
    out = w2 * h + b2
    loss = sum((out - y).applyfunc(lambda e: e**2)) / 2
    return loss, [*w1, *b1, *w2, *b2]


def sympy_conv(kind: str, size: int):
    """(loss, [symbols], {symbol: value}) of `models.conv_source`'s model written with SymPy scalars: each
    entry of the feature map the sum of nine products, the pool a ``Max`` of four relu'd entries,
    cross-entropy as log-sum-exp minus the target's logit; the image and targets are numbers."""
    values = conv_values(kind, size)
    X, n = values["X"], size - 2
    K = _symbols("K", 3, 3)
    symbols, point = list(K), {K[i, j]: values["K"][i, j] for i in range(3) for j in range(3)}

    def conv(i, j):
        return sp.Add(*(K[u, v] * sp.Float(X[i + u, j + v]) for u in range(3) for v in range(3)))

    if kind == "tanh":
        Y = values["Y"]
        loss = sp.Add(*((sp.tanh(conv(i, j)) - sp.Float(Y[i, j])) ** 2 for i in range(n) for j in range(n))) / (n * n)
        return loss, symbols, point
    c = sp.Symbol("c")
    p = n // 2
    W, b = _symbols("W", p * p, 10), _symbols("b", 1, 10)
    symbols += [c, *W, *b]
    point[c] = float(values["c"][0, 0])
    point.update({W[i, j]: values["W"][i, j] for i in range(p * p) for j in range(10)})
    point.update({b[0, j]: values["b"][0, j] for j in range(10)})
    A = [[sp.Max(0, conv(i, j) + c) for j in range(n)] for i in range(n)]
    P = [sp.Max(A[2 * i][2 * j], A[2 * i][2 * j + 1], A[2 * i + 1][2 * j], A[2 * i + 1][2 * j + 1])
         for i in range(p) for j in range(p)]
    logits = [sp.Add(*(P[k] * W[k, j] for k in range(p * p)), b[0, j]) for j in range(10)]
    target = int(values["Y"].argmax())
    loss = sp.log(sp.Add(*(sp.exp(z) for z in logits))) - logits[target]
    return loss, symbols, point


def sympy_derive(loss, symbols) -> list:
    """Plain SymPy's gradient: ``diff`` of the scalar loss by every entry."""
    return [sp.diff(loss, s) for s in symbols]


def sympy_pair(loss, symbols, point, grads, cse: bool):
    """(grad, loss) from ``lambdify`` (NumPy), with or without common-subexpression elimination."""
    g = sp.lambdify(symbols, grads, modules="numpy", cse=cse)
    f = sp.lambdify(symbols, loss, modules="numpy", cse=cse)
    args = [float(point[s]) for s in symbols]
    return (lambda: g(*args)), (lambda: f(*args))
