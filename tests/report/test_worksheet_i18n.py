"""Worksheets, keys and training notes in the class's language (issue 13): ``symback worksheet --lang fa``
asks for the same boxes and its key gives the same numbers as the English one; a sentence made while
training (a dead relu) is Persian in a Persian document and English in ``result.json``."""

import json
import pickle
import re
import shutil
import subprocess
import sys
import unicodedata

import pytest
from conftest import EXAMPLES, ROOT

from symback import i18n

needs_xelatex = pytest.mark.skipif(not (shutil.which("latexmk") and shutil.which("xelatex") and shutil.which("pdftotext")),
                                   reason="XeLaTeX (latexmk, xelatex) and pdftotext are not installed")
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ZWNJ = "\u200c"

#: a relu dead at the initial values: z = x w = -1 < 0, so no gradient reaches w in epoch 1
DEAD_RELU = """\
from symback import Model, data, param, relu

x = data([[1.0]])
w = param([[-1.0]])
b = param(0.5)
z = x @ w
out = relu(z) + b
loss = (out - 1) ** 2 / 2

model = Model(loss, lr=0.1, epochs=1, title="A dead relu")
"""
DEAD_NOTE = "relu inactive (z = -1.0 < 0): no gradient reaches w this epoch"
DEAD_NOTE_FA = f"relu غیرفعال است (z = -1.0 < 0): در این دوره هیچ گرادیانی به w نمی{ZWNJ}رسد"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                       "COLUMNS": "120", "PYTHONHASHSEED": "0"})


def inline_math(markdown: str) -> list[str]:
    return re.findall(r"\$`.*?`\$", markdown)


def display_math(markdown: str) -> list[str]:
    return re.findall(r"\$\$.*?\$\$", markdown, re.S)


def md(text: str) -> str:
    return text.replace("<", "\\<")  # as Markdown escapes it


def answers(tex: str) -> list[str]:
    return re.findall(r"\\answer\{.*?\}", re.sub(r"\\text\{[^{}]*\}", "", tex))


@pytest.fixture(scope="module")
def sheets(tmp_path_factory):
    """The seed's worksheets in English, in Persian, and in Persian with Persian digits, without PDFs."""
    where = tmp_path_factory.mktemp("worksheets-i18n")
    for name, options in {"en": [], "fa": ["--lang", "fa"],
                          "fa-persian": ["--lang", "fa", "--digits-style", "persian"]}.items():
        r = run("worksheet", EXAMPLES / "seed.py", "--no-pdf", "--out", name, *options, cwd=where)
        assert r.returncode == 0, r.stderr
    return where


def test_a_persian_worksheet_has_persian_headings_and_fields(sheets):
    sheet = (sheets / "fa" / "worksheet.md").read_text()
    key = (sheets / "fa" / "key.md").read_text()
    assert sheet.startswith('<div dir="rtl">\n\n') and sheet.endswith("\n\n</div>\n")
    assert "— برگهٔ تمرین\n" in sheet and "— کلید پاسخ\n" in key
    assert "نام: ___" in sheet and f"شماره{ZWNJ}ی دانشجویی: ___" in sheet and "تاریخ: ___" in sheet
    for heading in ("## تمرین", f"## بخش 1. گرادیان{ZWNJ}ها را به دست آورید — 10 نمره", "## بخش 2. دورهٔ 1 — 49 نمره",
                    "### 2.1 گذر رو به جلو", "### 2.2 گذر رو به عقب", f"### 2.3 گرادیان{ZWNJ}ها",
                    f"### 2.4 پارامترهای به{ZWNJ}روزشده"):
        assert heading in sheet and heading in key, heading
    assert "| بخش | | بارم | نمره |" in sheet and "| بخش | | بارم |" in key
    for english in ("Name", "Student ID", "The exercise", "Part 1", "Forward pass", "points", "Asked before"):
        assert english not in sheet and english not in key, english
    tex = (sheets / "fa" / "worksheet.tex").read_text()
    assert r"\usepackage{xepersian}" in tex and r"\author{برگهٔ تمرین}" in tex
    assert f"شماره{ZWNJ}ی دانشجویی\\par" in tex and r"\parthead{\LRE{2}}{دورهٔ \lr{1}}{\lr{49} نمره}" in tex


