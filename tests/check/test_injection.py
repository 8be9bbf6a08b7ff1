"""A corpus of code-injection attempts in solution files: each is refused (a value: the file's
verdict is ``error``; a formula: ``unjudged``), quickly, and nothing runs — every payload would
create a canary file if any part of it were executed."""

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
