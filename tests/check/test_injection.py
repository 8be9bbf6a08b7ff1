"""A corpus of code-injection attempts in solution files: each is refused (a value: the file's
verdict is ``error``; a formula: ``unjudged``), quickly, and nothing runs — every payload would
create a canary file if any part of it were executed."""

import json
import time

import pytest

CANARY = "CANARY"
RUN = f"__import__('os').system('touch {CANARY}')"
PAYLOADS = [
    RUN,
    f"eval(\"{RUN}\")",
    f"exec(\"{RUN}\")",
    f"compile(\"{RUN}\", 'x', 'exec')",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    f"(lambda: {RUN})()",
    f"[x for x in [{RUN}]]",
    "getattr(__builtins__, 'eval')('1')",
    f"globals()['__builtins__'].exec(\"{RUN}\")",
    "sys.modules['os'].system('touch CANARY')",
    "open('CANARY', 'w')",
    "{0.__class__.__init__.__globals__}",
    "%(x)s",
    f"f'{{{RUN}}}'",
    "tanh.__globals__",
    "exp.__code__",
    "1 if __import__('os') else 2",
    "ｅｘｅｃ('1')",  # fullwidth letters, NFKC-equivalent to exec
    "x:=1",
    "1; import os",
    "`touch CANARY`",
    "$(touch CANARY)",
    "\u0065val(1)",
]
FILES = [
    f"epochs: !!python/object/apply:os.system ['touch {CANARY}']\n",
    f"epochs:\n  1:\n    forward: {{out: !!python/object/new:os.system ['touch {CANARY}']}}\n",
    "epochs:\n  1:\n    forward: {out: !!python/name:os.system }\n",
    "epochs:\n  1:\n    forward: {out: !!python/module:os }\n",
    "epochs: !!binary aGVsbG8=\n",
    "epochs: !!set {a, b}\n",
    "epochs: !custom 1\n",
    # billion laughs
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "epochs: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    "epochs: &x {1: {forward: {out: 1}}}\nformulas: *x\n",
    "\x00epochs: {}\n",
    b"epochs: {1: {forward: {out: \xff\xfe}}}\n",
]


def _check(checker, tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    started = time.perf_counter()
    result = checker.check_file(path)
    assert time.perf_counter() - started < 2
    assert not (tmp_path / CANARY).exists()
    return result


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_a_payload_as_a_value_is_refused(checker, tmp_path, monkeypatch, payload):
    quoted = payload.replace("\\", "\\\\").replace('"', '\\"')
    result = _check(checker, tmp_path, monkeypatch, f'epochs:\n  1:\n    forward: {{out: "{quoted}"}}\n')
    assert result.verdict == "error"  # the value is an unreadable item: that file exits 2, a class goes on
    (item,) = result.items
    assert (item.status, item.line, item.section, item.name) == ("error", 3, "forward", "out")
    assert item.reason.startswith("cannot be read: ") and "\n" not in item.reason


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_a_payload_as_a_formula_is_an_error_item(checker, tmp_path, monkeypatch, payload):
    quoted = payload.replace("\\", "\\\\").replace('"', '\\"')
    result = _check(checker, tmp_path, monkeypatch, f'formulas:\n  w2: "{quoted}"\n')
    assert [j.status for j in result.items] == ["error"], result.error
    assert result.verdict == "error"
    assert result.items[0].reason and "\n" not in result.items[0].reason


@pytest.mark.parametrize("content", FILES, ids=range(len(FILES)))
def test_a_hostile_file_is_refused(checker, tmp_path, monkeypatch, content):
    result = _check(checker, tmp_path, monkeypatch, content)
    assert result.verdict == "error", result.items
    assert "evil.yaml" in result.error and "\n" not in result.error


# -- a file's NAME is the payload: every output that shows it stays in its place ---------------------------

def _names():
    from hypothesis import strategies as st

    # any code point a file name can hold (surrogates stand for undecodable bytes), with the pieces of
    # workflow commands, XML, markup and terminal escapes mixed in
    pieces = st.sampled_from(["\n::add-mask::x\n", "::warning file=README.md::", ",title=", "%0A", "\r", "\x1b[31m",
                              "[/b]", "<![CDATA[", "]]>", "&amp;", "\x00", "\udce9", "\u202e", "张伟", "😀"])
    any_char = st.characters(blacklist_categories=[])
    return st.lists(st.one_of(pieces, st.text(any_char, max_size=5)), max_size=8).map("".join)


def test_any_file_name_is_one_annotation_line_and_valid_junit():
    import xml.etree.ElementTree as ET

    from hypothesis import given, settings

    from symback.check.grade import FileResult
    from symback.check.outputs import annotations, junit_suite
    from symback.printable import printable

    @settings(max_examples=300, deadline=None)
    @given(_names(), _names())
    def check(name, why):
        r = FileResult(file=name, verdict="error", error=why)
        (line,) = annotations(r)
        assert "\n" not in line and "\r" not in line
        prop, _, message = line.partition("::")[2].partition("::")
        assert prop.startswith("error file=") and ":" not in prop[len("error file="):] and "," not in prop
        ET.fromstring("<testsuites>" + junit_suite(r) + "</testsuites>")
        shown = printable(name)
        assert not any(c < " " or "\x7f" <= c <= "\x9f" or "\ud800" <= c <= "\udfff" for c in shown)

    check()


# -- LaTeX / Markdown hand solutions (issue 13): read, never executed, never expanded ---------------

#: the first line of every hostile file below: a right value, so a file whose payload were silently
#: dropped would be graded correct — the payload must be an error of its own line
GOOD = "$$z^{1} = 1.972$$\n"
LATEX_PAYLOADS = {
    "input": r"\input{/etc/passwd}",
    "include": r"\include{/etc/passwd}",
    "write18": rf"\immediate\write18{{touch {CANARY}}}",
    "write18 bare": rf"\write18{{touch {CANARY}}}",
    "openout": rf"\newwrite\f \immediate\openout\f={CANARY} \immediate\write\f{{x}}",
    "def": r"\def\x{4.472} \x",
    "newcommand": r"\newcommand{\x}{4.472} \x",
    "macro bomb": r"\def\a{\b\b\b\b}\def\b{\c\c\c\c}\def\c{\d\d\d\d}\def\d{\e\e\e\e}\def\e{4.472} \a",
    "recursive macro": r"\def\x{\x\x} \x",
    "catcode": r"\catcode`\^=12 \catcode`\{=12 4.472",
    "python": RUN,
    "python in a fraction": rf"\frac{{{RUN}}}{{1}}",
    "eval in text": rf"\text{{{RUN}}}",
    "sympy": "Symbol('x').__class__.__init__.__globals__",
    "shell": f"$(touch {CANARY})",
    "backticks": f"`touch {CANARY}`",
    "nul": "4.4\x0072",
    "lone surrogate": "4.47\ud8002",
    "tower": "10^{10^{10^{10}}}",
    "1000 digits": "4." + "4" * 1_000,
    "deep braces": "{" * 50_000 + "4.472" + "}" * 50_000,
    "unknown command": r"\relax\expandafter\csname x\endcsname 4.472",
}


def _latex_check(checker, tmp_path, monkeypatch, content, suffix):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"evil{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", errors="surrogatepass"))
    started = time.perf_counter()
    result = checker.check_file(path)
    assert time.perf_counter() - started < 2
    assert not (tmp_path / CANARY).exists()
    shown = json.dumps(result.as_json(), ensure_ascii=False, default=str)
    assert "root:" not in shown  # /etc/passwd was never read
    return result


