"""PyTorch as the independent oracle: a symback graph re-evaluated with torch ops and autograd.

Each operation is written here with PyTorch's own functions (never symback's rules), so
gradients from `torch.autograd` check symback's registry entry by entry.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from symback.engine.graph import topological_order


def as_torch(value) -> torch.Tensor:
    return torch.tensor(np.array(value.tolist() if hasattr(value, "tolist") else value, dtype=np.float64),
                        dtype=torch.float64)


_FUNCTIONS = {
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "exp": torch.exp,
    "log": torch.log,
    "softplus": F.softplus,
}


def evaluate(loss, leaf_values: dict | None = None, requires_grad=()):
    """Every node of ``loss``'s graph as a torch tensor; leaves in ``requires_grad`` track gradients."""
    values = {}
    for node in topological_order(loss):
        if node.is_leaf:
            v = leaf_values.get(node) if leaf_values and node in leaf_values else node.value
            t = as_torch(np.array(v.tolist() if hasattr(v, "tolist") else v, dtype=np.float64))
            values[node] = t.requires_grad_(node in requires_grad)
            continue
        a = [values[x] for x in node.args]
        op = node.op
        if op == "matmul":
            v = a[0] @ a[1]
        elif op == "transpose":
            v = a[0].T
        elif op == "add":
            v = a[0] + a[1]
        elif op == "shift":
            v = a[0] + float(node.attrs["c"])
        elif op == "scale":
            v = float(node.attrs["c"]) * a[0]
        elif op == "mul":
            v = a[0] * a[1]
        elif op == "pow":
            v = a[0] ** float(node.attrs["n"])
        elif op == "broadcast":
            v = a[0].expand(*node.shape)
        elif op == "sum":
            axis = node.attrs["axis"]
            v = a[0].sum().reshape(1, 1) if axis == -1 else a[0].sum(dim=axis, keepdim=True)
        elif op == "softmax":
            v = torch.softmax(a[0], dim=node.attrs["axis"])
        elif op == "log_softmax":
            v = torch.log_softmax(a[0], dim=node.attrs["axis"])
        elif op == "cross_entropy":
            v = F.cross_entropy(a[0], a[1]).reshape(1, 1)
        elif op == "apply" and node.attrs["fn"] == "leaky_relu":
            v = F.leaky_relu(a[0], float(node.attrs["params"][0]))
        elif op == "apply" and node.attrs["fn"] == "huber":
            v = F.huber_loss(a[0], torch.zeros_like(a[0]), reduction="none", delta=float(node.attrs["params"][0]))
        elif op == "conv2d":
            v = F.conv2d(a[0][None, None], a[1][None, None], stride=node.attrs["stride"],
                         padding=node.attrs["padding"])[0, 0]
        elif op in ("max_pool2d", "avg_pool2d"):
            pool = F.max_pool2d if op == "max_pool2d" else F.avg_pool2d
            v = pool(a[0][None, None], node.attrs["window"], node.attrs["stride"])[0, 0]
        elif op == "flatten":
            v = a[0].flatten()[None]
        elif op == "concat":
            v = torch.cat(a, dim=1)
        elif op == "normalize" and node.attrs["axis"] == 0:
            v = F.batch_norm(a[0], None, None, training=True, eps=float(node.attrs["eps"]))
        elif op == "normalize":
            v = F.layer_norm(a[0], (a[0].shape[1],), eps=float(node.attrs["eps"]))
        elif op == "dropout":
            v = a[0] * a[1] / (1 - float(node.attrs["p"]))
        elif op == "apply":
            v = _FUNCTIONS[node.attrs["fn"]](a[0])
        else:
            raise NotImplementedError(op)
        values[node] = v
    return values


def gradients(model, leaf_values=None) -> dict[str, np.ndarray]:
    """∂loss/∂p for every trainable parameter, by torch autograd."""
    trainable = model.trainable
    values = evaluate(model.loss, leaf_values, requires_grad=set(trainable))
    grads = torch.autograd.grad(values[model.loss].sum(), [values[p] for p in trainable], allow_unused=True)
    return {p.name: (np.zeros(p.shape) if g is None else g.numpy()) for p, g in zip(trainable, grads)}


def seed_epochs(epochs=3, lr=0.1, init=None):
    """The seed network in plain PyTorch, from the exercise's values or ``init`` (name -> nested lists).

    relu'(0) never arises with these values (z is away from 0 throughout).
    """
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    x = t([[2.0], [3.0]])
    p = {
        "w1": t([[1.3, -0.13, 0], [0.2, -1.3, 0.03]]), "b1": t([[0, 0.01, 1.3]]),
        "w2": t([[1.35, -0.5, 0.03]]), "b2": t([[0.1]]), "w3": t([[-0.3], [1]]), "b3": t([[0.1]]),
    }
    if init is not None:
        p = {k: t(v) for k, v in init.items()}
    history = []
    for _ in range(epochs):
        for v in p.values():
            v.requires_grad_(True)
        u1 = p["b1"] + x.T @ p["w1"]
        h = torch.tanh(u1)
        z = h @ p["w2"].T + p["b2"]
        out = p["b3"] + p["w3"].T @ x + torch.relu(z)
        loss = (out - 6) ** 2 / 2
        loss.backward()
        forward = {"u1": u1, "h": h, "z": z, "out": out, "loss": loss}
        grads = {k: v.grad.clone() for k, v in p.items()}
        with torch.no_grad():
            updated = {k: v - lr * v.grad for k, v in p.items()}
        history.append({"params": {k: v.detach().numpy().copy() for k, v in p.items()},
                        "forward": {k: v.detach().numpy().copy() for k, v in forward.items()},
                        "grads": {k: v.numpy() for k, v in grads.items()},
                        "updated": {k: v.numpy() for k, v in updated.items()}})
        p = {k: v.detach().clone() for k, v in updated.items()}
    return history
