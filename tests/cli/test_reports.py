"""The report files ``symback derive`` writes: PDF through real TeX, determinism, user templates,
TeX missing or failing, and the committed reports/ kept up to date."""

import re
import shutil
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT
from oracle import seed_epochs

from symback.numeric.formatting import number

needs_tex = pytest.mark.skipif(not (shutil.which("latexmk") and shutil.which("pdftotext")),
                               reason="TeX (latexmk) and pdftotext are not installed")


def run(*args, cwd, path="/usr/bin:/bin", hashseed="0"):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": path, "COLUMNS": "120",
                                                       "PYTHONHASHSEED": hashseed})


@needs_tex
def test_pdf_compiles_and_shows_the_numbers(tmp_path):
    r = run("derive", "--pdf", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pdf = tmp_path / "out" / "derivation.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    text = text.replace("−", "-")
    epochs = seed_epochs()
    for e in epochs:
        assert number(e["forward"]["out"][0, 0], 4) in text
        assert number(e["forward"]["loss"][0, 0], 4) in text
    assert number(epochs[0]["grads"]["b3"][0, 0], 4) in text  # -1.528
    assert number(epochs[0]["grads"]["w1"][1, 2], 4) in text  # -0.03026
    for heading in ("Model", "Computational graph", "Derivation of the gradients", "Verification", "Training",
                    "Loss per epoch"):
        assert heading in text
    assert "tanh′ = 1 - tanh2 , elementwise" in text  # the rule, as pdftotext reads the superscript


def test_reports_byte_identical_across_runs_and_hash_seeds(tmp_path):
    first = run("derive", "--out", "a", cwd=tmp_path, hashseed="1")
    second = run("derive", "--out", "b", cwd=tmp_path, hashseed="2")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"derivation.md", "derivation.tex", "loss.svg", "result.json"} <= set(names)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_user_template_overrides_one_block(tmp_path):
    templates = tmp_path / "mine"
    (templates / "latex").mkdir(parents=True)
    (templates / "markdown").mkdir()
    (templates / "latex" / "derivation.tex.j2").write_text(
        '((* extends "base/derivation.tex.j2" *))\n((* block graph *))\\section{Our own graph}\n((* endblock *))\n')
    (templates / "markdown" / "derivation.md.j2").write_text(
        '((* extends "base/derivation.md.j2" *))\n((* block graph *))## Our own graph\n((* endblock *))\n')
    r = run("derive", "--no-pdf", "--templates", templates, "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tex = (tmp_path / "out" / "derivation.tex").read_text()
    md = (tmp_path / "out" / "derivation.md").read_text()
    assert r"\section{Our own graph}" in tex and "tikzpicture}[\n  box" not in tex
    assert "## Our own graph" in md and "```mermaid" not in md
    assert r"\section{Derivation of the gradients}" in tex and "## 3. Derivation of the gradients" in md


def test_broken_user_template_is_one_line_exit_2(tmp_path):
    templates = tmp_path / "mine"
    (templates / "markdown").mkdir(parents=True)
    (templates / "markdown" / "derivation.md.j2").write_text("((* if *))\n")
    r = run("derive", "--no-pdf", "--templates", templates, "--out", "out", cwd=tmp_path)
    assert r.returncode == 2
    assert "derivation.md.j2:1" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_without_tex_the_pdf_is_skipped_with_a_hint(tmp_path):
    r = run("derive", "--out", "out", cwd=tmp_path, path="")  # an empty PATH: no TeX engine
    assert r.returncode == 0, r.stderr
    assert "PDF skipped (install TeX" in " ".join(r.stdout.split())
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"derivation.md", "derivation.tex", "loss.svg",
                                                              "result.json"}


def test_pdf_asked_for_without_tex_is_exit_3_and_the_tex_is_written(tmp_path):
    r = run("derive", "--pdf", "--out", "out", cwd=tmp_path, path="")
    assert r.returncode == 3
    assert "no TeX engine found" in r.stderr and "apt-get install" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / "out" / "derivation.tex").exists() and not (tmp_path / "out" / "derivation.pdf").exists()


@needs_tex
def test_tex_failure_carries_the_log(tmp_path):
    templates = tmp_path / "mine"
    (templates / "latex").mkdir(parents=True)
    (templates / "latex" / "derivation.tex.j2").write_text(
        '((* extends "base/derivation.tex.j2" *))\n((* block graph *))\\notacommand\n((* endblock *))\n')
    r = run("derive", "--pdf", "--templates", templates, "--out", "out", cwd=tmp_path)
    assert r.returncode == 3
    assert "latexmk failed" in r.stderr and "Undefined control sequence" in r.stderr
    assert (tmp_path / "out" / "derivation.tex").exists()


# -- reports/ stays what `make reports` makes ---------------------------------------------

_NOISE = [  # float64 finite-difference errors are rounding noise: they may differ between CPUs
    (re.compile(r"max\. rel\. error \d\.\de-\d\d"), "max. rel. error <fd>"),
    (re.compile(r'"fd_max_rel_err": [0-9.e-]+'), '"fd_max_rel_err": <fd>'),
]


def _masked(text: str) -> str:
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize("example", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_committed_reports_are_up_to_date(example, tmp_path):
    committed = ROOT / "reports" / example
    assert committed.is_dir(), f"reports/{example} is missing: run `make reports`"
    r = run("derive", EXAMPLES / f"{example}.py", "--no-pdf", "--out", tmp_path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for fresh in sorted(tmp_path.iterdir()):
        old = committed / fresh.name
        assert old.exists(), f"reports/{example}/{fresh.name} is missing: run `make reports`"
        assert _masked(old.read_text()) == _masked(fresh.read_text()), (
            f"reports/{example}/{fresh.name} is out of date: run `make reports`")
    assert (committed / "derivation.pdf").exists()
