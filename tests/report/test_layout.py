"""The printed derivation keeps the body's type size (issue 12): no table, step or update is shrunk to fit
the page; a line too wide is broken (= numbers / = result, one line each), a table too wide is set one
item per line.  Measured by TeX itself: ``\\fitwidth`` (the one place that shrinks) is made to report each
box it would shrink, with its width and source line, in the log."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import EXAMPLES

import symback
from symback.report import document
from symback.report.exporters import latex_file

pytestmark = pytest.mark.skipif(not shutil.which("latexmk"), reason="TeX (latexmk) is not installed")

SHRINK = r"\resizebox{\linewidth}{!}{\usebox{\symbackbox}}"
REPORT = r"\typeout{SHRUNK \the\wd\symbackbox\space at line \the\inputlineno}" + SHRINK

WIDE = """from symback import Model, param, data, tanh, mse
x = data([[0.5, -0.2]])
W1 = param([[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8], [0.2, 0.1, -0.3, 0.5, 0.25, -0.15, 0.35, 0.45]])
W2 = param([[0.1], [0.2], [-0.3], [0.4], [0.5], [-0.6], [0.7], [0.8]])
model = Model(mse(tanh(x @ W1) @ W2, data([[1.0]])), lr=0.1, epochs=2, title="A wide tanh layer")
"""


def shrunk(model, folder) -> list[str]:
    tex = latex_file("derivation", document.build(model, model.verify(), model.train()))["derivation.tex"]
    assert tex.count(SHRINK) == 1  # the macro's one definition
    (folder / "d.tex").write_text(tex.replace(SHRINK, REPORT), encoding="utf-8")
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=folder,
                   capture_output=True, check=True, timeout=300)
    lines = tex.replace(SHRINK, REPORT).splitlines()
    return [f"{m[0]}: {lines[int(m[1]) - 1][:120]}"
            for m in re.findall(r"SHRUNK (\S+) at line (\d+)", (folder / "d.log").read_text(errors="replace"))]


@pytest.mark.parametrize("name", ["seed", "softmax_batch", "wide"])
def test_nothing_in_the_derivation_is_shrunk_below_the_body_size(name, tmp_path):
    if name == "wide":  # a 2×8 layer: its update, W1 ← W1 − η ∂L/∂W1 = (…) − 0.1 (…) = (…), is one line each
        (tmp_path / "wide.py").write_text(WIDE)
        model = symback.load(tmp_path / "wide.py")
    else:
        model = symback.load(EXAMPLES / f"{name}.py")
    # the graph is a picture, scaled to the page by \fitpage; everything else must fit as it is
    boxes = [s for s in shrunk(model, tmp_path) if "tikzpicture" not in s and "\\fitpage" not in s]
    assert boxes == []


WIDE_RELU = """from symback import Model, param, data, relu, mse
x = data([[0.5, -0.2]])
W = param([[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8], [0.2, 0.1, -0.3, 0.5, 0.25, -0.15, 0.35, 0.45]])
b = param([[0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2]])
v = param([[0.1], [0.2], [-0.3], [0.4], [0.5], [-0.6], [0.7], [0.8]])
model = Model(mse(relu(x @ W + b) @ v, data([[1.0]])), lr=0.1, epochs=1, title="A wide relu layer")
"""


def test_a_wide_layers_answer_boxes_fit_across_the_worksheet(tmp_path):
    """Eight boxes side by side get narrower, rather than the whole row and its label shrunk to fit."""
    from symback.report import worksheet

    (tmp_path / "wide.py").write_text(WIDE_RELU)
    model = symback.load(tmp_path / "wide.py")
    context = worksheet.build(model, model.train())
    tex = latex_file("worksheet", {**context, "key": False})["worksheet.tex"]
    assert r"\answerbox[1.57cm]" in tex  # on a line of its own: 8 boxes of 1.57 cm
    (tmp_path / "w.tex").write_text(tex.replace(SHRINK, REPORT), encoding="utf-8")
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "w.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=300)
    assert "SHRUNK" not in (tmp_path / "w.log").read_text(errors="replace")


DEEP = """from symback import Model, param, data, tanh, sum
x = data([0.5, -1.0])
y = data([0.2])
layers = [(param([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.2]]), param([0.0, 0.1, -0.1])),
          (param([[0.2, -0.1, 0.3], [0.1, 0.2, -0.4]]), param([0.05, -0.05])),
          (param([[0.6, -0.3]]), param([0.1]))]
h = x
for W, b in layers:
    h = tanh(W @ h + b)
model = Model(sum((h - y) ** 2) / 2, lr=0.5, epochs=1, title="Three tanh layers")
"""


def test_a_deep_gradients_closed_form_goes_on_a_line_of_its_own_in_the_key(tmp_path):
    """∂L/∂W1 = δ_h1 ⊙ (1 − h1 ⊙ h1) xᵀ = ((W2ᵀ((W3ᵀ …)))) xᵀ ran 72 pt past the margin of a three-layer net's key
    (and cut the part's label off the page in Persian): the closed form now breaks to a line of its own,
    measured by TeX — nothing overfull, nothing shrunk."""
    from symback.report import worksheet

    (tmp_path / "deep.py").write_text(DEEP)
    model = symback.load(tmp_path / "deep.py")
    tex = latex_file("worksheet", {**worksheet.build(model, model.train()), "key": True})["worksheet.tex"]
    assert r"\keygradient{" in tex
    (tmp_path / "k.tex").write_text(tex.replace(SHRINK, REPORT), encoding="utf-8")
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "k.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=300)
    log = (tmp_path / "k.log").read_text(errors="replace")
    assert "SHRUNK" not in log and "Overfull \\hbox" not in log
