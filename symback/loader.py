"""Loading a model file: run it, name its tensors after its variables, find its `Model`.

A model file is the user's own Python program (unlike a solution file, which is untrusted
data and is never executed).  Every failure becomes one `ModelError` naming the file and
line: a syntax error, an unknown name (with the closest known one), a shape mismatch.
"""

from __future__ import annotations

import difflib
import signal
import traceback
from pathlib import Path

from .engine.graph import Tensor
from .errors import ModelError, SymbackError
from .model import Model, name_tensors


def load(path: str | Path, model: str | None = None) -> Model:
    """Run the model file at ``path`` and return its `Model` (or the one bound to ``model``)."""
    path = Path(path)
    shown = str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError("no such model file", file=shown) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"cannot read the model file: {e}", file=shown) from None
    try:
        code = compile(source, shown, "exec")
    except SyntaxError as e:
        raise ModelError(f"syntax error: {e.msg}", file=shown, line=e.lineno) from None

    module: dict = {"__name__": "__symback_model__", "__file__": str(path.resolve())}
    scope = Bindings(module)
    try:
        exec(code, module, scope)  # noqa: S102 - a model file is the user's own program
    except SymbackError as e:
        if e.file is None:
            e.file, e.line = shown, _line_in(e, shown)
        raise
    except SystemExit as e:
        raise ModelError(f"the model file exits (sys.exit({e.code!r})) before it defines a Model; a model file "
                         "defines the network and ends with `model = Model(loss, ...)`", file=shown,
                         line=_line_in(e, shown)) from None
    except RecursionError:
        raise ModelError("the model file recurses too deeply (RecursionError)", file=shown) from None
    except KeyboardInterrupt as e:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # a real Ctrl-C (the Python API)
            raise
        # under the CLI, Ctrl-C arrives as its own exception: this one the file raised
        raise ModelError("the model file raises KeyboardInterrupt", file=shown, line=_line_in(e, shown)) from None
    except NameError as e:
        raise ModelError(_unknown_name(e, scope), file=shown, line=_line_in(e, shown)) from None
    except Exception as e:  # noqa: BLE001 - any error in the user's program is reported as one line
        raise ModelError(f"{type(e).__name__}: {e}", file=shown, line=_line_in(e, shown)) from None

    name_tensors(scope)
    models = {k: v for k, v in scope.items() if isinstance(v, Model) and not k.startswith("_")}
    if model is not None:
        if model not in models:
            raise ModelError(f"no Model named {model!r} (the file defines: {', '.join(models) or 'none'})", file=shown)
        chosen = models[model]
    elif len(models) == 1:
        chosen = next(iter(models.values()))
    elif not models:
        raise ModelError("the file defines no Model: end it with e.g. `model = Model(loss, lr=0.1, epochs=3)`",
                         file=shown)
    else:
        raise ModelError(f"the file defines {len(models)} Models ({', '.join(models)}); choose one with --model NAME",
                         file=shown)
    if chosen.name is None:
        chosen.name = path.stem
    chosen.source_path = path
    _notation_beside(chosen, path)
    _warn_unused(chosen, scope)
    return chosen


#: the largest notation file read beside a model: a few lines of ``symbol: name``
_NOTATION_BYTES = 20_000


def _notation_beside(model: Model, path: Path) -> None:
    """``<model>.notation.yaml`` beside the model file adds to its ``notation=`` (a course keeps its
    symbols apart from the model): a mapping, or ``notation:`` holding one, of symbol → name."""
    import yaml

    beside = path.with_name(path.stem + ".notation.yaml")
    if not beside.is_file():
        return
    shown = str(beside)
    try:
        with open(beside, "rb") as f:
            raw = f.read(_NOTATION_BYTES + 1)  # never more than the limit, whatever the file's size
        if len(raw) > _NOTATION_BYTES:
            raise ModelError(f"the notation file is larger than {_NOTATION_BYTES:,} bytes", file=shown)
        data = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ModelError(f"cannot read the notation file: {str(e).splitlines()[0]}", file=shown) from None
    if isinstance(data, dict) and set(data) == {"notation"}:
        data = data["notation"]
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ModelError("a notation file maps symbols to names, e.g. `u: step` or `\\hat{y}: out`", file=shown)
    try:
        model.notation = {**model._notation(data), **model.notation}  # the model file's own map comes first
    except ModelError as e:
        raise ModelError(e.message, file=shown) from None


