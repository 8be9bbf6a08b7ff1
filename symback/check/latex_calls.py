r"""Convolution, pooling and reshaping in a LaTeX formula, read into the formula language (``calls.py``).

What a report prints (``numeric/printing.py``'s LaTeX) and a student copies or writes by hand::

    X \star \delta_Z                                 correlate(X, delta_Z)     X \star_{2} K: stride 2
    \operatorname{rot180}(K)                         rot180(K)
    \operatorname{pad}_{1}(\delta_Z)                 pad(delta_Z, 1)       pad_{1,2}: rows, columns; pad_{t,l,b,r}
    \operatorname{dilate}_{2}(\delta_Z)              dilate(delta_Z, 2)
    \operatorname{flatten}(P)                        flatten(P)
    \operatorname{reshape}_{2\times 2}(\delta)       reshape(delta, 2, 2)
    \operatorname{maxpool}_{2}(A)                    max_pool2d(A, 2)      (avgpool likewise)
    \operatorname{route}_{\max}(\delta_P \to A)      route_max(delta_P, A, 2): the window of the model's max-pool of A
    \operatorname{spread}_{2}(\delta_P)              spread_avg(delta_P, 2): stride and shape of the model's avg-pool
    \operatorname{route\_max}(\delta_P, A, 2)        any function of the formula language, its arguments as there

The translation is text in the formula language, which the checker reads with its own parser and
limits; a part's shape (for the products around it and for underbrace claims) is what that parser
says it is.
"""

from __future__ import annotations

import re

from lark import Token, Tree
from sympy import MatrixSymbol

from ..errors import SolutionError
from .calls import SIGNATURES
from .formula import parse_formula

#: the infix cross-correlation, X ⋆ δ (\star_{2}: with stride 2)
CORRELATE = re.compile(r"\\star(_\{[0-9,]+\})?|⋆")
#: the words a LaTeX formula may call these functions by (the report's, and the formula language's own)
WORDS = {"rot180": "rot180", "flatten": "flatten", "pad": "pad", "dilate": "dilate", "reshape": "reshape",
         "maxpool": "max_pool2d", "avgpool": "avg_pool2d", "route": "route_max", "spread": "spread_avg",
         "sign": "sign", **{name: name for name in SIGNATURES}}
WORDS.update({word.replace("_", r"\_"): name for word, name in WORDS.items()})
#: the functions read here rather than as an elementwise f(x)
READ_HERE = {"rot180", "flatten", "pad", "dilate", "reshape", "max_pool2d", "avg_pool2d", "route_max", "spread_avg",
             "correlate", "conv2d", "concat", "columns", "normalize", "inv_std", "huber", "clip", "mean", "leaky_relu",
             "leaky_step"}
_ARROWS = {r"\to", r"\rightarrow"}


class UnreadableError(Exception):
    """Raised for a part that cannot be read; ``latex.py`` turns it into its own error with a position."""

    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.message, self.node = message, node


def symbols(reader) -> dict:
    """The model's named quantities and their δ as matrix symbols, for the shape of a translated part."""
    if not hasattr(reader, "_formula_symbols"):
        out = {name: MatrixSymbol(name, *shape) for name, shape in reader.shapes.items()}
        out.update({f"delta_{name}": MatrixSymbol(f"delta_{name}", *reader.shapes[name]) for name in reader.deltas})
        reader._formula_symbols = out
    return reader._formula_symbols


def shape_of(reader, text: str, fallback):
    """The shape of a translated part, as the checker will read it; ``fallback`` where it cannot (the
    checker then says why, as a wrong or unreadable formula)."""
    try:
        e = parse_formula(text, symbols(reader), relu_grad_at_zero=reader.model.relu_grad_at_zero)
    except SolutionError:
        return fallback
    return int(e.shape[0]), int(e.shape[1])


