"""``symback check`` as a user and a course's CI run it: exit codes, JSON, JUnit, annotations,
a class graded in parallel, and hostile solution files refused without running anything."""

import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from conftest import EXAMPLES, ROOT

SEED = EXAMPLES / "seed.py"


def run(*args, cwd, extra_env=None, timeout=300):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "160", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_correct_solution_exit_0(tmp_path):
    r = run("check", SEED, EXAMPLES / "seed_solution.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "seed_solution.yaml: every value is correct (126 correct)" in r.stdout


def test_mistakes_exit_1_with_the_json_contract(tmp_path):
    r = run("check", SEED, EXAMPLES / "seed_mistakes.yaml", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    (f,) = report["files"]
    assert f["verdict"] == "mistakes"
    assert f["first_mistake"] == {"epoch": 1, "section": "grads", "name": "w1", "index": [0, 0]}
    item = next(i for i in f["items"] if (i["epoch"], i["section"], i["name"], i["index"]) == (1, "updated", "w1", [0, 0]))
    assert item["status"] == "carried" and item["written"] == 0.569
    assert item["expected"] == pytest.approx(1.30273, abs=1e-5)
    wrong = next(i for i in f["items"] if i["status"] == "wrong")
    assert wrong["diagnosis"]["code"] == "collapsed-elementwise" and wrong["diagnosis"]["message"]
    assert {i["status"] for i in f["items"]} <= {"correct", "carried", "wrong", "unjudged"}
    assert all(set(i) >= {"epoch", "section", "name", "index", "written", "expected", "status", "diagnosis"}
               for i in f["items"])


def test_junit_and_github_annotations(tmp_path):
    r = run("check", SEED, EXAMPLES / "seed_mistakes.yaml", "--junit", "report.xml", cwd=tmp_path,
            extra_env={"GITHUB_ACTIONS": "true"})
    assert r.returncode == 1
    suites = ET.parse(tmp_path / "report.xml").getroot()
    (suite,) = suites.findall("testsuite")
    failures = suite.findall("testcase/failure")
    assert int(suite.get("failures")) == len(failures) == 11  # 6 + 3 gradient entries, b3's update, a formula
    assert any("collapsed-elementwise" in f.get("message") for f in failures)
    annotations = [line for line in r.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 11
    assert annotations[0].startswith(f"::error file={EXAMPLES / 'seed_mistakes.yaml'},line=13,col=")


def test_a_class_in_parallel_with_one_broken_file(tmp_path):
    for k in range(12):
        shutil.copy(EXAMPLES / ("seed_solution.yaml" if k % 2 else "seed_mistakes.yaml"), tmp_path / f"s{k:02d}.yaml")
    (tmp_path / "s99.yaml").write_text("epochs: [unclosed\n")
    files = sorted(p.name for p in tmp_path.glob("s*.yaml"))
    r = run("check", SEED, *files, "--format", "json", "--jobs", "2", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    report = json.loads(r.stdout)
    assert [f["file"] for f in report["files"]] == files  # sorted by name
    verdicts = [f["verdict"] for f in report["files"]]
    assert verdicts == ["mistakes", "correct"] * 6 + ["error"]
    assert "s99.yaml:2:1" in report["files"][-1]["error"]
    # the same grades as one at a time
    single = json.loads(run("check", SEED, "s00.yaml", "--format", "json", cwd=tmp_path).stdout)
    assert single["files"][0] == report["files"][0]
    # byte-identical whatever the order the files are given in, and whatever the hash seed
    shuffled = run("check", SEED, *reversed(files), "--format", "json", "--jobs", "2", cwd=tmp_path,
                   extra_env={"PYTHONHASHSEED": "123"})
    assert shuffled.stdout == r.stdout


def test_a_worker_that_dies_takes_only_its_own_file(tmp_path):
    import os
    import signal

    from symback.check.pool import ClassPool

    def grade(path):
        if path.endswith("s05"):
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer does
        if path.endswith("s07"):
            raise MemoryError
        return ("graded", path)

    paths = [f"s{k:02d}" for k in range(10)]
    with ClassPool(grade, lambda path, why: ("error", path, why), workers=2) as pool:
        results = list(pool.results(paths))
    assert [r[1] for r in results] == paths  # in order, every file
    assert [r[0] for r in results] == ["graded"] * 5 + ["error", "graded", "error", "graded", "graded"]
    assert "killed" in results[5][2] and "memory" in results[7][2]


def test_a_file_past_its_time_costs_only_itself():
    import time as clock

    from symback.check.pool import ClassPool

    def grade(path):
        if path == "slow":
            clock.sleep(60)
        return ("graded", path)

    started = clock.monotonic()
    with ClassPool(grade, lambda path, why: ("error", path, why), workers=2, seconds=1) as pool:
        results = list(pool.results(["a", "slow", "b", "c"]))
    assert clock.monotonic() - started < 10
    assert [r[0] for r in results] == ["graded", "error", "graded", "graded"]
    assert "took longer than 1 s" in results[1][2]


HOSTILE = [
    'epochs:\n  1:\n    forward: {out: "__import__(\'os\').system(\'touch pwned\')"}\n',
    'epochs:\n  1:\n    forward: {out: "().__class__.__bases__[0].__subclasses__()"}\n',
    'epochs:\n  1:\n    forward: {out: "lambda: open(\'pwned\', \'w\')"}\n',
    'epochs:\n  1:\n    forward: {out: "{0.__class__}"}\n',
    'epochs:\n  1:\n    forward: {out: "9^9^9^9"}\n',
    'epochs:\n  1:\n    forward: {out: "10**100000"}\n',
    'epochs:\n  1:\n    forward: {out: "' + "(" * 5000 + "1" + ")" * 5000 + '"}\n',
    "epochs: !!python/object/apply:os.system ['touch pwned']\n",
    "epochs:\n  1:\n    forward: {out: !!python/name:os.system }\n",
    "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n",
    "epochs: " + "[" * 2000 + "]" * 2000 + "\n",
    'formulas:\n  w1: "__import__(\'os\').system(\'touch pwned\')"\n',
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_solution_files_are_refused_fast_and_run_nothing(tmp_path, text):
    (tmp_path / "evil.yaml").write_text(text)
    started = time.monotonic()
    r = run("check", SEED, "evil.yaml", cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert not (tmp_path / "pwned").exists()
    assert "Traceback" not in r.stderr + r.stdout
    assert r.returncode == 2, r.stdout + r.stderr  # an unreadable value or formula is an error item: exit 2
    assert "evil.yaml" in r.stdout + r.stderr
    assert elapsed < 20  # the process, model load and training included


def test_a_100_megabyte_file_is_refused_without_reading_it(tmp_path):
    with open(tmp_path / "huge.yaml", "wb") as f:
        f.truncate(100_000_000)
    r = run("check", SEED, "huge.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "huge.yaml" in r.stdout + r.stderr


def test_bad_model_file_is_exit_2(tmp_path):
    r = run("check", tmp_path / "missing.py", EXAMPLES / "seed_solution.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "no such model file" in r.stderr


def test_feedback_report_for_the_student(tmp_path):
    r = run("check", SEED, EXAMPLES / "seed_mistakes.yaml", EXAMPLES / "seed_solution.yaml", "--feedback", "fb",
            cwd=tmp_path)
    assert r.returncode == 1
    bad = (tmp_path / "fb" / "seed_mistakes.feedback.md").read_text()
    summary = bad[bad.index("## Summary"):bad.index("## In detail")]
    assert "1. **epoch 1, ∂L/∂w1\\[1,\u00a01\\]** and 5 more entries of ∂L/∂w1, line 13" in summary
    assert "   You wrote `7.3132`; the value is −0.0273329." in summary
    assert "(code `collapsed-elementwise`)" in summary
    assert "23 correct, 91 carried, 11 wrong." in summary
    assert "3. **epoch 1, b3 after the update**, line 25" in summary  # every mistake, not only the first
    assert "everything after epoch 1, ∂L/∂w1\\[1,\u00a01\\] follows consistently from your values" in summary
    detail = bad[bad.index("## In detail"):]
    assert "**w1 after the update** (shape 2×3)\n\n| entry |" in detail
    assert "| w1\\[1,\u00a01\\] | `0.569` | 1.30273 | carried |  |" in detail
    good = (tmp_path / "fb" / "seed_solution.feedback.md").read_text()
    assert "**Every value you wrote is correct**" in good
    assert "**Score" not in good  # without a rubric there is no score


@pytest.mark.skipif(not (shutil.which("latexmk") and shutil.which("pdftotext")), reason="needs TeX and pdftotext")
def test_feedback_pdf_page_one_is_the_summary_with_the_rubrics_score(tmp_path):
    shutil.copy(EXAMPLES / "seed_mistakes.yaml", tmp_path / "bad.yaml")
    (tmp_path / "rubric.yaml").write_text("points: {grads: 2, updated: 1, formulas: 3}\ncredit: {carried: 0.5}\n"
                                          "epochs: [1]\n")
    r = run("check", SEED, "bad.yaml", "--rubric", "rubric.yaml", "--feedback", "fb", "--pdf", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    # the score counted by hand in test_gradebook_with_a_rubric
    assert "**Score: 27.5 of 66 points** — 41.7 %" in (tmp_path / "fb" / "bad.feedback.md").read_text()
    pages = []
    for page in (1, 2):
        out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", "fb/bad.feedback.pdf", "-"],
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        pages.append(" ".join(out.split()))
    first, second = pages
    assert "The seed exercise: a 2-3-1 tanh/relu network" in first and "Feedback on bad.yaml" in first
    assert "Score: 27.5 of 66 points" in first and "Summary" in first and "In detail" not in first
    for line in (13, 14, 25, 70):
        assert f"line {line}" in first
    assert "follows consistently from your values" in first
    assert second.startswith("In detail") and "Epoch 1" in second
    assert "−0.0273329" in second  # a math minus, not a hyphen


def test_pre_commit_hook_definition():
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "symback-check" and hook["entry"] == "symback check" and hook["pass_filenames"]


# -- issue 10: what a course sees -------------------------------------------------------------
def test_one_file_lists_every_independent_mistake_and_honest_counts(tmp_path):
    r = run("check", SEED, EXAMPLES / "seed_mistakes.yaml", cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == (f"{EXAMPLES / 'seed_mistakes.yaml'}: 23 correct, 91 carried, 11 wrong; first mistake at "
                        "epoch 1 grads w1[1, 1] (line 13)")
    assert "4 independent mistakes; the 91 carried values follow from them:" in r.stdout
    for where in ("epoch 1 grads w1[1, 1] (line 13)", "epoch 1 grads b1[1] (line 14)",
                  "epoch 1 updated b3 (line 25)", "formula ∂L/∂w1 (line 70)"):
        assert f"✗ {where}" in r.stdout
    assert "update-sign: the update went uphill" in r.stdout
    verbose = run("check", SEED, EXAMPLES / "seed_mistakes.yaml", "--verbose", cwd=tmp_path)
    assert verbose.stdout.count("\n  carried   epoch") == 91 and "[rounded to 3 decimals]" in verbose.stdout


def test_a_class_summary_keeps_full_file_names_on_a_narrow_terminal(tmp_path):
    folder = tmp_path / "a-very-long-folder-name-for-the-section-of-tuesday-afternoon"
    folder.mkdir()
    shutil.copy(EXAMPLES / "seed_solution.yaml", folder / "student-with-a-long-name-0001.yaml")
    shutil.copy(EXAMPLES / "seed_mistakes.yaml", folder / "student-with-a-long-name-0002.yaml")
    r = subprocess.run([sys.executable, "-m", "symback", "check", str(SEED), *sorted(map(str, folder.iterdir()))],
                       cwd=tmp_path, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "40"})
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f"{folder / 'student-with-a-long-name-0001.yaml'}: correct — 126 correct"
    assert lines[1].startswith(f"{folder / 'student-with-a-long-name-0002.yaml'}: mistakes — 23 correct, 91 carried,"
                               " 11 wrong; collapsed-elementwise (epoch 1 grads w1[1, 1])")
    assert lines[-1] == "2 files: 1 correct, 1 with mistakes, 0 with errors"


def test_min_digits_and_tolerances(tmp_path):
    (tmp_path / "s.yaml").write_text("epochs:\n  1:\n    forward: {out: 4.47, loss: 1.15}\n")  # loss 1.16775
    r = run("check", SEED, "s.yaml", "--format", "json", cwd=tmp_path)
    assert [i["status"] for i in json.loads(r.stdout)["files"][0]["items"]] == ["correct", "wrong"]
    r = run("check", SEED, "s.yaml", "--format", "json", "--min-digits", "4", cwd=tmp_path)
    assert r.returncode == 1
    items = json.loads(r.stdout)["files"][0]["items"]
    assert items[0]["status"] == "imprecise" and items[0]["rule"] == "rounded to 2 decimals"
    r = run("check", SEED, "s.yaml", "--format", "json", "--rtol", "0.05", cwd=tmp_path)
    assert r.returncode == 0  # loss 1.16775: 1.2 is within 5 %
    assert {i["rule"] for i in json.loads(r.stdout)["files"][0]["items"]} == {"within rtol=0.05, atol=0"}
    r = run("check", SEED, "s.yaml", "--rtol", "0.05", "--min-digits", "3", cwd=tmp_path)
    assert r.returncode == 2 and "choose one" in r.stderr
    r = run("check", SEED, "s.yaml", "--atol", "-1", cwd=tmp_path)
    assert r.returncode == 2 and "--atol must be a number ≥ 0" in r.stderr


def test_gradebook_with_a_rubric(tmp_path):
    shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / "good.yaml")
    shutil.copy(EXAMPLES / "seed_mistakes.yaml", tmp_path / "bad.yaml")
    (tmp_path / "rubric.yaml").write_text("points: {grads: 2, updated: 1, formulas: 3}\ncredit: {carried: 0.5}\n"
                                          "epochs: [1]\n")
    r = run("check", SEED, "good.yaml", "bad.yaml", "--rubric", "rubric.yaml", "--gradebook", "grades.csv",
            cwd=tmp_path)
    assert r.returncode == 1
    import csv

    rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert [row["file"] for row in rows] == ["bad.yaml", "good.yaml"]
    # asked: epoch 1 grads (16 entries × 2) + updates (16 × 1) + 6 formulas × 3 = 66
    assert {row["max"] for row in rows} == {"66"}
    good, bad = rows[1], rows[0]
    # good: every value right, but only 3 of the 6 formulas written (w2, w1, b3): 66 − 3 × 3
    assert good["score"] == "57" and good["percent"] == "86.4"
    # bad: grads 7 right (w2, b2, w3, b3) of 16 → 14; updates: w1, b1 carried (9 × 0.5), 6 right, b3 wrong → 10.5;
    # formulas: w2 right, w1 wrong, four not written → 3
    assert bad["score"] == "27.5"
    assert bad["diagnoses"] == "collapsed-elementwise; update-sign"
    assert bad["mistakes"].startswith("epoch 1 grads w1[1, 1]; ")
    bad_rubric = run("check", SEED, "good.yaml", "--rubric", "nope.yaml", cwd=tmp_path)
    assert bad_rubric.returncode == 2 and "nope.yaml" in bad_rubric.stderr


def test_annotation_properties_are_escaped_as_github_documents(tmp_path):
    name = "a,b:c%d.yaml"
    (tmp_path / name).write_text("epochs:\n  1:\n    forward: {out: 5}\n")
    r = run("check", SEED, name, cwd=tmp_path, extra_env={"GITHUB_ACTIONS": "true"})
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("::error")]
    assert line.startswith("::error file=a%2Cb%3Ac%25d.yaml,line=3,col=20,title=epoch 1 forward out::wrote 5, "
                           "expected 4.47177")


def test_feedback_of_same_named_files_in_different_folders_stays_distinct(tmp_path):
    for student in ("alice", "bob"):
        (tmp_path / "sub" / student).mkdir(parents=True)
    shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / "sub" / "alice" / "solution.yaml")
    shutil.copy(EXAMPLES / "seed_mistakes.yaml", tmp_path / "sub" / "bob" / "solution.yaml")
    r = run("check", SEED, "sub/alice/solution.yaml", "sub/bob/solution.yaml", "--feedback", "fb", cwd=tmp_path)
    assert r.returncode == 1
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == ["alice__solution.feedback.md",
                                                                  "bob__solution.feedback.md"]
    assert "Every value you wrote is correct" in (tmp_path / "fb" / "alice__solution.feedback.md").read_text()
    assert "collapsed-elementwise" in (tmp_path / "fb" / "bob__solution.feedback.md").read_text()


def test_a_class_json_is_one_document_with_each_file_as_alone(tmp_path):
    for name in ("a", "b"):
        shutil.copy(EXAMPLES / f"seed_{'mistakes' if name == 'a' else 'solution'}.yaml", tmp_path / f"{name}.yaml")
    whole = json.loads(run("check", SEED, "a.yaml", "b.yaml", "--format", "json", cwd=tmp_path).stdout)
    alone = json.loads(run("check", SEED, "a.yaml", "--format", "json", cwd=tmp_path).stdout)
    assert whole["files"][0] == alone["files"][0]
    assert whole["totals"] == {"files": 2, "correct": 1, "mistakes": 1, "error": 0}
    assert whole["grading"] == alone["grading"]


def test_feedback_says_how_many_asked_values_were_left_empty(tmp_path):
    # the rubric asks for the forward pass of 3 epochs: 3 × (u1 3 + h 3 + z + out + loss) = 27 entries;
    # the file answers 2 of them (the seed's out and loss of epoch 1), so 25 were left out
    (tmp_path / "rubric.yaml").write_text("points: {forward: 1}\n")
    (tmp_path / "partial.yaml").write_text("epochs:\n  1:\n    forward:\n      out: 4.472\n      loss: 1.168\n")
    r = run("check", SEED, "partial.yaml", "--rubric", "rubric.yaml", "--feedback", "fb", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "fb" / "partial.feedback.md").read_text()
    assert "**Score: 2 of 27 points** — 7.4 %" in md
    assert "25 of the values asked for were left empty (`~`) or out: they earn no points." in md
