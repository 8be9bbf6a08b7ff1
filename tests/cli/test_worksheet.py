"""``symback worksheet``: blank worksheet, key, answers files, and 30 variants of the seed exercise,
each checked against PyTorch written out by hand."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import ROOT
from oracle import seed_epochs

import symback
from symback.numeric.formatting import number

PARAMS = ("w1", "b1", "w2", "b2", "w3", "b3")


def run(*args, cwd, path="/usr/bin:/bin"):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": path, "COLUMNS": "120"})


@pytest.fixture(scope="module")
def thirty(tmp_path_factory):
    where = tmp_path_factory.mktemp("worksheets")
    r = run("worksheet", "--variants", 30, "--seed", 5, "--no-pdf", "--out", "ws", cwd=where)
    assert r.returncode == 0, r.stderr
    return where / "ws"


def _init(folder):
    model = symback.load(next(folder.glob("seed_v*.py")))
    return {p.name: np.array(p.value.tolist(), dtype=float).tolist() for p in model.params}


def test_thirty_distinct_variants_with_nice_values(thirty):
    folders = sorted(thirty.iterdir())
    assert [f.name for f in folders] == [f"variant-{k:02d}" for k in range(1, 31)]
    inits = [_init(f) for f in folders]
    keys = {json.dumps(i, sort_keys=True) for i in inits}
    assert len(keys) == 30
    for init in inits:
        values = np.concatenate([np.ravel(v) for v in init.values()])
        assert np.allclose(values * 10, np.round(values * 10))  # one decimal


def test_no_variant_is_degenerate_by_pytorch(thirty):
    for folder in sorted(thirty.iterdir()):
        epochs = seed_epochs(init=_init(folder))
        zs = [e["forward"]["z"][0, 0] for e in epochs]
        assert zs[0] > 0, f"{folder.name}: relu dead from the first epoch (z = {zs[0]})"
        assert all(abs(z) >= 0.05 for z in zs), f"{folder.name}: relu argument near its kink: {zs}"
        assert all(np.isfinite(e["forward"]["loss"][0, 0]) for e in epochs)


def _close(written, exact, digits=4):
    """``written`` is ``exact`` rounded to ``digits`` significant digits (half a unit, plus float64 slack)."""
    unit = 10.0 ** (np.floor(np.log10(abs(exact))) - digits + 1) if exact else 0
    # float64 slack: PyTorch computes an exact 0 from O(1) terms as a few ulps (1.3e-15 in variant 12)
    return abs(written - exact) <= unit / 2 * (1 + 1e-9) + 1e-13


def test_each_answers_file_matches_pytorch(thirty):
    for folder in sorted(thirty.iterdir()):
        answers = yaml.safe_load((folder / "answers.yaml").read_text())
        epochs = seed_epochs(init=_init(folder))
        for k, expected in enumerate(epochs, start=1):
            for section in ("forward", "grads", "updated"):
                for name, value in answers["epochs"][k][section].items():
                    written = np.atleast_2d(np.array(value, dtype=float))
                    truth = expected[section][name]
                    assert written.shape == truth.shape
                    for w, t in zip(written.ravel(), truth.ravel()):
                        assert _close(w, t), f"{folder.name} epoch {k} {section} {name}: {w} vs {t}"


def test_key_numbers_are_what_derive_gives_for_the_variant(thirty, tmp_path):
    for folder in sorted(thirty.iterdir())[:3]:
        model_file = next(folder.glob("seed_v*.py"))
        r = run("derive", model_file, "--format", "json", "--no-pdf", "--out", tmp_path / folder.name, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        answers = yaml.safe_load((folder / "answers.yaml").read_text())
        key = (folder / "key.md").read_text()
        for epoch in result["epochs"]:
            for section in ("forward", "grads", "updated"):
                for name, matrix in epoch[section].items():
                    rounded = [[float(number(v, 4)) for v in row] for row in matrix]
                    written = answers["epochs"][epoch["epoch"]][section][name]
                    assert np.atleast_2d(np.array(written, dtype=float)).tolist() == rounded
        assert number(result["epochs"][0]["forward"]["out"][0][0], 4) in key


def test_worksheet_has_boxes_and_no_answers(thirty):
    folder = thirty / "variant-01"
    worksheet, key = (folder / "worksheet.md").read_text(), (folder / "key.md").read_text()
    out = yaml.safe_load((folder / "answers.yaml").read_text())["epochs"][1]["forward"]["out"]
    assert number(out, 4) in key and number(out, 4) not in worksheet
    assert worksheet.count(r"\boxed{\phantom{-0.000000}}") > 50
    assert r"\underline{\hspace{12em}}" in worksheet and r"\underline{\hspace{12em}}" not in key
    assert r"\underbrace{\delta_{h}}_{1\times 3} \odot \underbrace{\left(\mathbf{1} - h \odot h\right)}_{1\times 3}" in key


def test_solution_file_is_empty_with_every_field(thirty):
    solution = yaml.safe_load((thirty / "variant-01" / "solution.yaml").read_text())
    answers = yaml.safe_load((thirty / "variant-01" / "answers.yaml").read_text())
    assert solution["epochs"].keys() == answers["epochs"].keys() == {1, 2, 3}
    first = solution["epochs"][1]
    assert first["forward"]["h"] == [[None, None, None]] and first["forward"]["out"] is None
    assert first["grads"]["w1"] == [[None] * 3] * 2 and set(first["updated"]) == set(PARAMS)
    assert solution["formulas"] == dict.fromkeys(PARAMS)
    assert answers["formulas"]["w2"] == "(out - 6) * step(z) * h"


def test_variants_are_reproducible_from_the_seed(thirty, tmp_path):
    again = run("worksheet", "--variants", 30, "--seed", 5, "--no-pdf", "--out", "ws", cwd=tmp_path)
    other = run("worksheet", "--variants", 3, "--seed", 6, "--no-pdf", "--out", "other", cwd=tmp_path)
    assert again.returncode == other.returncode == 0
    for path in sorted(thirty.rglob("*")):
        if path.is_file():
            assert (tmp_path / "ws" / path.relative_to(thirty)).read_bytes() == path.read_bytes(), path
    assert _init(tmp_path / "other" / "variant-01") != _init(thirty / "variant-01")


def test_plain_worksheet_with_pdf(tmp_path):
    import shutil

    if not shutil.which("latexmk"):
        pytest.skip("TeX is not installed")
    r = run("worksheet", "--pdf", "--out", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    names = {p.name for p in (tmp_path / "ws").iterdir()}
    assert names == {"worksheet.md", "worksheet.tex", "worksheet.pdf", "key.md", "key.tex", "key.pdf",
                     "solution.yaml", "answers.yaml"}
    text = subprocess.run(["pdftotext", str(tmp_path / "ws" / "key.pdf"), "-"], capture_output=True, text=True).stdout
    assert "4.472" in text and "1.168" in text


def test_variants_need_param_literals(tmp_path):
    model = tmp_path / "m.py"
    model.write_text("from symback import Model, param, data, tanh\nimport numpy as np\n"
                     "values = [[0.5, -0.2]]\nw = param(values)\nx = data([[1], [2]])\n"
                     "loss = (tanh(w @ x) - 1) ** 2\nw2 = w\nmodel = Model(loss)\n")
    r = run("worksheet", model, "--variants", 2, "--no-pdf", "--out", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # `w = param(values)` is still a param(...) line: it is rewritten
    text = next((tmp_path / "ws" / "variant-01").glob("m_v01.py")).read_text()
    assert "w = param([[" in text
    bad = tmp_path / "bad.py"
    bad.write_text("from symback import Model, param, data, tanh\nw = [param([[0.5, -0.2]])][0]\n"
                   "x = data([[1], [2]])\nloss = (tanh(w @ x) - 1) ** 2\nmodel = Model(loss)\n")
    r = run("worksheet", bad, "--variants", 2, "--no-pdf", "--out", "ws2", cwd=tmp_path)
    assert r.returncode == 2 and "param(value)" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "ws2").exists()
