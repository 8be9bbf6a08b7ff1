"""`Compiled`: the model's loss and gradients as float64 NumPy functions.

>>> f = model.compile()
>>> f.loss({"w1": np.zeros((2, 3))})      # other names take the model's values
>>> f.grad()["w1"]
"""

from __future__ import annotations

import numpy as np

from ..errors import OptionError
from .program import FLOAT64


class Compiled:
    def __init__(self, model):
        self.model = model
        self.program = model.program
        self.source = self.program.full_source  # the generated NumPy code, for inspection
        leaves = self.program.leaves
        self._defaults = [_readonly(np.array(leaf.value, dtype=np.float64)) for leaf in leaves]
        self._index = {leaf.name: k for k, leaf in enumerate(leaves) if leaf.name}
        self._loss_at = self.program.nodes.index(model.loss)
        first = len(self.program.nodes)
        self._grads_at = list(enumerate((p.name for p in self.program.trainable), start=first))
        self._forward = self.program._forward[FLOAT64]
        self._full = self.program._full[FLOAT64]

    def leaf_values(self, values: dict | None = None) -> list[np.ndarray]:
        """Arguments for the program: given ``values`` by name, the model's own for the rest.

        Each value has its tensor's shape (a number for 1×1, a flat list for a row or a column);
        anything else raises `OptionError` naming the tensor and both shapes — never reshaped."""
        out = list(self._defaults)
        for name, value in (values or {}).items():
            k = self._index.get(name)
            if k is None:
                raise OptionError(f"the model has no parameter or data named {name!r}")
            shape = self.program.leaves[k].shape
            v = np.asarray(value, dtype=np.float64)
            if v.ndim == 0 or (v.ndim == 1 and 1 in shape):  # a number for 1×1, a flat list for a row or column
                v = v.reshape(shape) if v.size == shape[0] * shape[1] else v
            if v.shape != shape:  # never reshaped: a 3×2 array for a 2×3 parameter is a mistake (W.T for W)
                given = "×".join(str(n) for n in v.shape) or "a number"
                raise OptionError(f"{name} is {shape[0]}×{shape[1]}; the value given is {given}")
            out[k] = v
        return out

    def loss(self, values: dict | None = None) -> float:
        """The loss at ``values`` (float64)."""
        with np.errstate(all="ignore"):
            return float(self._forward(*self.leaf_values(values))[self._loss_at][0, 0])

    def grad(self, values: dict | None = None) -> dict[str, np.ndarray]:
        """∂loss/∂p for every trainable parameter (float64), by name."""
        with np.errstate(all="ignore"):
            out = self._full(*self.leaf_values(values))
        return {name: out[k] for k, name in self._grads_at}

    def __call__(self, values: dict | None = None) -> tuple[float, dict[str, np.ndarray]]:
        """(loss, gradients) in one pass."""
        with np.errstate(all="ignore"):
            out = self._full(*self.leaf_values(values))
        return float(out[self._loss_at][0, 0]), {name: out[k] for k, name in self._grads_at}


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # the model's own values, shared by every call
    return a
