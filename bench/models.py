"""Model files the benchmarks run: tanh chains of 3×3 layers, one-hidden-layer MLPs of any width,
the 784-128-10 MLP with softmax cross-entropy, and a 3×3 convolution over one image.  Written as
ordinary model files (what a user writes), with fixed pseudo-random values so every run measures
the same model."""

from __future__ import annotations

import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _matrix(rows: int, cols: int, rng: random.Random, scale: float = 0.5) -> list[list[float]]:
    return [[round(rng.uniform(-scale, scale), 2) for _ in range(cols)] for _ in range(rows)]


def chain_values(depth: int) -> dict[str, list]:
    """The chain's data (x, y: 3×1 columns) and weights w1…w_depth (3×3), two decimals."""
    rng = random.Random(depth)
    values = {"x": [[0.5], [-0.3], [0.8]], "y": [[0.1], [0.2], [-0.1]]}
    values.update({f"w{k}": _matrix(3, 3, rng) for k in range(1, depth + 1)})
    return values


def chain_source(depth: int) -> str:
    """``depth`` layers h_k = tanh(w_k @ h_{k-1}) of 3×3, mean squared error (exact decimals)."""
    values = chain_values(depth)
    lines = ["from symback import Model, data, mean, param, tanh", "",
             f"x = data({values['x']})", f"y = data({values['y']})", "h0 = x"]
    for k in range(1, depth + 1):
        lines.append(f"w{k} = param({values[f'w{k}']})")
        lines.append(f"h{k} = tanh(w{k} @ h{k - 1})")
    lines += [f"loss = mean((h{depth} - y) ** 2)", "", "model = Model(loss, lr=0.1, epochs=1)", ""]
    return "\n".join(lines)


def loop_source(depth: int) -> str:
    """The same chain as `chain_source` (the same values), written as people write a deep network:
    a loop reassigning one variable, the layers unnamed (symback numbers them h1, h2, …)."""
    values = chain_values(depth)
    weights = ", ".join(f"param({values[f'w{k}']})" for k in range(1, depth + 1))
    return "\n".join(["from symback import Model, data, mean, param, tanh", "",
                      f"x = data({values['x']})", f"y = data({values['y']})", f"weights = [{weights}]",
                      "h = x", "for W in weights:", "    h = tanh(W @ h)",
                      "loss = mean((h - y) ** 2)", "", "model = Model(loss, lr=0.1, epochs=1)", ""])


def layer_values(depth: int, width: int) -> dict[str, list]:
    """Weights W1…W_depth (width × width) and biases b1… (width × 1), x and y; one decimal."""
    rng = random.Random(1000 * depth + width)
    values = {"x": _matrix(width, 1, rng, 1.0), "y": _matrix(width, 1, rng, 0.5)}
    for k in range(1, depth + 1):
        values[f"W{k}"] = [[round(v, 1) for v in row] for row in _matrix(width, width, rng, 0.6)]
        values[f"b{k}"] = [[round(v[0], 1)] for v in _matrix(width, 1, rng, 0.3)]
    return values


def layers_source(depth: int, width: int, loop: bool) -> str:
    """``depth`` layers h = tanh(W @ h + b) of ``width`` units, mean squared error, 2 epochs: as a loop
    (``loop``: unnamed, numbered by symback) or written out with every name (W1, b1, h1, …)."""
    values = layer_values(depth, width)
    lines = ["from symback import Model, data, mse, param, tanh", "",
             f"x = data({values['x']})", f"y = data({values['y']})"]
    if loop:
        pairs = ", ".join(f"(param({values[f'W{k}']}), param({values[f'b{k}']}))" for k in range(1, depth + 1))
        lines += [f"layers = [{pairs}]", "h = x", "for W, b in layers:", "    h = tanh(W @ h + b)", "out = h"]
    else:
        lines.append("h0 = x")
        for k in range(1, depth + 1):
            lines += [f"W{k} = param({values[f'W{k}']})", f"b{k} = param({values[f'b{k}']})",
                      f"h{k} = tanh(W{k} @ h{k - 1} + b{k})"]
        lines.append(f"out = h{depth}")
    lines += ["loss = mse(out, y)", "", f'model = Model(loss, lr=0.1, epochs=2, title="{depth} tanh layers of '
              f'{width}")', ""]
    return "\n".join(lines)


def layers_gradcheck(depth: int, width: int) -> str:
    """A script that imports PyTorch and runs one ``gradcheck`` on the same network."""
    values = layer_values(depth, width)
    return "\n".join([
        "import torch", "",
        f"values = {values!r}",
        "t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k not in ('x', 'y')) for k, v in values.items()}",
        f"params = [t[f'{{p}}{{k}}'] for k in range(1, {depth + 1}) for p in 'Wb']", "",
        "def loss(*ps):",
        "    h = t['x']",
        "    for W, b in zip(ps[::2], ps[1::2]):",
        "        h = torch.tanh(W @ h + b)",
        "    return ((h - t['y']) ** 2).mean()", "",
        "assert torch.autograd.gradcheck(loss, params)", ""])