def test_the_persian_worksheet_asks_the_same_boxes_and_its_key_gives_the_same_numbers(sheets):
    for document in ("worksheet", "key"):
        en = (sheets / "en" / f"{document}.md").read_text()
        fa = (sheets / "fa" / f"{document}.md").read_text()
        assert inline_math(fa) == inline_math(en) and display_math(fa) == display_math(en)
        assert fa.count(r"\boxed{") == en.count(r"\boxed{")
        en_tex = (sheets / "en" / f"{document}.tex").read_text()
        fa_tex = (sheets / "fa" / f"{document}.tex").read_text()
        assert fa_tex.count(r"\answerbox") == en_tex.count(r"\answerbox")
        # every answer of the key, as math (the label "epoch 1:" before a step's numbers aside)
        assert answers(fa_tex) == answers(en_tex)
    assert (sheets / "en" / "worksheet.md").read_text().count(r"\boxed{") == 3 * 49  # 3 epochs of 49 entries
    # the key's numbers are the answers file's, in either language
    assert "4.472" in (sheets / "fa" / "key.md").read_text()
    for data in ("solution.yaml", "answers.yaml"):  # data, in no language
        assert (sheets / "fa" / data).read_bytes() == (sheets / "en" / data).read_bytes()


def test_persian_digits_only_in_the_prose(sheets):
    latin = (sheets / "fa" / "worksheet.md").read_text()
    persian = (sheets / "fa-persian" / "worksheet.md").read_text()
    assert "## بخش ۲. دورهٔ ۱ — ۴۹ نمره" in persian and "### ۲.۱ گذر رو به جلو" in persian
    assert "| ۴ | دورهٔ ۳ | ۴۹ |" in persian and "گردشده به ۴ رقم بامعنا" in persian
    assert not any(d in latin for d in PERSIAN_DIGITS)
    assert inline_math(persian) == inline_math(latin) and display_math(persian) == display_math(latin)
    assert not any(d in "".join(inline_math(persian) + display_math(persian)) for d in PERSIAN_DIGITS)
    tex = (sheets / "fa-persian" / "worksheet.tex").read_text()
    assert "Ligatures=PersianTeX]" in tex
    assert r"\subparthead{6}{\LRE{۲\kern0pt .\kern0pt ۱}}" in tex  # left to right: XeLaTeX sets 2.1 as 1.2


