"""The derivation report of the seed exercise, section by section (Markdown and LaTeX).

Numbers in the report are checked against PyTorch written out by hand (``oracle.seed_epochs``),
rounded the way the report rounds them; formulas against exact strings.
"""

import re

import pytest
from conftest import EXAMPLES
from oracle import seed_epochs

import symback
from symback.numeric.formatting import matrix_latex, number
from symback.report import document
from symback.report.exporters import latex_file, markdown_files


@pytest.fixture(scope="module")
def seed_reports():
    model = symback.load(EXAMPLES / "seed.py")
    context = document.build(model, model.verify(), model.train())
    return {**markdown_files("derivation", context), **latex_file("derivation", context)}


@pytest.fixture(scope="module")
def md(seed_reports):
    return seed_reports["derivation.md"]


@pytest.fixture(scope="module")
def tex(seed_reports):
    return seed_reports["derivation.tex"]


def test_sections_in_the_order_of_the_spec(md, tex):
    headings = re.findall(r"^## (.*)$", md, flags=re.M)
    assert headings == ["1. Model", "2. Computational graph", "3. Derivation of the gradients", "4. Verification",
                        "5. Training", "6. Loss per epoch"]
    sections = re.findall(r"\\section\{(.*?)\}", tex)
    assert sections == ["Model", "Computational graph", "Derivation of the gradients", "Verification", "Training",
                        "Loss per epoch"]


def test_forward_equations_with_shapes(md, tex):
    for doc in (md, tex):
        assert r"u_{1} &= x^{\top} w_{1} + b_{1} &&\quad ({1\times 3})" in doc
        assert r"h &= \tanh\left(u_{1}\right) &&\quad ({1\times 3})" in doc
        assert r"\mathit{out} &= w_{3}^{\top} x + \operatorname{relu}\left(z\right) + b_{3} &&\quad ({1\times 1})" in doc
    # the columns aligned on the decimal point: integer parts right-aligned, the rest left-aligned
    w1 = (r"\left(\begin{array}{@{}r@{}l@{\hspace{0.8em}}r@{}l@{\hspace{0.8em}}r@{}l@{}} 1 & .3 & -0 & .13 & 0 &  \\ "
          r"0 & .2 & -1 & .3 & 0 & .03 \end{array}\right)")
    assert rf"| $`w_{{1}}`$ | $`2\times 3`$ | $`{w1}`$ | trained |" in md


def test_the_elementwise_tanh_factor_the_hand_solution_got_wrong(md, tex):
    step = (r"\delta_{u_{1}} = \frac{\partial L}{\partial u_{1}} = \underbrace{\delta_{h}}_{1\times 3} \odot "
            r"\underbrace{\left(\mathbf{1} - h \odot h\right)}_{1\times 3}")
    assert step in md and step in tex
    final = r"\underbrace{x}_{2\times 1}\,\underbrace{\delta_{u_{1}}}_{1\times 3}"
    assert r"\frac{\partial L}{\partial w_{1}} = " + final in md
    assert r"\withnumbers{\frac{\partial L}{\partial w_{1}}}{" + final + "}" in tex  # = closed form, on one line if it fits
    # entry by entry, each entry has its own (1 − h_j²): not one scalar factor; an entry of a subscripted
    # name is (w_1)_{ij}, never w_{1,ij}
    for i, j in [(1, 1), (1, 2), (2, 3)]:
        entry = (rf"\frac{{\partial L}}{{\partial \left(w_{{1}}\right)_{{{i}{j}}}}} &= \left(w_{{2}}\right)_{{{j}}} x_{{{i}}} "
                 rf"\left(1 - h_{{{j}}}^{{2}}\right) \left(\mathit{{out}} - 6\right) \operatorname{{step}}\left(z\right)")
        assert entry in md and entry in tex
    assert "*tanh′ = 1 − tanh², elementwise.*" in md


