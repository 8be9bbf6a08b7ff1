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


def test_a_worker_that_dies_takes_only_its_own_file(tmp_path, monkeypatch):
    import os

    import symback
    from symback.check.grade import Checker
    from symback.cli import check as command

    for k in range(10):
        shutil.copy(EXAMPLES / "seed_solution.yaml", tmp_path / f"s{k:02d}.yaml")
    (tmp_path / "s05.yaml").write_text("epochs: {}\n")  # the file whose grader will die
    real = command._grade

    def dies_on_s05(path):
        if path.endswith("s05.yaml"):
            os._exit(9)  # as if killed by the kernel (out of memory)
        return real(path)

    monkeypatch.setattr(command, "_grade", dies_on_s05)
    monkeypatch.setattr(command, "_checker", Checker(symback.load(SEED)))
    paths = sorted(str(p) for p in tmp_path.glob("s*.yaml"))
    results = command.grade_in_parallel(paths, workers=2)
    assert [r.file for r in results] == paths
    assert [r.verdict for r in results] == ["correct"] * 5 + ["error"] + ["correct"] * 4
    assert "died" in results[5].error


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
    assert ("**First mistake:** epoch 1 grads w1\\[1, 1\\] (line 13) — you wrote `7.3132`, the value is "
            "-0.0273329.") in bad
    assert "**Likely cause** [collapsed-elementwise]" in bad
    assert "23 correct, 91 carried, 11 wrong." in bad
    assert "- epoch 1 updated b3 (line 25): you wrote `-0.053`" in bad  # every mistake, not only the first
    assert ("| epoch 1 updated w1\\[1, 1\\] | `0.569` | 1.30273 | carried | follows from your epoch 1 grads "
            "w1\\[1, 1\\]") in bad
    good = (tmp_path / "fb" / "seed_solution.feedback.md").read_text()
    assert "**Every value you wrote is correct**" in good


def test_pre_commit_hook_definition():
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "symback-check" and hook["entry"] == "symback check" and hook["pass_filenames"]
