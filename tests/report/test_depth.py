"""Deep networks written as loops (issue 11, case ``loop-deep``): every stage linear in depth or
bounded by a stated size rule, and the numbers still right.  Oracles: PyTorch autograd for every
gradient; the reports' sizes at two depths (linear growth doubles them, quadratic quadruples);
the graph's parts against the layer count written in the test."""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import ROOT
from oracle import gradients

import symback
from symback.report import document, exporters

CASES = ROOT / "tests" / "engine" / "cases"


def loop_model(tmp_path, depth: int, width: int, seed: int = 1):
    """``h = tanh(W @ h + b)`` in a loop, the idiom of the case, with one-decimal values."""
    rng = random.Random(seed)

    def r():
        return round(rng.uniform(-0.6, 0.6), 1)

    layers = "\n".join(f"layers.append((param({[[r() for _ in range(width)] for _ in range(width)]}), "
                       f"param({[r() for _ in range(width)]})))" for _ in range(depth))
    path = tmp_path / f"loop{depth}x{width}.py"
    path.write_text(
        "from symback import Model, param, data, tanh, mse\n"
        f"x = data({[r() for _ in range(width)]})\ny = data({[r() for _ in range(width)]})\n"
        f"layers = []\n{layers}\n"
        "h = x\nfor W, b in layers:\n    h = tanh(W @ h + b)\nloss = mse(h, y)\n"
        "model = Model(loss, lr=0.1, epochs=1)\n")
    return symback.load(path)


def reports(model) -> dict:
    verification, history = model.verify(), model.train()
    context = document.build(model, verification, history)
    return {"context": context, "verification": verification,
            **exporters.markdown_files("derivation", context, None), **exporters.latex_file("derivation", context, None)}


def test_the_six_layer_loop_of_the_case_is_right_and_named_by_layer():
    model = symback.load(CASES / "loop_deep.py")
    check = model.verify()
    assert check.ok, check.failures()
    torch_grads = gradients(model)
    assert sorted(torch_grads) == sorted(f"{p}{k}" for p in "Wb" for k in range(1, 7))
    for name, c in check.params.items():  # EXPECTED.md: max. rel. diff 4e-15 through the API
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)
    assert [n.name for n in model.nodes if n.name and n.name.startswith("h")] == [f"h{k}" for k in range(1, 7)]


def test_a_depth_32_chain_is_right(tmp_path):
    model = loop_model(tmp_path, 32, 3)
    check = model.verify()
    assert check.ok, check.failures()
    torch_grads = gradients(model)
    for name, c in check.params.items():
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-10, atol=1e-18)


def test_a_derivative_too_small_for_double_precision_is_differenced_at_50_digits(tmp_path):
    # ∂L/∂w = 2e-9 w = 6e-10 (by hand) beside a loss of 1000: float64's central difference is off by
    # about ε·1000/h ≈ 4e-11, 6 % of it; the 50-digit one is exact to ~1e-30
    (tmp_path / "tiny.py").write_text("from symback import Model, param\nw = param(0.3)\n"
                                      "model = Model(1e-9 * w ** 2 + 1000, lr=0.1, epochs=1)\n")
    check = symback.load(tmp_path / "tiny.py").verify().params["w"]
    assert check.fd_refined == [(0, 0)] and check.fd_ok
    assert check.fd[0, 0] == pytest.approx(6e-10, rel=1e-15) and check.fd_max_rel_err < 1e-20
    # a wrong value still fails there: the 50-digit difference is the derivative, not a wider tolerance
    from symback.numeric.verify import _refined

    model = symback.load(tmp_path / "tiny.py")
    from symback.numeric.program import to_mp

    leaves = [to_mp(leaf.value) for leaf in model.program.leaves]
    _, error = _refined(model, leaves, 0, (0, 0), 6.0001e-10)
    assert error > 1e-5


def test_every_report_grows_linearly_with_depth(tmp_path):
    sizes = {}
    for depth in (8, 16, 32):
        files = reports(loop_model(tmp_path, depth, 3, seed=depth))
        sizes[depth] = {name: len(files[name]) for name in ("derivation.md", "derivation.tex")}
    for name in ("derivation.md", "derivation.tex"):
        # twice the layers: about twice the text (a quadratic section — every step repeated in every
        # parameter's chain, every closed form — made it 3.5× and more)
        assert sizes[16][name] / sizes[8][name] < 2.3 and sizes[32][name] / sizes[16][name] < 2.3, sizes