class Bindings(dict):
    """The model file's top-level namespace, which sees every assignment as it happens.

    A variable bound in turn to several tensors — ``h = tanh(W @ h + b)`` in a loop, or
    ``for W, b in layers`` — names them as a teacher numbers layers: h1, h2, …, W1, W2, …, and a
    recurrent state given first as a value h0, then h1, h2, … per time step (a
    variable bound to one tensor keeps its name; a tensor named already, by ``name=`` or an
    earlier variable, keeps its own).  Every binding is also made in the module's globals, where
    the file's functions look names up.
    """

    def __init__(self, module: dict):
        super().__init__(module)
        self.module = module
        self.bound: dict[str, list[Tensor]] = {}  # the tensors this variable named, in order
        self.ours: set[int] = set()  # tensors named here (their names may still change)
        self.first: dict[str, int] = {}  # the number of a variable's first tensor: 0 or 1

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.module[key] = value
        if not isinstance(value, Tensor) or key.startswith("_"):
            return
        if value.name is not None and id(value) not in self.ours:
            return
        bound = self.bound.setdefault(key, [])
        if any(t is value for t in bound) or id(value) in self.ours:
            return
        # a list's parameter taken as a start value (Z = bs[o]; Z = Z + conv2d(…)) is named by its list, bs1 —
        # not Z0, the start of the variable's numbering, as a recurrent network's given h0 is
        if value.kind == "param" and self._in_a_list(value) and any(not t.is_leaf for t in bound):
            return
        if not value.is_leaf and bound and all(t.kind == "param" and self._in_a_list(t) for t in bound):
            for start in bound:
                start.name = None
                self.ours.discard(id(start))
            bound.clear()
        bound.append(value)
        self.ours.add(id(value))
        if len(bound) == 1:
            value.name = key
            return
        if len(bound) == 2:
            # an initial state given as a value, then computed ones (a recurrent network's h = 0, then
            # h = tanh(W h + U x + b) per time step): h0, h1, h2, … as on the board; else from 1
            self.first[key] = 0 if bound[0].is_leaf and not value.is_leaf else 1
            self._number(bound[0], key, self.first[key])
        self._number(value, key, self.first[key] + len(bound) - 1)

    def _in_a_list(self, tensor: Tensor) -> bool:
        def holds(items) -> bool:
            return any(t is tensor or (isinstance(t, (list, tuple)) and holds(t)) for t in items)

        return any(isinstance(v, (list, tuple)) and holds(v) for v in self.values())

    def _number(self, tensor: Tensor, key: str, k: int) -> None:
        tensor.name = self._numbered(key, k)
        if tensor.name != f"{key}{k}":  # W_1 beside the file's own W1: W^{(1)} in LaTeX, not a second W_{1}
            from .numeric.printing import latex_name

            tensor.latex = f"{latex_name(key)}^{{({k})}}"

    def _numbered(self, key: str, k: int) -> str:
        """``W2``; or ``W_2`` for every layer where the file has a tensor of its own named W1, W2, …"""
        def theirs(name: str) -> bool:
            taken = self.get(name)
            return isinstance(taken, Tensor) and not any(t is taken for t in self.bound.get(key, []))

        return f"{key}_{k}" if theirs(f"{key}1") or theirs(f"{key}{k}") else f"{key}{k}"


def _line_in(error: BaseException, filename: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def _unknown_name(error: NameError, scope: dict) -> str:
    name = getattr(error, "name", None) or str(error).split("'")[1]
    import symback

    known = [k for k in dir(symback) if not k.startswith("_")] + [k for k in scope if not k.startswith("_")]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown name {name!r}{hint}"


def _warn_unused(model: Model, scope: dict) -> None:
    used = {id(n) for n in model.nodes}
    for key, value in scope.items():
        if isinstance(value, Tensor) and value.kind == "param" and id(value) not in used:
            model.warnings.append(f"parameter {key} does not reach the loss: its gradient is zero and it is not trained")
