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
    abs,
    avg_pool2d,
    batch_norm,
    binary_cross_entropy,
    conv2d,
    cross_entropy,
    dropout,
    exp,
    flatten,
    hinge,
    huber,
    l2_penalty,
    layer_norm,
    leaky_relu,
    log,
    log_softmax,
    mae,
    max_pool2d,
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
    "abs", "conv2d", "max_pool2d", "avg_pool2d", "flatten", "batch_norm", "layer_norm", "dropout",
    "mae", "huber", "hinge", "l2_penalty",
    "SymbackError", "ModelError", "ShapeError", "OptionError",
]