@pytest.mark.parametrize("suffix", [".md", ".tex"])
@pytest.mark.parametrize("payload", LATEX_PAYLOADS, ids=list(LATEX_PAYLOADS))
def test_a_latex_payload_as_a_value_is_an_error_of_its_line(checker, tmp_path, monkeypatch, payload, suffix):
    content = GOOD + f"$$out^{{1}} = {LATEX_PAYLOADS[payload]}$$\n"
    if suffix == ".tex":
        content = f"\\[ z^{{(1)}} = 1.972 \\]\n\\[ out^{{(1)}} = {LATEX_PAYLOADS[payload]} \\]\n"
    result = _latex_check(checker, tmp_path, monkeypatch, content, suffix)
    if payload == "catcode":  # its last '=' leaves "12 4.472": a product, read by the rules, and wrong
        assert [j.status for j in result.items if j.name == "out"] in (["wrong"], ["error"])
        return
    assert result.verdict == "error", [(j.label(), j.status, j.text) for j in result.items]
    assert "\n" not in result.error
    if not result.items:  # the file as a whole cannot be read (not UTF-8): the error names the line
        assert f"evil{suffix}:2:" in result.error, result.error
        return
    errors = [j for j in result.items if j.status == "error"]
    assert errors and all(j.line == 2 and j.column and j.reason and "\n" not in j.reason for j in errors), \
        [(j.label(), j.line, j.column, j.reason) for j in errors]
    assert not [j for j in result.items if j.name == "out" and j.status != "error"]
    assert [j.status for j in result.items if j.name == "z"] == ["correct"]  # the rest is read


@pytest.mark.parametrize("payload", LATEX_PAYLOADS, ids=list(LATEX_PAYLOADS))
def test_a_latex_payload_as_a_formula_is_not_judged_right(checker, tmp_path, monkeypatch, payload):
    content = f"$$\\frac{{\\partial loss}}{{\\partial w_2}} = {LATEX_PAYLOADS[payload]}$$\n"
    result = _latex_check(checker, tmp_path, monkeypatch, content, ".md")
    assert result.verdict == "error"
    assert all(j.status == "error" for j in result.items)


