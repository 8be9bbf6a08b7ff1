r"""The LaTeX/Markdown reader (issue 13), form by form: what each written form maps to, where it
is in the file, and how the checker judges it.

Every expected status comes from an independent source: the same values or formulas written in
YAML and graded by the existing YAML reader (its *twin*), or the derived numbers of
``reports/*/result.json`` (which ``tests/test_seed.py`` holds to PyTorch).  The expected items —
section, epoch, name, index, text — are read off the LaTeX written here by the mapping of
issue 13 (``w_3^{2}`` is the value used in epoch 2, so epoch 1's update), and every line and
column is found by searching the text, never counted by hand.
"""

import json

import pytest
from conftest import EXAMPLES, ROOT
from conftest import position as at

import symback
from symback.check.grade import Checker
from symback.check.solution import Item, parse_solution
from symback.errors import SolutionError

RESULT = {name: json.loads((ROOT / "reports" / name / "result.json").read_text()) for name in ("seed", "sigmoid_222")}


@pytest.fixture(scope="module")
def sigmoid():
    return symback.load(EXAMPLES / "sigmoid_222.py")


@pytest.fixture(scope="module")
def sigmoid_checker(sigmoid):
    return Checker(sigmoid)


def read(text, model, *, markdown=True, sep="."):
    from symback.check.latex import parse_latex_solution

    return parse_latex_solution(text, model, file="s.md" if markdown else "s.tex", decimal_separator=sep,
                                markdown=markdown)


def code(j):
    return None if j.diagnosis is None else j.diagnosis["code"]


def grades(result):
    """(epoch, section, name, index) → (status, diagnosis code) of every value item."""
    return {(j.epoch, j.section, j.name, None if j.index is None else tuple(j.index)): (j.status, code(j))
            for j in result.items if j.section != "formulas"}


def twin(checker, yaml):
    """How the YAML reader's path grades the same values."""
    return grades(checker.check(parse_solution(yaml, checker.model, file="twin.yaml")))


def formula_twin(checker, name, formula):
    (j,) = checker.check(parse_solution(f'formulas:\n  {name}: "{formula}"\n', checker.model)).items
    return j.status, code(j)


def items(solution):
    return [(i.section, i.epoch, i.name, i.index, i.text) for i in solution.items]


# -- values: what each form maps to ----------------------------------------------------------------

