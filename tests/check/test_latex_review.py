r"""The LaTeX reader on what a review with real hand solutions found: comments, code, punctuation,
per-sample steps, vectors, the decimal comma, squares against epochs, formulas in an epoch's working.

Expected values come from ``reports/seed/result.json`` (held to PyTorch by ``tests/test_seed.py``),
from the derived numbers of a per-sample model (``symback derive --format json``, held to PyTorch
by ``tests/numeric``), or from the same solution written in YAML and graded by the YAML path.
"""

import json

import pytest
from conftest import ROOT

import symback
from symback.check.grade import Checker
from symback.check.latex import parse_latex_solution
from symback.check.solution import parse_solution
from symback.errors import SolutionError

SEED = json.loads((ROOT / "reports" / "seed" / "result.json").read_text())
OUT = SEED["epochs"][0]["forward"]["out"][0][0]  # 4.4717…
Z = SEED["epochs"][0]["forward"]["z"][0][0]
W3 = SEED["epochs"][0]["updated"]["w3"]


def read(text, model, markdown=True, sep="."):
    return parse_latex_solution(text, model, decimal_separator=sep, markdown=markdown)


def values(solution):
    return [(i.section, i.epoch, i.sample, i.name, i.index, float(i.text)) for i in solution.items]


def test_comments_in_tex_math_are_not_read(seed):
    tex = (f"\\begin{{align*}}\nout^{{(1)}} &= {OUT:.3f} % first try: = 0.9\n\\\\\n% a note\n"
           f"z^{{(1)}} &= {Z:.3f} % also a note \\\\\n\\end{{align*}}\n")
    solution = read(tex, seed, markdown=False)
    assert not solution.errors
    assert values(solution) == [("forward", 1, None, "out", (0, 0), round(OUT, 3)),
                                ("forward", 1, None, "z", (0, 0), round(Z, 3))]


@pytest.mark.parametrize("hidden", [
    "<!-- $$out^{1} = 0.9$$ -->",
    "````\n```\n$$out^{1} = 0.9$$\n```\n````",
    "~~~\n$$out^{1} = 0.9$$\n~~~",
    "`$out^{1} = 0.9$`",
])
def test_comments_and_code_in_markdown_are_not_read(seed, hidden):
    solution = read(f"{hidden}\n\n$$out^{{1}} = {OUT:.3f}$$\n", seed)
    assert values(solution) == [("forward", 1, None, "out", (0, 0), round(OUT, 3))]


@pytest.mark.parametrize("after", [".", ",", r"\,.", r" \text{ (rounded)}", r" \checkmark", ";"])
def test_a_sentence_s_punctuation_after_a_value(seed, after):
    solution = read(f"so $out^{{1}} = {OUT:.3f}{after}$ and more\n", seed)
    assert not solution.errors and values(solution) == [("forward", 1, None, "out", (0, 0), round(OUT, 3))]


@pytest.mark.parametrize("written", [
    f"({W3[0][0]:.4f}, {W3[1][0]:.4f})^T",
    f"[{W3[0][0]:.4f}, {W3[1][0]:.4f}]^\\top",
    f"\\begin{{pmatrix}} {W3[0][0]:.4f} & {W3[1][0]:.4f} \\end{{pmatrix}}^T",
])
def test_a_vector_written_as_a_tuple(seed, checker, written):
    solution = read(f"$$ w_3^{{2}} = {written} $$\n", seed)
    assert [(i.name, i.index) for i in solution.items] == [("w3", (0, 0)), ("w3", (1, 0))]
    assert [j.status for j in checker.check(solution).items] == ["correct", "correct"]


def test_the_decimal_comma_as_latex_spells_it(seed, checker):
    whole, fraction = f"{Z:.3f}".split(".")
    solution = read(f"$$ z^{{1}} = {whole}{{,}}{fraction} $$\n", seed, sep=",")
    assert [j.status for j in checker.check(solution).items] == ["correct"]
    assert solution.items[0].source == f"{whole}{{,}}{fraction}"  # shown as written


def test_a_square_in_a_file_that_braces_its_epochs_is_not_an_epoch(seed):
    solution = read(f"$$out^{{1}} = {OUT:.3f}$$ and $z^2 = {Z * Z:.3f}$\n", seed)
    assert [(i.name, i.epoch) for i in solution.items] == [("out", 1)]


def test_an_unbraced_epoch_where_the_file_writes_them_so(seed):
    """The source exercise writes w_3^2 for the value used in epoch 2: that stays an epoch."""
    solution = read(f"$$w_3^2 = \\begin{{pmatrix}} {W3[0][0]:.3f} \\\\ {W3[1][0]:.3f} \\end{{pmatrix}}$$\n", seed)
    assert [(i.section, i.epoch, i.name) for i in solution.items] == [("updated", 1, "w3")] * 2


