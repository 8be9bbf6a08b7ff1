"""The catalogue of classic backpropagation mistakes, each a change to the computation.

A diagnosis is found by recomputing a value *with* a mistake, from the author's own values,
and comparing with what they wrote (``diagnose.py``).  Each `Mistake` here says how the
computation changes:

* ``vjps`` — a derivative rule changed for one node of the graph (a derivative left out,
  applied twice, taken at the output, the wrong function's, an elementwise factor collapsed
  into one number, relu′(0) by another convention, a transpose missing; δ routed through a
  pooling layer or a convolution another way, in ``window_mistakes.py``); the engine derives
  again with it (``engine/derive.py``'s ``vjps=``) and the δ and gradients that change are
  the mistake's;
* ``scale`` — every δ and gradient scaled (a ½ or a 1/N batch factor missing or extra);
* ``forward`` — a forward value computed another way (the activation not applied, the ½ of
  the loss dropped);
* ``update`` — the optimizer's step done another way (uphill, another learning rate, from
  another parameter, not applied, the moving-average momentum, Adam without bias correction);
* ``values`` — the right formula on other values (parameters before or after the update,
  the previous sample's data).

The codes and their sentences are a contract (SPEC §4, listed in the README).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from ..engine.expr import ALL, Apply, Broadcast, Reduce, Softmax, add, hadamard, matmul, ones_like, scaled, transpose
from ..numeric.program import DIGITS, MPMATH, mp_sqrt
from .replay import mp_number

MESSAGES = {
    "derivative-left-out": "the derivative of {detail} was left out of the chain rule.",
    "derivative-twice": "the derivative of {detail} was applied twice.",
    "derivative-at-output": "{detail}",
    "wrong-activation-derivative": "{detail}",
    "pre-post-activation": "{detail}",
    "relu-convention": "relu′(0) was taken as {detail}; this exercise uses relu′(0) = {expected}.",
    "collapsed-elementwise": ("{detail} is elementwise: each entry has its own factor; it was computed as one "
                              "number (a sum or dot product) instead."),
    "missing-transpose": "a transpose is missing (or extra): {detail}.",
    "wrong-shape": "the shape written under a part of the formula is not its shape: {detail}.",
    "missing-half": "a factor 2 is missing or extra: the derivative of a square is 2(·), and a ½ in the loss "
                    "cancels it.",
    "missing-batch-factor": "the 1/N of the mean over the batch ({detail}) is missing or extra.",
    "update-sign": "the update went uphill: gradient descent subtracts the gradient, p ← p − η ∂L/∂p.",
    "learning-rate": "the update used {detail} instead of the learning rate η = {expected}.",
    "update-other-parameter": "{detail}",
    "update-not-applied": "the parameter was not updated: p ← p − η ∂L/∂p was not applied.",
    "stale-parameters": "{detail}",
    "stale-sample": "{detail}",
    "momentum-convention": ("the momentum buffer was taken as a moving average, b ← βb + (1 − β)g; this exercise "
                            "uses b ← βb + g (PyTorch's SGD with momentum)."),
    "adam-bias-correction": "Adam's bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ were left out.",
    "optimizer-left-out": "the update was plain gradient descent, p ← p − η ∂L/∂p; this exercise uses {detail}.",
    "pool-routing": "a pooling layer's δ went back the wrong way: {detail}.",
    "kernel-rotation": "the kernel's 180° turn is missing or extra: {detail}.",
    "conv-stride": "the stride is missing from the kernel's gradient: {detail}.",
    "flatten-order": "the flattened δ was put back column by column: flatten reads a matrix row by row, so its δ "
                     "goes back row by row ({detail}).",
    "arithmetic": "the method is right but the arithmetic slipped: the value should be {expected}.",
}

#: the catalogue's short name for each mistake, as a feedback report heads its sentence with it
TITLES = {
    "derivative-left-out": "a derivative left out",
    "derivative-twice": "a derivative applied twice",
    "derivative-at-output": "a derivative taken at the output",
    "wrong-activation-derivative": "another function's derivative",
    "pre-post-activation": "the derivative in terms of the input, not the output",
    "relu-convention": "another convention for relu′(0)",
    "collapsed-elementwise": "an elementwise product taken as one number",
    "missing-transpose": "a transpose missing or extra",
    "wrong-shape": "a shape written wrong",
    "missing-half": "a factor 2 missing or extra",
    "missing-batch-factor": "the batch's 1/N missing or extra",
    "update-sign": "an update in the wrong direction",
    "learning-rate": "another learning rate",
    "update-other-parameter": "an update from another parameter",
    "update-not-applied": "an update not applied",
    "stale-parameters": "parameters of another step",
    "stale-sample": "the data of another sample",
    "momentum-convention": "another momentum convention",
    "adam-bias-correction": "Adam without its bias correction",
    "optimizer-left-out": "the optimizer left out",
    "pool-routing": "a pooling layer's δ routed wrong",
    "kernel-rotation": "the kernel's 180° turn missing or extra",
    "conv-stride": "the stride left out of a kernel's gradient",
    "flatten-order": "a flattened δ put back in the wrong order",
    "arithmetic": "an arithmetic slip",
}

#: what a README lists: every code and a sentence for it, with the placeholders filled as an example
EXAMPLES = {
    "derivative-left-out": {"detail": "tanh, 1 − h⊙h"},
    "derivative-twice": {"detail": "σ, a⊙(1 − a)"},
    "derivative-at-output": {"detail": "tanh′ was evaluated at the output h: 1 − tanh(h)², instead of 1 − h² = "
                                       "1 − tanh(u)²"},
    "wrong-activation-derivative": {"detail": "tanh′ is 1 − tanh² (here 1 − h⊙h), not σ′ = σ(1 − σ)"},
    "pre-post-activation": {"detail": "tanh′ in terms of its output is 1 − h⊙h, not 1 − u⊙u of the input"},
    "relu-convention": {"detail": "0", "expected": "1"},
    "collapsed-elementwise": {"detail": "1 − h⊙h"},
    "missing-transpose": {"detail": "w2ᵀ was written w2"},
    "wrong-shape": {"detail": "x w_2 is 2×3, not 1×3"},
    "missing-batch-factor": {"detail": "N = 4"},
    "learning-rate": {"detail": "η = 1", "expected": "0.1"},
    "update-other-parameter": {"detail": "the update of a started from b: a ← b − η ∂L/∂a"},
    "stale-parameters": {"detail": "the gradient was computed with the parameters before the last update"},
    "stale-sample": {"detail": "the forward pass used the previous sample's data"},
    "optimizer-left-out": {"detail": "momentum (β = 0.9)"},
    "pool-routing": {"detail": "max-pool gives each window's δ to the window's maximum only (0 to the other "
                               "entries), not to every entry of the window"},
    "kernel-rotation": {"detail": "the input's gradient is δ ⋆ rot180(K), δ padded in full; K was used unturned"},
    "conv-stride": {"detail": "with stride 2, K[a, b] meets X[2i + a, 2j + b] for δ[i, j] (X ⋆ dilate_2(δ)), not "
                              "X[i + a, j + b]"},
    "flatten-order": {"detail": "P is 2×2"},
    "arithmetic": {"expected": "4.472"},
}


def message(code: str, detail: str = "", expected: str = "") -> str:
    return MESSAGES[code].format(detail=detail, expected=expected)


@dataclass
class Mistake:
    """One catalogued mistake and how it changes the computation (see the module docstring)."""

    code: str
    detail: str = ""
    vjps: dict | None = None  # (node, operand index) -> vjp, for derive()
    scale: sp.Rational | None = None
    forward: dict = field(default_factory=dict)  # forward name -> matrix expression in the named quantities
    transposed: str | None = None  # the gradient of this (square) parameter came out transposed
    update: Callable | None = None  # (world, k, name, p, g, state) -> the update done this way
    values: str | None = None  # "previous-parameters", "updated-parameters", "previous-sample"
    sections: tuple[str, ...] = ("deltas", "grads", "updated")  # where it can show

    def message(self, expected: str = "") -> str:
        return message(self.code, self.detail, expected)


# -- derivative rules, changed ---------------------------------------------------------------------------
def _name(node, symbol) -> str:
    return node.name or str(symbol)


def _text(e) -> str:
    from ..numeric.printing import text

    return text(e)


def _derivative_forms(fn: str, out, arg, node) -> dict:
    """The derivative of an elementwise ``fn`` in the ways it is written right and wrong:
    'right' (as the registry has it), 'at-output' (the same function of the output), 'other'
    (another function's), 'pre' (the output form written in the input), 'collapsed' (its
    elementwise square or product taken as a dot product: 1 − h·hᵀ for 1 − h⊙h)."""
    one = ones_like(out)
    tanh_of = lambda x: add(one, -hadamard(x, x))  # noqa: E731 - 1 − x⊙x
    sigma_of = lambda x: hadamard(x, add(one, -x))  # noqa: E731 - x⊙(1 − x)
    forms = {}
    if fn == "tanh":
        forms = {"right": tanh_of(out), "at-output": tanh_of(Apply("tanh", out)), "other": sigma_of(out),
                 "pre": tanh_of(arg), "collapsed": add(one, -_dot(out, out))}
    elif fn == "sigmoid":
        forms = {"right": sigma_of(out), "at-output": sigma_of(Apply("sigmoid", out)), "other": tanh_of(out),
                 "pre": sigma_of(arg), "collapsed": _dot(out, add(one, -out))}
    elif fn == "exp":
        forms = {"right": out, "at-output": Apply("exp", out)}
    elif fn == "log":
        forms = {"right": sp.HadamardPower(arg, -1), "at-output": sp.HadamardPower(out, -1)}
    elif fn == "softplus":
        forms = {"right": Apply("sigmoid", arg), "at-output": Apply("sigmoid", out)}
    return forms


def _collapsed(x):
    """Σ of the entries of ``x``, broadcast back to its shape: an elementwise factor taken as one number."""
    rows, cols = (int(n) for n in x.shape)
    if rows == 1:
        total = matmul(x, sp.OneMatrix(cols, 1))
    elif cols == 1:
        total = matmul(sp.OneMatrix(1, rows), x)
    else:
        total = Reduce(x, ALL)
    return Broadcast(total, rows, cols)


def _dot(a, b):
    """Σ aᵢbᵢ of two same-shaped tensors, broadcast back to their shape (h·hᵀ for a row h)."""
    rows, cols = (int(n) for n in a.shape)
    if rows == 1:
        inner = matmul(a, transpose(b))
    elif cols == 1:
        inner = matmul(transpose(a), b)
    else:
        inner = Reduce(hadamard(a, b), ALL)
    return Broadcast(inner, rows, cols)


def rule_mistakes(model, derivation) -> list[Mistake]:
    """Every changed derivative rule that applies to this model's graph, node by node."""
    d = derivation
    convention = sp.Rational(model.relu_grad_at_zero)
    out: list[Mistake] = []
    for node in d.order:
        if node.is_leaf or node not in d.delta_defs:
            continue
        key = (node, 0)
        out_symbol = d.value[node]
        arg_symbol = d.value[node.args[0]] if node.args else None
        name = _name(node, out_symbol)
        if node.op == "apply":
            fn = node.attrs["fn"]
            arg_name = node.args[0].name or _text(d.anonymous_values.get(arg_symbol, arg_symbol))
            if fn in ("relu", "leaky_relu"):
                for c in (sp.Integer(0), sp.Rational(1, 2), sp.Integer(1)):
                    if c == convention:
                        continue
                    if fn == "relu":
                        vjp = (lambda c_: lambda g, ctx: hadamard(g, Apply("step", ctx.args[0], c_)))(c)
                    else:
                        vjp = (lambda c_: lambda g, ctx: hadamard(g, Apply("leaky_step", ctx.args[0],
                                                                         ctx.node.attrs["params"][0], c_)))(c)
                    out.append(Mistake("relu-convention", str(c), vjps={key: vjp}))
                out.append(Mistake("derivative-at-output", f"{fn}′ was taken at the output {name} instead of at "
                                   f"its argument {arg_name}",
                                   vjps={key: (lambda g, ctx: hadamard(g, Apply(
                                       "step" if ctx.node.attrs["fn"] == "relu" else "leaky_step", ctx.out,
                                       *(ctx.node.attrs.get("params", ())), ctx.relu_grad_at_zero)))}))
                out.append(Mistake("derivative-left-out", f"{fn} (the step function of {arg_name})",
                                   vjps={key: lambda g, ctx: g}))
                if fn == "leaky_relu":
                    out.append(Mistake("derivative-twice", f"leaky_relu ({name})", vjps={key: lambda g, ctx: hadamard(
                        g, Apply("leaky_step", ctx.args[0], ctx.node.attrs["params"][0], ctx.relu_grad_at_zero),
                        Apply("leaky_step", ctx.args[0], ctx.node.attrs["params"][0], ctx.relu_grad_at_zero))}))
                continue
            forms = _derivative_forms(fn, out_symbol, arg_symbol, node)
            right = forms.get("right")
            if right is None:
                continue
            what = {"tanh": f"tanh, 1 − {name}⊙{name}", "sigmoid": f"σ, {name}⊙(1 − {name})",
                    "exp": f"exp ({name})", "log": f"log, 1/{arg_name}", "softplus": f"softplus, σ({arg_name})"}[fn]

            def vjp_with(factor_of):
                return lambda g, ctx: hadamard(g, factor_of(ctx))

            def form(which):
                return lambda ctx: _derivative_forms(ctx.node.attrs["fn"], ctx.out, ctx.args[0], ctx.node)[which]

            out.append(Mistake("derivative-left-out", what, vjps={key: lambda g, ctx: g}))
            out.append(Mistake("derivative-twice", what, vjps={key: lambda g, ctx: hadamard(
                g, form("right")(ctx), form("right")(ctx))}))
            at = {"tanh": f"1 − tanh({name})², instead of 1 − {name}² = 1 − tanh({arg_name})²",
                  "sigmoid": f"σ({name})(1 − σ({name})), instead of {name}(1 − {name}) = σ′({arg_name})",
                  "exp": f"exp({name}), instead of {name} = exp({arg_name})",
                  "log": f"1/{name}, instead of 1/{arg_name}",
                  "softplus": f"σ({name}), instead of σ({arg_name})"}[fn]
            out.append(Mistake("derivative-at-output", f"{fn}′ was evaluated at the output {name}: {at}",
                               vjps={key: vjp_with(form("at-output"))}))
            if "other" in forms:
                other = {"tanh": f"tanh′ is 1 − tanh² (here 1 − {name}⊙{name}), not σ′ = σ(1 − σ)",
                         "sigmoid": f"σ′ is σ(1 − σ) (here {name}⊙(1 − {name})), not tanh′ = 1 − tanh²"}[fn]
                out.append(Mistake("wrong-activation-derivative", other, vjps={key: vjp_with(form("other"))}))
            if "pre" in forms and node.args[0].name:
                pre = {"tanh": f"tanh′ in terms of its output is 1 − {name}⊙{name}, not 1 − {arg_name}⊙{arg_name} "
                               "of its input",
                       "sigmoid": f"σ′ in terms of its output is {name}⊙(1 − {name}), not {arg_name}⊙(1 − "
                                  f"{arg_name}) of its input"}[fn]
                out.append(Mistake("pre-post-activation", pre, vjps={key: vjp_with(form("pre"))}))
            if tuple(node.shape) != (1, 1):
                factor = {"tanh": f"1 − {name}⊙{name}", "sigmoid": f"{name}⊙(1 − {name})"}.get(fn, f"{fn}′")
                if "collapsed" in forms:
                    out.append(Mistake("collapsed-elementwise", factor, vjps={key: vjp_with(form("collapsed"))}))
                out.append(Mistake("collapsed-elementwise", factor,
                                   vjps={key: lambda g, ctx: hadamard(g, _collapsed(form("right")(ctx)))}))
                out.append(Mistake("collapsed-elementwise", f"the product δ ⊙ {factor}",
                                   vjps={key: lambda g, ctx: _dot(g, form("right")(ctx))}))
        elif node.op in ("softmax", "log_softmax"):
            out.append(Mistake("derivative-left-out", f"{node.op} ({name})", vjps={key: lambda g, ctx: g}))
        elif node.op == "cross_entropy":
            n = node.args[0].shape[0]

            def twice(g, ctx, n=n):
                s = Softmax(ctx.args[0], 1)
                combined = scaled(sp.Rational(1, n), add(s, -ctx.args[1]))
                return hadamard(combined, s, add(ones_like(s), -s))

            out.append(Mistake("derivative-twice", "softmax (its derivative s⊙(1 − s) on top of the combined form "
                               "softmax − y)", vjps={key: twice}))
        elif node.op == "matmul":
            a, b = node.args
            if b.shape[0] == b.shape[1] != 1:
                out.append(Mistake("missing-transpose", f"δ {_name(b, d.value[b])}ᵀ was written δ "
                                   f"{_name(b, d.value[b])}", vjps={key: lambda g, ctx: matmul(g, ctx.args[1])}))
            if a.shape[0] == a.shape[1] != 1:
                out.append(Mistake("missing-transpose", f"{_name(a, d.value[a])}ᵀ δ was written "
                                   f"{_name(a, d.value[a])} δ", vjps={(node, 1): lambda g, ctx: matmul(ctx.args[0], g)}))
        elif node.op in ("max_pool2d", "avg_pool2d", "conv2d", "flatten"):
            from .window_mistakes import window_mistakes  # (it builds this module's Mistake)

            out += window_mistakes(node, d)
    return out


