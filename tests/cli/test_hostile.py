"""A class's untrusted files and file names (issue 15): nothing one student sends hangs, crashes,
leaks into or corrupts the grading of the others, and every operational error is one line.

The solution files are the shared hostile cases (``tests/check/cases/hostile/``); the class whose
*names* are the payload is made here at test time, as ``make-name-cases.sh`` makes it.  Oracles:
the committed seed solution is right and its mistakes file wrong (both checked against PyTorch in
``tests/test_seed.py``); GitHub's workflow-command syntax; XML and CommonMark parsers.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

SEED = EXAMPLES / "seed.py"
HOSTILE = ROOT / "tests" / "check" / "cases" / "hostile"
SECRET = "token-0123456789abcdef"
TEX = bool(shutil.which("latexmk"))
PDF = "--pdf" if TEX else "--no-pdf"


def env(**extra):
    return {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "160", **extra}


def run(*args, cwd, extra_env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, errors="surrogateescape", timeout=timeout, env=env(**(extra_env or {})))


def name_class(root: Path) -> list[str]:
    """The files of ``make-name-cases.sh``: newlines and ``::`` (workflow commands), commas,
    control characters, a non-UTF-8 byte, rich markup, CJK, two files of the same name, a symlink
    to a secret.  Returns the paths to grade, relative to ``root``."""
    right, wrong = (EXAMPLES / "seed_solution.yaml").read_bytes(), (EXAMPLES / "seed_mistakes.yaml").read_bytes()
    files = {
        "gha/x.yaml,line=1::fake\n::warning file=README.md,line=1::Injected annotation\n::add-mask::secret\nz.yaml":
            wrong,
        "gha/bad,title=Spoof::x.yaml": b"epochs: {9: {}}\n",
        "xml/first.yaml": wrong,
        "xml/second\x01\x1b].yaml": wrong,
        os.fsdecode(b"badutf8/caf\xe9.yaml"): right,
        "badutf8/first.yaml": right,
        "markup/[/b]first.yaml": right,
        "cjk/first.yaml": right,
        "cjk/张伟.yaml": right,
        "collide/first/solution.yaml": right,
        "collide/second/solution.yaml": wrong,
        "leak/first.yaml": right,
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    (root / "leak" / "secret.txt").write_text(SECRET + "\n")
    (root / "leak" / "third.yaml").symlink_to(root / "leak" / "secret.txt")
    return sorted([*files, "leak/third.yaml"])


def test_file_names_are_data_in_every_output(tmp_path):
    paths = name_class(tmp_path)
    r = run("check", SEED, *paths, "--jobs", "2", "--junit", "j.xml", "--feedback", "fb", PDF, cwd=tmp_path,
            extra_env={"GITHUB_ACTIONS": "true"})
    assert r.returncode == 2, r.stderr  # errors (the symlink, epoch 9) outrank mistakes
    # workflow commands: only symback's own, one per line; none forged by a name
    commands = [line for line in r.stdout.splitlines() if line.startswith("::")]
    assert commands and all(re.match(r"::(error|warning|notice) file=", c) for c in commands)
    assert not any(c.startswith(("::add-mask", "::warning file=README.md")) for c in commands)
    forged = [c for c in commands if c.startswith("::error file=gha/x.yaml")]
    assert forged and all("%2Cline=1%3A%3Afake" in c and "\n" not in c for c in forged)
    assert "::error file=gha/bad%2Ctitle=Spoof%3A%3Ax.yaml::" in r.stdout or \
        "::error file=gha/bad%2Ctitle=Spoof%3A%3Ax.yaml," in r.stdout
    # the terminal: no escape sequence, markup shown as written, every name on the summary
    assert "\x1b" not in r.stdout + r.stderr
    assert "markup/[/b]first.yaml: correct — 126 correct" in r.stdout
    assert "cjk/张伟.yaml: correct — 126 correct" in r.stdout
    assert "badutf8/caf\\xe9.yaml: correct — 126 correct" in r.stdout
    assert "xml/second\\x01\\x1b].yaml: mistakes" in r.stdout
    assert "leak/third.yaml: error — leak/third.yaml: a symbolic link" in r.stdout
    # a secret behind a symlink is never echoed
    outputs = [r.stdout, r.stderr, (tmp_path / "j.xml").read_text()]
    outputs += [p.read_text(errors="replace") for p in (tmp_path / "fb").glob("*.md")]
    assert not any(SECRET in text for text in outputs)
    # JUnit parses, one suite per file
    suites = ET.parse(tmp_path / "j.xml").getroot().findall("testsuite")
    assert len(suites) == len(paths)
    assert "xml/second\ufffd\ufffd].yaml" in [s.get("name") for s in suites]
    # one feedback per file, same-named files kept apart, and a PDF for every one (no exit 3)
    made = sorted(p.name for p in (tmp_path / "fb").iterdir())
    assert len([m for m in made if m.endswith(".md")]) == len(paths)
    assert {"first__solution.feedback.md", "second__solution.feedback.md"} <= set(made)
    if TEX:
        assert len([m for m in made if m.endswith(".pdf")]) == len(paths)
    assert "Every value you wrote is correct" in (tmp_path / "fb" / "first__solution.feedback.md").read_text()
    assert "collapsed-elementwise" in (tmp_path / "fb" / "second__solution.feedback.md").read_text()


def test_student_text_is_data_in_feedback_and_a_hanging_formula_costs_only_its_file(tmp_path):
    from markdown_it import MarkdownIt

    names = ["emoji", "formula-blowup", "formula-hang", "lone-surrogate", "markdown-breakout", "markup-formula",
             "value-on-two-lines"]
    for name in names:
        shutil.copy(HOSTILE / f"{name}.yaml", tmp_path / f"{name}.yaml")
    for k in (1, 2):
        shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / f"ok{k}.yaml")
    files = sorted(p.name for p in tmp_path.glob("*.yaml"))
    r = run("check", SEED, *files, "--jobs", "2", "--format", "json", "--feedback", "fb", "--junit", "j.xml", PDF,
            cwd=tmp_path, extra_env={"GITHUB_ACTIONS": "true"})
    assert r.returncode == 2, r.stderr
    result = json.loads(r.stdout)  # stdout is the JSON alone, the annotations beside it on stderr
    assert "::error file=formula-hang.yaml" in r.stderr
    by_name = {Path(f["file"]).name: f for f in result["files"]}
    for name in ("formula-hang.yaml", "formula-blowup.yaml"):  # past the budget (1 s to 5 s): that item only
        (item,) = by_name[name]["items"]
        assert item["status"] == "error"
        assert re.fullmatch(r"could not decide: the comparison took longer than [1-5](\.\d)? s", item["reason"])
    assert [by_name[f"ok{k}.yaml"]["verdict"] for k in (1, 2)] == ["correct", "correct"]
    assert by_name["value-on-two-lines.yaml"]["verdict"] == "correct"  # 1.5 + 0.472 is out = 1.972 to its digits
    ET.parse(tmp_path / "j.xml")
    made = {p.name for p in (tmp_path / "fb").iterdir()}
    for f in files:
        stem = f.removesuffix(".yaml")
        assert f"{stem}.feedback.md" in made and (not TEX or f"{stem}.feedback.pdf" in made)
        html = MarkdownIt("commonmark").enable("table").render((tmp_path / "fb" / f"{stem}.feedback.md").read_text())
        assert "<script" not in html and "<img" not in html
        for table in re.findall(r"<table>.*?</table>", html, flags=re.S):  # every row has its five cells
            assert all(row.count("<td") == 5 for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
                       if "<td" in row)
    breakout = (tmp_path / "fb" / "markdown-breakout.feedback.md").read_text()
    assert "`` h` <script>alert(1)</script> <img src=x onerror=alert(2)> ` ``" in breakout


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs Linux /proc/PID/task/TID/children")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_stopping_the_parent_stops_every_worker_and_leaves_no_temporary(tmp_path, stop):
    for k in range(4):
        shutil.copy(HOSTILE / "formula-hang.yaml", tmp_path / f"hang{k}.yaml")
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen([sys.executable, "-m", "symback", "check", str(SEED),
                                *[f"hang{k}.yaml" for k in range(4)], "--jobs", "2", "--feedback", "fb"],
                               cwd=tmp_path, env=env(TMPDIR=str(tmp_path / "tmp")), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:  # the workers, grading
        time.sleep(0.2)
        workers = _children(process.pid)
    assert len(workers) >= 2
    descendants = workers
    while len(descendants) < 2 * len(workers) and time.monotonic() < deadline:  # and each its formula's process
        time.sleep(0.2)
        descendants = workers | set().union(*(_children(w) for w in workers if _alive(w)))
    assert len(descendants) >= 2 * len(workers)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == (-stop if stop == signal.SIGKILL else 128 + stop)
    if stop != signal.SIGKILL:  # said in one line, nothing half-written, no temporary left
        assert stderr.strip() in ("terminated: " + NOTHING_HALF, "interrupted: " + NOTHING_HALF)
        assert not (tmp_path / "fb").exists() and list((tmp_path / "tmp").iterdir()) == []
    deadline = time.monotonic() + 10
    while [p for p in descendants if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in descendants if _alive(p)]  # even a SIGKILLed parent leaves no worker behind
    deadline = time.monotonic() + 10
    while list((tmp_path / "tmp").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list((tmp_path / "tmp").iterdir()) == []  # nor a worker's temporary folder


NOTHING_HALF = "no file was left half-written (output files are replaced all together, at the end)"


# -- operational errors: one line naming the path, exit 2, earlier outputs intact -----------------------


def one_line_error(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    for word in words:
        assert word in lines[0]


def test_output_paths_that_cannot_be_written(tmp_path):
    shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / "s.yaml")
    (tmp_path / "a-file").write_text("keep me")
    (tmp_path / "a-folder").mkdir()
    one_line_error(run("derive", "--out", "a-file", "--no-pdf", cwd=tmp_path), "a-file", "not a folder")
    one_line_error(run("worksheet", "--out", "a-file", "--no-pdf", cwd=tmp_path), "a-file", "not a folder")
    one_line_error(run("check", SEED, "s.yaml", "--junit", "a-folder", cwd=tmp_path), "a-folder")
    one_line_error(run("check", SEED, "s.yaml", "--gradebook", "a-folder", cwd=tmp_path), "a-folder")
    one_line_error(run("check", SEED, "s.yaml", "--feedback", "a-file", cwd=tmp_path), "a-file")
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder", "s.yaml"]


def test_a_failure_midway_leaves_every_earlier_output_and_no_temporary(tmp_path):
    one = run("derive", "--out", "out", "--no-pdf", cwd=tmp_path)
    assert one.returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    (tmp_path / "out" / "result.json").unlink()
    (tmp_path / "out" / "result.json").mkdir()  # the last file in the order cannot be replaced
    again = run("derive", "--out", "out", "--epochs", "1", "--no-pdf", cwd=tmp_path)
    one_line_error(again, "out/result.json", "folder")
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "result.json"}
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_worksheet_variants_are_written_as_one_set(tmp_path):
    (tmp_path / "w" / "variant-03" / "key.md").mkdir(parents=True)  # the last variant cannot be written
    r = run("worksheet", "--variants", "3", "--out", "w", "--no-pdf", cwd=tmp_path)
    one_line_error(r, "variant-03/key.md")
    assert sorted(str(p.relative_to(tmp_path / "w")) for p in (tmp_path / "w").rglob("*")) == [
        "variant-03", "variant-03/key.md"]


# -- bounds on options and models --------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["derive", "--epochs", "10001"], ["--epochs", "10000"]),
    (["derive", "--lr", "1e400"], ["--lr must be between 1e-12 and 1e+06"]),
    (["derive", "--lr", "0"], ["--lr"]),
    (["derive", "--digits", "99"], ["--digits"]),
    (["worksheet", "--variants", "501"], ["--variants", "500"]),
    (["worksheet", "--variants", "0"], ["--variants"]),
    (["check", str(SEED), "x.yaml", "--timeout", "0"], ["--timeout"]),
    (["check", str(SEED), "x.yaml", "--jobs", "1000"], ["--jobs"]),
])
def test_options_out_of_bounds_name_the_option(tmp_path, args, words):
    r = run(*args, "--no-pdf" if args[0] != "check" else "--verbose", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr
    assert "site-packages" not in r.stderr and list(tmp_path.iterdir()) == []


def test_help_states_the_bounds(tmp_path):
    from symback.limits import MAX_DEPTH, MAX_EPOCHS, MAX_VARIANTS

    derive = run("derive", "--help", cwd=tmp_path, extra_env={"COLUMNS": "200"}).stdout
    worksheet = run("worksheet", "--help", cwd=tmp_path, extra_env={"COLUMNS": "200"}).stdout
    assert f"at most {MAX_EPOCHS:,} epochs" in derive and f"{MAX_DEPTH} operations deep" in derive
    assert f"x<={MAX_VARIANTS}" in worksheet


MODELS = {
    "deep_chain.py": "deep_chain.py:7: the loss is built of 3,001 operations; symback derives models of at most 2,000",
    "epochs_huge.py": "epochs_huge.py:4: epochs must be a whole number from 0 to 10,000, not 1000000000",
    "log_neg.py": "log_neg.py: loss = log(w) is not a real number at the initial values, where w = -1.0",
    "shape_0x3.py": "shape_0x3.py:3: the value is 0×3: a tensor needs at least one row and one column",
    "sysexit.py": "sysexit.py:3: the model file exits (sys.exit(0)) before it defines a Model",
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("command", ["derive", "worksheet"])
def test_hostile_models_are_one_line_exit_2(tmp_path, name, command):
    shutil.copy(HOSTILE / "models" / name, tmp_path / name)
    r = run(command, name, "--no-pdf", "--out", "out", cwd=tmp_path, timeout=120)
    one_line_error(r, MODELS[name])
    assert not (tmp_path / "out").exists()


def test_a_chain_just_past_the_depth_bound_is_refused_and_one_within_it_derives(tmp_path):
    from symback.limits import MAX_DEPTH

    for depth in (MAX_DEPTH, MAX_DEPTH + 1):  # tanh applied depth − 1 times, then the square
        (tmp_path / f"chain{depth}.py").write_text(
            "from symback import Model, param, tanh\nw = param(0.5)\nh = w\n"
            f"for _ in range({depth - 1}):\n    h = tanh(h)\nmodel = Model(h ** 2, lr=0.1, epochs=1)\n")
    refused = run("derive", f"chain{MAX_DEPTH + 1}.py", "--no-pdf", "--out", "o", cwd=tmp_path)
    one_line_error(refused, f"{MAX_DEPTH + 1} operations deep", f"at most {MAX_DEPTH} deep")
    import symback

    model = symback.load(tmp_path / f"chain{MAX_DEPTH}.py")
    assert len([n for n in model.nodes if n.kind == "op"]) == MAX_DEPTH
    within = run("derive", f"chain{MAX_DEPTH}.py", "--no-pdf", "--format", "json", "--out", "o", cwd=tmp_path)
    assert within.returncode == 0, within.stderr  # the bound is what derivation handles, not a guess
    # the oracle: d/dw of tanh^(n)(w)² by the chain rule, iterated in plain floats
    import math

    h, slope = 0.5, 1.0
    for _ in range(MAX_DEPTH - 1):
        h, slope = math.tanh(h), slope * (1 - math.tanh(h) ** 2)
    assert json.loads(within.stdout)["epochs"][0]["grads"]["w"][0][0] == pytest.approx(2 * h * slope, rel=1e-12)


def test_templates_render_in_the_sandbox(tmp_path):
    (tmp_path / "t" / "markdown").mkdir(parents=True)
    (tmp_path / "t" / "markdown" / "derivation.md.j2").write_text(
        "((( cycler.__init__.__globals__.os.popen('touch pwned').read() )))\n")
    r = run("derive", "--templates", "t", "--no-pdf", "--out", "out", cwd=tmp_path)
    one_line_error(r, "template derivation.md.j2", "unsafe")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def test_the_readme_states_the_bounds_the_code_enforces():
    from symback.limits import size_rule

    assert size_rule() in " ".join((ROOT / "README.md").read_text().split())


def test_a_tex_failure_on_one_feedback_names_that_file_and_the_others_are_written(tmp_path):
    # a stand-in for latexmk that fails on one student's document and "typesets" the others
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "latexmk").write_text('#!/bin/sh\nfor a; do last="$a"; done\n'
                                     'if grep -q poison "$last"; then echo "! Fake failure." > "${last%.tex}.log"; '
                                     'exit 1; fi\nprintf "%%PDF-1.4 fake" > "${last%.tex}.pdf"\n')
    (bin_dir / "latexmk").chmod(0o755)
    for name in ("alice", "poison", "zoe"):
        shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / f"{name}.yaml")
    r = run("check", SEED, "alice.yaml", "poison.yaml", "zoe.yaml", "--feedback", "fb", "--pdf", cwd=tmp_path,
            extra_env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
    assert r.returncode == 3, r.stderr
    (line,) = [x for x in r.stderr.splitlines() if "poison" in x]
    assert "poison.yaml" in line and "Fake failure" in line
    made = sorted(p.name for p in (tmp_path / "fb").iterdir())
    assert made == ["alice.feedback.md", "alice.feedback.pdf", "alice.feedback.tex", "poison.feedback.md",
                    "poison.feedback.tex", "zoe.feedback.md", "zoe.feedback.pdf", "zoe.feedback.tex"]
    assert (tmp_path / "fb" / "zoe.feedback.pdf").read_bytes() == b"%PDF-1.4 fake"


def test_nan_finite_differences_fail_derive_with_exit_1_and_every_file_written(tmp_path):
    (tmp_path / "near_zero.py").write_text("from symback import Model, param, log\nw = param(1e-7)\n"
                                           "model = Model(log(w), lr=0.1)\n")
    r = run("derive", "near_zero.py", "--no-pdf", "--format", "json", "--out", "out", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "verification failed: ∂L/∂w: finite differences are NaN or infinite at w"
    check = json.loads(r.stdout)["gradients"]["w"]["verification"]
    assert check["fd_undefined"] == [[0, 0]] and check["fd_max_rel_err"] is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["derivation.md", "derivation.tex", "loss.svg",
                                                                 "result.json"]


# -- found by a review that tried to break it --------------------------------------------------------------


def test_feedback_names_stay_distinct_however_the_names_collide_and_fit_a_file_system(tmp_path):
    from symback.cli.check import feedback_names

    names = feedback_names(["x:.yaml", "x_.yaml", "x_-2.yaml", "X_.yaml", "a/solution.yaml", "b/solution.yaml",
                            "a__solution.yaml", "张" * 90 + ".yaml", "ab\u202ecd.yaml", "e\x1b[31m.yaml"])
    assert len({n.casefold() for n in names.values()}) == len(names)  # distinct, even case-insensitively
    assert all(len(n.encode("utf-8")) <= 150 for n in names.values())
    assert names["ab\u202ecd.yaml"] == "ab_cd" and names["e\x1b[31m.yaml"] == "e_[31m"


def test_a_long_file_name_costs_nobody_its_feedback(tmp_path):
    (tmp_path / "class").mkdir()
    long_name = "张" * 82 + ".yaml"  # 246 bytes: a legal name whose feedback name would not be
    for name in ("short.yaml", long_name):
        shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / "class" / name)
    r = run("check", SEED, "class/short.yaml", f"class/{long_name}", "--feedback", "fb", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in (tmp_path / "fb").iterdir())
    assert len(made) == 2 and "short.feedback.md" in made


def test_a_solution_reached_through_a_linked_folder_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(f"epochs: {{1: {{forward: {{out: {SECRET}}}}}}}\n")
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "linked").symlink_to(tmp_path / "outside")
    r = run("check", SEED, "linked/secret.yaml", "--junit", "j.xml", "--feedback", "fb", cwd=tmp_path / "class")
    assert r.returncode == 2 and "the path goes through a symbolic link" in r.stdout
    outputs = [r.stdout, r.stderr, (tmp_path / "class" / "j.xml").read_text()]
    outputs += [p.read_text() for p in (tmp_path / "class" / "fb").iterdir()]
    assert not any(SECRET in text for text in outputs)


@pytest.mark.parametrize("args, words", [
    (["--junit", "n" * 300 + ".xml"], ["cannot use", "File name too long"]),
    (["--junit", "j.xml", "--gradebook", "./j.xml"], ["--junit and --gradebook are the same file"]),
    (["--feedback", "fb", "--templates", "nowhere"], ["--templates nowhere: no such folder"]),
    (["--timeout", "2"], ["--timeout must be from 10 to 3600 seconds"]),
])
def test_check_refuses_unusable_outputs_before_any_work(tmp_path, args, words):
    shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / "s.yaml")
    r = run("check", SEED, "s.yaml", *args, cwd=tmp_path)
    one_line_error(r, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_a_model_file_raising_keyboard_interrupt_and_a_runaway_template_are_one_line(tmp_path):
    (tmp_path / "ki.py").write_text("from symback import *\nraise KeyboardInterrupt\n")
    one_line_error(run("derive", "ki.py", "--no-pdf", cwd=tmp_path), "ki.py:2: the model file raises KeyboardInterrupt")
    (tmp_path / "t" / "markdown").mkdir(parents=True)
    (tmp_path / "t" / "markdown" / "derivation.md.j2").write_text("((( range(10**9) | list | length )))\n")
    one_line_error(run("derive", "--templates", "t", "--no-pdf", "--out", "o", cwd=tmp_path),
                   "template derivation.md.j2 failed: OverflowError")
    (tmp_path / "t" / "markdown" / "derivation.md.j2").write_text(
        "((* macro f(n) *))((( f(n) )))((* endmacro *))((( f(1) )))\n")
    one_line_error(run("derive", "--templates", "t", "--no-pdf", "--out", "o", cwd=tmp_path),
                   "template derivation.md.j2 failed: RecursionError")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("formula", ["(out - 6) * step(z) * h + 1e-400", "(out - 6) * step(z) * h + exp(-460)",
                                     "(out - 6) * step(z) * h + 1e-300 * h"])
def test_a_formula_off_by_a_constant_below_any_tolerance_is_still_a_different_formula(tmp_path, formula):
    (tmp_path / "f.yaml").write_text(f'formulas:\n  w2: "{formula}"\n')
    r = run("check", SEED, "f.yaml", "--format", "json", cwd=tmp_path)
    (item,) = json.loads(r.stdout)["files"][0]["items"]
    assert r.returncode == 1 and item["status"] == "wrong" and "differs from ∂L/∂w2 by" in item["reason"]


def test_arithmetic_cannot_claim_every_value_by_cancellation(tmp_path):
    (tmp_path / "a.yaml").write_text('epochs:\n  1:\n    forward: {out: "99999*0.3-29999.7"}\n')
    r = run("check", SEED, "a.yaml", "--format", "json", cwd=tmp_path)
    (item,) = json.loads(r.stdout)["files"][0]["items"]
    assert r.returncode == 1 and item["status"] == "wrong"