#: (LaTeX in Markdown, the items it gives as (section, epoch, name, index, text), its YAML twin)
VALUES = {
    "scalar": (r"$$out^{1} = 4.472$$", [("forward", 1, "out", (0, 0), "4.472")],
               "epochs: {1: {forward: {out: 4.472}}}"),
    "unbraced epoch": (r"$$out^1 = 4.472$$", [("forward", 1, "out", (0, 0), "4.472")],
                       "epochs: {1: {forward: {out: 4.472}}}"),
    "parenthesised epoch": (r"$$h^{(1)} = \begin{pmatrix} 0.997 & -1.000 & 0.883 \end{pmatrix}$$",
                            [("forward", 1, "h", (0, 0), "0.997"), ("forward", 1, "h", (0, 1), "-1.000"),
                             ("forward", 1, "h", (0, 2), "0.883")],
                            "epochs: {1: {forward: {h: [[0.997, -1.000, 0.883]]}}}"),
    "subscript name, bmatrix": (r"$$u_1^{(1)} = \begin{bmatrix} 3.2 & -4.15 & 1.39 \end{bmatrix}$$",
                                [("forward", 1, "u1", (0, c), t) for c, t in enumerate(["3.2", "-4.15", "1.39"])],
                                "epochs: {1: {forward: {u1: [[3.2, -4.15, 1.39]]}}}"),
    "braced subscript, vmatrix": (r"$$u_{1}^{1} = \begin{vmatrix} 3.2 & -4.15 & 1.39 \end{vmatrix}$$",
                                  [("forward", 1, "u1", (0, c), t) for c, t in enumerate(["3.2", "-4.15", "1.39"])],
                                  "epochs: {1: {forward: {u1: [[3.2, -4.15, 1.39]]}}}"),
    "update": (r"$$w_3^{2} = \begin{pmatrix} 0.006 \\ 1.458 \end{pmatrix}$$",
               [("updated", 1, "w3", (0, 0), "0.006"), ("updated", 1, "w3", (1, 0), "1.458")],
               "epochs: {1: {updated: {w3: [[0.006], [1.458]]}}}"),
    "update of the last epoch": (r"$$b_3^{4} = 0.047$$", [("updated", 3, "b3", (0, 0), "0.047")],
                                 "epochs: {3: {updated: {b3: 0.047}}}"),
    "transposed row": (r"$$w_{3}^{2} = \begin{pmatrix} 0.006 & 1.458 \end{pmatrix}^T$$",
                       [("updated", 1, "w3", (0, 0), "0.006"), ("updated", 1, "w3", (1, 0), "1.458")],
                       "epochs: {1: {updated: {w3: [[0.006], [1.458]]}}}"),
    "transposed row, top": (r"$$w_{3}^{2} = \begin{pmatrix} 0.006 & 1.458 \end{pmatrix}^\top$$",
                            [("updated", 1, "w3", (0, 0), "0.006"), ("updated", 1, "w3", (1, 0), "1.458")],
                            "epochs: {1: {updated: {w3: [[0.006], [1.458]]}}}"),
    "gradient": (r"$$\frac{\partial loss}{\partial b_3^{1}} = -1.528$$", [("grads", 1, "b3", (0, 0), "-1.528")],
                 "epochs: {1: {grads: {b3: -1.528}}}"),
    "gradient of L": (r"$$\frac{\partial L}{\partial b_3^{1}} = -1.528$$", [("grads", 1, "b3", (0, 0), "-1.528")],
                      "epochs: {1: {grads: {b3: -1.528}}}"),
    "gradient of E": (r"$$\frac{\partial E}{\partial w_3^{1}} = \begin{pmatrix} -3.056 \\ -4.585 \end{pmatrix}$$",
                      [("grads", 1, "w3", (0, 0), "-3.056"), ("grads", 1, "w3", (1, 0), "-4.585")],
                      "epochs: {1: {grads: {w3: [[-3.056], [-4.585]]}}}"),
    "gradient of mathcal L": (r"$$\frac{\partial \mathcal{L}}{\partial b_2^{2}} = 0$$",
                              [("grads", 2, "b2", (0, 0), "0")], "epochs: {2: {grads: {b2: 0}}}"),
    "delta": (r"$$\delta_{out}^{1} = -1.528$$", [("deltas", 1, "out", (0, 0), "-1.528")],
              "epochs: {1: {deltas: {out: -1.528}}}"),
    "delta as a derivative": (r"$$\frac{\partial loss}{\partial out^{1}} = -1.528$$",
                              [("deltas", 1, "out", (0, 0), "-1.528")], "epochs: {1: {deltas: {out: -1.528}}}"),
    "approx": (r"$$z^{1} \approx 1.97$$", [("forward", 1, "z", (0, 0), "1.97")],
               "epochs: {1: {forward: {z: 1.97}}}"),
    "a chain: the last value is claimed": (
        r"$$b_3^{2} = b_3^{1} - 0.1 \cdot \frac{\partial loss}{\partial b_3^{1}} = 0.1 + 0.1528 = 0.253$$",
        [("updated", 1, "b3", (0, 0), "0.253")], "epochs: {1: {updated: {b3: 0.253}}}"),
    "a chain ending in approx": (r"$$out^{1} = 0.1 + 2.4 + 1.97177 \approx 4.47$$",
                                 [("forward", 1, "out", (0, 0), "4.47")], "epochs: {1: {forward: {out: 4.47}}}"),
    "a wrong value": (r"$$b_3^{2} = 0.1 - 0.1 \times 1.528 = -0.053$$", [("updated", 1, "b3", (0, 0), "-0.053")],
                      "epochs: {1: {updated: {b3: -0.053}}}"),
}


@pytest.mark.parametrize("case", VALUES)
def test_a_value_form_maps_to_its_items(seed, case):
    latex, expected, _ = VALUES[case]
    solution = read(latex, seed)
    assert not solution.errors, [str(e) for e in solution.errors]
    assert items(solution) == expected
    assert all(i.sample is None for i in solution.items)


