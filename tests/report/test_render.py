"""``report/render.py``'s filters: text from a student set safely in TeX and Markdown (issue 15).

Oracles: a real TeX run (when installed) and a CommonMark parser (markdown-it, which rich brings).
"""

import shutil
import subprocess

import pytest
from markdown_it import MarkdownIt

from symback.report.render import code, md, tex

HOSTILE_TEXT = ["h 😀", "张伟", "\ud800", "a\x00b\x1bc", "1.5 +\n\n 0.472", r"\input{/etc/passwd} $x$ ^_~#&%{}",
                "[/] [bold]x", "h` <script>alert(1)</script> `", "∂L/∂w2 − δ ⊙ σ′"]


def test_tex_shows_what_it_cannot_set_as_its_code_point():
    assert tex("h 😀") == r"h \texttt{[U+1F600]}"
    assert tex("张伟") == r"\texttt{[U+5F20]}\texttt{[U+4F1F]}"
    assert tex("\ud800") == r"\texttt{[?]}"
    assert tex("a\x00b\x1bc") == r"ab\texttt{[U+001B]}c"
    assert tex("1.5 +\n 0.472") == "1.5 +  0.472"
    assert tex("café") == "café"  # Latin-1 is set by the T1 fonts as it is


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="needs TeX")
def test_any_student_text_typesets(tmp_path):
    body = r"\\".join(tex(t) + r" \texttt{" + tex(t) + "}" for t in HOSTILE_TEXT)
    (tmp_path / "t.tex").write_text(r"\documentclass{article}\usepackage[T1]{fontenc}\usepackage{lmodern}"
                                    r"\usepackage{textcomp}\begin{document}" + body + r"\end{document}",
                                    encoding="utf-8")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "t.tex"],
                       cwd=tmp_path, capture_output=True, text=True, errors="replace", timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert not (tmp_path / "t.log").read_text(errors="replace").count("Missing character")


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_markdown_text_and_code_spans_stay_text_inside_one_table_cell(text):
    parser = MarkdownIt("commonmark").enable("table")
    table = f"| a | b | c |\n|---|---|---|\n| {md(text)} | {code(text)} | end |\n"
    html = parser.render(table)
    assert "<script" not in html and "<strong" not in html and "<input" not in html
    (row,) = [r for r in html.split("<tr>") if "<td" in r]
    assert row.count("<td") == 3 and "end</td>" in row


def test_a_code_span_shows_backticks_and_undecodable_bytes_as_written():
    assert code("h` <b>") == "``h` <b>``"
    assert code("a|b") == r"`a\|b`"
    assert code("caf\udce9") == r"`caf\xe9`"
    html = MarkdownIt("commonmark").render(code("h` <script>x</script> `"))
    assert "<code>h` &lt;script&gt;x&lt;/script&gt; `</code>" in html
