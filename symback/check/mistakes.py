"""The catalogue of classic backpropagation mistakes, as mutations of the derivation.

A diagnosis is found by recomputing a step *with* a mistake and comparing with what the
author wrote.  For a gradient the step is its closed form in the named quantities; each
function below returns that formula mutated one way (drop ½, collapse an elementwise factor
to a scalar, swap an activation's derivative, use the pre-activation, transpose, change the
relu′(0) convention).  Mistakes in an update or a forward value are arithmetic on the
numbers and live in ``check.py``.

The codes and their sentences are a contract (SPEC §4).
"""

from __future__ import annotations

import sympy as sp

from ..engine.expr import Apply, Broadcast, hadamard, matmul, transpose

MESSAGES = {
    "relu-convention": "relu′(0) was taken as {detail}; this exercise uses relu′(0) = {expected}.",
    "missing-half": "a factor ½ is missing or extra: with (out − y)²/2 the ½ cancels the 2 of the square.",
    "update-sign": "the update went uphill: gradient descent subtracts the gradient, p ← p − η ∂L/∂p.",
    "learning-rate": "the update used {detail} instead of the learning rate η = {expected}.",
    "wrong-activation-derivative": "{detail}",
    "pre-post-activation": "{detail}",
    "missing-transpose": "a transpose is missing (or extra): {detail}",
    "collapsed-elementwise": ("{detail} is elementwise: each entry has its own factor; it was computed as one "
                              "number (a sum or dot product) instead."),
    "stale-parameters": "{detail}",
    "arithmetic": "the method is right but the arithmetic slipped: the value should be {expected}.",
}


def message(code: str, detail: str = "", expected: str = "") -> str:
    return MESSAGES[code].format(detail=detail, expected=expected)


def _is_ones(e) -> bool:
    return isinstance(e, (sp.OneMatrix, sp.Identity)) or (
        isinstance(e, sp.MatMul) and e.as_coeff_matrices()[0] == 1
        and all(isinstance(m, (sp.OneMatrix, sp.Identity)) for m in e.as_coeff_matrices()[1]))


def _negated(e):
    """``X`` when ``e`` is ``−X``, else None."""
    if isinstance(e, sp.MatMul):
        coeff, matrices = e.as_coeff_matrices()
        if coeff == -1:
            return matrices[0] if len(matrices) == 1 else sp.MatMul(*matrices)
    return None


def tanh_factor(e):
    """``X`` when ``e`` is ``1 − X⊙X`` (tanh′ written in its output), else None."""
    if isinstance(e, sp.MatAdd) and len(e.args) == 2:
        a, b = e.args
        for ones, other in ((a, b), (b, a)):
            squared = _negated(other)
            if _is_ones(ones) and isinstance(squared, sp.HadamardPower) and squared.exp == 2:
                return squared.base
    return None


def sigmoid_factor(e):
    """``X`` when ``e`` is ``X ⊙ (1 − X)`` (σ′ written in its output), else None."""
    if isinstance(e, sp.HadamardProduct) and len(e.args) == 2:
        a, b = e.args
        for x, rest in ((a, b), (b, a)):
            if isinstance(rest, sp.MatAdd) and len(rest.args) == 2 and any(_negated(t) == x for t in rest.args) \
                    and any(_is_ones(t) for t in rest.args):
                return x
    return None


def _ones(shape):
    return sp.OneMatrix(*shape)


def _one_minus_square(x):
    return sp.MatAdd(_ones(x.shape), sp.MatMul(-1, sp.HadamardPower(x, 2)))


def _sigmoid_derivative(x):
    return sp.HadamardProduct(x, sp.MatAdd(_ones(x.shape), sp.MatMul(-1, x)))


def _dot(a, b):
    """The scalar Σ aᵢbᵢ of two same-shaped vectors, broadcast back to their shape."""
    rows, cols = (int(n) for n in a.shape)
    inner = matmul(a, transpose(b)) if rows == 1 else matmul(transpose(a), b)
    return Broadcast(inner, rows, cols)


