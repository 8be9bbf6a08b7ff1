"""`Compiled`: the model's loss and gradients as float64 NumPy functions.

>>> f = model.compile()
>>> f.loss({"w1": np.zeros((2, 3))})      # other names take the model's values
>>> f.grad()["w1"]
"""

from __future__ import annotations

import numpy as np

from .errors import OptionError
from .numeric import FLOAT64


class Compiled:
    def __init__(self, model):
        self.model = model
        self.program = model.program
        self.source = self.program.full_source  # the generated NumPy code, for inspection

    def leaf_values(self, values: dict | None = None) -> list[np.ndarray]:
        """Arguments for the program: given ``values`` by name, the model's own for the rest."""
        values = dict(values or {})
        out = []
        for leaf in self.program.leaves:
            if leaf.name in values:
                v = np.asarray(values.pop(leaf.name), dtype=np.float64)
                v = v.reshape(leaf.shape) if v.size == leaf.shape[0] * leaf.shape[1] else v
                if v.shape != leaf.shape:
                    raise OptionError(f"{leaf.name} must be {leaf.shape[0]}×{leaf.shape[1]}, got shape {v.shape}")
                out.append(v)
            else:
                out.append(np.array(leaf.value, dtype=np.float64))
        if values:
            raise OptionError(f"the model has no parameter or data named {sorted(values)[0]!r}")
        return out

    def loss(self, values: dict | None = None) -> float:
        """The loss at ``values`` (float64)."""
        return float(self.program.forward(self.leaf_values(values), FLOAT64)[self.model.loss][0, 0])

    def grad(self, values: dict | None = None) -> dict[str, np.ndarray]:
        """∂loss/∂p for every trainable parameter (float64), by name."""
        _, grads = self.program.full(self.leaf_values(values), FLOAT64)
        return {p.name: np.asarray(grads[p], dtype=np.float64) for p in self.program.trainable}

    def __call__(self, values: dict | None = None) -> tuple[float, dict[str, np.ndarray]]:
        nodes, grads = self.program.full(self.leaf_values(values), FLOAT64)
        return float(nodes[self.model.loss][0, 0]), {p.name: np.asarray(grads[p]) for p in self.program.trainable}
