"""The feedback a student receives (issue 12): a summary first — the independent mistakes, their
lines, one sentence for everything carried — then the detail by epoch and tensor, with real minus
signs and the expected formula typeset from the derivation; every shown value checked against
PyTorch."""

import re

import numpy as np
import pytest
from conftest import EXAMPLES
from oracle import seed_epochs

from symback.check.feedback import feedback_context, minus
from symback.check.grade import Checker
from symback.numeric.formatting import number_unicode as number_text
from symback.report.render import render

MISTAKES = EXAMPLES / "seed_mistakes.yaml"


@pytest.fixture(scope="module")
def graded(seed):
    return Checker(seed).check_file(MISTAKES)


@pytest.fixture(scope="module")
def markdown(graded, seed):
    return render("feedback", "markdown", feedback_context(graded, seed))


@pytest.fixture(scope="module")
def latex(graded, seed):
    return render("feedback", "latex", feedback_context(graded, seed))


def _summary(md: str) -> str:
    return md[md.index("## Summary"):md.index("## In detail")]


def test_the_summary_comes_first_with_every_independent_mistake_and_its_line(markdown):
    assert markdown.startswith("# The seed exercise: a 2-3-1 tanh/relu network\n")  # the model's title
    assert "**Feedback on** `seed_mistakes.yaml`" in markdown
    assert markdown.index("## Summary") < markdown.index("## In detail")
    summary = _summary(markdown)
    # the four independent mistakes, in order, each with the line of the file it is on
    listed = re.findall(r"^(\d)\. \*\*(.+?)\*\*.*, line (\d+)$", summary, flags=re.M)
    assert listed == [("1", "epoch 1, ∂L/∂w1\\[1,\u00a01\\]", "13"), ("2", "epoch 1, ∂L/∂b1\\[1\\]", "14"),
                      ("3", "epoch 1, b3 after the update", "25"), ("4", "the formula for ∂L/∂w1", "70")]
    lines = MISTAKES.read_text().splitlines()
    assert lines[12].strip().startswith("w1: [[7.3132") and lines[24].strip() == "b3: -0.053"
    assert lines[69].strip().startswith("w1: \"x @")
    # each with the catalogue's name for it and its sentence
    assert summary.count("*An elementwise product taken as one number* (code `collapsed-elementwise`): "
                         "1 − h⊙h is elementwise") == 3
    assert "*An update in the wrong direction* (code `update-sign`): the update went uphill" in summary
    # no carried value is listed as a mistake
    assert "w1\\[1,\u00a01\\] after the update" not in summary


def test_one_sentence_for_everything_carried_instead_of_a_note_per_row(markdown):
    sentence = ("Apart from the mistakes above, everything after epoch 1, ∂L/∂w1\\[1,\u00a01\\] follows consistently "
                "from your values: the 91 values marked *carried*")
    assert markdown.count(sentence) == 1 and sentence in _summary(markdown)
    assert "follows from your" not in markdown  # the note the carried rows each repeated
    carried = [row for row in markdown.splitlines() if "| carried |" in row]
    assert len(carried) == 91 and all(row.endswith("| carried |  |") for row in carried)


def _blocks(md: str) -> list[tuple[str, str, list[list[str]]]]:
    """(epoch heading, tensor heading, rows) of the detail, in order."""
    detail = md[md.index("## In detail"):md.index("### Formulas")]
    out, epoch = [], None
    for part in re.split(r"\n(?=### |\*\*)", detail):
        if part.startswith("### "):
            epoch = part.splitlines()[0][4:]
            continue
        if not part.startswith("**"):
            continue
        head = part.splitlines()[0]
        rows = [[c.strip() for c in row.strip("|").split(" | ")] for row in part.splitlines()
                if row.startswith("| ") and not row.startswith("| entry")]
        out.append((epoch, head, rows))
    return out


def test_the_detail_is_grouped_by_epoch_and_by_tensor(markdown):
    blocks = _blocks(markdown)
    assert list(dict.fromkeys(e for e, _, _ in blocks)) == ["Epoch 1", "Epoch 2", "Epoch 3"]
    # per epoch: 5 forward values, 6 gradients, 6 updates — each tensor once, its entries together
    for epoch in ("Epoch 1", "Epoch 2", "Epoch 3"):
        heads = [h.split("**")[1] for e, h, _ in blocks if e == epoch]
        assert heads == ["u1", "h", "z", "out", "loss", "∂L/∂w1", "∂L/∂b1", "∂L/∂w2", "∂L/∂b2", "∂L/∂w3", "∂L/∂b3",
                         "w1 after the update", "b1 after the update", "w2 after the update", "b2 after the update",
                         "w3 after the update", "b3 after the update"]
    (grads_w1,) = [(h, rows) for e, h, rows in blocks if e == "Epoch 1" and h.startswith("**∂L/∂w1**")]
    head, rows = grads_w1
    # a note all of a tensor's entries share is said once, for the tensor
    assert head == "**∂L/∂w1** (shape 2×3) — mistake 1: an elementwise product taken as one number"
    assert [r[0] for r in rows] == [f"∂L/∂w1\\[{i},\u00a0{j}\\]" for i in (1, 2) for j in (1, 2, 3)]
    assert all(r[3] == "**wrong**" and r[4] == "" for r in rows)