#: payloads in the prose of a .tex file: prose is not read, so nothing of them may run or appear
TEX_PROSE = [
    rf"\input{{/etc/passwd}} \include{{/etc/passwd}} \immediate\write18{{touch {CANARY}}}",
    r"\def\x{\x\x}\x \catcode`\$=11 \csname\endcsname",
    rf"\begin{{filecontents*}}{{{CANARY}}} x \end{{filecontents*}}",
]


@pytest.mark.parametrize("prose", TEX_PROSE, ids=range(len(TEX_PROSE)))
def test_latex_commands_in_prose_do_nothing(checker, tmp_path, monkeypatch, prose):
    content = f"\\documentclass{{article}}\n\\begin{{document}}\n{prose}\n\\[ z^{{(1)}} = 1.972 \\]\n\\end{{document}}\n"
    result = _latex_check(checker, tmp_path, monkeypatch, content, ".tex")
    assert [(j.name, j.status, j.line) for j in result.items] == [("z", "correct", 4)]


#: whole files that cannot be read, or whose math never ends: the file's verdict is error, with a line
LATEX_FILES = {
    "unclosed $$": (GOOD + "$$out^{1} = 4.472\n\nand the rest is prose.\n", 2),
    "unclosed \\[": (GOOD + "\\[ out^{1} = 4.472\n", 2),
    "unclosed matrix": (GOOD + "$$h^{1} = \\begin{pmatrix} 0.997 & -1.000 & 0.883 $$\n", 2),
    "invalid UTF-8": (GOOD.encode() + b"$$out^{1} = 4.4\xff\xfe72$$\n", 2),
    "a lone surrogate, encoded": (GOOD.encode() + b"$$out^{1} = 4.4\xed\xa0\x8072$$\n", 2),
    "NUL in a name": (GOOD + "$$o\x00ut^{1} = 4.472$$\n", 2),
    "2 MB": (GOOD + "Prose. " * 300_000, None),
    "right-to-left override in a name": (GOOD + "$$o\u202eut^{1} = 4.472$$\n", 2),
    "right-to-left override in a number": (GOOD + "$$out^{1} = 4.4\u202e72$$\n", 2),
    "bidi isolate in a name": (GOOD + "$$w\u2067_3\u2069^{2} = 0.006$$\n", 2),
}


@pytest.mark.parametrize("case", LATEX_FILES)
def test_a_hostile_latex_file_is_refused_with_its_line(checker, tmp_path, monkeypatch, case):
    content, line = LATEX_FILES[case]
    result = _latex_check(checker, tmp_path, monkeypatch, content, ".md")
    assert result.verdict == "error", [(j.label(), j.status, j.line, j.text) for j in result.items]
    assert result.error and "\n" not in result.error
    if line is not None:
        lines = {j.line for j in result.items if j.status == "error"}
        assert line in lines or f"evil.md:{line}:" in result.error, (result.error, lines)
    assert not [j for j in result.items if j.name == "out" and j.status == "correct"]


def test_hostile_latex_files_through_the_cli(tmp_path):
    """A class of hostile .md/.tex files: every one an error verdict, exit 2, no traceback, nothing run."""
    import subprocess
    import sys

    from conftest import EXAMPLES, ROOT

    files = []
    for n, payload in enumerate(LATEX_PAYLOADS.values()):
        suffix = ".md" if n % 2 else ".tex"
        text = GOOD + f"$$out^{{1}} = {payload}$$\n"
        (tmp_path / f"p{n:02d}{suffix}").write_bytes(text.encode("utf-8", errors="surrogatepass"))
        files.append(f"p{n:02d}{suffix}")
    for n, (content, _) in enumerate(LATEX_FILES.values()):
        (tmp_path / f"f{n:02d}.md").write_bytes(content if isinstance(content, bytes) else
                                                 content.encode("utf-8", errors="surrogatepass"))
        files.append(f"f{n:02d}.md")
    r = subprocess.run([sys.executable, "-m", "symback", "check", str(EXAMPLES / "seed.py"), *files, "--format", "json",
                        "--decimal-separator", "/"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "160"})
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout and "root:" not in r.stdout
    assert not (tmp_path / CANARY).exists()
    report = json.loads(r.stdout)
    n = list(LATEX_PAYLOADS).index("catcode")  # "12 4.472" after its last '=': a wrong product
    catcode = f"p{n:02d}{'.md' if n % 2 else '.tex'}"
    expected = {name: "error" for name in files}
    verdicts = {f["file"]: f["verdict"] for f in report["files"]}
    assert verdicts.pop(catcode) in ("mistakes", "error")
    expected.pop(catcode)
    assert verdicts == expected
    for n in range(len(LATEX_FILES)):
        plain = subprocess.run([sys.executable, "-m", "symback", "check", str(EXAMPLES / "seed.py"), f"f{n:02d}.md"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120,
                               env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "160"})
        assert plain.returncode == 2 and "Traceback" not in plain.stderr + plain.stdout, plain.stderr
        assert f"f{n:02d}.md" in plain.stdout + plain.stderr
