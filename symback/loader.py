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

    scope: dict = {"__name__": "__symback_model__", "__file__": str(path.resolve())}
    try:
        exec(code, scope)  # noqa: S102 - a model file is the user's own program
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
    _warn_unused(chosen, scope)
    return chosen


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