def mlp_source(width: int, inputs: int = 2, outputs: int = 2) -> str:
    """One hidden layer of ``width`` sigmoid units, float64 (NumPy) values, squared error."""
    return "\n".join([
        "import numpy as np",
        "from symback import Model, data, param, sigmoid, sum",
        "",
        "rng = np.random.default_rng(0)",
        f"x = data(rng.uniform(-1, 1, ({inputs}, 1)))",
        f"y = data(rng.uniform(0, 1, ({outputs}, 1)))",
        f"w1 = param(rng.uniform(-0.5, 0.5, ({width}, {inputs})))",
        f"b1 = param(np.zeros(({width}, 1)))",
        f"w2 = param(rng.uniform(-0.5, 0.5, ({outputs}, {width})))",
        f"b2 = param(np.zeros(({outputs}, 1)))",
        "h = sigmoid(w1 @ x + b1)",
        "out = w2 @ h + b2",
        "loss = sum((out - y) ** 2) / 2",
        "",
        "model = Model(loss, lr=0.1, epochs=1)",
        "",
    ])


def mnist_source(batch: int = 64) -> str:
    """784-128-10 relu MLP on a batch, softmax cross-entropy (float64 NumPy values)."""
    return "\n".join([
        "import numpy as np",
        "from symback import Model, cross_entropy, data, param, relu",
        "",
        "rng = np.random.default_rng(0)",
        f"X = data(rng.uniform(0, 1, ({batch}, 784)))",
        f"Y = data(np.eye(10)[rng.integers(0, 10, {batch})])",
        "W1 = param(rng.normal(0, 0.05, (784, 128)))",
        "b1 = param(np.zeros((1, 128)))",
        "W2 = param(rng.normal(0, 0.05, (128, 10)))",
        "b2 = param(np.zeros((1, 10)))",
        "H = relu(X @ W1 + b1)",
        "logits = H @ W2 + b2",
        "loss = cross_entropy(logits, Y)",
        "",
        "model = Model(loss, lr=0.1, epochs=1)",
        "",
    ])


#: the convolution benchmark's two models: a 3×3 kernel over a size×size image, then …
CONV_KINDS = {"tanh": "conv → tanh → mse", "net": "conv (+ bias) → relu → 2×2 max-pool → flatten → dense → cross-entropy"}


def conv_values(kind: str, size: int = 28) -> dict:
    """The arrays of `conv_source` (the same generator, the same order of draws): image X, kernel K,
    and for ``tanh`` the target map Y; for ``net`` the kernel's bias c, the dense layer W, b and the
    one-hot target Y (class 3 of 10)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = size - 2  # the 3×3 kernel's output
    values = {"X": rng.uniform(0, 1, (size, size)), "K": rng.normal(0, 0.3, (3, 3))}
    if kind == "tanh":
        values["Y"] = rng.uniform(-1, 1, (n, n))
    else:
        values.update(c=np.array([[0.1]]), W=rng.normal(0, 0.1, ((n // 2) ** 2, 10)), b=np.zeros((1, 10)),
                      Y=np.eye(10)[[3]])
    return values


def conv_source(kind: str, size: int = 28) -> str:
    """A 3×3 kernel over one size×size single-channel image: ``tanh`` is conv → tanh → mean squared
    error against a (size−2)² target map; ``net`` (size even) the MNIST-like conv (+ bias) → relu →
    2×2 max-pool → flatten → dense (((size−2)/2)² × 10, + bias) → softmax cross-entropy."""
    n = size - 2
    head = ["import numpy as np"]
    if kind == "tanh":
        return "\n".join([*head, "from symback import Model, conv2d, data, mse, param, tanh", "",
                          "rng = np.random.default_rng(0)",
                          f"X = data(rng.uniform(0, 1, ({size}, {size})))  # one single-channel image",
                          "K = param(rng.normal(0, 0.3, (3, 3)))  # 3×3 kernel",
                          f"Y = data(rng.uniform(-1, 1, ({n}, {n})))",
                          f"Z = conv2d(X, K)  # {n}×{n} feature map", "A = tanh(Z)", "loss = mse(A, Y)", "",
                          f'model = Model(loss, lr=0.1, epochs=1, title="conv {size}×{size} ⋆ 3×3 → tanh → mse")',
                          ""])
    if n % 2:
        raise ValueError(f"the conv net's 2×2 pool needs an even feature map: size {size} gives {n}×{n}")
    p = n // 2
    return "\n".join([*head, "from symback import Model, conv2d, cross_entropy, data, flatten, max_pool2d, param, relu",
                      "", "rng = np.random.default_rng(0)",
                      f"X = data(rng.uniform(0, 1, ({size}, {size})))  # one single-channel image",
                      "K = param(rng.normal(0, 0.3, (3, 3)))  # 3×3 kernel",
                      "c = param(0.1)  # the kernel's bias",
                      f"W = param(rng.normal(0, 0.1, ({p * p}, 10)))",
                      "b = param(np.zeros((1, 10)))",
                      "Y = data(np.eye(10)[[3]])  # one-hot: class 3 of 10",
                      f"Z = conv2d(X, K) + c  # {n}×{n} feature map", "A = relu(Z)",
                      f"P = max_pool2d(A, 2)  # {p}×{p}", f"logits = flatten(P) @ W + b  # P read row by row: 1×{p * p}",
                      "loss = cross_entropy(logits, Y)", "",
                      f'model = Model(loss, lr=0.1, epochs=1, title="conv {size}×{size} ⋆ 3×3 → relu → max-pool → dense '
                      f'{p * p}×10 → cross-entropy")', ""])


def write(folder: Path, name: str, source: str) -> Path:
    path = Path(folder) / f"{name}.py"
    path.write_text(source)
    return path
