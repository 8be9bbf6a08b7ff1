"""``symback derive`` as a user runs it: exit codes, one-line errors, result.json."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                       "COLUMNS": "120"})


def test_no_argument_runs_the_seed_example(tmp_path):
    r = run("derive", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "δ_u1 = δ_h ⊙ (1 − h⊙h)" in r.stdout
    result = json.loads((tmp_path / "reports" / "seed" / "result.json").read_text())
    assert result["model"] == "seed"
    assert result["convention"] == {"relu_grad_at_zero": 1}
    assert result["params"]["w1"] == {"shape": [2, 3], "init": [[1.3, -0.13, 0.0], [0.2, -1.3, 0.03]],
                                      "frozen": False}
    outs = [round(e["forward"]["out"][0][0], 4) for e in result["epochs"]]
    assert outs == [4.4718, 7.1885, 5.0746]
    assert round(result["epochs"][0]["forward"]["loss"][0][0], 7) == 1.1677467
    assert all(g["verification"]["elementwise"] for g in result["gradients"].values())


def test_json_to_stdout_and_byte_identical(tmp_path):
    first = run("derive", EXAMPLES / "seed.py", "--format", "json", "--out", "a", cwd=tmp_path)
    second = run("derive", EXAMPLES / "seed.py", "--format", "json", "--out", "b", cwd=tmp_path)
    assert first.returncode == 0 and first.stdout == second.stdout
    assert (tmp_path / "a" / "result.json").read_bytes() == (tmp_path / "b" / "result.json").read_bytes()
    assert json.loads(first.stdout)["epochs"][2]["epoch"] == 3


def test_options_override_the_model(tmp_path):
    r = run("derive", EXAMPLES / "seed.py", "--format", "json", "--epochs", "5", "--lr", "1/20",
            "--relu-grad-at-zero", "0", cwd=tmp_path)
    result = json.loads(r.stdout)
    assert len(result["epochs"]) == 5
    assert result["options"]["lr"] == 0.05 and result["convention"]["relu_grad_at_zero"] == 0
    # one SGD step with lr 1/20: b3 ← b3 − 0.05·(out − 6)
    out = result["epochs"][0]["forward"]["out"][0][0]
    assert result["epochs"][0]["updated"]["b3"][0][0] == pytest.approx(0.1 - 0.05 * (out - 6), rel=1e-15)


BAD = {
    "syntax": ("x = data([[1]]\n", "syntax error", 1),
    "matmul shapes": ("from symback import *\nx = data([[1], [2]])\nw = param([[1, 2, 3]])\nz = w @ x\n",
                      "shape mismatch in @: w is 1×3 but x is 2×1", 4),
    "add shapes": ("from symback import *\na = param([[1, 2]])\nb = param([[1, 2, 3]])\nc = a + b\n",
                   "shape mismatch in +: a is 1×2 but b is 1×3", 4),
    "misspelt function": ("from symback import *\nx = param(1)\nh = tahn(x)\n", "unknown name 'tahn' (did you mean 'tanh'?)", 3),
    "no model": ("from symback import *\nx = param(1)\nloss = x ** 2\n", "defines no Model", None),
    "two models": ("from symback import *\nx = param(1)\nloss = x ** 2\na = Model(loss)\nb = Model(loss)\n",
                   "defines 2 Models", None),
    "vector loss": ("from symback import *\nx = param([1, 2])\nm = Model(x * 2)\n", "must be a scalar", 3),
    "non-numeric value": ("from symback import *\nx = param([[1, 'a']])\n", "'a' is not a number", 2),
    "nan value": ("from symback import *\nx = param(float('nan'))\n", "not finite", 2),
    "bad option": ("from symback import *\nx = param(1)\nm = Model(x ** 2, optimizer='rmsprop')\n",
                   "optimizer must be one of sgd, momentum, adam", 3),
    "loss shapes": ("from symback import *\np = param([[1, 2]])\ny = data([[1], [2]])\nm = Model(mse(p, y))\n",
                    "shape mismatch in mse: p is 1×2 but y is 2×1", 4),
    "inf value": ("from symback import *\nx = param([[1, float('inf')]])\n", "not finite", 2),
    "frozen data": ("from symback import *\nx = data(1)\nw = param(2)\nm = Model((w * x) ** 2, frozen=[x])\n",
                    "not a parameter", 4),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_model_file_is_one_line_exit_2(case, tmp_path):
    source, message, line = BAD[case]
    path = tmp_path / "model.py"
    path.write_text(source)
    r = run("derive", path, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert message in lines[0]
    location = f"model.py:{line}:" if line else "model.py:"
    assert location in lines[0]
    assert not (tmp_path / "reports").exists()


def test_a_parameter_that_does_not_reach_the_loss_is_a_warning(tmp_path):
    path = tmp_path / "unused.py"
    path.write_text("from symback import *\nw = param(2)\nv = param(3)\nm = Model((w - 1) ** 2, epochs=1)\n")
    r = run("derive", path, "--no-pdf", "--format", "json", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["warnings"] == [
        "parameter v does not reach the loss: its gradient is zero and it is not trained"]


def test_divergence_stops_training_with_a_note_and_still_writes_the_reports(tmp_path):
    (tmp_path / "quadratic.py").write_text(
        "from symback import Model, param\nw = param(1)\nmodel = Model((w - 3) ** 2, lr=0.1, epochs=1)\n")
    r = run("derive", "quadratic.py", "--lr", "1e6", "--epochs", "100", "--no-pdf", "--format", "json",
            "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    # the oracle: w − 3 is multiplied by (1 − 2·10⁶) each step; in float64 the loss overflows at this epoch
    gap, epoch = -2.0, 1
    while np.isfinite(gap * gap):
        gap, epoch = gap * (1 - 2e6), epoch + 1
    assert result["stopped"] == (f"the loss is not finite at epoch {epoch}: training stopped "
                                 "(try a smaller learning rate)")
    assert result["stopped"] in (tmp_path / "out" / "derivation.md").read_text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "derivation.md", "derivation.tex", "loss.svg", "result.json"]


def test_a_model_too_large_to_expand_is_verified_without_the_elementwise_check(tmp_path):
    import sys as _sys

    _sys.path.insert(0, str(ROOT))
    from bench.models import mnist_source

    path = tmp_path / "mnist.py"
    path.write_text(mnist_source(batch=8))
    r = run("derive", path, "--no-pdf", "--format", "json", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["verified"] is True  # matrix form and finite differences still run, and agree
    for name, g in result["gradients"].items():
        check = g["verification"]
        assert check["elementwise"] is None and check["elementwise_method"] == "skipped", name
        assert "too large to expand elementwise" in check["elementwise_note"]
        assert check["fd_max_rel_err"] < 1e-5


def test_missing_file_and_bad_format(tmp_path):
    r = run("derive", tmp_path / "nope.py", cwd=tmp_path)
    assert r.returncode == 2 and "no such model file" in r.stderr
    r = run("derive", "--format", "xml", cwd=tmp_path)
    assert r.returncode == 2 and "--format must be text or json" in r.stderr


def test_choose_model_by_name(tmp_path):
    path = tmp_path / "two.py"
    path.write_text("from symback import *\nx = param(1)\nloss = x ** 2\na = Model(loss, epochs=1)\n"
                    "b = Model(loss, epochs=2)\n")
    r = run("derive", path, "--model", "b", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["epochs"]) == 2


def test_wrong_rule_fails_verification_with_exit_1(tmp_path):
    """Inject a wrong tanh rule (1 − h instead of 1 − h⊙h): the three-way check must catch it."""
    script = tmp_path / "inject.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import sympy as sp
        from symback.engine import rules
        from symback.engine.expr import add, hadamard, ones_like
        from symback.engine.rules import Rule
        good = rules.RULES["tanh"]
        rules.RULES["tanh"] = Rule("tanh", good.forward,
            (lambda g, c: hadamard(g, add(ones_like(c.out), -c.out)),), good.says)
        from symback.cli.app import main
        sys.argv = ["symback", "derive", {str(EXAMPLES / "seed.py")!r}, "--out", "out"]
        main()
    """))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "120"})
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "verification failed: ∂L/∂w1[1, 1]: matrix form" in r.stderr  # 1-based, as check and the reports write entries
    assert "verification failed: ∂L/∂b1" in r.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["verified"] is False
    assert result["gradients"]["w1"]["verification"]["elementwise"] is False
    assert result["gradients"]["w2"]["verification"]["elementwise"] is True