def test_english_worksheets_are_unchanged_by_the_language_option(sheets, tmp_path):
    r = run("worksheet", EXAMPLES / "seed.py", "--no-pdf", "--out", "explicit", "--lang", "en", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("worksheet.md", "key.md", "worksheet.tex", "key.tex"):
        assert (tmp_path / "explicit" / name).read_bytes() == (sheets / "en" / name).read_bytes()
        assert "<div" not in (sheets / "en" / name).read_text()


def test_variants_pass_the_language_on(tmp_path):
    r = run("worksheet", EXAMPLES / "seed.py", "--no-pdf", "--variants", 2, "--seed", 1, "--lang", "fa",
            "--out", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for k in (1, 2):
        key = (tmp_path / "ws" / f"variant-0{k}" / "key.md").read_text()
        assert f"— کلید پاسخ، نسخهٔ {k}\n" in key and "## تمرین" in key


@pytest.mark.parametrize("options, says", [
    (["--digits-style", "persian"], "--digits-style persian needs --lang fa"),
    (["--lang", "fa", "--tex-engine", "pdflatex", "--pdf"], "a Persian document needs XeLaTeX"),
])
def test_a_language_the_worksheet_cannot_write_is_one_line_and_exit_2(tmp_path, options, says):
    r = run("worksheet", EXAMPLES / "seed.py", "--out", "out", *options, cwd=tmp_path)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


# -- sentences made while training: English data, Persian documents -----------------------------


def test_a_message_is_english_as_a_string_and_persian_when_shown():
    note = i18n.N_("relu inactive (%(value)s)", value=i18n.N_("every entry of %(label)s < 0", label="H"))
    assert note == "relu inactive (every entry of H < 0)" and json.dumps(note) == '"relu inactive (every entry of H < 0)"'
    assert i18n.Language("fa").shown(note) == f"relu غیرفعال است (همهٔ درایه{ZWNJ}های H منفی{ZWNJ}اند)"
    assert i18n.Language("en").shown(note) == note
    again = pickle.loads(pickle.dumps(note))  # a check worker's history comes back pickled
    assert again == note and i18n.Language("fa").shown(again) == i18n.Language("fa").shown(note)
    # counts in the prose's digits; values and names as they are
    units = i18n.N_("%(name)s: %(dead)s of %(units)s relu units inactive, entries %(entries)s", name="H", dead=3,
                    units=12, entries="[1, 2]")
    assert i18n.Language("fa", "persian").shown(units).startswith("H: ۳ واحد از ۱۲ واحد relu")
    assert i18n.N_("plain") == "plain" and type(i18n.N_("plain")) is str  # a mark alone stays a str


@pytest.fixture(scope="module")
def dead_relu(tmp_path_factory):
    where = tmp_path_factory.mktemp("dead-relu")
    (where / "dead.py").write_text(DEAD_RELU)
    for lang in ("en", "fa"):
        r = run("derive", "dead.py", "--no-pdf", "--out", f"derive-{lang}", "--lang", lang, cwd=where)
        assert r.returncode == 0, r.stderr
        r = run("worksheet", "dead.py", "--no-pdf", "--out", f"ws-{lang}", "--lang", lang, cwd=where)
        assert r.returncode == 0, r.stderr
    return where


def unisolated(text: str) -> str:
    """A right-to-left Markdown document without the invisible isolates around its Latin runs."""
    return text.replace("\u2066", "").replace("\u2069", "")


def test_a_training_note_is_persian_in_the_document_and_english_in_result_json(dead_relu):
    result = json.loads((dead_relu / "derive-fa" / "result.json").read_text())
    notes = [n for step in result["epochs"] for n in step["notes"]]
    assert notes == [DEAD_NOTE]  # by hand: z = 1 × (−1) = −1 < 0, so relu′(z) = 0 and ∂L/∂w = 0
    assert (dead_relu / "derive-fa" / "result.json").read_bytes() == (dead_relu / "derive-en" / "result.json").read_bytes()
    fa = (dead_relu / "derive-fa" / "derivation.md").read_text()
    en = (dead_relu / "derive-en" / "derivation.md").read_text()
    assert "- " + md(DEAD_NOTE_FA) in unisolated(fa) and "relu inactive" not in fa  # its Latin runs isolated
    assert "- " + md(DEAD_NOTE) in en
    # the relu rule's sentence, built with relu′(0), is Persian too
    assert "relu′ = step: جایی که آرگومان مثبت است 1، جایی که منفی است 0، و در 0 برابر 0" in unisolated(fa)
    assert "relu′ = step: 1 where the argument is positive, 0 where negative, 0 at 0" in en
    tex = (dead_relu / "derive-fa" / "derivation.tex").read_text()
    assert r"\item \lr{relu} غیرفعال است \lr{(z = -1.0 \textless{} 0)}: در این دوره هیچ گرادیانی به \lr{w} نمی" in tex
    key = (dead_relu / "ws-fa" / "key.md").read_text()
    assert "- " + md(DEAD_NOTE_FA) in unisolated(key)


@needs_xelatex
def test_a_persian_worksheet_compiles_with_every_character_set(tmp_path):
    r = run("worksheet", EXAMPLES / "seed.py", "--lang", "fa", "--pdf", "--out", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = subprocess.run(["pdftotext", str(tmp_path / "ws" / "worksheet.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    text = unicodedata.normalize("NFKC", text).translate(str.maketrans({"ك": "ک", "ي": "ی", "ى": "ی", ZWNJ: None}))
    for words in ("نام", "شمارهی دانشجویی", "تاریخ", "تمرین", "گذر رو به جلو", "بارم"):
        assert words in text, words
    # the glyphs are all there: xelatex's log names a character its fonts lack
    for name in ("worksheet", "key"):
        work = tmp_path / name
        work.mkdir()
        shutil.copy(tmp_path / "ws" / f"{name}.tex", work)
        subprocess.run(["xelatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=work,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=True)
        log = (work / f"{name}.log").read_text(errors="replace")
        assert "Missing character" not in log, name
