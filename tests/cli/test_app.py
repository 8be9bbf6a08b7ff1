"""``symback/cli/app.py``: usage errors, and Ctrl-C or SIGTERM in the middle of a run — the
previous reports stay whole, the user is told, the exit code says which signal."""

import subprocess
import sys
import textwrap

import pytest
from conftest import EXAMPLES, ROOT

ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "120"}


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=ENV)


def test_usage_error_is_exit_2_without_traceback(tmp_path):
    r = run("derive", "--bogus", cwd=tmp_path)
    assert r.returncode == 2
    assert "No such option: --bogus" in r.stderr and "Traceback" not in r.stderr


def interrupted(tmp_path, where: str, sig: str):
    """Run ``symback derive`` on the seed into ``out/`` (holding an earlier run's reports) and
    send ``sig`` to the process itself at ``where``."""
    script = tmp_path / "interrupt.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys
        from symback import files
        from symback.report import document
        from symback.cli.app import main

        def boom(*args, **kwargs):
            if "{where}" == "rendering" or "out" in str(args[-1]):  # the reports' renames, not another's
                os.kill(os.getpid(), signal.{sig})
            return real(*args, **kwargs)

        target = {{"rendering": document, "writing": os}}["{where}"]
        name = {{"rendering": "build", "writing": "replace"}}["{where}"]
        real = getattr(target, name)
        setattr(target, name, boom)
        sys.argv = ["symback", "derive", {str(EXAMPLES / "seed.py")!r}, "--no-pdf", "--out", "out"]
        main()
    """))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=ENV)


@pytest.fixture
def earlier(tmp_path):
    """An earlier run's reports, altered so that a rewrite would show."""
    r = run("derive", EXAMPLES / "seed.py", "--no-pdf", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = {}
    for path in sorted((tmp_path / "out").iterdir()):
        path.write_bytes(path.read_bytes() + b"\n<!-- earlier run -->\n")
        before[path.name] = path.read_bytes()
    return before


@pytest.mark.parametrize(("sig", "code", "word"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_while_rendering_leaves_the_previous_reports(tmp_path, earlier, sig, code, word):
    r = interrupted(tmp_path, "rendering", sig)
    assert r.returncode == code, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (f"{word}: no file was left half-written (output files are "
                                                 "replaced all together, at the end)")
    assert "Traceback" not in r.stderr
    after = {p.name: p.read_bytes() for p in sorted((tmp_path / "out").iterdir())}
    assert after == earlier  # every previous report intact, no temporary file left


def test_a_signal_while_files_are_replaced_waits_for_all_of_them(tmp_path, earlier):
    r = interrupted(tmp_path, "writing", "SIGTERM")
    assert r.returncode == 143 and "terminated" in r.stderr
    after = {p.name: p.read_bytes() for p in sorted((tmp_path / "out").iterdir())}
    assert after.keys() == earlier.keys()
    assert all(b"earlier run" not in content for content in after.values())  # all new, none left behind


def test_version_one_epoch_and_every_file_written(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    import symback

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "symback", *args], cwd=tmp_path, capture_output=True, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}, timeout=300)

    version = cli("--version")
    assert version.returncode == 0 and version.stdout == f"symback {symback.__version__}\n"
    r = cli("derive", "--epochs", "1", "--no-pdf", "--out", "o")
    assert "· 1 epoch\n" in r.stdout
    written = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert f"wrote {', '.join(f'o/{name}' for name in written)}\n" in r.stdout


@pytest.mark.parametrize("args, says", [
    (["derive", "--epochs", "-1"], "'--epochs'"),
    (["derive", "--digits", "99"], "'--digits'"),
    (["derive", "--bogus"], "No such option: --bogus"),
    (["check"], "Missing argument"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_every_usage_error_is_one_line_naming_the_option(tmp_path, args, says):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], r.stderr
    assert "site-packages" not in r.stderr and "typer" not in r.stderr


@pytest.mark.parametrize("command", ["derive", "worksheet", "check"])
def test_help_is_never_broken_mid_sentence(tmp_path, command):
    import inspect

    from symback.cli import app

    source = inspect.getdoc(vars(getattr(app, command))[command])  # the command's function in its module
    wide = subprocess.run([sys.executable, "-m", "symback", command, "--help"], capture_output=True, text=True,
                          env={**ENV, "COLUMNS": "400"}, timeout=60).stdout
    # at a width no paragraph needs, each paragraph of the docstring is one line of the help
    for paragraph in source.split("\n\n"):
        first_words = " ".join(paragraph.split()[:6])
        line = next((x for x in wide.splitlines() if first_words in " ".join(x.split())), None)
        assert line is not None, first_words
        assert " ".join(paragraph.split()) in " ".join(line.split()), (paragraph, line)