def gradient_mutations(closed, pre_of: dict, post_of: dict, convention) -> list[tuple[str, str, sp.MatrixExpr]]:
    """(code, detail, mutated formula) for each catalogued mistake that applies to ``closed``.

    ``pre_of`` maps an activation's output symbol to its input symbol (h → u1), ``post_of``
    the reverse; ``convention`` is the exercise's relu′(0).
    """
    out: list[tuple[str, str, sp.MatrixExpr]] = [
        ("missing-half", "", sp.MatMul(2, closed)),
        ("missing-half", "", sp.MatMul(sp.Rational(1, 2), closed)),
    ]

    def replace(target, replacement):
        return closed.xreplace({target: replacement})

    for node in sp.preorder_traversal(closed):
        x = tanh_factor(node)
        if x is not None and tuple(x.shape) != (1, 1):
            out.append(("collapsed-elementwise", f"1 − {x}⊙{x}",
                        replace(node, sp.MatAdd(_ones(x.shape), sp.MatMul(-1, _dot(x, x))))))
        if x is not None:
            out.append(("wrong-activation-derivative", f"tanh′ is 1 − tanh² (here 1 − {x}²), not σ′ = σ(1 − σ)",
                        replace(node, _sigmoid_derivative(x))))
            out.append(("wrong-activation-derivative", f"the derivative of tanh, 1 − {x}², was left out",
                        replace(node, _ones(x.shape))))
            if x in pre_of:
                u = pre_of[x]
                out.append(("pre-post-activation", f"tanh′ uses the output {x}: 1 − {x}², not 1 − {u}²",
                            replace(node, _one_minus_square(u))))
        s = sigmoid_factor(node)
        if s is not None:
            out.append(("wrong-activation-derivative", f"σ′ is σ(1 − σ) (here {s}(1 − {s})), not 1 − σ²",
                        replace(node, _one_minus_square(s))))
            if s in pre_of:
                u = pre_of[s]
                out.append(("pre-post-activation", f"σ′ uses the output {s}: {s}(1 − {s}), not {u}(1 − {u})",
                            replace(node, _sigmoid_derivative(u))))
            if tuple(s.shape) != (1, 1):
                collapsed = sp.MatAdd(_dot(s, _ones(s.shape)), sp.MatMul(-1, _dot(s, s)))
                out.append(("collapsed-elementwise", f"{s}⊙(1 − {s})", replace(node, collapsed)))
        if isinstance(node, sp.HadamardProduct) and tuple(node.shape) != (1, 1) and len(node.args) == 2:
            a, b = node.args
            if tanh_factor(b) is None and tanh_factor(a) is None:
                out.append(("collapsed-elementwise", "the product ⊙", replace(node, _dot(a, b))))
        if isinstance(node, Apply) and node.fn == "step":
            z = node.arg
            for c in (sp.Integer(0), sp.Rational(1, 2), sp.Integer(1)):
                if c != sp.Rational(convention):
                    out.append(("relu-convention", str(c), replace(node, Apply("step", z, c))))
            if z in post_of:
                out.append(("pre-post-activation", f"relu′ is step({z}) of the relu's argument",
                            replace(node, Apply("step", post_of[z], node.args[2]))))
            out.append(("wrong-activation-derivative", f"relu′ = step({z}) was left out", replace(node, _ones(z.shape))))
        if isinstance(node, sp.Transpose) and node.arg.shape[0] == node.arg.shape[1]:
            out.append(("missing-transpose", f"{node.arg}ᵀ was written {node.arg}", replace(node, node.arg)))
        if isinstance(node, sp.MatrixSymbol) and node.shape[0] == node.shape[1] != 1:
            out.append(("missing-transpose", f"{node} should be {node}ᵀ here", replace(node, transpose(node))))
    if closed.shape[0] == closed.shape[1] != 1:
        out.append(("missing-transpose", "the gradient came out transposed", transpose(closed)))
    return out


__all__ = ["MESSAGES", "message", "gradient_mutations", "tanh_factor", "sigmoid_factor", "hadamard"]
