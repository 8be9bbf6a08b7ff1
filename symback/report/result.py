"""``result.json``: the stable, documented record of a derivation and its training run.

Schema (version 1); every tensor is a nested list with its 2-D shape, floats at full
float64 precision, NaN and infinities as ``null``.  A gradient's ``latex``/``text`` is its closed
form (every δ substituted; ``"form": "closed"``) when that has at most ``CLOSED_LIMIT`` (160) nodes,
else its last step, in the δ of the named quantity after the parameter (``"form": "step"``).
``fd_refined``: entries differenced again at 50 digits, too small a derivative for float64::

    {"schema": 1, "model": "seed", "title": "...",
     "convention": {"relu_grad_at_zero": 1},
     "options": {"lr": 0.1, "epochs": 3, "optimizer": "sgd", "digits": 4},
     "params": {"w1": {"shape": [2, 3], "init": [[...]], "frozen": false}},
     "data": {"x": {"shape": [2, 1], "value": [[...]], "samples": 1}},
     "forward": [{"name": "u1", "shape": [1, 3], "latex": "...", "text": "..."}],
     "gradients": {"w1": {"form": "closed", "latex": "...", "text": "...",
                          "steps": [{"delta": "u1", "latex": "...", "text": "...", "rules": ["tanh"]}],
                          "verification": {"elementwise": true, "elementwise_method": "exact",
                                           "fd_max_rel_err": 1e-10, "fd_kinks": [], "fd_undefined": [],
                                           "fd_refined": []}}},
     "verified": true,
     "epochs": [{"epoch": 1, "sample": null, "precision": "mpmath",
                 "params": {...}, "forward": {...}, "grads": {...}, "updated": {...},
                 "deltas": {"u1": [[...]]}, "notes": []}],
     "loss_history": [...], "epochs_elided": false, "stopped": null, "warnings": []}
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import sympy as sp

from ..engine.derive import tidy
from ..numeric.printing import latex, text

SCHEMA = 1


def _float(v):
    f = float(v)
    return f if math.isfinite(f) else None


def tensor(value) -> list[list]:
    """A matrix (exact, mpmath or float) as nested lists of floats."""
    if isinstance(value, sp.MatrixBase):
        rows = value.tolist()
    else:
        rows = np.asarray(value, dtype=object).tolist()
    return [[_float(v) for v in row] for row in rows]


def _number(x):
    x = sp.Rational(x)
    return int(x) if x.q == 1 else float(x)


def latex_names(model) -> dict[str, str]:
    return {n.name: n.latex for n in model.nodes if n.name and n.latex}


def build(model, verification, history) -> dict:
    d = model._derivation
    names = latex_names(model)
    forward = []
    for node in d.order:
        if node in d.forward_defs and node.name:
            definition = tidy(d.forward_defs[node].xreplace(d.anonymous_values))
            forward.append({"name": node.name, "shape": list(node.shape),
                            "latex": latex(definition, names), "text": text(definition)})
    gradients = {}
    steps: dict = {}  # each step printed once: a chain's parameters share them
    for name, g in d.gradients.items():
        check = verification.params[name]
        for s in g.steps:
            if s.node not in steps:
                steps[s.node] = {"delta": s.node.name, "latex": latex(s.formula, names), "text": text(s.formula),
                                 "rules": [r for r, _ in s.rules]}
        gradients[name] = {
            "shape": list(g.param.shape),
            "form": "closed" if g.short else "step",
            "latex": latex(g.written, names),
            "text": text(g.written),
            "steps": [steps[s.node] for s in g.steps],
            "verification": {
                "elementwise": check.elementwise_ok,
                "elementwise_method": check.elementwise_method,
                "elementwise_note": check.reason,
                # two significant digits: the rest is rounding noise of float64 arithmetic
                "fd_max_rel_err": None if check.fd_max_rel_err is None else float(f"{check.fd_max_rel_err:.2g}"),
                "fd_kinks": [list(k) for k in check.kinks],
                "fd_undefined": [list(k) for k in check.fd_undefined],
                "fd_refined": [list(k) for k in check.fd_refined],
            },
        }
    return {
        "schema": SCHEMA,
        "model": model.name,
        "title": model.title,
        "convention": {"relu_grad_at_zero": _number(model.relu_grad_at_zero)},
        "options": {"lr": _number(model.lr), "epochs": model.epochs, "optimizer": model.optimizer,
                    **({"beta": _number(model.beta)} if model.optimizer == "momentum" else {}),
                    **({"beta1": _number(model.beta1), "beta2": _number(model.beta2), "eps": _number(model.eps)}
                       if model.optimizer == "adam" else {}),
                    "digits": model.digits},
        "params": {p.name: {"shape": list(p.shape), "init": tensor(p.value), "frozen": p in model.frozen}
                   for p in model.params},
        "data": {t.name: {"shape": list(t.shape), "value": tensor(t.value),
                          "samples": len(t.samples) if t.samples is not None else 1} for t in model.data},
        "forward": forward,
        "gradients": gradients,
        "verified": verification.ok,
        "epochs": [
            {
                "epoch": r.epoch,
                "sample": r.sample,
                "precision": r.precision,
                "params": {k: tensor(v) for k, v in r.params.items()},
                "forward": {k: tensor(v) for k, v in r.forward.items()},
                "grads": {k: tensor(v) for k, v in r.grads.items()},
                "updated": {k: tensor(v) for k, v in r.updated.items()},
                "deltas": {k: tensor(v) for k, v in r.deltas.items()},
                "notes": list(r.notes),
            }
            for r in history.steps
        ],
        "loss_history": [_float(v) for v in history.losses],
        "epochs_elided": history.elided,
        "stopped": history.stopped,
        "warnings": list(model.warnings),
    }



_INNERMOST_LIST = re.compile(r"\[\s+([^\[\]{}]*?)\s+\]")


def dumps(result: dict) -> str:
    """Indented JSON with each matrix row on one line."""
    text = json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False)
    return _INNERMOST_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"