def test_every_value_shown_is_pytorchs_to_its_digits_with_a_real_minus(markdown, seed):
    torch = seed_epochs()
    shown = 0
    for epoch, head, rows in _blocks(markdown):
        k = int(epoch.split()[1]) - 1
        title = head.split("**")[1]
        if title.startswith("∂L/∂"):
            section, name = "grads", title[4:]
        elif title.endswith(" after the update"):
            section, name = "updated", title.removesuffix(" after the update")
        else:
            section, name = "forward", title
        true = np.atleast_2d(torch[k][section][name])
        for entry, written, value, _status, _note in rows:
            index = re.findall(r"\d+", entry.split("\\[")[1]) if "\\[" in entry else []
            i, j = (0, 0) if not index else (
                (int(index[0]) - 1, int(index[1]) - 1) if len(index) == 2 else
                ((0, int(index[0]) - 1) if true.shape[0] == 1 else (int(index[0]) - 1, 0)))
            assert "-" not in value, value  # a real minus, U+2212
            assert float(value.replace("−", "-")) == pytest.approx(float(true[i, j]), rel=5e-6, abs=1e-12), \
                (epoch, section, name, entry)
            assert written.startswith("`") and written.endswith("`")  # the student's text as written
            shown += 1
    assert shown == 125 - 2  # every written value but the two formulas
    # the student's own text keeps its hyphen-minus: it is theirs
    assert "| b3 | `-0.053` | 0.252823 | **wrong** |" in markdown


def test_numbers_and_symbacks_sentences_carry_real_minus_signs():
    assert number_text(-0.0273329, 6) == "−0.0273329"
    assert number_text(-1.2e-07, 4) == "−1.2 × 10⁻⁷"
    assert minus("entry w1[1, 1] is 7.31321 by the formula, -0.0273329 by the derivation") == \
        "entry w1[1, 1] is 7.31321 by the formula, −0.0273329 by the derivation"
    assert minus("out - 6 and w1-2 and (-3) and x[-1]") == "out - 6 and w1-2 and (−3) and x[−1]"


def test_the_tex_typesets_the_expected_formula_and_entries_as_math(latex, seed):
    # the derivation's LaTeX of ∂L/∂w1, not Python text
    expected = (r"\frac{\partial L}{\partial w_{1}} = x \left(\left(\left(\mathit{out} - 6\right) "
                r"\operatorname{step}\left(z\right) w_{2}\right) \odot \left(\mathbf{1} - h \odot h\right)\right)")
    assert latex.count(r"\fbformula{" + expected + "}") == 2  # in the summary and in the detail
    assert "h**2" not in latex and "(1 - h**2)" not in latex
    # the student's formula stays as written, escaped, in typewriter
    assert r"\texttt{x\allowbreak{} \allowbreak{}@" in latex
    # an entry is one unit of math (never broken over lines), a negative value a math minus
    assert r"$\partial L/\partial {w_{1}}[1,\,1]$ & \texttt{7\allowbreak{}.\allowbreak{}3\allowbreak{}1\allowbreak{}" \
        r"3\allowbreak{}2} & $-0.0273329$ & \fbwrong" in latex
    # page 1 is the summary: the detail starts on a new page
    assert latex.index(r"\section*{Summary}") < latex.index(r"\clearpage") < latex.index(r"\section*{In detail}")
    assert "Apart from the mistakes above, everything after epoch 1, $\\partial L/\\partial {w_{1}}[1,\\,1]$ follows " \
           "consistently from your values" in latex
    # a tensor's entries are kept together: no page break inside the block of ∂L/∂w1
    block = latex[latex.index(r"{\bfseries\boldmath $\partial L/\partial {w_{1}}$}"):]
    block = block[:block.index(r"\midrule")]
    assert block.count(r"\\*") == 6 and block.rstrip().endswith("\\\\")


def test_a_correct_solution_and_an_unreadable_file(seed, tmp_path):
    checker = Checker(seed)
    good = render("feedback", "markdown", feedback_context(checker.check_file(EXAMPLES / "seed_solution.yaml"), seed))
    assert "**Every value you wrote is correct** — 126 values." in good
    assert "Apart from the mistakes" not in good and "**Your mistakes**" not in good
    bad = tmp_path / "broken.yaml"
    bad.write_text("epochs: [1, 2\n")
    context = feedback_context(checker.check_file(bad), seed)
    md = render("feedback", "markdown", context)
    assert "**The file could not be read:**" in md and "## In detail" not in md
    assert r"\textbf{The file could not be read:}" in render("feedback", "latex", context)


def test_unreadable_parts_are_listed_and_every_tensor_is_one_block_in_computation_order(seed, tmp_path):
    checker = Checker(seed)
    path = tmp_path / "s.yaml"
    path.write_text('epochs:\n  1:\n    forward:\n      h: [[0.997, "x_y", 0.883]]\n      z: {a: 1}\n      out: 4.472\n')
    context = feedback_context(checker.check_file(path), seed, order=checker.quantities.order)
    md = render("feedback", "markdown", context)
    summary = _summary(md)
    assert "- epoch 1, forward values of z, line 5: z: write a number or a list of rows, not a mapping" in summary
    assert "- epoch 1, h\\[2\\], line 4: cannot be read: unknown name 'x\\_y'" in summary
    (step,) = context["steps"]
    assert [(b["title"], b["shape"], len(b["rows"])) for b in step["blocks"]] == [("h", "1×3", 3), ("z", "1×1", 1),
                                                                                   ("out", "1×1", 1)]
    assert "| z | — | — | error | z: write a number or a list of rows, not a mapping |" in md
    assert "| h\\[2\\] | `x_y` | — | error |" in md  # the student's text, as written, in a code span
