"""The reports of the new examples (issue 14) as a teacher reads them: the CNN's X ⋆ δ_Z with both shapes
and its numbers, max-pool's routing of δ written out with its zeros, the RNN's shared weight a sum over time
steps (one line each), batch norm's x̂ defined and written as its own numbers.  Oracle: PyTorch autograd
(F.conv2d, F.max_pool2d, F.batch_norm in ``oracle.evaluate``) and NumPy, rounded as the report rounds.
The PDFs: nothing in the derivation, the worksheet or the key shrunk below the body's size or overfull,
measured by TeX (as ``test_layout``)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from conftest import EXAMPLES
from oracle import evaluate

import symback
from symback.numeric.formatting import matrix_latex
from symback.report import document, worksheet
from symback.report.exporters import latex_file
from symback.report.render import parts

needs_tex = pytest.mark.skipif(not shutil.which("latexmk"), reason="TeX (latexmk) is not installed")
NEW = ["cnn_small", "batchnorm_mlp", "attention_head", "rnn_bptt"]


def report(name):
    model = symback.load(EXAMPLES / f"{name}.py")
    return model, document.build(model, model.verify(), model.train())


def torch_values(model):
    """Forward values and δ of every named quantity, by torch autograd (the model's initial values)."""
    values = evaluate(model.loss, requires_grad=set(model.params))
    named = {n.name: values[n] for n in values if n.name and not n.is_leaf and n is not model.loss}
    deltas = torch.autograd.grad(values[model.loss].sum(), list(named.values()), retain_graph=True)
    grads = torch.autograd.grad(values[model.loss].sum(), [values[p] for p in model.params])
    # float64's noise off the forward values (0.31000000000000005): the report shows exact sums of decimals as such
    forward = {n.name: np.round(v.detach().numpy(), 12) for n, v in values.items() if n.name}
    return forward, {**dict(zip(named, (d.numpy() for d in deltas))), **{p.name: g.numpy()
                                                                         for p, g in zip(model.params, grads)}}


def gradient(context, name):
    return next(g for g in context["derivations"] if g["name"] == name)


def step(context, node):
    return next(s for g in context["derivations"] for s in g["steps"] if s["node"] == node)


def test_the_kernels_gradient_is_x_correlated_with_delta_with_both_shapes_and_numbers():
    model, context = report("cnn_small")
    forward, torch_grads = torch_values(model)
    k = gradient(context, "K")
    assert k["final"] == r"\underbrace{X}_{5\times 5} \star \underbrace{\delta_{Z}}_{4\times 4}"
    # epoch 1: the image and δ_Z as numbers side by side, = PyTorch's ∂L/∂K
    assert k["final_numbers"] == (matrix_latex(forward["X"], 4) + r" \star " + matrix_latex(torch_grads["Z"], 4))
    assert k["final_result"] == matrix_latex(torch_grads["K"], 4)


def test_max_pool_routes_delta_to_each_windows_maximum_and_zero_elsewhere():
    model, context = report("cnn_small")
    forward, torch_grads = torch_values(model)
    route = step(context, "A")
    assert route["rhs"] == (r"\operatorname{route}_{\max}\left(\underbrace{\delta_{P}}_{2\times 2} \to "
                            r"\underbrace{A}_{4\times 4}\right)")
    assert route["numbers"] == (r"\operatorname{route}_{\max}\left(" + matrix_latex(torch_grads["P"], 4) + r" \to "
                                + matrix_latex(forward["A"], 4) + r"\right)")
    # the routed δ, by NumPy: each 2×2 window's δ at its maximum, 0 elsewhere — PyTorch's δ_A, as shown
    a, routed = forward["A"], np.zeros((4, 4))
    for i in range(2):
        for j in range(2):
            window = a[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            r, c = np.unravel_index(np.argmax(window), (2, 2))
            routed[2 * i + r, 2 * j + c] = torch_grads["P"][i, j]
    np.testing.assert_allclose(torch_grads["A"], routed, rtol=1e-12)
    assert route["result"] == matrix_latex(routed, 4) and np.count_nonzero(routed) == 4


def test_a_shared_weights_gradient_is_a_sum_over_time_steps_one_line_each():
    model, context = report("rnn_bptt")
    forward, torch_grads = torch_values(model)
    wh = gradient(context, "Wh")
    # h0ᵀ, h1ᵀ, h2ᵀ — the state each step read — each times that step's δ through tanh, shape by shape
    for t in range(3):
        assert rf"\underbrace{{h_{{{t}}}^{{\top}}}}_{{2\times 1}}\,\underbrace{{\left(\delta_{{h_{{{t + 1}}}}}" in wh["final"]
    assert wh["final"].count(r"}_{1\times 2}") == 3
    terms = wh["final_terms"]
    assert len(terms) == 3 and terms[1].startswith("+ ") and terms[2].startswith("+ ")
    for t, term in enumerate(terms):  # step t's term holds h_{t-1} and δ_{h_t} of PyTorch's epoch 1
        assert matrix_latex(forward[f"h{t}"], 4) in term and matrix_latex(torch_grads[f"h{t + 1}"], 4) in term
    assert wh["final_result"] == matrix_latex(torch_grads["Wh"], 4)


def test_batch_norms_x_hat_is_defined_and_written_as_its_own_numbers():
    model, context = report("batchnorm_mlp")
    forward, torch_grads = torch_values(model)
    (norm,) = context["normalisations"]
    assert norm["definition"] == (r"\widehat{Z} = \frac{Z - \mu_{Z}}{\sigma_{Z}}, \quad \sigma_{Z} = "
                                  r"\sqrt{\operatorname{var}_{Z} + \varepsilon}, \quad \varepsilon = 10^{-5}")
    assert (norm["axis"], norm["n"]) == (0, 4)
    z = torch.tensor(forward["Z"])
    x_hat = torch.nn.functional.batch_norm(z, None, None, training=True, eps=1e-5).numpy()
    gamma = gradient(context, "gamma")
    assert gamma["final_numbers"] == (r"\sum_{\text{rows}} " + matrix_latex(torch_grads["N"], 4) + r" \odot "
                                      + matrix_latex(x_hat, 4))
    assert r"\widehat" not in gamma["final_numbers"]  # no hat stretched over Z's numbers
    assert gamma["final_result"] == matrix_latex(torch_grads["gamma"], 4)


def test_a_long_table_is_cut_into_even_parts():
    assert [len(p) for p in parts(range(9), 8)] == [5, 4]  # not 8 and a table of the loss alone
    assert [len(p) for p in parts(range(17), 8)] == [6, 6, 5]
    assert parts(range(8), 8) == [list(range(8))] and parts([], 8) == []


def test_a_worksheets_heading_needs_room_for_its_first_row_of_boxes():
    model = symback.load(EXAMPLES / "attention_head.py")
    context = worksheet.build(model, model.train())
    forward, backward = context["epochs"][0]["subparts"][:2]
    assert forward["need"] == 4 + 6  # Q: 3 rows of boxes, 1.8 lines each
    assert backward["need"] == 4 + 1 + 6  # and the sentence under the heading


SHRINK = r"\resizebox{\linewidth}{!}{\usebox{\symbackbox}}"
REPORT = r"\typeout{SHRUNK \the\wd\symbackbox\space at line \the\inputlineno}" + SHRINK


def typeset(tex: str, folder, name: str) -> str:
    """TeX's log of ``tex``, every box \\fitwidth shrinks reported in it."""
    assert tex.count(SHRINK) == 1
    (folder / f"{name}.tex").write_text(tex.replace(SHRINK, REPORT), encoding="utf-8")
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                   capture_output=True, check=True, timeout=300)
    return (folder / f"{name}.log").read_text(errors="replace")


@needs_tex
@pytest.mark.parametrize("name", NEW)
def test_nothing_in_the_new_examples_documents_is_shrunk_or_overfull(name, tmp_path):
    model = symback.load(EXAMPLES / f"{name}.py")
    history = model.train()
    tex = latex_file("derivation", document.build(model, model.verify(), history))["derivation.tex"]
    sheets = worksheet.build(model, history)
    documents = {"derivation": tex,
                 "worksheet": latex_file("worksheet", {**sheets, "key": False})["worksheet.tex"],
                 "key": latex_file("worksheet", {**sheets, "key": True})["worksheet.tex"]}
    for kind, source in documents.items():
        log = typeset(source, tmp_path, kind)
        lines = source.replace(SHRINK, REPORT).splitlines()
        # the graph is a picture, scaled to the page (\fitpage, to the line after its tikzpicture); every step,
        # table and box keeps the body's size
        picture, pictures = False, set()
        for k, line in enumerate(lines, start=1):
            if r"\begin{tikzpicture}" in line:
                picture = True
            if picture:
                pictures.add(k)
            if r"\end{tikzpicture}" in line:
                picture = False
                pictures.add(k + 1)
        shrunk = [int(line) for line in re.findall(r"SHRUNK \S+ at line (\d+)", log)]
        assert [lines[k - 1][:100] for k in shrunk if k not in pictures] == [], kind
        assert "Overfull \\hbox" not in log, kind


@needs_tex
def test_no_row_of_boxes_is_left_alone_on_a_page(tmp_path):
    """A row of δ_Z boxes that overran the page was put on a page of its own: \\needspace measured before the
    page builder had broken the page (cnn_small's worksheet had 12 pages, three of them one row each)."""
    model = symback.load(EXAMPLES / "cnn_small.py")
    sheets = worksheet.build(model, model.train())
    typeset(latex_file("worksheet", {**sheets, "key": False})["worksheet.tex"], tmp_path, "w")
    pages = subprocess.run(["pdftotext", "-layout", str(tmp_path / "w.pdf"), "-"], capture_output=True,
                           text=True, check=True).stdout.split("\f")
    for epoch in ("2", "3", "4"):  # the last row of δ boxes and the gradients' heading share a page
        (page,) = [p for p in pages if re.search(rf"^\s*{epoch}\.3\s+Gradients", p, re.M)]
        assert re.search(r"^\s*δZ =", page, re.M), epoch