def test_graph_has_named_nodes_shapes_and_epoch_one_values(md, tex):
    expected = seed_epochs()[0]
    mermaid = md.split("```mermaid")[1].split("```")[0]
    for edge in ["n_x --> n_u1", "n_w1 --> n_u1", "n_u1 --> n_h", "n_z --> n_out", "n_out --> n_loss"]:
        assert edge in mermaid
    out = number(expected["forward"]["out"][0, 0], 4)
    grad_b3 = number(expected["grads"]["b3"][0, 0], 4)
    assert f'n_out["out = w3ᵀ x + relu(z) + b3 · 1×1<br/>{out}<br/>δ = {grad_b3}"]:::op' in mermaid
    assert r"\node[op] (n-u1)" in tex
    assert (r"\draw[edge, rounded corners=2pt] (n-x.south) -- (n-x.south |- layer-1.south) -- "
            r"(n-u1.north |- layer-2.north) -- (n-u1.north);") in tex
    assert matrix_latex(expected["grads"]["w1"], 4) in tex.split(r"\section{Derivation")[0]


def test_epoch_tables_hold_the_torch_numbers(md, tex):
    epochs = seed_epochs()
    training_md = md.split("## 5. Training")[1]
    training_tex = tex.split(r"\section{Training}")[1]
    chunks = training_md.split("### Epoch ")[1:]
    assert len(chunks) == 3
    for k, (chunk, expected) in enumerate(zip(chunks, epochs)):
        assert chunk.startswith(f"{k + 1}\n")
        # forward pass, then δ from the loss back, then each update with its numbers: w − η g = (…) − 0.1 (…)
        assert chunk.index("*Forward pass:*") < chunk.index("*Backward pass") < chunk.index("*Gradients and updates:*")
        for name in ("w1", "b1", "w2", "b2", "w3", "b3"):
            used, grad, updated = (matrix_latex(expected[key][name], 4) for key in ("params", "grads", "updated"))
            # a negative number in parentheses; a positive one after a ⋅, never 0.1 1.188 (which reads 0.11188)
            factor = rf"\, \left({grad}\right)" if grad.startswith("-") else \
                rf"\cdot {grad}" if grad[0].isdigit() else rf"\, {grad}"
            p = _latex_name(name)
            line = rf"{p} \leftarrow {p} - \eta\,\partial L/\partial {p} = {used} - 0.1 {factor} = {updated}"
            assert f"$${line}$$" in chunk
            assert grad in training_tex and updated in training_tex
        loss = number(expected["forward"]["loss"][0, 0], 4)
        assert f"**$`{loss}`$**" in chunk


def _latex_name(name):
    return f"{name[0]}_{{{name[1:]}}}"


def test_verification_table(md):
    rows = [line for line in md.splitlines() if line.startswith("| $`") and "agrees" in line]
    assert len(rows) == 6
    assert all("agrees (exact)" in r and r.endswith("| verified |") for r in rows)


def test_loss_plot(seed_reports, tex):
    svg = seed_reports["loss.svg"]
    points = re.search(r'<polyline points="([^"]*)"', svg).group(1).split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] < ys[1] < ys[2]  # the loss falls, so the curve goes down the picture (y grows downwards)
    coordinates = re.search(r"coordinates \{\n(.*?)\n\};", tex, flags=re.S).group(1).split("\n")
    losses = [e["forward"]["loss"][0, 0] for e in seed_epochs()]
    assert [float(c.strip("()").split(", ")[1]) for c in coordinates] == pytest.approx(losses, rel=1e-12)


def test_long_runs_show_the_first_and_last_epochs():
    model = symback.load(EXAMPLES / "seed.py")
    model.configure(epochs=40)
    context = document.build(model, model.verify(), model.train())
    md = markdown_files("derivation", context)["derivation.md"]
    labels = re.findall(r"^### Epoch (\d+)$", md, flags=re.M)
    assert labels == [str(k) for k in [*range(1, 11), *range(36, 41)]]
    assert "*Epochs 11–35 (25 in all) are not shown; the loss of every epoch is in the plot below" in md
    assert "The run has 40 epochs; the first and the last are shown." in md