@pytest.mark.parametrize("case", VALUES)
def test_each_value_is_where_it_is_written(seed, case):
    latex, expected, _ = VALUES[case]
    solution = read(latex, seed)
    claimed = max(latex.rfind("="), latex.rfind("\\approx"))  # the value after the last relation
    for item, (*_, text) in zip(solution.items, expected, strict=True):
        position = latex.index(text, claimed)
        assert (item.line, item.column) == (1, position + 1), (case, item)


@pytest.mark.parametrize("case", VALUES)
def test_a_value_form_is_judged_as_its_yaml_twin(seed, checker, case):
    latex, _, yaml = VALUES[case]
    assert grades(checker.check(read(latex, seed))) == twin(checker, yaml)


def test_the_twins_agree_with_the_derived_numbers():
    """The source of the statuses above, checked once against result.json: out = 4.47177 rounds to
    4.472, b3's first update 0.252823 to 0.253, so the twins of those say correct."""
    epoch1 = RESULT["seed"]["epochs"][0]
    assert round(epoch1["forward"]["out"][0][0], 3) == 4.472
    assert round(epoch1["updated"]["b3"][0][0], 3) == 0.253
    assert round(epoch1["deltas"]["out"][0][0], 3) == -1.528


def test_the_given_initial_value_is_not_graded(seed):
    solution = read(r"$$w_3^{1} = \begin{pmatrix} -0.3 \\ 1 \end{pmatrix}$$" "\n" r"$$b_3^{1} = 0.1$$", seed)
    assert solution.items == [] and solution.errors == []


def test_working_between_the_sides_is_not_judged(seed):
    latex = (r"$$w_3^{2} = w_3^{1} - 0.1 \frac{\partial loss}{\partial w_3^{1}} = "
             r"\begin{pmatrix} -0.3 \\ 1 \end{pmatrix} - 0.1 \begin{pmatrix} -3.056 \\ -4.585 \end{pmatrix} = "
             r"\begin{pmatrix} 0.006 \\ 1.458 \end{pmatrix}$$")
    solution = read(latex, seed)
    assert items(solution) == [("updated", 1, "w3", (0, 0), "0.006"), ("updated", 1, "w3", (1, 0), "1.458")]
    assert (solution.items[0].line, solution.items[0].column) == at(latex, "0.006")


def test_a_fraction_is_a_value(seed, checker):
    latex = r"$$u_1^{1} = \begin{pmatrix} \frac{16}{5} & -4.15 & 1.39 \end{pmatrix}$$"
    solution = read(latex, seed)
    assert [(i.section, i.epoch, i.name, i.index) for i in solution.items] == [
        ("forward", 1, "u1", (0, c)) for c in range(3)]
    expected = twin(checker, 'epochs: {1: {forward: {u1: ["16/5", -4.15, 1.39]}}}')
    assert grades(checker.check(solution)) == expected
    assert expected[(1, "forward", "u1", (0, 0))] == ("correct", None)  # 16/5 is 3.2 exactly (result.json)
    assert RESULT["seed"]["epochs"][0]["forward"]["u1"][0][0] == 3.2


def test_a_matrix_over_several_lines_keeps_each_entrys_line_and_column(seed, checker):
    latex = ("$$\n"
             "w_1^{2} = \\begin{pmatrix}\n"
             "1.303 & -0.130 & 0.002 \\\\\n"
             "0.204 & -1.300 & 0.033\n"
             "\\end{pmatrix}\n"
             "$$\n")
    solution = read(latex, seed)
    texts = [["1.303", "-0.130", "0.002"], ["0.204", "-1.300", "0.033"]]
    assert items(solution) == [("updated", 1, "w1", (r, c), texts[r][c]) for r in range(2) for c in range(3)]
    for item in solution.items:
        assert (item.line, item.column) == at(latex, item.text)
    expected = twin(checker, "epochs: {1: {updated: {w1: [[1.303, -0.130, 0.002], [0.204, -1.300, 0.033]]}}}")
    assert grades(checker.check(solution)) == expected


# -- digits and decimal separators --------------------------------------------------------------------

