"""The two LaTeX/Markdown hand solutions of issue 13 are graded as their YAML twins are.

``examples/seed_mistakes_fa.md`` is the seed exercise written as it was first written (Persian prose,
``$$`` blocks, the slash as the decimal point, a few Persian digits) with the mistakes of
``examples/seed_mistakes.yaml``; ``examples/sigmoid_222_mistakes.tex`` is a LaTeX document with
the planted mistakes of ``examples/sigmoid_222_mistakes.yaml``.  The oracle for every verdict,
status and diagnosis here is the YAML twin graded by the existing YAML reader (whose own numbers
are held to PyTorch by ``tests/test_seed.py`` and ``tests/check/test_grade.py``); the line of
each item is found by searching the LaTeX text, never written down as a number.
"""

import json
import re
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT

import symback
from symback.check.grade import Checker

SEED, SIGMOID = EXAMPLES / "seed.py", EXAMPLES / "sigmoid_222.py"
SEED_MD, SEED_YAML = EXAMPLES / "seed_mistakes_fa.md", EXAMPLES / "seed_mistakes.yaml"
SIGMOID_TEX, SIGMOID_YAML = EXAMPLES / "sigmoid_222_mistakes.tex", EXAMPLES / "sigmoid_222_mistakes.yaml"

#: (model, the LaTeX solution, its YAML twin, the decimal separator the LaTeX one is written with)
PAIRS = {"seed-fa": (SEED, SEED_MD, SEED_YAML, "/"), "sigmoid-tex": (SIGMOID, SIGMOID_TEX, SIGMOID_YAML, ".")}
PERSIAN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٫", "0123456789.")


@pytest.fixture(scope="module")
def checkers():
    return {SEED: Checker(symback.load(SEED)), SIGMOID: Checker(symback.load(SIGMOID))}


@pytest.fixture(scope="module")
def graded(checkers):
    """For each pair: (the LaTeX one graded, the YAML twin graded by the existing path)."""
    from symback.check.solution import load_solution

    out = {}
    for key, (model, latex, twin, separator) in PAIRS.items():
        checker = checkers[model]
        solution = load_solution(latex, checker.model, decimal_separator=separator)
        out[key] = (checker.check(solution), checker.check_file(twin))
    return out


def code(j):
    return None if j.diagnosis is None else j.diagnosis["code"]


def values(result):
    """Every judged value (not formulas, not shape claims) as (epoch, section, name, index, status, code)."""
    return sorted((j.epoch, j.section, j.name, tuple(j.index), j.status, code(j))
                  for j in result.items if j.section != "formulas")