def test_graph_edges_that_skip_layers_run_between_the_boxes():
    """The seed's x feeds u1 and out, four rows apart: its edge to out passes a waypoint (an empty cell)
    in each row between, never under the boxes of w2, h, b2, w3, z or b3 (issue 12)."""
    model = symback.load(EXAMPLES / "seed.py")
    graph = document.build(model, model.verify(), model.train())["graph"]
    (part,) = graph["parts"]
    rows = [[n["id"] for n in layer] for layer in part["layers"]]
    edge = next(e for e in part["edges"] if (e["source"], e["target"]) == ("x", "out"))
    assert rows[edge["source_row"] - 1].count("x") == 1 and "out" in rows[edge["target_row"] - 1]
    assert len(edge["via"]) == edge["target_row"] - edge["source_row"] - 1 == 3  # rows of u1, h, z
    for v in edge["via"]:
        assert v["id"] in rows[v["row"] - 1]
    # an edge between neighbouring rows needs none; every box keeps its row
    assert all(not e["via"] for e in part["edges"] if e["target_row"] == e["source_row"] + 1)
    assert sorted(n for row in rows for n in row if not n.startswith("via-")) == sorted(n["id"] for n in graph["nodes"])


def test_the_summary_gives_the_loss_per_epoch_and_the_parameters_initial_and_final(md, tex):
    """SPEC §3.6: after the plot, the loss of every epoch and each parameter's initial and final value —
    the numbers of plain PyTorch training (tests/oracle.py), rounded as the report rounds."""
    epochs = seed_epochs()
    summary = md.split("## 6. Loss per epoch")[1].split("### Summary")[1]
    for k, e in enumerate(epochs, start=1):
        assert f"| {k} | $`{number(e['forward']['loss'][0, 0], 4)}`$ |" in summary
    for name in ("w1", "b1", "w2", "b2", "w3", "b3"):
        initial, final = matrix_latex(epochs[0]["params"][name], 4), matrix_latex(epochs[-1]["updated"][name], 4)
        assert f"| $`{_latex_name(name)}`$ | $`{initial}`$ | $`{final}`$ |" in summary
        assert f"${_latex_name(name)}$ & ${initial}$ & ${final}$" in tex.split(r"\subsection*{Summary}")[1]


def test_each_epoch_starts_a_page_and_reads_in_computation_order(tex):
    training = tex.split(r"\section{Training}")[1].split(r"\section{Loss per epoch}")[0]
    epochs = training.split(r"\subsection*{Epoch ")[1:]
    assert len(epochs) == 3
    # epochs 2 and 3, and the loss plot after them; epoch 1 follows the heading of the section
    assert training.count(r"\clearpage") == 3 and all(e.rstrip().endswith(r"\clearpage") for e in epochs)
    for e in epochs:
        assert e.index("Forward pass") < e.index("Backward pass") < e.index("Gradients and updates")
        backward = e.split("Backward pass")[1].split(r"\end{tabular}")[0]
        rows = re.findall(r"^\$(.*?)\$ &", backward, flags=re.M)
        assert rows == [r"\mathit{loss}", r"\mathit{out}", "z", "h", "u_{1}"]  # from the loss back


def test_rule_sentences_state_the_conventions_they_use(tmp_path):
    (tmp_path / "leaky.py").write_text(
        "from symback import Model, param, data, leaky_relu, relu, mse\n"
        "x = data([[1.0, -2.0]])\nW = param([[0.5, -1.0], [0.3, 0.2]])\n"
        "h = leaky_relu(x @ W, 0.01)\nz = relu(h @ param([[1.0], [2.0]], name='v'))\n"
        "model = Model(mse(z, data([[1.0]])), lr=0.1, epochs=1, relu_grad_at_zero=1)\n")
    model = symback.load(tmp_path / "leaky.py")
    context = document.build(model, model.verify(), model.train())
    rules = {r for g in context["derivations"] for s in [*g["steps"], {"rules": g["final_rules"]}] for r in s["rules"]}
    assert "relu′ = step: 1 where the argument is positive, 0 where negative, 1 at 0" in rules
    # α + (1 − α)·relu′(0) = 0.01 + 0.99 · 1 = 1 at the kink
    assert "leaky relu′: 1 where the argument is positive, the slope α = 0.01 where negative, 1 at 0" in rules
    tex = latex_file("derivation", context)["derivation.tex"]
    assert r"\operatorname{leaky\_relu}\left(x W,\ \alpha = 0.01\right)" in tex
    assert r"B$^{\top}$" in tex and "textsuperscript{T}" not in tex