def scale_mistakes(model) -> list[Mistake]:
    """A ½ or a 1/N batch factor missing or extra: every δ and gradient scaled."""
    halves = any((n.op == "pow" and sp.Rational(n.attrs["n"]) == 2) or
                 (n.op == "scale" and sp.Rational(n.attrs["c"]) in (sp.Rational(1, 2), sp.Rational(-1, 2)))
                 for n in model.nodes if not n.is_leaf)
    out = []
    if halves:
        out += [Mistake("missing-half", scale=sp.Integer(2)), Mistake("missing-half", scale=sp.Rational(1, 2))]
    batches = set()
    for n in model.nodes:
        if n.op == "scale" and n.args and n.args[0].op == "sum":
            count = sp.Rational(1, 1) / sp.Rational(n.attrs["c"])
            if count.is_Integer and abs(count) > 1:
                batches.add(int(abs(count)))
        if n.op == "cross_entropy" and n.args[0].shape[0] > 1:
            batches.add(n.args[0].shape[0])
    for count in sorted(batches):
        if count == 2 and halves:
            continue  # ×2 is already the missing ½
        out += [Mistake("missing-batch-factor", f"N = {count}", scale=sp.Integer(count)),
                Mistake("missing-batch-factor", f"N = {count}", scale=sp.Rational(1, count))]
    return out