def test_a_formula_in_an_epoch_s_working_is_judged_and_gives_that_epoch_s_gradient(seed, checker):
    b2 = SEED["epochs"][0]["grads"]["b2"][0][0]
    solution = read(f"$$ \\frac{{\\partial L}}{{\\partial b_2}} = (out^{{(1)}} - 6)\\, u(z^{{(1)}}) = {b2:.3f} $$\n"
                    f"$$ \\frac{{\\partial L}}{{\\partial b_3^{{(1)}}}} = 6 - out^{{(1)}} = {-b2:.3f} $$\n", seed)
    assert not solution.errors
    assert [(f.name, f.source) for f in solution.formulas] == [("b2", "(out^{(1)} - 6)\\, u(z^{(1)})"),
                                                               ("b3", "6 - out^{(1)}")]
    assert [(i.section, i.epoch, i.name) for i in solution.items] == [("grads", 1, "b2"), ("grads", 1, "b3")]
    twin = checker.check(parse_solution('formulas: {b2: "(out - 6) * step(z)", b3: "6 - out"}', seed))
    judged = checker.check(solution)
    assert [j.status for j in judged.items if j.section == "formulas"] == [j.status for j in twin.items] \
        == ["correct", "wrong"]
    assert [j.status for j in judged.items if j.section == "grads"] == ["correct", "wrong"]


def test_epoch_zero_says_epochs_count_from_one(seed):
    solution = read("$$ w_3^{(0)} = \\begin{pmatrix} -0.3 \\\\ 1 \\end{pmatrix} $$\n", seed)
    (error,) = solution.errors
    assert "counted from 1" in error.message and error.line == 1


def test_a_symbol_of_the_author_s_own_is_not_an_error_but_a_slip_is(seed):
    solution = read("$$ p^{(1)} = 0.5 $$\n$$ w_4^{(2)} = 0.5 $$\n", seed)
    (error,) = solution.errors
    assert error.line == 2 and "did you mean w" in error.message


def test_slash_decimals_without_the_option_are_flagged(seed):
    text = "".join(f"$$ {name}^{{1}} = {v} $$\n" for name, v in (("out", "4/472"), ("z", "1/972"), ("loss", "1/168")))
    with pytest.raises(SolutionError) as e:  # the whole file would be misread: refused, with the option to pass
        read(text, seed)
    assert "--decimal-separator /" in e.value.message and e.value.line == 1
    assert not read(text, seed, sep="/").errors
    assert not read("$$ out^{1} = \\frac{1}{3} $$\n$$ z^{1} = 2/3 $$\n$$ loss^{1} = 1/4 $$\n", seed).errors  # fractions


def test_a_markdown_dollar_math_ends_at_a_blank_line(seed):
    solution = read(f"$$out^{{1}} = {OUT:.3f}\n\nsome prose\n\n$$z^{{1}} = {Z:.3f}$$\n", seed)
    assert [e.line for e in solution.errors] == [1]
    assert [(i.name, i.epoch) for i in solution.items] == [("z", 1)]


@pytest.fixture(scope="module")
def per_sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sgd")
    (folder / "sgd.py").write_text(
        "from symback import Model, param, samples, sigmoid\n"
        "x = samples([[[1.0], [2.0]], [[-1.0], [0.5]]])\n"
        "y = samples([1.0, 0.0])\n"
        "w = param([[0.3, -0.1]])\n"
        "b = param(0.2)\n"
        "out = sigmoid(w @ x + b)\n"
        "loss = (out - y) ** 2 / 2\n"
        "model = Model(loss, lr=1.0, epochs=2)\n")
    return symback.load(folder / "sgd.py")


def test_a_per_sample_parameter_is_the_update_of_the_step_before(per_sample):
    """b^{1.2} is the b used in epoch 1, sample 2: the update of epoch 1, sample 1 (as YAML's "1.1")."""
    history = per_sample.train()
    b11, b12 = (step.updated["b"][0][0] for step in history.steps[:2])  # after steps (1, 1) and (1, 2)
    text = f"$$ b^{{1.2}} = {float(b11):.4f} $$\n$$ b^{{2.1}} = {float(b12) + 0.5:.4f} $$\n$$ b^{{1.1}} = 0.2 $$\n"
    solution = read(text, per_sample)
    assert [(i.section, i.epoch, i.sample, i.name) for i in solution.items] == [("updated", 1, 1, "b"),
                                                                                ("updated", 1, 2, "b")]
    twin = parse_solution(f'epochs: {{"1.1": {{updated: {{b: {float(b11):.4f}}}}}, '
                          f'"1.2": {{updated: {{b: {float(b12) + 0.5:.4f}}}}}}}', per_sample)
    checker = Checker(per_sample)
    assert [j.status for j in checker.check(solution).items] == [j.status for j in checker.check(twin).items] \
        == ["correct", "wrong"]


@pytest.mark.parametrize(("written", "left_out"), [
    ("((out - y) * out * (1 - out)) @ h", "h"),  # the right gradient is ((out - y) ⊙ out ⊙ (1 − out)) hᵀ
    ("((out - y) * out * (1 - out)).T @ h.T", None),  # two changes from it: not one transpose
])
def test_a_formula_whose_sizes_fit_with_one_transpose_is_named_missing_transpose(written, left_out):
    sigmoid = symback.load(ROOT / "examples" / "sigmoid_222.py")
    checker = Checker(sigmoid)
    (j,) = checker.check(parse_solution(f'formulas:\n  w2: "{written}"\n', sigmoid)).items
    assert j.status == "wrong"
    assert (j.diagnosis or {}).get("code") == ("missing-transpose" if left_out else None)
    if left_out:
        assert f"{left_out}ᵀ was written {left_out}" in j.diagnosis["message"]
    latex = parse_latex_solution("$$ \\frac{\\partial L}{\\partial w_2} = ((out - y) \\odot out \\odot (1 - out)) h $$",
                                 sigmoid)
    (k,) = checker.check(latex).items
    assert (k.status, k.diagnosis["code"]) == ("wrong", "missing-transpose")