@pytest.mark.parametrize("written", ["۴٫۴۷۲", "٤٫٤٧٢", "۴.۴۷۲"])
def test_persian_and_arabic_indic_digits(seed, checker, written):
    latex = f"خروجی شبکه در دوره‌ی اول: $$out^{{1}} = {written}$$"
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472")]
    assert (solution.items[0].line, solution.items[0].column) == at(latex, written)
    assert grades(checker.check(solution)) == twin(checker, "epochs: {1: {forward: {out: 4.472}}}")


def test_the_slash_as_decimal_separator(seed, checker):
    latex = r"$$b_2^{2} = b_2^{1} - 0/1 \times (-1/528) = 0/253$$"
    solution = read(latex, seed, sep="/")
    assert items(solution) == [("updated", 1, "b2", (0, 0), "0.253")]
    assert solution.items[0].column == at(latex, "0/253")[1]
    assert grades(checker.check(solution)) == twin(checker, "epochs: {1: {updated: {b2: 0.253}}}")


def test_without_the_separator_the_slash_divides(seed, checker):
    """``0/253`` with the default separator is 0 ÷ 253: judged as YAML's "0/253" is."""
    solution = read(r"$$b_2^{2} = 0/253$$", seed)
    assert grades(checker.check(solution)) == twin(checker, 'epochs: {1: {updated: {b2: "0/253"}}}')


def test_persian_digits_with_the_slash(seed, checker):
    latex = "$$b_2^{2} = ۰/۲۵۳$$"
    solution = read(latex, seed, sep="/")
    assert items(solution) == [("updated", 1, "b2", (0, 0), "0.253")]


# -- rows, chains, where math is ----------------------------------------------------------------------

def test_a_row_starting_with_equals_continues_the_chain(seed, checker):
    latex = ("$$\n\\begin{aligned}\n"
             "b_3^{2} &= b_3^{1} - \\alpha \\frac{\\partial loss}{\\partial b_3^{1}} \\\\\n"
             "&= 0.1 - 0.1 \\cdot (-1.528) \\\\\n"
             "&= 0.253\n"
             "\\end{aligned}\n$$\n")
    solution = read(latex, seed)
    assert items(solution) == [("updated", 1, "b3", (0, 0), "0.253")]
    assert (solution.items[0].line, solution.items[0].column) == at(latex, "0.253")
    assert grades(checker.check(solution)) == twin(checker, "epochs: {1: {updated: {b3: 0.253}}}")


def test_double_backslash_splits_rows(seed):
    latex = r"$$out^{1} = 4.472 \\ z^{1} = 1.972 \\ loss^{1} = 1.168$$"
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472"), ("forward", 1, "z", (0, 0), "1.972"),
                               ("forward", 1, "loss", (0, 0), "1.168")]


def test_inline_math_in_prose(seed):
    latex = "So the output is $out^{1} = 4.472$, a bit below the target 6; then $z^{1} = 1.972$ too.\n"
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472"), ("forward", 1, "z", (0, 0), "1.972")]
    assert [(i.line, i.column) for i in solution.items] == [at(latex, "4.472"), at(latex, "1.972")]


def test_prose_in_persian_around_math(seed):
    latex = "مرحله‌ی اول: محاسبه‌ی رو به جلو\n\nخروجی شبکه برابر است با\n$$out^{1} = 4.472$$\nکه از ۶ کمتر است.\n"
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472")]
    assert (solution.items[0].line, solution.items[0].column) == at(latex, "4.472")


def test_an_environment_without_dollars_in_markdown(seed):
    latex = "Then\n\\begin{align*}\nout^{1} &= 4.472\n\\end{align*}\n"
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472")]
    assert (solution.items[0].line, solution.items[0].column) == at(latex, "4.472")


@pytest.mark.parametrize("environment", ["aligned", "align*", "equation*"])
def test_environments_inside_markdown_math(seed, environment):
    latex = f"$$\n\\begin{{{environment}}}\nout^{{1}} &= 4.472\n\\end{{{environment}}}\n$$\n"
    if environment == "equation*":
        latex = latex.replace("&", "")
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472")]
    assert (solution.items[0].line, solution.items[0].column) == at(latex, "4.472")


def test_bracket_display_math_in_markdown(seed):
    latex = "The output:\n\\[ out^{1} = 4.472 \\]\n"
    assert items(read(latex, seed)) == [("forward", 1, "out", (0, 0), "4.472")]