def line_of(path, needle, start=1):
    """The 1-based number of the first line at or after ``start`` that holds ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in {path.name}")


def as_written(path, separator):
    """The file's lines with Persian digits and the decimal separator made ASCII, character for
    character (so columns are unchanged)."""
    text = path.read_text(encoding="utf-8").translate(PERSIAN)
    if separator != ".":
        text = re.sub(r"(?<=\d)" + re.escape(separator) + r"(?=\d)", ".", text)
    return text.splitlines()


# -- graded as the twin ---------------------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS)
def test_the_same_verdict_as_the_yaml_twin(graded, pair):
    latex, twin = graded[pair]
    assert twin.verdict == "mistakes"  # the twin's own verdict, by the YAML path
    assert latex.verdict == twin.verdict, (latex.error, [j for j in latex.items if j.status == "error"])


@pytest.mark.parametrize("pair", PAIRS)
def test_every_value_judged_as_in_the_yaml_twin(graded, pair):
    latex, twin = graded[pair]
    got, expected = values(latex), values(twin)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, f"missing {missing[:8]} … extra {extra[:8]}"
    assert got == expected  # and none twice


@pytest.mark.parametrize("pair", PAIRS)
def test_no_part_of_the_latex_file_is_unreadable(graded, pair):
    latex, _ = graded[pair]
    assert not [j for j in latex.items if j.status == "error"]
    assert latex.error is None


@pytest.mark.parametrize("pair", PAIRS)
def test_every_item_points_at_its_value_in_the_file(graded, pair):
    """An item's line holds the value as written (its text: digits and marks as in the file), and its
    column is where the value starts."""
    model, path, _, separator = PAIRS[pair]
    latex, _ = graded[pair]
    lines = path.read_text(encoding="utf-8").splitlines()
    for j in latex.items:
        if j.section == "formulas":
            continue
        assert j.line and j.column, j
        rest = lines[j.line - 1][j.column - 1:]
        assert rest.startswith(j.text) or rest.startswith(j.text.lstrip("+-")), (j.label(), j.line, j.column, j.text,
                                                                                  lines[j.line - 1])


# -- the seed's mistakes, on their lines -------------------------------------------------------------

def test_the_seeds_collapsed_factor_is_found_on_the_underbrace(graded):
    latex, _ = graded["seed-fa"]
    underbrace = line_of(SEED_MD, r"\underbrace{(1 - \tanh(b_1 + x^T w_1)^2)}_{(1 \times 1)}")
    claims = [j for j in latex.items if j.section == "formulas" and j.line == underbrace and j.status == "wrong"]
    assert [code(j) for j in claims] == ["collapsed-elementwise"], [(j.label(), j.status, code(j), j.line)
                                                                     for j in latex.items if j.section == "formulas"]
    assert claims[0].name == "w1" and claims[0].diagnosis["message"]


def test_the_seeds_shape_claims_are_kept_on_the_solution(checkers):
    from symback.check.solution import load_solution

    solution = load_solution(SEED_MD, checkers[SEED].model, decimal_separator="/")
    assert len(solution.shapes) == SEED_MD.read_text(encoding="utf-8").count(r"\underbrace{")


@pytest.mark.parametrize("name", ["w1", "b1"])
def test_w1_and_b1_gradients_are_collapsed_elementwise_on_their_lines(graded, name):
    latex, twin = graded["seed-fa"]
    twin_codes = {tuple(j.index): code(j) for j in twin.items if (j.epoch, j.section, j.name) == (1, "grads", name)}
    assert set(twin_codes.values()) == {"collapsed-elementwise"}  # the YAML path's diagnosis
    items = [j for j in latex.items if (j.epoch, j.section, j.name) == (1, "grads", name)]
    assert {tuple(j.index): code(j) for j in items} == twin_codes
    if name == "w1":  # the matrix is written one row a line
        rows = {0: line_of(SEED_MD, "7/3132 & -2/7086 & 0/1625"), 1: line_of(SEED_MD, "10/9698 & -4/0629 & 0/2438")}
        assert {tuple(j.index): j.line for j in items} == {(r, c): rows[r] for r in (0, 1) for c in range(3)}
    else:
        line = line_of(SEED_MD, r"\frac{\partial loss}{\partial b_1^{1}}")
        assert {j.line for j in items} == {line}


def test_the_sign_slip_of_b3_is_on_its_line(graded):
    latex, twin = graded["seed-fa"]
    (expected,) = [j for j in twin.items if (j.epoch, j.section, j.name) == (1, "updated", "b3")]
    (b3,) = [j for j in latex.items if (j.epoch, j.section, j.name) == (1, "updated", "b3")]
    assert (b3.status, code(b3)) == (expected.status, code(expected)) == ("wrong", "update-sign")
    assert b3.line == line_of(SEED_MD, r"b_3^{2} = b_3^{1}")
    assert b3.written == pytest.approx(-0.053)


def test_slash_and_persian_numbers_are_read_as_decimals(graded):
    latex, twin = graded["seed-fa"]
    by_key = {(j.epoch, j.section, j.name, tuple(j.index)): j for j in latex.items if j.index is not None}
    for j in twin.items:
        if j.index is not None:
            assert by_key[(j.epoch, j.section, j.name, tuple(j.index))].written == pytest.approx(j.written, abs=0), j
    b2 = by_key[(1, "updated", "b2", (0, 0))]  # written ۰٫۲۵۳: read as 0.253, shown as written
    assert (b2.text, b2.written, b2.line) == ("۰٫۲۵۳", pytest.approx(0.253, abs=0), line_of(SEED_MD, "۰٫۲۵۳"))
    out3 = by_key[(3, "forward", "out", (0, 0))]  # ۶٫۶۶۶
    assert (out3.text, out3.written) == ("۶٫۶۶۶", pytest.approx(6.666, abs=0))
    assert out3.line == line_of(SEED_MD, "out^{3} = ")


#: each formula of the .md transcribed by hand into YAML's formula syntax (graded by the YAML path)
SEED_MD_FORMULAS = {"b3": "out - 6", "w3": "x @ (out - 6)", "b2": "(out - 6) * step(z)", "w2": "(out - 6) * step(z) * h",
                    "w1": "x @ ((out - 6) * step(z) * (w2 * (1 - tanh(b1 + x.T @ w1) ** 2)))"}


def test_the_seeds_formulas_are_judged_as_their_yaml_transcriptions(graded, checkers):
    """Read literally, the .md's formulas are what the transcriptions say; the one further mistake is
    the (1 × 1) under 1 − tanh²: x is 2×1, out − 6 and u(z) 1×1, h and w2 1×3 are annotated right."""
    from symback.check.solution import parse_solution

    checker = checkers[SEED]
    yaml = "formulas:\n" + "".join(f'  {k}: "{v}"\n' for k, v in SEED_MD_FORMULAS.items())
    expected = {j.name: (j.status, code(j)) for j in checker.check(parse_solution(yaml, checker.model)).items}
    assert set(expected) == set(SEED_MD_FORMULAS)
    latex, _ = graded["seed-fa"]
    underbrace = line_of(SEED_MD, r"\underbrace{(1 - \tanh(b_1 + x^T w_1)^2)}_{(1 \times 1)}")
    formulas = [j for j in latex.items if j.section == "formulas" and j.line != underbrace]
    for name, verdict in expected.items():
        assert verdict in {(j.status, code(j)) for j in formulas if j.name == name}, (name, verdict, formulas)
    wrong = sorted((j.name, code(j)) for j in latex.items if j.section == "formulas" and j.status == "wrong")
    assert wrong == sorted([(n, c) for n, (s, c) in expected.items() if s == "wrong"] + [("w1", "collapsed-elementwise")])
    lines = {"b3": r"\frac{\partial loss}{\partial b_3} &=", "w3": r"\frac{\partial loss}{\partial w_3} &=",
             "b2": r"\frac{\partial loss}{\partial b_2} &=", "w2": r"\frac{\partial loss}{\partial w_2} &="}
    for name, needle in lines.items():
        assert line_of(SEED_MD, needle) in {j.line for j in formulas if j.name == name}, name


# -- the sigmoid network's mistakes ----------------------------------------------------------------

def test_the_sigmoid_formulas_and_the_wrong_shape(graded):
    latex, twin = graded["sigmoid-tex"]
    expected = {(j.name, j.status, code(j)) for j in twin.items if j.section == "formulas"}
    assert expected == {("w2", "wrong", "derivative-left-out"), ("w1", "correct", None)}  # the twin, by YAML
    formulas = [j for j in latex.items if j.section == "formulas"]
    assert expected <= {(j.name, j.status, code(j)) for j in formulas}
    shape_line = line_of(SIGMOID_TEX, r"\underbrace{x^T}_{(2 \times 1)}")
    wrong = sorted((j.name, code(j), j.line) for j in formulas if j.status == "wrong")
    assert wrong == sorted([("w2", "derivative-left-out", line_of(SIGMOID_TEX, r"\frac{\partial L}{\partial w_2} &=")),
                            ("w1", "wrong-shape", shape_line)])


def test_the_sigmoid_mistakes_are_on_their_lines(graded):
    latex, twin = graded["sigmoid-tex"]
    wrong = {(j.epoch, j.section, j.name, tuple(j.index)): j for j in latex.items if j.status == "wrong"
             and j.section != "formulas"}
    assert {k: code(j) for k, j in wrong.items()} == {
        (j.epoch, j.section, j.name, tuple(j.index)): code(j) for j in twin.items
        if j.status == "wrong" and j.section != "formulas"}
    assert wrong[(1, "updated", "w1", (1, 0))].line == line_of(SIGMOID_TEX, "0.2489 & 0.2995")
    assert wrong[(1, "grads", "w2", (1, 1))].line == line_of(SIGMOID_TEX, "-0.1288 & -0.1296")
    assert wrong[(1, "grads", "b2", (0, 0))].line == line_of(SIGMOID_TEX, r"\frac{\partial L}{\partial b_2^{(1)}}")
    sign = line_of(SIGMOID_TEX, r"b_1^{(3)} &=")
    assert {j.line for k, j in wrong.items() if k[:3] == (2, "updated", "b1")} == {sign}


def test_commented_out_values_are_not_read(graded):
    latex, _ = graded["sigmoid-tex"]
    comment = line_of(SIGMOID_TEX, "% out^{(1)} = 0.9999")
    assert comment not in {j.line for j in latex.items}


# -- the command line -----------------------------------------------------------------------------

def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "160"})


def json_values(report):
    (f,) = report["files"]
    return f, sorted((i["epoch"], i["section"], i["name"], tuple(i["index"]), i["status"],
                      i["diagnosis"] and i["diagnosis"]["code"]) for i in f["items"]
                     if i["section"] != "formulas" and i["index"] is not None)


def test_the_cli_grades_the_persian_markdown_as_the_yaml(tmp_path):
    r = run("check", SEED, SEED_MD, "--decimal-separator", "/", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr  # mistakes found (SPEC §7)
    assert "Traceback" not in r.stderr and "seed_mistakes_fa.md" in r.stdout
    md = run("check", SEED, SEED_MD, "--decimal-separator", "/", "--format", "json", cwd=tmp_path)
    yaml = run("check", SEED, SEED_YAML, "--format", "json", cwd=tmp_path)
    assert md.returncode == yaml.returncode == 1
    (f_md, got), (f_yaml, expected) = json_values(json.loads(md.stdout)), json_values(json.loads(yaml.stdout))
    assert got == expected
    assert f_md["verdict"] == f_yaml["verdict"] == "mistakes"
    assert f_md["first_mistake"] == f_yaml["first_mistake"]
    underbrace = line_of(SEED_MD, r"\underbrace{(1 - \tanh(b_1 + x^T w_1)^2)}_{(1 \times 1)}")
    assert any(m["section"] == "formulas" and m["line"] == underbrace and m["diagnosis"] == "collapsed-elementwise"
               for m in f_md["mistakes"])


def test_the_cli_grades_the_latex_document_as_the_yaml(tmp_path):
    tex = run("check", SIGMOID, SIGMOID_TEX, "--format", "json", cwd=tmp_path)
    yaml = run("check", SIGMOID, SIGMOID_YAML, "--format", "json", cwd=tmp_path)
    assert tex.returncode == yaml.returncode == 1, tex.stderr
    (f_tex, got), (f_yaml, expected) = json_values(json.loads(tex.stdout)), json_values(json.loads(yaml.stdout))
    assert got == expected and f_tex["verdict"] == f_yaml["verdict"] == "mistakes"


def test_without_the_separator_the_slash_is_not_a_decimal_point(tmp_path):
    """``0/253`` read as a division (0) is not the twin's 0.253: the grades differ, and nothing crashes."""
    r = run("check", SEED, SEED_MD, "--format", "json", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr  # the file is refused: its decimals look misread
    (f,) = json.loads(r.stdout)["files"]
    assert f["verdict"] == "error" and "--decimal-separator /" in f["error"]
    assert "--decimal-separator /" in run("check", SEED, SEED_MD, cwd=tmp_path).stdout.splitlines()[0]


def test_the_persian_feedback_says_the_grader_s_own_reasons_in_persian(tmp_path):
    """A formula's "equal exactly" and a shape's "is marked 1×1, but it is 1×3" are Messages: English in JSON,
    Persian in a Persian feedback (the catalog's translation)."""
    from symback import i18n

    fa = run("check", SEED, SEED_MD, "--decimal-separator", "/", "--feedback", tmp_path / "fa", "--lang", "fa",
             cwd=tmp_path)
    assert fa.returncode == 1, fa.stderr
    text = (tmp_path / "fa" / "seed_mistakes_fa.feedback.md").read_text(encoding="utf-8")
    persian = i18n.Language("fa")
    for english in ("equal exactly (SymPy)",):
        assert persian.message(english) != english and persian.message(english).split(" (")[0] in text
    assert "equal exactly" not in text and "is marked" not in text
    report = json.loads(run("check", SEED, SEED_MD, "--decimal-separator", "/", "--format", "json", cwd=tmp_path).stdout)
    reasons = [i["reason"] for i in report["files"][0]["items"] if i["section"] == "formulas"]
    assert "equal exactly (SymPy)" in reasons and any("is marked 1×1, but it is 1×3" in (r or "") for r in reasons)
