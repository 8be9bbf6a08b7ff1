"""Update rules, exactly as ``torch.optim`` applies them (dampening 0, no weight decay).

They work on float64 arrays and on mpmath object arrays alike; ``sqrt`` is passed in.
"""

from __future__ import annotations


class SGD:
    """p ← p − lr·g"""

    def __init__(self, lr, **_):
        self.lr = lr

    def step(self, p, g, state, sqrt):
        return p - self.lr * g


class Momentum:
    """b ← g on the first step, else β·b + g;  p ← p − lr·b  (torch.optim.SGD with momentum)"""

    def __init__(self, lr, beta, **_):
        self.lr, self.beta = lr, beta

    def step(self, p, g, state, sqrt):
        buf = g if "buf" not in state else self.beta * state["buf"] + g
        state["buf"] = buf
        return p - self.lr * buf


class Adam:
    """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − lr·m̂ / (√v̂ + ε)  with bias corrections."""

    def __init__(self, lr, beta1, beta2, eps, **_):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps

    def step(self, p, g, state, sqrt):
        t = state.get("t", 0) + 1
        m = (1 - self.beta1) * g + (self.beta1 * state["m"] if "m" in state else 0)
        v = (1 - self.beta2) * g * g + (self.beta2 * state["v"] if "v" in state else 0)
        state.update(t=t, m=m, v=v)
        correction1 = 1 - self.beta1**t
        correction2 = 1 - self.beta2**t
        denominator = sqrt(v) / sqrt(correction2) + self.eps
        return p - (self.lr / correction1) * m / denominator


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