def test_code_fences_are_ignored_in_markdown(seed):
    latex = "```latex\n$$out^{1} = 9.99$$\n```\n\n~~~\n$z^{1} = 8.88$\n~~~\n$$loss^{1} = 1.168$$\n"
    solution = read(latex, seed)
    assert items(solution) == [("forward", 1, "loss", (0, 0), "1.168")]
    assert solution.items[0].line == at(latex, "1.168")[0]


TEX = r"""\documentclass{article}
\usepackage{amsmath}
\begin{document}
The forward pass, 100\% by hand: $out^{(1)} = 4.472$.
% z^{(1)} = 9.99 was crossed out
\[ z^{(1)} = 1.972 \] % $loss^{(1)} = 7$
\begin{equation*}
u_1^{(1)} = \begin{pmatrix} 3.2 & -4.15 & 1.39 \end{pmatrix}
\end{equation*}
\begin{align*}
h^{(1)} &= \tanh(u_1^{(1)}) \\
&= \begin{pmatrix} 0.997 & -1.000 & 0.883 \end{pmatrix} \\
loss^{(1)} &= \frac{1}{2} (4.472 - 6)^2 = 1.168
\end{align*}
\end{document}
"""


def test_a_tex_document(seed, checker):
    solution = read(TEX, seed, markdown=False)
    assert not solution.errors, [str(e) for e in solution.errors]
    expected = [("forward", 1, "out", (0, 0), "4.472"), ("forward", 1, "z", (0, 0), "1.972"),
                *[("forward", 1, "u1", (0, c), t) for c, t in enumerate(["3.2", "-4.15", "1.39"])],
                *[("forward", 1, "h", (0, c), t) for c, t in enumerate(["0.997", "-1.000", "0.883"])],
                ("forward", 1, "loss", (0, 0), "1.168")]
    assert sorted(items(solution)) == sorted(expected)
    for item in solution.items:
        needle = item.text if item.text != "1.972" else "1.972 \\]"
        assert (item.line, item.column) == at(TEX, needle), item
    yaml = ("epochs: {1: {forward: {out: 4.472, z: 1.972, u1: [[3.2, -4.15, 1.39]], h: [[0.997, -1.000, 0.883]], "
            "loss: 1.168}}}")
    assert grades(checker.check(solution)) == twin(checker, yaml)


def test_comments_in_tex_are_not_read(seed):
    solution = read(TEX, seed, markdown=False)
    assert "9.99" not in {i.text for i in solution.items} and "7" not in {i.text for i in solution.items}
    assert at(TEX, "% z^{(1)}")[0] not in {i.line for i in solution.items}


def test_inline_paren_math_in_tex(seed):
    assert items(read(r"The output is \(out^{(1)} = 4.472\)." "\n", seed, markdown=False)) == [
        ("forward", 1, "out", (0, 0), "4.472")]


# -- what cannot be read is an error of its part, with its line -------------------------------------

def test_a_wrong_shape_is_an_error_item_on_its_line(seed, checker):
    latex = "Line one.\n\n$$out^{1} = \\begin{pmatrix} 1 & 2 & 3 \\end{pmatrix}$$\n$$z^{1} = 1.972$$\n"
    solution = read(latex, seed)
    (error,) = solution.errors
    assert error.line == at(latex, "out^{1}")[0] and error.column >= 1
    assert "out" in error.message and "\n" not in error.message
    result = checker.check(solution)
    (item,) = [j for j in result.items if j.status == "error"]
    assert item.line == error.line and result.verdict == "error"
    assert items(solution) == [("forward", 1, "z", (0, 0), "1.972")]  # the rest is still read


def test_an_unknown_name_with_an_epoch_is_an_error_with_a_hint(seed, checker):
    latex = "$$w_4^{2} = 0.5$$\n"
    solution = read(latex, seed)
    (error,) = solution.errors
    assert (error.line, error.column) == (1, at(latex, "w_4")[1])
    assert "w4" in error.message or "w_4" in error.message
    assert "did you mean" in error.message or "expected one of" in error.message
    assert any(name in error.message for name in ("w1", "w2", "w3"))  # the names it could be
    assert checker.check(solution).verdict == "error"


