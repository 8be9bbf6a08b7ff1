"""Numbers in every step (issue 12): after each symbolic step of the derivation report, the same step
with epoch 1's numbers and its result.  Oracle: PyTorch autograd on the seed (the δ of each named
quantity by ``torch.autograd.grad``, the gradients by ``backward``), rounded as the report rounds."""

from __future__ import annotations

import numpy as np
import pytest
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


def report_of(folder, source: str):
    """The model written to ``folder/model.py`` and its derivation report's context."""
    (folder / "model.py").write_text(source)
    model = symback.load(folder / "model.py")
    return model, document.build(model, model.verify(), model.train())


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


def test_every_step_gives_its_value_in_epoch_1():
    """A step that only renames (∂L/∂b2 = δ_z) or whose numbers are too many to write across the page still
    says its value: ∂L/∂b2 = −1.528, PyTorch's gradient, rounded as the report rounds."""
    model, context, steps = seed_report()
    _, torch_values = torch_deltas(model)
    for name in ("b1", "b2", "b3"):
        assert steps[name]["result"] == matrix_latex(torch_values[name].numpy(), context["digits"]), name
    assert all(s["result"] for g in context["derivations"] for s in g["steps"])


def test_the_numbers_line_reads_like_the_symbolic_line(tmp_path):
    """2 (out − d₁) above and 2 ⋅ (0.07310 − 1) below — not 2 out − 2 above (SymPy distributed the 2)."""
    _, context = report_of(tmp_path, "from symback import Model, param, data, tanh, mse\nx = data([[0.5], [-0.2]])\n"
                           "W = param([[0.3, -0.4], [0.2, 0.1]])\nout = param([[0.5, -0.5]]) @ tanh(W @ x)\n"
                           "model = Model(mse(out, data([[1.0]])), lr=0.1, epochs=1, optimizer='adam')\n")
    step = next(s for g in context["derivations"] for s in g["steps"] if s["node"] == "out")
    assert step["rhs"].startswith(r"2 \, \left(\mathit{out} - d_{1}\right)")
    assert step["numbers"].startswith(r"2 \, \left(") and step["numbers"].endswith(r" - 1\right)")


def test_factors_are_told_apart():
    from symback.numeric.printing import juxtaposed

    assert juxtaposed(["- 0.1", "1.188"]) == r"- 0.1 \cdot 1.188"  # never 0.1 1.188, which reads 0.11188
    assert juxtaposed([r"\delta_{\mathit{out}}", r"\mathit{out}"]) == r"\delta_{\mathit{out}} \, \mathit{out}"
    assert juxtaposed([r"x^{\top}", "w_{1}"]) == r"x^{\top} w_{1}"


def test_per_sample_data_is_shown_sample_by_sample(tmp_path):
    _, context = report_of(tmp_path, "from symback import Model, param, data, samples, tanh, mse\n"
                           "x = samples([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]])\nt = samples([[[1.0]], [[-1.0]], [[0.5]]])\n"
                           "model = Model(mse(tanh(x @ param([[0.2], [-0.3]], name='W')), t), lr=0.2, epochs=1)\n")
    assert [(r["name"], r["sample"], r["shown"][0]) for r in context["data"] if r["name"] == "t"] == \
        [("t", 1, "1"), ("t", 2, "-1"), ("t", 3, "0.5")]
    steps = [e for e in context["epochs"] if not e["gap"]]
    assert context["first_step"] == "epoch 1, sample 1"  # whose numbers the derivation's steps show
    assert [(e["sample"], [d["value"] for d in e["data"] if d["name"] == "t"]) for e in steps] == \
        [(1, ["1"]), (2, ["-1"]), (3, ["0.5"])]


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_momentum_and_adam_show_their_state_as_torch_optim_keeps_it(optimizer, tmp_path):
    """Momentum's buffer b and Adam's moments m, v of every parameter, each epoch: torch.optim's own
    state (momentum_buffer, exp_avg, exp_avg_sq) after the same steps, rounded as the report rounds."""
    model, context = report_of(
        tmp_path, "from symback import Model, param, data, tanh, mse\nx = data([[0.5], [-0.2]])\n"
        "W = param([[0.3, -0.4], [0.2, 0.1]])\nv = param([[0.5, -0.5]])\n"
        f"model = Model(mse(v @ tanh(W @ x), data([[1.0]])), lr=0.1, epochs=2, optimizer='{optimizer}')\n")
    params = list(model.params)
    leaves = {p: torch.tensor(np.array(p.value.tolist(), dtype=np.float64), requires_grad=True) for p in params}
    opt = (torch.optim.SGD(leaves.values(), lr=0.1, momentum=float(model.beta)) if optimizer == "momentum" else
           torch.optim.Adam(leaves.values(), lr=0.1, betas=(float(model.beta1), float(model.beta2)),
                            eps=float(model.eps)))
    before = {}
    for epoch in context["epochs"]:
        values = evaluate(model.loss, {p: leaves[p].detach().numpy() for p in params}, requires_grad=set(params))
        values[model.loss].sum().backward()
        for p in params:
            leaves[p].grad = [values[q] for q in values if q is p][0].grad.clone()
        opt.step()
        shown = {row["name"]: row for row in epoch["params"]}
        for p in params:
            state = opt.state[leaves[p]]
            if optimizer == "momentum":
                assert shown[p.name]["buffer"] == matrix_latex(state["momentum_buffer"].numpy(), 4)
                assert (shown[p.name]["buffer_numbers"] is None) == (epoch["epoch"] == 1)
            else:
                if epoch["epoch"] > 1:  # m ← β₁ m + (1 − β₁) g, with the m of the step before
                    assert shown[p.name]["m_numbers"].startswith(rf"0.9 \, {matrix_latex(before[p.name], 4)} + 0.1")
                before[p.name] = state["exp_avg"].numpy().copy()
                assert shown[p.name]["m"] == matrix_latex(state["exp_avg"].numpy(), 4)
                assert shown[p.name]["v"] == matrix_latex(state["exp_avg_sq"].numpy(), 4)
                assert shown[p.name]["t"] == epoch["epoch"]
            assert shown[p.name]["updated"] == matrix_latex(leaves[p].detach().numpy(), 4)


def test_the_convention_line_names_the_derivative_at_0_of_each_kink(tmp_path):
    _, context = report_of(tmp_path, "from symback import Model, param, data, leaky_relu, relu, mse\n"
                           "x = data([[1.0, -2.0]])\nh = leaky_relu(x @ param([[0.5, -1.0], [0.3, 0.2]], name='W'), 0.1)\n"
                           "model = Model(mse(relu(h @ param([[1.0], [2.0]], name='v')), data([[1.0]])), lr=0.1, "
                           "epochs=1, relu_grad_at_zero=1)\n")
    # PyTorch takes 0 for relu and α for leaky_relu at 0; this exercise takes α + (1 − α)·1 = 1
    assert context["convention"] == ("relu′(0) = 1 (PyTorch uses 0); "
                                     "leaky relu′(0) = 1 with α = 0.1 (PyTorch uses α = 0.1)")
    _, tanh_only = report_of(tmp_path, "from symback import Model, param, data, tanh, mse\n"
                             "model = Model(mse(tanh(data([[1.0]]) @ param([[0.5]], name='w')), data([[1.0]])), lr=0.1)\n")
    assert tanh_only["convention"] == ""
    assert tanh_only["first_step"] == "epoch 1"
