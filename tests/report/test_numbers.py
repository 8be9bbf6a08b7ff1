"""Numbers in every step (issue 12): after each symbolic step of the derivation report, the same step
with epoch 1's numbers and its result.  Oracle: PyTorch autograd on the seed (the δ of each named
quantity by ``torch.autograd.grad``, the gradients by ``backward``), rounded as the report rounds."""

from __future__ import annotations

import torch
from conftest import ROOT
from oracle import evaluate

import symback
from symback.numeric.formatting import matrix_latex
from symback.report import document


def seed_report():
    model = symback.load(ROOT / "examples" / "seed.py")
    context = document.build(model, model.verify(), model.train())
    steps = {}
    for g in context["derivations"]:
        for s in g["steps"]:
            steps.setdefault(s["node"], s)
        steps[g["name"]] = {"numbers": g["final_numbers"], "result": g["final_result"]}
    return model, context, steps


def torch_deltas(model):
    params = [p for p in model.params]
    values = evaluate(model.loss, requires_grad=set(params))
    named = {n.name: values[n] for n in values if n.name}
    wanted = ["out", "z", "h", "u1"]
    deltas = torch.autograd.grad(named["loss"].sum(), [named[w] for w in wanted], retain_graph=True)
    grads = torch.autograd.grad(named["loss"].sum(), [values[p] for p in params])
    return named, {**dict(zip(wanted, deltas)), **{p.name: g for p, g in zip(params, grads)}}


def test_each_step_is_written_again_with_epoch_1s_numbers():
    model, context, steps = seed_report()
    named, torch_values = torch_deltas(model)
    digits = context["digits"]
    # δ_out = out − 6 = 4.472 − 6 = −1.528, the issue's own example
    assert steps["out"]["numbers"] == f"{matrix_latex(named['out'].detach().numpy(), digits)} - 6" == "4.472 - 6"
    for name in ("out", "z", "h", "u1", "w1", "w2", "w3"):
        assert steps[name]["result"] == matrix_latex(torch_values[name].numpy(), digits), name
    # the values substituted are the forward pass's: h = tanh(x w1 + b1) of epoch 1, each entry as the tables show it
    h = matrix_latex(named["h"].detach().numpy(), digits)
    assert steps["u1"]["numbers"].count(h) == 2  # 1 − h ⊙ h


def test_a_step_that_only_renames_is_not_repeated_with_numbers():
    _, _, steps = seed_report()
    assert steps["b2"]["numbers"] is None and steps["b1"]["numbers"] is None  # ∂L/∂b2 = δ_z