def test_closed_forms_beyond_the_size_rule_are_not_written_and_the_report_says_so(tmp_path):
    model = loop_model(tmp_path, 12, 2)
    files = reports(model)
    d = model._derivation
    far, near = d.gradients["W1"], d.gradients["W12"]
    assert not far.short and near.short
    sections = {g["name"]: g for g in files["context"]["derivations"]}
    assert sections["W1"]["closed"] is None and sections["W1"]["closed_omitted"]
    # W1 is 2×2: entry by entry its closed form is a 12-layer expansion (measured, never built), so its
    # entries are written from the last step, in the entries of δ_h1
    from symback.engine.explicit import entry_size

    assert entry_size(far.raw_closed, {}) > document.ENTRY_TERMS
    assert not sections["W1"]["elementwise_omitted"]
    assert sections["W1"]["elementwise"][0]["rhs"] == (r"\left(\delta_{h_{1}}\right)_{1} x_{1} "
                                                             r"\left(1 - \left(h_{1}\right)_{1}^{2}\right)")
    assert sections["W12"]["elementwise"] is not None
    # result.json names the form it writes
    from symback.report import result

    built = result.build(model, files["verification"], model.train())
    assert built["gradients"]["W1"]["form"] == "step" and built["gradients"]["W12"]["form"] == "closed"
    assert built["gradients"]["W1"]["text"] == "δ_h1 xᵀ" or built["gradients"]["W1"]["text"].startswith("(")


def test_each_step_is_quoted_from_above_only_where_the_new_lines_use_it(tmp_path):
    model = loop_model(tmp_path, 8, 2)
    files = reports(model)
    sections = {g["name"]: g for g in files["context"]["derivations"]}
    quoted = [s["node"] for s in sections["W3"]["steps"] if s["quoted"]]
    assert quoted == ["h3"]  # every step of W3's chain is W1's; its last line uses δ_h3 alone
    section = files["derivation.md"].split(r"### The gradient $`\partial L / \partial W_{3}`$")[1].split("###")[0]
    quote = next(line for line in section.splitlines() if line.startswith("From above:"))
    assert quote.startswith(r"From above: $`\delta_{h_{3}} = ") and quote.count("$`") == 1


