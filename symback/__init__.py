"""symback: derive, verify and train backpropagation symbolically, step by step.

>>> import symback
>>> m = symback.load("examples/seed.py")
>>> m.derive()      # steps and closed forms
>>> m.compile()     # float64 NumPy loss and gradients
>>> m.train()       # the epoch history
>>> symback.check(m, "examples/seed_solution.yaml").verdict
'correct'
"""

from . import check  # callable: symback.check(model, "solution.yaml") (see check/__init__.py)
from .engine.functions import (
    binary_cross_entropy,
    cross_entropy,
    exp,
    leaky_relu,
    log,
    log_softmax,
    mean,
    mse,
    relu,
    sigmoid,
    softmax,
    softplus,
    sum,
    tanh,
)
from .engine.graph import Tensor, data, param, samples
from .errors import ModelError, OptionError, ShapeError, SymbackError
from .loader import load
from .model import Model

__version__ = "0.1.0"


__all__ = [
    "Model", "Tensor", "param", "data", "samples", "load", "check",
    "relu", "leaky_relu", "tanh", "sigmoid", "exp", "log", "softplus", "sum", "mean", "softmax", "log_softmax",
    "mse", "binary_cross_entropy", "cross_entropy",
    "SymbackError", "ModelError", "ShapeError", "OptionError",
]