def gradient_value_mistakes(model) -> list[Mistake]:
    """The right formula on the wrong values, and a square gradient transposed."""
    out = [Mistake("stale-parameters", "the value was computed with the parameters before the last update",
                   values="previous-parameters", sections=("forward", "deltas", "grads", "updated")),
           Mistake("stale-parameters", "the gradient was computed with parameters already updated in this step",
                   values="updated-parameters", sections=("deltas", "grads"))]
    if model.samples > 1:
        out.append(Mistake("stale-sample", "the previous sample's data was used instead of this sample's",
                           values="previous-sample", sections=("forward", "deltas", "grads", "updated")))
    out += [Mistake("missing-transpose", "the gradient came out transposed", transposed=p.name, sections=("grads",))
            for p in model.trainable if p.shape[0] == p.shape[1] != 1]
    return out


def forward_mistakes(model, derivation) -> list[Mistake]:
    """A forward value computed another way: the activation not applied, the ½ of the loss dropped."""
    d = derivation
    out = []
    for node in d.order:
        if node.is_leaf or not node.name:
            continue
        formula = d.forward_defs[node].xreplace(d.anonymous_values)
        if isinstance(formula, Apply):
            arg = node.args[0].name or "its argument"
            out.append(Mistake("pre-post-activation", f"{node.name} is {formula.fn}({arg}): the activation was not "
                               "applied", forward={node.name: formula.arg}, sections=("forward",)))
        if node is d.loss:
            for c in (sp.Integer(2), sp.Rational(1, 2)):
                out.append(Mistake("missing-half", forward={node.name: scaled(c, formula)}, sections=("forward",)))
    return out