def test_an_epoch_the_model_does_not_have_is_an_error_as_in_yaml(seed, checker):
    solution = read("$$out^{9} = 4.472$$\n", seed)
    assert solution.items == [] and len(solution.errors) == 1
    assert solution.errors[0].line == 1
    yaml = checker.check(parse_solution("epochs: {9: {forward: {out: 4.472}}}", seed))
    result = checker.check(solution)
    assert [j.status for j in result.items] == [j.status for j in yaml.items] == ["error"]
    assert result.verdict == yaml.verdict == "error"


def test_an_unreadable_value_is_an_error_item(seed, checker):
    latex = "$$out^{1} = 4.472$$\n$$z^{1} = \\begin{pmatrix} ( \\end{pmatrix}$$\n"
    result = checker.check(read(latex, seed))
    errors = [j for j in result.items if j.status == "error"]
    assert errors and all(j.line == 2 for j in errors)
    assert result.verdict == "error"
    assert [j.status for j in result.items if j.name == "out"] == ["correct"]  # out^1 = 4.472 (result.json)


def test_parse_latex_solution_refuses_an_unknown_separator(seed):
    with pytest.raises(SolutionError):
        read("$$out^{1} = 4.472$$", seed, sep="x")


# -- formulas ------------------------------------------------------------------------------------------

#: (model, the formula in LaTeX, the parameter, the same formula in YAML's syntax)
FORMULAS = {
    "w3 by juxtaposition": ("seed", r"\frac{\partial loss}{\partial w_3} = (out - 6) x", "w3", "(out - 6) * x"),
    "b3": ("seed", r"\frac{\partial loss}{\partial b_3} = out - 6", "b3", "out - 6"),
    "b3, wrong": ("seed", r"\frac{\partial loss}{\partial b_3} = 6 - out", "b3", "6 - out"),
    "b2 without u(z), wrong": ("seed", r"\frac{\partial loss}{\partial b_2} = out - 6", "b2", "out - 6"),
    "b2 with the step notation": ("seed", r"\frac{\partial loss}{\partial b_2} = (out - 6) \cdot u(z)", "b2",
                                  "(out - 6) * step(z)"),
    "w2 with cdot": ("seed", r"\frac{\partial loss}{\partial w_2} = (out - 6) \cdot u(z) \cdot h", "w2",
                     "(out - 6) * step(z) * h"),
    "w3 with times": ("seed", r"\frac{\partial L}{\partial w_3} = x \times (out - 6)", "w3", "x @ (out - 6)"),
    "w3 with delta": ("seed", r"\frac{\partial loss}{\partial w_3} = x \delta_{out}", "w3", "x * delta_out"),
    "b1, h squared entry by entry": ("seed", r"\frac{\partial loss}{\partial b_1} = (out - 6) u(z) (w_2 \odot (1 - h^2))",
                                     "b1", "(out - 6) * step(z) * (w2 * (1 - h * h))"),
    "b1, collapsed": ("seed", r"\frac{\partial loss}{\partial b_1} = (out - 6) u(z) w_2 (1 - h h^T)", "b1",
                      "(out - 6) * step(z) * w2 * (1 - h @ h.T)"),
    "b1, tanh and circ": ("seed", r"\frac{\partial loss}{\partial b_1} = (out - 6) \, u(z) \, "
                                  r"(w_2 \circ (1 - \tanh(b_1 + x^T w_1)^2))",
                          "b1", "(out - 6) * step(z) * (w2 * (1 - tanh(b1 + x.T @ w1) ** 2))"),
    "b3 with relu": ("seed", r"\frac{\partial loss}{\partial b_3} = b_3 + w_3^T x + \text{relu}(z) - 6", "b3",
                     "b3 + w3.T @ x + relu(z) - 6"),
    "w1, star": ("seed", r"\frac{\partial loss}{\partial w_1} = x ((out - 6) u(z) w_2 * (1 - h^2))", "w1",
                          "x @ ((out - 6) * step(z) * w2 * (1 - h * h))"),
    "sigmoid b2": ("sigmoid", r"\frac{\partial L}{\partial b_2} = (out - y) \odot out \odot (1 - out)", "b2",
                   "(out - y) * out * (1 - out)"),
    "sigmoid b2 through sigma": ("sigmoid", r"\frac{\partial L}{\partial b_2} = (\sigma(w_2 h + b_2) - y) \odot "
                                            r"\sigma(w_2 h + b_2) \odot (1 - \sigma(w_2 h + b_2))", "b2",
                                 "(sigmoid(w2 @ h + b2) - y) * sigmoid(w2 @ h + b2) * (1 - sigmoid(w2 @ h + b2))"),
    "sigmoid w2, top": ("sigmoid", r"\frac{\partial L}{\partial w_2} = ((out - y) \odot out \odot (1 - out)) "
                                   r"\cdot h^\top", "w2", "((out - y) * out * (1 - out)) @ h.T"),
    "sigmoid w2, left out": ("sigmoid", r"\frac{\partial L}{\partial w_2} = (out - y) h^T", "w2", "(out - y) @ h.T"),
    "sigmoid b1": ("sigmoid", r"\frac{\partial L}{\partial b_1} = (w_2^T ((out - y) \odot out \odot (1 - out))) "
                              r"\odot h \odot (1 - h)", "b1", "(w2.T @ ((out - y) * out * (1 - out))) * h * (1 - h)"),
    "sigmoid b1, no transpose": ("sigmoid", r"\frac{\partial L}{\partial b_1} = (w_2 ((out - y) \odot out \odot "
                                            r"(1 - out))) \odot h \odot (1 - h)", "b1",
                                 "(w2 @ ((out - y) * out * (1 - out))) * h * (1 - h)"),
}