def correlated(reader, op: str, a: str, a_shape, b: str, b_shape) -> tuple[str, tuple[int, int]]:
    """``a \\star b``: the cross-correlation of a with the kernel b; ``a \\star_{2} b`` moves it 2 at a time."""
    stride = _numbers(op)
    text = f"correlate({a}, {b}{', stride=' + _pair(stride) if stride else ''})"
    return text, shape_of(reader, text, (a_shape[0] - b_shape[0] + 1, a_shape[1] - b_shape[1] + 1))


def _numbers(script: str) -> list[int]:
    return [int(n) for n in re.findall(r"[0-9]{1,4}", script)]


def _pair(numbers: list[int]) -> str:
    """2 for [2] or [2, 2]; (2, 1) for [2, 1]."""
    return str(numbers[0]) if len(set(numbers)) == 1 else f"({numbers[0]}, {numbers[1]})"


def split_at_arrow(inner: Tree) -> list[Tree] | None:
    """``\\delta_P \\to A`` → [δ_P, A] as two expressions; None where there is no arrow."""
    if not (isinstance(inner, Tree) and inner.data == "expr" and inner.children[0] is None
            and len(inner.children) == 2 and isinstance(inner.children[1], Tree)):
        return None
    term = inner.children[1].children
    arrows = [i for i, c in enumerate(term) if isinstance(c, Tree) and c.data == "factor" and len(c.children) == 1
              and c.children[0].data == "command" and c.children[0].children[0].value in _ARROWS]
    if len(arrows) != 1 or arrows[0] in (0, len(term) - 1):
        return None
    k = arrows[0]
    left, right = term[:k], term[k + 1:]
    if any(isinstance(c, Token) for c in (left[-1], right[0])):  # an operator at the arrow: not δ → A
        return None
    return [Tree("expr", [None, Tree("term", left)]), Tree("expr", [None, Tree("term", right)])]


def window_text(reader, function: str, script: str | None, args: list[tuple[str, tuple[int, int]]]) -> str:
    """The call in the formula language: the arguments written, then what the subscript or the model adds."""
    texts = [t for t, _ in args]
    numbers = _numbers(script) if script else []
    if function == "pad" and numbers:
        if len(numbers) == 4:
            texts += [f"{side}={n}" for side, n in zip(("top", "left", "bottom", "right"), numbers)]
        else:
            texts.append(_pair(numbers))
    elif function in ("dilate", "max_pool2d", "avg_pool2d") and numbers:
        texts.append(_pair(numbers))
    elif function == "reshape" and len(numbers) == 2:
        texts += [str(n) for n in numbers]
    elif function == "route_max" and len(args) == 2:
        texts += _model_pool(reader, "max_pool2d", args[1][1], args[0][1], args[1][0])
    elif function == "spread_avg" and len(args) == 1 and len(numbers) in (1, 2):
        window = _pair(numbers)
        found = _model_pools(reader, "avg_pool2d", None, args[0][1], tuple(numbers * (2 // len(numbers))))
        texts.append(window)
        if len(found) == 1:
            node = found[0]
            stride, shape = node.attrs["stride"], node.args[0].shape
            texts += [f"stride={_pair(list(stride))}", f"shape=({shape[0]}, {shape[1]})"]
    return f"{function}({', '.join(texts)})"


def _model_pools(reader, op: str, input_shape, output_shape, window=None) -> list:
    return [n for n in reader.model.nodes if n.op == op and (input_shape is None or n.args[0].shape == input_shape)
            and n.shape == output_shape and (window is None or tuple(n.attrs["window"]) == window)]


def _model_pool(reader, op: str, input_shape, output_shape, input_text: str) -> list[str]:
    """The window and stride of the model's pool of this input (by name, else the one pool of these shapes)."""
    found = [n for n in _model_pools(reader, op, input_shape, output_shape) if n.args[0].name == input_text] \
        or _model_pools(reader, op, input_shape, output_shape)
    if len(found) != 1:
        raise UnreadableError("which pooling window? write \\operatorname{route\\_max}(\\delta_P, A, 2), the window "
                         "third")
    window, stride = tuple(found[0].attrs["window"]), tuple(found[0].attrs["stride"])
    out = [_pair(list(window))]
    if stride != window:
        out.append(f"stride={_pair(list(stride))}")
    return out
