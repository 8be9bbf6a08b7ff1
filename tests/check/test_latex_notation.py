r"""A course's own symbols (``notation=``, ``<model>.notation.yaml``) and the less common forms of
the LaTeX reader: derivatives written with a prime, an identity factor, a value in scientific
notation or as a number times a matrix, the learning rate in a value's working.

Every expected verdict comes from the YAML twin graded by the YAML path (`formula_twin`), or from
the derived numbers of ``reports/seed/result.json`` (held to PyTorch by ``tests/test_seed.py``).
"""

import json
import shutil

import pytest
from conftest import EXAMPLES, ROOT

import symback
from symback.check.grade import Checker
from symback.check.latex import parse_latex_solution
from symback.check.solution import parse_solution
from symback.errors import ModelError

SEED = json.loads((ROOT / "reports" / "seed" / "result.json").read_text())


def formula_twin(checker, name, formula):
    (j,) = checker.check(parse_solution(f'formulas:\n  {name}: "{formula}"\n', checker.model)).items
    return j.status


def judged_formula(checker, latex):
    solution = parse_latex_solution(f"$$ {latex} $$\n", checker.model)
    assert not solution.errors, [str(e) for e in solution.errors]
    (j,) = [j for j in checker.check(solution).items if j.section == "formulas"]
    return j.status


@pytest.fixture(scope="module")
def course_checker(course):
    return Checker(course)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The seed model with a notation file beside it: g for tanh, ŷ for out."""
    folder = tmp_path_factory.mktemp("course")
    shutil.copy(EXAMPLES / "seed.py", folder / "seed.py")
    (folder / "seed.notation.yaml").write_text('notation:\n  g: tanh\n  "\\\\hat{y}": out\n', encoding="utf-8")
    return symback.load(folder / "seed.py")


def test_the_notation_file_beside_the_model_adds_to_its_own(course):
    assert course.notation == {"g": "tanh", r"\hat{y}": "out", "u": "step"}  # u: examples/seed.py's own


@pytest.mark.parametrize(("latex", "name", "twin"), [
    (r"\frac{\partial L}{\partial b_3} = \hat{y} - 6", "b3", "out - 6"),
    (r"\frac{\partial L}{\partial b_1} = (\hat{y} - 6) u(z) w_2 \odot (1 - g(u_1)^2)", "b1",
     "(out - 6) * step(z) * w2 * (1 - tanh(u1)**2)"),
    (r"\frac{\partial L}{\partial b_1} = (\hat{y} - 6) u(z) w_2 \odot g(u_1)^2", "b1",
     "(out - 6) * step(z) * w2 * tanh(u1)**2"),
])
def test_a_course_symbol_reads_as_the_name_or_function_it_stands_for(course_checker, latex, name, twin):
    assert judged_formula(course_checker, latex) == formula_twin(course_checker, name, twin)


@pytest.mark.parametrize(("notation", "why"), [
    ({"u": "nothing"}, "neither a name of the model nor one of the functions"),
    ({"": "step"}, "is not a symbol"),
    ("u=step", "is a dict"),
])
def test_a_bad_notation_is_a_model_error(tmp_path, notation, why):
    source = (EXAMPLES / "seed.py").read_text().replace('notation={"u": "step"}', f"notation={notation!r}")
    (tmp_path / "m.py").write_text(source)
    with pytest.raises(ModelError, match=why):
        symback.load(tmp_path / "m.py")


def test_a_bad_notation_file_names_itself(tmp_path):
    shutil.copy(EXAMPLES / "seed.py", tmp_path / "m.py")
    (tmp_path / "m.notation.yaml").write_text("g: [tanh]\n")
    with pytest.raises(ModelError) as e:
        symback.load(tmp_path / "m.py")
    assert "m.notation.yaml" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("latex", "name", "twin"), [
    (r"\frac{\partial loss}{\partial b_1} = (out - 6) u(z) w_2 \odot \tanh'(u_1)", "b1",
     "(out - 6) * step(z) * w2 * (1 - tanh(u1)**2)"),
    (r"\frac{\partial loss}{\partial b_2} = (out - 6) \text{relu}'(z)", "b2", "(out - 6) * step(z)"),
    (r"\frac{\partial loss}{\partial b_2} = (out - 6) \sigma'(z)", "b2", "(out - 6) * sigmoid(z) * (1 - sigmoid(z))"),
    (r"\frac{\partial loss}{\partial w_3} = x I_{1 \times 1} (out - 6)", "w3", "x * (out - 6)"),
    (r"\frac{\partial loss}{\partial w_2} = (out - 6) u(z) h I_{3}", "w2", "(out - 6) * step(z) * h"),
    (r"\frac{\partial loss}{\partial w_2} = (out - 6) u(z) h \cdot I_{3\times 3} \odot h", "w2",
     "(out - 6) * step(z) * h * h"),
])
def test_a_derivative_with_a_prime_and_an_identity_factor(checker, latex, name, twin):
    assert judged_formula(checker, latex) == formula_twin(checker, name, twin)


def test_an_identity_that_does_not_fit_is_an_error_of_its_line(seed):
    solution = parse_latex_solution("text\n$$ \\frac{\\partial loss}{\\partial w_2} = (out - 6) u(z) h I_{2} $$\n", seed)
    (error,) = solution.errors
    assert error.line == 2 and "I_2" in error.message and "1×3" in error.message


def test_scientific_notation_a_scalar_times_a_matrix_and_the_rate_in_the_working(seed, checker):
    out = SEED["epochs"][0]["forward"]["out"][0][0]
    w3 = SEED["epochs"][0]["updated"]["w3"]
    latex = (f"$$ out^{{1}} = {out * 1000:.4f} \\times 10^{{-3}} $$\n"
             f"$$ w_3^{{2}} = w_3^{{1}} - \\alpha \\frac{{\\partial loss}}{{\\partial w_3^{{1}}}} = "
             f"0.001 \\begin{{pmatrix}} {w3[0][0] * 1000:.3f} \\\\ {w3[1][0] * 1000:.3f} \\end{{pmatrix}} $$\n")
    solution = parse_latex_solution(latex, seed)
    assert not solution.errors
    assert [i.text for i in solution.items] == [f"{out * 1000:.4f}e-3", f"0.001*{w3[0][0] * 1000:.3f}",
                                                f"0.001*{w3[1][0] * 1000:.3f}"]
    assert [j.status for j in checker.check(solution).items] == ["correct"] * 3


def test_a_working_in_symbols_ending_in_an_unknown_symbol_is_an_error(seed):
    solution = parse_latex_solution("$$ out^{1} = b_3 + w_3^T x + \\text{relu}(z) $$\n"
                                    "$$ z^{1} = h^{1} w_2^T + q $$\n", seed)
    assert [e.line for e in solution.errors] == [2]  # out's definition is working; q is no name of the model
    assert "'q'" in solution.errors[0].message