@pytest.mark.parametrize("case", FORMULAS)
def test_a_formula_is_judged_as_its_yaml_twin(seed, checker, sigmoid, sigmoid_checker, case):
    which, latex, name, yaml = FORMULAS[case]
    model, judge = (seed, checker) if which == "seed" else (sigmoid, sigmoid_checker)
    text = f"Then\n$$\n{latex}\n$$\n"
    solution = read(text, model)
    assert not solution.errors, [str(e) for e in solution.errors]
    assert solution.items == []
    (formula,) = solution.formulas
    assert (formula.name, formula.line) == (name, 3)
    assert 1 <= formula.column <= len(latex)
    (judged,) = [j for j in judge.check(solution).items if j.section == "formulas"]
    assert (judged.status, code(judged)) == formula_twin(judge, name, yaml)


def test_the_formula_twins_include_right_and_wrong_ones(seed, checker, sigmoid_checker):
    """The table above is not all of one kind: the twins (graded by the YAML path) say both."""
    verdicts = {case: formula_twin(checker if m == "seed" else sigmoid_checker, name, yaml)[0]
                for case, (m, _, name, yaml) in FORMULAS.items()}
    assert {"correct", "wrong"} <= set(verdicts.values())
    assert verdicts["b3"] == verdicts["w3 by juxtaposition"] == "correct"
    assert verdicts["b2 without u(z), wrong"] == "wrong"


def test_a_formula_with_working_in_between(seed, checker):
    latex = ("$$\n\\begin{aligned}\n"
             "\\frac{\\partial loss}{\\partial w_3} &= \\frac{\\partial loss}{\\partial out} "
             "\\frac{\\partial out}{\\partial w_3} \\\\\n"
             "&= x \\, (out - 6)\n"
             "\\end{aligned}\n$$\n")
    solution = read(latex, seed)
    (formula,) = solution.formulas
    assert formula.name == "w3"
    (judged,) = checker.check(solution).items
    assert (judged.status, code(judged)) == formula_twin(checker, "w3", "x @ (out - 6)")


# -- shape annotations ------------------------------------------------------------------------------

def _shape(name):
    """A quantity's shape as result.json gives it (the derivation's, not the reader's)."""
    seed = RESULT["seed"]
    for entry in seed["forward"]:
        if entry["name"] == name:
            return tuple(entry["shape"])
    for table in ("params", "data"):
        if name in seed[table]:
            return tuple(seed[table][name]["shape"])
    raise KeyError(name)