def test_a_deep_graph_is_drawn_in_parts_each_with_the_quantities_it_uses_from_above(tmp_path):
    model = loop_model(tmp_path, 12, 2)
    graph = reports(model)["context"]["graph"]
    layers = len(graph["layers"])
    assert layers == 14  # x, W1 and b1 above h1; one layer per h_k with W_{k+1}, b_{k+1} beside it; the loss
    parts = graph["parts"]
    assert len(parts) == -(-layers // document.GRAPH_LAYERS)
    for k, part in enumerate(parts):
        ids = {n["id"] for layer in part["layers"] for n in layer}
        # every edge drawn inside its picture, through one waypoint in each row it crosses
        for e in part["edges"]:
            assert e["source"] in ids and e["target"] in ids
            assert [v["row"] for v in e["via"]] == list(range(e["source_row"] + 1, e["target_row"]))
            for v in e["via"]:
                assert v["id"] in {n["id"] for n in part["layers"][v["row"] - 1]}
        own = [layer for layer in part["layers"] if all(n["kind"] != "above" for n in layer)]
        assert len(own) <= document.GRAPH_LAYERS
        assert any(n["kind"] == "above" for layer in part["layers"] for n in layer) == (k > 0)
    assert sum(len(p["edges"]) for p in parts) == len(graph["edges"])


def test_the_whole_loss_is_measured_before_it_is_built(tmp_path):
    """A 12-layer 2×2 relu chain without biases: its whole scalar loss is too large to differentiate as one
    expression, and that is known before building it (it took minutes to build); the seed is still
    differentiated whole (exact)."""
    from symback.numeric.verify import WHOLE_TREE, _loss_size

    rng = random.Random(12)
    weights = ", ".join(f"param({[[round(rng.uniform(-0.9, 0.9), 1) for _ in range(2)] for _ in range(2)]})"
                        for _ in range(12))
    (tmp_path / "relu12.py").write_text(
        "from symback import Model, param, data, relu, mean\nx = data([0.5, -0.3])\ny = data([0.1, 0.2])\n"
        f"h = x\nfor W in [{weights}]:\n    h = relu(W @ h)\nloss = mean((h - y) ** 2)\n"
        "model = Model(loss, lr=0.1, epochs=1)\n")
    model = symback.load(tmp_path / "relu12.py")
    assert _loss_size(model._derivation) > WHOLE_TREE
    check = model.verify()
    assert {c.elementwise_method for c in check.params.values()} == {"node by node"} and check.ok
    torch_grads = gradients(model)
    for name, c in check.params.items():
        np.testing.assert_allclose(np.array(c.matrix, dtype=float), torch_grads[name], rtol=1e-12, atol=1e-15)
    seed = symback.load(ROOT / "examples" / "seed.py")
    assert _loss_size(seed._derivation) <= WHOLE_TREE
    assert {c.elementwise_method for c in seed.verify().params.values()} == {"exact"}


def test_no_pdf_table_is_longer_than_a_page_can_hold(tmp_path):
    model = loop_model(tmp_path, 12, 4)
    tex = reports(model)["derivation.tex"]
    for table in tex.split(r"\begin{tabular}{l")[1:]:
        body = table.split(r"\end{tabular}")[0]
        assert body.count(r"\\ \addlinespace") <= document.TABLE_ROWS  # each row ends with \\ \addlinespace[…]
    # and no row is lost: every parameter verified, and in epoch 1's table
    assert tex.count("& verified") == 24
    epoch = tex.split(r"\subsection*{Epoch 1}")[1].split(r"\subsection*")[0]
    assert all(f"W_{{{k}}} \\leftarrow" in epoch and f"b_{{{k}}} \\leftarrow" in epoch for k in range(1, 13))


def test_a_loss_that_barely_moves_is_plotted(tmp_path):
    # lr 1e-9: the loss changes in its 10th digit; the plot's range collapsed to one printed value and
    # the Markdown picture raised math domain error (a traceback, no report)
    (tmp_path / "flat.py").write_text(
        "from symback import Model, param, data, tanh\nx = data([0.5, -0.3])\nW = param([[0.1, 0.2], [0.3, -0.4]])\n"
        "loss = (tanh(W @ x) - x).T @ (tanh(W @ x) - x)\nmodel = Model(loss, lr=1e-9, epochs=3)\n")
    model = symback.load(tmp_path / "flat.py")
    files = reports(model)
    curve = files["context"]["loss_curve"]
    assert float(curve["ymin"]) < min(v for _, v in curve["points"]) <= max(v for _, v in curve["points"]) \
        < float(curve["ymax"])
    assert "<polyline" in files["loss.svg"]


def test_loop_parameters_beside_the_files_own_are_set_apart_in_latex(tmp_path):
    (tmp_path / "mixed.py").write_text(
        "from symback import Model, param, data, relu, mean\nx = data([0.5, -0.3])\ny = data([1.0, 0.0])\n"
        "W1 = param([[0.2, -0.1], [0.3, 0.2]])\nh = relu(W1 @ x)\n"
        "for W in [param([[0.1, -0.2], [0.2, 0.1]]), param([[0.3, 0.1], [-0.2, 0.4]])]:\n    h = relu(W @ h)\n"
        "loss = mean((h - y) ** 2)\nmodel = Model(loss, lr=0.1, epochs=1)\n")
    model = symback.load(tmp_path / "mixed.py")
    names = document.names_of(model)
    assert names["W1"] == "W_{1}" and names["W_1"] == "W^{(1)}" and names["W_2"] == "W^{(2)}"
    assert len({names[p.name] for p in model.params}) == len(model.params)


def test_kinked_entries_are_named_where_finite_differences_skip_them():
    model = symback.load(ROOT / "tests" / "numeric" / "cases" / "kink_fd.py")
    rows = {r["name"]: r["fd"] for r in document.verification_rows(model.verify(), document.names_of(model), 4)}
    assert rows["W1"].endswith("not judged at a kink (the step crosses it): W1[1, 1], W1[2, 1]")
    assert rows["b1"].endswith(": b1[1]") and "kink" not in rows["W2"]
