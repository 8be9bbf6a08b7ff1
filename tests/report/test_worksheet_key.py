"""The worksheet and its key (issue 12): the δ of every named quantity is asked per epoch, is in both
answers files and is judged by ``check``; the key shows each derivation step with epoch 1's numbers;
parts are numbered and worth one point per line or box.

Oracle: PyTorch autograd — the δ of each named quantity by ``retain_grad`` on the graph re-built with
torch ops (tests/oracle.py), at the parameters of each epoch; the three examples of the issue."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from conftest import ROOT
from oracle import evaluate

import symback
from symback.check.grade import Checker
from symback.check.rubric import Rubric
from symback.check.solution import parse_solution
from symback.numeric.formatting import matrix_latex
from symback.report import exporters
from symback.report import worksheet as ws

EXAMPLES = ("seed", "sigmoid_222", "softmax_batch")


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request):
    model = symback.load(ROOT / "examples" / f"{request.param}.py")
    history = model.train()
    context = ws.build(model, history)
    files = {}
    for name, key in (("worksheet", False), ("key", True)):
        files[f"{name}.md"] = exporters.markdown_files("worksheet", {**context, "key": key})["worksheet.md"]
        files[f"{name}.tex"] = exporters.latex_file("worksheet", {**context, "key": key})["worksheet.tex"]
    files["solution.yaml"] = ws.solution_yaml(model, history, False, "model.py")
    files["answers.yaml"] = ws.solution_yaml(model, history, True, "model.py")
    return model, history, context, files


def torch_deltas(model, params: dict) -> dict[str, np.ndarray]:
    """δ = ∂L/∂v of every named intermediate, by autograd at these parameter values."""
    leaves = {p: params[p.name] for p in model.params}
    values = evaluate(model.loss, leaves, requires_grad=set(model.params))
    named = [n for n in model.program.named_deltas]
    for n in named:
        values[n].retain_grad()
    values[model.loss].sum().backward()
    return {n.name: values[n].grad.numpy() for n in named}


def rounded_agrees(written, exact, digits: int) -> bool:
    """``written`` is ``exact`` rounded to ``digits`` significant digits (float64 slack for PyTorch)."""
    unit = 10.0 ** (np.floor(np.log10(abs(exact))) - digits + 1) if exact else 0
    return abs(written - exact) <= unit / 2 * (1 + 1e-9) + 1e-13


def test_answers_give_every_delta_as_pytorch_does(example):
    model, history, _, files = example
    answers = yaml.safe_load(files["answers.yaml"])["epochs"]
    named = [n.name for n in model.program.named_deltas]
    assert named, "every example has named intermediates"
    for r in history.steps:
        written = answers[r.epoch]["deltas"]
        assert list(written) == named[::-1]  # from the loss back, as they are computed
        truth = torch_deltas(model, {k: np.array(v.tolist(), dtype=float) for k, v in r.params.items()})
        for name in named:
            w = np.atleast_2d(np.array(written[name], dtype=float))
            assert w.shape == truth[name].shape, (r.epoch, name)
            for a, b in zip(w.ravel(), truth[name].ravel()):
                assert rounded_agrees(a, b, model.digits), f"epoch {r.epoch} δ_{name}: {a} vs {b}"


def test_answers_pass_check_with_every_delta_judged(example):
    model, history, _, files = example
    result = Checker(model).check(parse_solution(files["answers.yaml"], model, file="answers.yaml"))
    assert result.verdict == "correct", [(j.label(), j.status) for j in result.items if j.status != "correct"]
    judged = {(j.epoch, j.name, tuple(j.index)) for j in result.items if j.section == "deltas"}
    asked = {(r.epoch, n.name, (i, k)) for r in history.steps for n in model.program.named_deltas
             for i in range(n.shape[0]) for k in range(n.shape[1])}
    assert judged == asked


def test_solution_file_asks_every_delta_empty(example):
    model, history, _, files = example
    solution = yaml.safe_load(files["solution.yaml"])["epochs"]
    for r in history.steps:
        sections = solution[r.epoch]
        assert list(sections) == ["forward", "deltas", "grads", "updated"]  # computation order
        for n in model.program.named_deltas:
            assert np.all(np.atleast_2d(np.array(sections["deltas"][n.name], dtype=object)) == None)  # noqa: E711
            assert np.shape(np.atleast_2d(np.array(sections["deltas"][n.name], dtype=object))) == n.shape


def test_a_wrong_delta_is_found_on_its_line(tmp_path):
    model = symback.load(ROOT / "examples" / "seed.py")
    text = ws.solution_yaml(model, model.train(), True, "seed.py")
    lines = text.splitlines()
    at = next(k for k, line in enumerate(lines) if line.strip().startswith("h: [[-2.063"))
    assert lines[at - 3].strip() == "deltas:"  # epoch 1's δ of h, from the loss back: out, z, h
    lines[at] = lines[at].replace("-2.063", "-2.036")
    result = Checker(model).check(parse_solution("\n".join(lines) + "\n", model, file="planted.yaml"))
    first = result.first_mistake
    assert (first.epoch, first.section, first.name, tuple(first.index)) == (1, "deltas", "h", (0, 0))
    assert first.status == "wrong" and first.line == at + 1
    assert [j.label() for j in result.mistakes] == [first.label()]


def test_key_shows_each_step_with_epoch_1s_numbers_from_pytorch():
    model = symback.load(ROOT / "examples" / "seed.py")
    history = model.train()
    context = ws.build(model, history)
    key = exporters.markdown_files("worksheet", {**context, "key": True})["worksheet.md"]
    blank = exporters.markdown_files("worksheet", {**context, "key": False})["worksheet.md"]
    key_tex = exporters.latex_file("worksheet", {**context, "key": True})["worksheet.tex"]
    first = {k: np.array(v.tolist(), dtype=float) for k, v in history.steps[0].params.items()}
    deltas = torch_deltas(model, first)
    values = evaluate(model.loss, {p: first[p.name] for p in model.params}, requires_grad=set(model.params))
    values[model.loss].sum().backward()
    grads = {p.name: values[p].grad.numpy() for p in model.params}
    shown = 0
    for g in context["derivations"]:
        for s in g["steps"]:
            if s["numbers"] and not s["repeat"]:
                assert s["result"] == matrix_latex(deltas[s["node"]], model.digits), s["node"]
                line = f"{s['lhs']} = {s['numbers']} = {s['result']}"
                assert line in key and line not in blank
                assert s["numbers"] in key_tex
                shown += 1
        if g["final_numbers"]:
            assert g["final_result"] == matrix_latex(grads[g["name"]], model.digits), g["name"]
            assert g["final_numbers"] in key and g["final_numbers"] not in blank
            shown += 1
    assert shown >= 6  # δ_out, δ_z, δ_h, δ_u1, ∂L/∂w1, ∂L/∂w2, ∂L/∂w3
    assert r"\delta_{\mathit{out}} = 4.472 - 6 = -1.528" in key  # the issue's own example


def test_parts_are_numbered_and_worth_a_point_per_line_or_box(example):
    model, history, context, files = example
    parts = context["parts"]
    assert [p["number"] for p in parts] == [str(k) for k in range(1, len(history.steps) + 2)]
    # part 1: one point per lettered line; a δ asked once, later sub-parts name where
    lines = sum(1 + sum(not s["repeat"] for s in g["steps"]) for g in context["derivations"])
    assert float(parts[0]["points"]) == lines
    labels = [s["label"] for g in context["derivations"] for s in g["steps"] if not s["repeat"]]
    assert len(labels) == len(set(labels)) and all(re.fullmatch(r"1\.\d+[a-z]", x) for x in labels)
    # the epochs: one point per entry, the default rubric of `check` (δ included) — the gradebook's maximum
    checker = Checker(model)
    asked = Rubric().asked(checker)
    assert sum(float(p["points"]) for p in parts[1:]) == len([a for a in asked if a[2] != "formulas"])
    assert float(context["total_points"]) == sum(float(p["points"]) for p in parts)
    for e in context["epochs"]:
        assert [s["number"] for s in e["subparts"]] == [f"{e['number']}.{k}" for k in (1, 2, 3, 4)]
        assert [s["section"] for s in e["subparts"]] == ["forward", "deltas", "grads", "updated"]


def test_worksheet_has_fields_pages_and_boxes_the_key_does_not(example):
    model, history, context, files = example
    body = lambda text: text.split(r"\begin{document}")[1]  # noqa: E731  (the preamble defines the macros)
    tex, key_tex, md = body(files["worksheet.tex"]), body(files["key.tex"]), files["worksheet.md"]
    for field in ("Name", "Student ID", "Date"):
        assert field in tex and field in md and field not in files["key.md"]
    assert tex.count(r"\clearpage") == len(history.steps) + 1  # part 1 and every epoch on a page of its own
    entries = sum(float(p["points"]) for p in context["parts"][1:])
    assert tex.count(r"\answerbox") == entries and r"\answerbox" not in key_tex
    assert md.count(r"\boxed{\phantom{-0.000000}}") == entries
    assert r"\writeline" in tex and r"\writeline" not in key_tex
    assert "## Part 2. Epoch 1" in md and "### 2.2 Backward pass" in md


def test_the_same_model_gives_the_same_files(example):
    model, history, _, files = example
    context = ws.build(model, model.train())
    assert exporters.latex_file("worksheet", {**context, "key": False})["worksheet.tex"] == files["worksheet.tex"]
    assert exporters.markdown_files("worksheet", {**context, "key": True})["worksheet.md"] == files["key.md"]


def test_the_exercise_sentences_are_apart():
    # the sentence after the convention's began without a space: "(as PyTorch).Write every number …"
    model = symback.load(ROOT / "examples" / "seed.py")
    context = {**ws.build(model, model.train()), "key": False}
    for text in (exporters.latex_file("worksheet", context)["worksheet.tex"],
                 exporters.markdown_files("worksheet", context)["worksheet.md"]):
        assert "(PyTorch uses 0). Write every number rounded to 4 significant digits." in text
        assert ".Write" not in text