def test_a_collapsed_factor_annotated_1x1(seed, checker):
    latex = ("$$\n\\frac{\\partial loss}{\\partial b_1} = (out - 6) \\, u(z) \\, (w_2 \\odot\n"
             "\\underbrace{(1 - h^2)}_{(1 \\times 1)})\n$$\n")
    solution = read(latex, seed)
    (claim,) = solution.shapes
    assert (claim.name, claim.claimed, claim.actual) == ("b1", (1, 1), _shape("h"))  # 1 − h² is h's shape, 1×3
    assert claim.line == at(latex, "\\underbrace")[0] and claim.column >= 1
    shape_items = [j for j in checker.check(solution).items if j.section == "formulas" and j.status == "wrong"]
    assert [(j.name, code(j), j.line) for j in shape_items] == [("b1", "collapsed-elementwise", claim.line)]


def test_a_wrong_shape_of_a_vector(seed, checker):
    latex = r"$$\frac{\partial loss}{\partial w_3} = \underbrace{x}_{(1 \times 2)} (out - 6)$$" "\n"
    solution = read(latex, seed)
    (claim,) = solution.shapes
    assert (claim.claimed, claim.actual) == ((1, 2), _shape("x"))  # x is 2×1
    wrong = [j for j in checker.check(solution).items if j.status == "wrong"]
    assert [(j.section, j.name, code(j), j.line) for j in wrong] == [("formulas", "w3", "wrong-shape", 1)]
    assert formula_twin(checker, "w3", "x * (out - 6)") == ("correct", None)  # the formula itself is right


def test_right_shapes_are_no_mistake(seed, checker):
    latex = (r"$$\frac{\partial loss}{\partial w_2} = \underbrace{(out - 6)}_{(1 \times 1)} \cdot "
             r"\underbrace{u(z)}_{(1 \times 1)} \cdot \underbrace{h}_{(1 \times 3)}$$" "\n")
    solution = read(latex, seed)
    assert [(c.claimed, c.actual) for c in solution.shapes] == [((1, 1), _shape("out")), ((1, 1), _shape("z")),
                                                                ((1, 3), _shape("h"))]
    result = checker.check(solution)
    assert not [j for j in result.items if j.status != "correct"]
    assert formula_twin(checker, "w2", "(out - 6) * step(z) * h") == ("correct", None)


def test_a_shape_claim_is_an_item_with_its_line_in_a_long_document(seed, checker):
    """The seed's underbrace, deep in a document, as the issue writes it."""
    latex = ("# حل تمرین\n\n" + "متن.\n\n" * 20 +
             "$$\n\\frac{\\partial loss}{\\partial w_1} = x \\, (out - 6) \\, u(z) \\, (w_2 \\odot "
             "\\underbrace{(1 - \\tanh(b_1 + x^T w_1)^2)}_{(1 \\times 1)})\n$$\n")
    result = checker.check(read(latex, seed))
    line = at(latex, "\\underbrace")[0]
    assert ("w1", "collapsed-elementwise", line) in {(j.name, code(j), j.line) for j in result.items
                                                     if j.section == "formulas" and j.status == "wrong"}


# -- the whole of a solution through load_solution ---------------------------------------------------

@pytest.mark.parametrize("suffix", [".md", ".markdown", ".tex"])
def test_load_solution_reads_by_suffix(seed, tmp_path, suffix):
    from symback.check.solution import load_solution

    text = "The output: $out^{1} = 4.472$\n" + ("% $z^{1} = 9$ crossed out\n" if suffix == ".tex" else "")
    path = tmp_path / f"solution{suffix}"
    path.write_text(text, encoding="utf-8")
    solution = load_solution(path, seed)
    assert items(solution) == [("forward", 1, "out", (0, 0), "4.472")]
    assert (solution.items[0].line, solution.items[0].column) == at(text, "4.472")
    assert solution.file == str(path)


def test_load_solution_with_the_slash(seed, tmp_path):
    from symback.check.solution import load_solution

    text = "$$b_2^{2} = ۰/۲۵۳$$\n$$b_3^{2} = -0/053$$\n"
    path = tmp_path / "s.md"
    path.write_text(text, encoding="utf-8")
    solution = load_solution(path, seed, decimal_separator="/")
    assert solution.items == [Item(1, None, "updated", "b2", (0, 0), "0.253", *at(text, "۰/۲۵۳")),
                              Item(1, None, "updated", "b3", (0, 0), "-0.053", *at(text, "-0/053"))]