# -- updates done another way ---------------------------------------------------------------------------------
def update_mistakes(model, lr: mpmath.mpf) -> list[Mistake]:
    """The optimizer's step done another way.  Each function gets the author's world, the step,
    the parameter's name, its value ``p``, the gradient ``g`` and the optimizer state."""

    def right(world, p, g, state):
        return world.update(p, g, dict(state))

    out = []
    if model.optimizer == "momentum":  # an optimizer's own convention first: η/10 can equal (1 − β)η
        def moving_average(w, k, n, p, g, s):
            beta = w.optimizer.beta
            with mpmath.workdps(DIGITS):
                buf = (1 - beta) * g if "buf" not in s else beta * s["buf"] + (1 - beta) * g
                return p - w.optimizer.lr * buf

        out.append(Mistake("momentum-convention", update=moving_average, sections=("updated",)))
    if model.optimizer != "sgd":
        what = f"momentum (β = {mpmath.nstr(mp_number(model.beta), 6)})" if model.optimizer == "momentum" else \
            "Adam"
        out.append(Mistake("optimizer-left-out", what, sections=("updated",),
                           update=lambda w, k, n, p, g, s: p - w.optimizer.lr * g))
    if model.optimizer == "adam":
        def no_correction(w, k, n, p, g, s):
            o = w.optimizer
            with mpmath.workdps(DIGITS):
                m = (1 - o.beta1) * g + (o.beta1 * s["m"] if "m" in s else 0)
                v = (1 - o.beta2) * g * g + (o.beta2 * s["v"] if "v" in s else 0)
                return p - o.lr * m / (mp_sqrt(v) + o.eps)

        out.append(Mistake("adam-bias-correction", update=no_correction, sections=("updated",)))
    out.append(Mistake("update-sign", update=lambda w, k, n, p, g, s: 2 * p - right(w, p, g, s),
                       sections=("updated",)))
    for factor, what in ((1 / lr, "η = 1"), (10, f"10 η = {mpmath.nstr(10 * lr, 6)}"),
                         (mpmath.mpf(1) / 10, f"η/10 = {mpmath.nstr(lr / 10, 6)}"),
                         (2, f"2 η = {mpmath.nstr(2 * lr, 6)}"), (mpmath.mpf(1) / 2, f"η/2 = {mpmath.nstr(lr / 2, 6)}")):
        if factor == 1:
            continue
        out.append(Mistake("learning-rate", what, sections=("updated",),
                           update=(lambda f: lambda w, k, n, p, g, s: p + (right(w, p, g, s) - p) * f)(factor)))
    out.append(Mistake("update-not-applied", update=lambda w, k, n, p, g, s: np.array(p, copy=True),
                       sections=("updated",)))
    for q in model.trainable:
        def from_q(w, k, n, p, g, s, q=q.name):
            if q == n or w.q.shapes[("param", q)] != w.q.shapes[("param", n)]:
                return None
            return w.param(k, q) + (right(w, p, g, s) - p)

        def with_grad_of_q(w, k, n, p, g, s, q=q.name):
            if q == n or w.q.shapes[("param", q)] != w.q.shapes[("param", n)]:
                return None
            return right(w, p, w.tensor(k, ("grads", q)), s)

        out.append(Mistake("update-other-parameter", f"the update started from {q.name} instead of the parameter "
                           f"itself: p ← {q.name} − η ∂L/∂p", update=from_q, sections=("updated",)))
        out.append(Mistake("update-other-parameter", f"the update used ∂L/∂{q.name} instead of the parameter's own "
                           "gradient", update=with_grad_of_q, sections=("updated",)))

    def previous(w, k, n, p, g, s):
        return None if k == 0 else w.param(k - 1, n) + (right(w, p, g, s) - p)

    out.append(Mistake("stale-parameters", "the update was applied to the parameters before the previous update "
                       "instead of the ones used in this step", update=previous, sections=("updated",)))
    return out


__all__ = ["MESSAGES", "TITLES", "EXAMPLES", "Mistake", "message", "rule_mistakes", "scale_mistakes", "forward_mistakes",
           "gradient_value_mistakes", "update_mistakes", "MPMATH"]
