"""`Model`: the loss, its options, and the three things done with it.

>>> model = Model(loss, lr=0.1, epochs=3, relu_grad_at_zero=1)
>>> model.derive()      # steps and closed forms, verified
>>> model.compile()     # float64 NumPy loss and gradients
>>> model.train()       # the epoch history
"""

from __future__ import annotations

import keyword
from functools import cached_property

import numpy as np
import sympy as sp

from .engine.graph import Tensor, _located, topological_order, user_frame
from .engine.values import exact_scalar
from .errors import ModelError, OptionError
from .limits import LR_RANGE, MAX_DEPTH, MAX_EPOCHS, MAX_OPERATIONS, MAX_STEPS

OPTIMIZERS = ("sgd", "momentum", "adam")
RELU_CONVENTIONS = (sp.Integer(0), sp.Rational(1, 2), sp.Integer(1))


class Model:
    """A model: a scalar loss built from ``param``/``data`` tensors, with training options."""

    def __init__(
        self,
        loss: Tensor,
        *,
        lr=0.1,
        epochs: int = 1,
        optimizer: str = "sgd",
        beta=0.9,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        relu_grad_at_zero=0,
        frozen=(),
        digits: int = 4,
        title: str | None = None,
        name: str | None = None,
        notation: dict[str, str] | None = None,
    ):
        if not isinstance(loss, Tensor):
            raise _located(ModelError, f"Model() needs the loss tensor first, not {type(loss).__name__}")
        if loss.shape != (1, 1):
            raise _located(
                ModelError, f"the loss {loss.describe()} is {loss.shape[0]}×{loss.shape[1]}; it must be a scalar "
                "(1×1): reduce it with sum() or mean()")
        _check_size(loss)
        self.loss = loss
        self.name = name
        self.title = title
        self.warnings: list[str] = []
        self.configure(lr=lr, epochs=epochs, optimizer=optimizer, beta=beta, beta1=beta1, beta2=beta2, eps=eps,
                       relu_grad_at_zero=relu_grad_at_zero, digits=digits)
        frame = user_frame()
        if frame is not None:
            name_tensors({**frame.f_globals, **frame.f_locals})
        self._name_rest()
        self.frozen = self._frozen(frozen)
        self.notation = self._notation(notation)
        self.warnings += [n.attrs["warning"] for n in self.nodes if n.attrs and n.attrs.get("warning")]

    #: what a hand solution's own symbols may stand for, besides the model's names (`_notation`)
    NOTATION_FUNCTIONS = ("step", "tanh", "sigmoid", "relu", "exp", "log", "softplus")

    def _notation(self, notation) -> dict[str, str]:
        """The ``notation=`` map of a LaTeX hand solution's symbols (``{"u": "step", "g": "tanh",
        "\\hat{y}": "out"}``): each a name of the model or one of `NOTATION_FUNCTIONS`."""
        if notation is None:
            return {}
        if not isinstance(notation, dict):
            raise _located(ModelError, "notation= is a dict of symbol → name, e.g. {'u': 'step'}")
        names = {n.name for n in self.nodes if n.name}
        for symbol, meaning in notation.items():
            if not isinstance(symbol, str) or not 0 < len(symbol) <= 40:
                raise _located(ModelError, f"notation: {symbol!r} is not a symbol (text of 1 to 40 characters)")
            if meaning not in names and meaning not in self.NOTATION_FUNCTIONS:
                raise _located(ModelError, f"notation: {symbol!r} → {meaning!r} is neither a name of the model nor "
                               f"one of the functions {', '.join(self.NOTATION_FUNCTIONS)}")
        return dict(notation)

    # -- options -------------------------------------------------------------------
    def configure(self, **options) -> None:
        """Set options after checking each; unknown or out-of-range values raise `OptionError`."""
        if "relu_grad_at_zero" in options:  # the derivation embeds the convention
            self.__dict__.pop("_derivation", None)
            self.__dict__.pop("program", None)
        for key, value in options.items():
            if value is None:
                continue
            if key in ("lr", "beta", "beta1", "beta2", "eps"):
                try:
                    number = exact_scalar(value)
                except ModelError:
                    raise _located(OptionError, f"{key} must be a number, not {value!r}") from None
                if key == "lr":
                    low, high = LR_RANGE
                    if not low <= number <= high:
                        raise _located(OptionError, f"lr must be between {low:g} and {high:g}, not {value}")
                else:
                    low_ok = number > 0 if key == "eps" else number >= 0
                    if not low_ok or number >= 1:
                        bound = "in (0, 1)" if key == "eps" else "in [0, 1)"
                        raise _located(OptionError, f"{key} must be {bound}, not {value}")
                value = number
            elif key == "epochs":
                value = _checked_epochs(value, self.samples if hasattr(self, "loss") else 1)
            elif key == "digits":
                if not isinstance(value, (int, np.integer)) or not 1 <= value <= 15:
                    raise _located(OptionError, f"digits must be a whole number from 1 to 15, not {value!r}")
                value = int(value)
            elif key == "optimizer":
                if value not in OPTIMIZERS:
                    raise _located(OptionError, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {value!r}")
            elif key == "relu_grad_at_zero":
                try:
                    value = exact_scalar(value)
                except ModelError:
                    value = None
                if value not in RELU_CONVENTIONS:
                    raise _located(OptionError, "relu_grad_at_zero must be 0, 1/2 or 1")
            else:
                raise _located(OptionError, f"unknown option {key!r}")
            setattr(self, key, value)

    # -- the graph -------------------------------------------------------------------
    @property
    def nodes(self) -> list[Tensor]:
        return topological_order(self.loss)

    @property
    def params(self) -> list[Tensor]:
        """Every parameter the loss depends on, in the order the file defines them."""
        return sorted((n for n in self.nodes if n.kind == "param"), key=lambda n: n.serial)

    @property
    def trainable(self) -> list[Tensor]:
        return [p for p in self.params if p not in self.frozen]

    @property
    def data(self) -> list[Tensor]:
        return sorted((n for n in self.nodes if n.kind == "data"), key=lambda n: n.serial)

    @property
    def samples(self) -> int:
        """Update steps per epoch: the number of samples (1 without ``samples(...)`` data)."""
        counts = {len(d.samples) for d in self.data if d.samples is not None}
        if len(counts) > 1:
            raise ModelError(f"samples() tensors have different numbers of samples: {sorted(counts)}")
        return counts.pop() if counts else 1

    def tensor(self, name: str) -> Tensor:
        for node in self.nodes:
            if node.name == name:
                return node
        raise OptionError(f"the model has no quantity named {name!r}")

    def _name_rest(self) -> None:
        seen: dict[str, Tensor] = {}
        counters = {"param": 0, "data": 0}
        for node in sorted(self.nodes, key=lambda n: n.serial):
            if node.kind in counters and node.name is None:
                counters[node.kind] += 1
                node.name = f"{'p' if node.kind == 'param' else 'd'}{counters[node.kind]}"
                while node.name in seen:
                    counters[node.kind] += 1
                    node.name = f"{'p' if node.kind == 'param' else 'd'}{counters[node.kind]}"
            if node.name is not None:
                if node.name in seen and seen[node.name] is not node:
                    raise ModelError(f"two different quantities are named {node.name!r}")
                if not node.name.isidentifier() or keyword.iskeyword(node.name):
                    raise ModelError(f"{node.name!r} is not a valid name (use letters, digits and _)")
                seen[node.name] = node
        if self.loss.name is None:
            self.loss.name = "loss"

    def _frozen(self, frozen) -> list[Tensor]:
        chosen = []
        for item in frozen:
            t = self.tensor(item) if isinstance(item, str) else item
            if not isinstance(t, Tensor):
                raise _located(ModelError, f"frozen=[...] lists parameters, not {item!r}")
            if t.kind != "param":
                raise _located(ModelError, f"frozen lists {t.describe()}, which is {t.kind}, not a parameter; "
                               "data is never trained")
            chosen.append(t)
        return chosen

    # -- what is done with it ------------------------------------------------------------
    @cached_property
    def _derivation(self):
        from .engine.derive import derive

        return derive(self.loss, self.trainable, self.relu_grad_at_zero)

    @cached_property
    def program(self):
        from .numeric.program import build_program

        return build_program(self._derivation)

    def derive(self):
        """The step-by-step derivation of every trainable parameter's gradient."""
        from .report.view import DerivationView

        return DerivationView(self, self._derivation)

    def compile(self):
        """float64 NumPy functions: ``f.loss(values)`` and ``f.grad(values)``."""
        from .numeric.compiled import Compiled

        return Compiled(self)

    def train(self, epochs: int | None = None, lr=None, progress=None):
        """Run the training epochs; returns the `History` (what ``result.json`` holds).

        ``progress(done, total)`` is called as the update steps are done (for a progress bar)."""
        from .numeric.train import train

        epochs = self.epochs if epochs is None else _checked_epochs(epochs, self.samples)
        return train(self, epochs=epochs, lr=self.lr if lr is None else lr, progress=progress)

    def verify(self, progress=None):
        """Check every gradient three ways (see ``verify.py``); ``progress(done, total)`` as in `train`."""
        from .numeric.verify import verify

        return verify(self, progress=progress)

    def initial_values(self) -> dict[Tensor, object]:
        """Every leaf's value for the first update step."""
        return {n: n.value for n in self.nodes if n.is_leaf}

    def __repr__(self) -> str:
        return f"<Model {self.name or ''} params={[p.name for p in self.params]}>"


def _checked_epochs(value, samples: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value <= MAX_EPOCHS:
        raise _located(OptionError, f"epochs must be a whole number from 0 to {MAX_EPOCHS:,}, not {value!r}")
    value = int(value)
    steps = value * samples
    if steps > MAX_STEPS:
        raise _located(OptionError, f"{value:,} epochs of {samples:,} samples are {steps:,} update steps; "
                       f"symback trains at most {MAX_STEPS:,}")
    return value


def _check_size(loss: Tensor) -> None:
    """Refuse a graph beyond `MAX_OPERATIONS` operations or `MAX_DEPTH` deep (see ``limits.py``)."""
    order = topological_order(loss)
    operations = sum(1 for n in order if n.kind == "op")
    if operations > MAX_OPERATIONS:
        raise _located(ModelError, f"the loss is built of {operations:,} operations; symback derives models of at "
                       f"most {MAX_OPERATIONS:,}")
    depth: dict[int, int] = {}
    for n in order:
        depth[id(n)] = 1 + max((depth[id(a)] for a in n.args), default=-1) if n.kind == "op" else 0
    if depth[id(loss)] > MAX_DEPTH:
        raise _located(ModelError, f"the loss is {depth[id(loss)]:,} operations deep; symback derives models at most "
                       f"{MAX_DEPTH} deep (a layer like tanh(h @ W + b) is about 4)")


def name_tensors(scope: dict) -> None:
    """Give every unnamed tensor bound in ``scope`` the variable's name (first binding wins), and every
    unnamed tensor of a list bound there its place: channels ``X = [data(…), data(…)]`` are X1, X2 and
    kernels ``K = [[param(…), …], …]`` K11, K12, … (K_1_2 where K12 is taken, or an index passes 9)."""
    for key, value in scope.items():
        if isinstance(value, Tensor) and value.name is None and not key.startswith("_"):
            value.name = key
    taken = {v.name for v in scope.values() if isinstance(v, Tensor) and v.name} | set(scope)
    for key, value in scope.items():
        if isinstance(value, (list, tuple)) and not key.startswith("_"):
            places = list(_places(value, ()))
            if not places:
                continue
            wide = any(k > 9 for place, _ in places for k in place)
            for place, tensor in places:
                if tensor.name is not None:
                    continue
                name = key + "".join(str(k) for k in place)
                if wide or name in taken:
                    name = key + "_" + "_".join(str(k) for k in place)
                if name not in taken:
                    tensor.name = name
                    taken.add(name)


def _places(items, index: tuple[int, ...]):
    """(place from 1, tensor) of every tensor in a list of at most two levels."""
    for k, item in enumerate(items, start=1):
        if isinstance(item, Tensor):
            yield index + (k,), item
        elif isinstance(item, (list, tuple)) and not index:
            yield from _places(item, (k,))
