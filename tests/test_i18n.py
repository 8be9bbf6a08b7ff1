"""Documents in the class's language (issue 13): the catalogs, and a Persian derivation as a user makes it."""

import re
import shutil
import subprocess
import sys
import threading
import unicodedata

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from conftest import EXAMPLES, ROOT

from symback import i18n
from symback.report.render import tex_rtl

POT = ROOT / "symback" / "locale" / "symback.pot"
PO = ROOT / "symback" / "locale" / "fa" / "LC_MESSAGES" / "symback.po"
needs_xelatex = pytest.mark.skipif(not (shutil.which("latexmk") and shutil.which("xelatex") and shutil.which("pdftotext")),
                                   reason="XeLaTeX (latexmk, xelatex) and pdftotext are not installed")
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symback", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                       "COLUMNS": "120", "PYTHONHASHSEED": "0"})


def ids(messages) -> set:
    return {m.id for m in messages if m.id}


# -- the catalogs ------------------------------------------------------------------------


def test_the_template_catalog_is_up_to_date_with_the_sources():
    """What `make messages` would extract now is what symback.pot holds: no message added or
    changed in a template or a sentence without the catalog (and so the translation) following."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    extracted = {message for _file, _line, message, _comments, _context in
                 extract_from_dir(str(ROOT), method_map, options_map)}
    with open(POT, "rb") as f:
        assert ids(read_po(f)) == extracted


def test_every_message_has_a_checked_persian_translation_with_the_same_placeholders():
    with open(POT, "rb") as f:
        template = read_po(f)
    with open(PO, "rb") as f:
        persian = read_po(f, locale="fa")
    assert ids(persian) == ids(template)
    for m in persian:
        if not m.id:
            continue
        assert not m.fuzzy, m.id
        singular, plural = (m.id, m.id[1]) if isinstance(m.id, tuple) else ((m.id,), None)
        strings = m.string if isinstance(m.string, (tuple, list)) else [m.string]
        assert all(s.strip() for s in strings), m.id
        for s in strings:
            assert i18n.placeholders(s) == i18n.placeholders(singular[0] if plural is None else plural), (m.id, s)


def test_the_catalog_compiles_in_memory_and_translates():
    fa = i18n.Language("fa")
    assert fa.gettext("Model") == "مدل"
    assert fa.ngettext("%(num)s epoch", "%(num)s epochs", 3) == "3 دوره"
    assert i18n.Language("fa", "persian").ngettext("%(num)s epoch", "%(num)s epochs", 12) == "۱۲ دوره"
    assert i18n.Language("en").gettext("Epoch %(epoch)s", epoch=2) == "Epoch 2"


def test_the_language_belongs_to_the_thread_that_set_it():
    seen = {}
    barrier = threading.Barrier(2)

    def make(code):
        with i18n.using(i18n.Language(code)):
            barrier.wait()  # both threads are inside `using` at once
            seen[code] = i18n.gettext("Summary")

    threads = [threading.Thread(target=make, args=(code,)) for code in ("en", "fa")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"en": "Summary", "fa": "خلاصه"}
    assert i18n.gettext("Summary") == "Summary"


def test_latin_runs_in_persian_tex_are_set_left_to_right():
    assert tex_rtl("دورهٔ ۱، w1[1, 1] پس از به‌روزرسانی") == r"دورهٔ ۱، \lr{w1{[}1, 1{]}} پس از به‌روزرسانی"
    # the sentence's punctuation and the parenthesis around a Latin word stay Persian
    assert tex_rtl("(مانند PyTorch).") == r"(مانند \lr{PyTorch})."
    assert tex_rtl("relu′(0) = 1 (PyTorch صفر را)") == r"\lr{relu$'$(0) = 1} (\lr{PyTorch} صفر را)"
    assert tex_rtl("x_1 & 50%") == r"\lr{x\_1 \& 50\%}"


# -- a Persian derivation -------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The seed's derivation in English and in Persian (latin and persian digits), without PDFs."""
    where = tmp_path_factory.mktemp("i18n")
    for name, options in {"en": [], "fa": ["--lang", "fa"], "fa-persian": ["--lang", "fa", "--digits-style", "persian"]}.items():
        r = run("derive", EXAMPLES / "seed.py", "--no-pdf", "--out", name, *options, cwd=where)
        assert r.returncode == 0, r.stderr
    return where


def persian_text(extracted: str) -> str:
    """Text pdftotext reads from a PDF in Nazli as plain Persian letters: the font's glyphs are
    Arabic presentation forms (NFKC undoes them), with Arabic kaf and yeh for Persian's, and the
    zero-width non-joiner is not a glyph."""
    text = unicodedata.normalize("NFKC", extracted)
    return text.translate(str.maketrans({"ك": "ک", "ي": "ی", "ى": "ی", "\u200c": None}))


def display_math(markdown: str) -> list[str]:
    return re.findall(r"\$\$.*?\$\$", markdown, re.S)


def test_a_persian_derivation_has_persian_headings_and_the_same_math(reports):
    en = (reports / "en" / "derivation.md").read_text()
    fa = (reports / "fa" / "derivation.md").read_text()
    for heading in ("## 1. مدل", "## 2. گراف محاسباتی", "## 3. استخراج گرادیان‌ها", "## 4. درستی‌سنجی",
                    "## 5. آموزش", "### دورهٔ 1"):
        assert heading + "\n" in fa
    assert "Forward pass" not in fa and "Forward pass" in en
    # every formula and number of the English report, as it is
    assert display_math(fa) == display_math(en) and len(display_math(en)) > 30
    assert (reports / "fa" / "result.json").read_bytes() == (reports / "en" / "result.json").read_bytes()
    # right-to-left prose, blank lines around so GitHub still renders the Markdown and math inside
    assert fa.startswith('<div dir="rtl">\n\n') and fa.endswith("\n\n</div>\n")
    tex = (reports / "fa" / "derivation.tex").read_text()
    assert r"\usepackage{xepersian}" in tex and r"\section{مدل}" in tex and "Ligatures=PersianTeXNoNumbers" in tex


def test_persian_digits_in_the_prose_and_latin_ones_in_the_math(reports):
    latin = (reports / "fa" / "derivation.md").read_text()
    persian = (reports / "fa-persian" / "derivation.md").read_text()
    assert "### دورهٔ ۱\n" in persian and "## ۵. آموزش" in persian and "با ۵۰ رقم بامعنا" in persian
    assert "### دورهٔ 1\n" in latin and not any(d in latin for d in PERSIAN_DIGITS)
    assert display_math(persian) == display_math(latin)
    assert not any(d in "".join(display_math(persian)) for d in PERSIAN_DIGITS)
    for inline in re.findall(r"\$`.*?`\$", persian):
        assert not any(d in inline for d in PERSIAN_DIGITS), inline
    tex = (reports / "fa-persian" / "derivation.tex").read_text()
    assert "Ligatures=PersianTeX]" in tex  # xepersian's mapping writes the prose's 0-9 as Persian digits


def test_english_documents_are_unchanged_by_the_language_machinery(reports):
    assert (reports / "en" / "derivation.md").read_bytes() == (ROOT / "reports" / "seed" / "derivation.md").read_bytes()
    assert (reports / "en" / "derivation.tex").read_bytes() == (ROOT / "reports" / "seed" / "derivation.tex").read_bytes()


@pytest.mark.parametrize("options, says", [
    (["--lang", "de"], "--lang must be one of en, fa, not 'de'"),
    (["--digits-style", "persian"], "--digits-style persian needs --lang fa"),
    (["--lang", "fa", "--digits-style", "roman"], "--digits-style must be one of latin, persian"),
    (["--lang", "fa", "--tex-engine", "pdflatex", "--pdf"], "a Persian document needs XeLaTeX"),
])
def test_a_language_it_cannot_write_is_one_line_and_exit_2(tmp_path, options, says):
    r = run("derive", EXAMPLES / "seed.py", "--out", "out", *options, cwd=tmp_path)
    assert r.returncode == 2
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


@needs_xelatex
def test_a_persian_pdf_compiles_shows_persian_and_is_reproducible(tmp_path):
    for out in ("a", "b"):
        r = run("derive", EXAMPLES / "seed.py", "--lang", "fa", "--pdf", "--out", out, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    pdf = tmp_path / "a" / "derivation.pdf"
    assert pdf.read_bytes() == (tmp_path / "b" / "derivation.pdf").read_bytes()
    text = persian_text(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    for words in ("مدل", "گراف محاسباتی", "گذر رو به جلو", "ابعاد هر کمیت نامدار", "آموزش", "درستیسنجی"):
        assert words in text, words
    assert "1.168" in text and "4.472" in text  # the seed's loss and out of epoch 1, in Latin digits


def test_a_latin_run_in_persian_markdown_keeps_its_order():
    """Unicode's bidi algorithm shows −0.0070 as 0.0070− in a right-to-left paragraph: a run with a sign,
    an operator or a Latin word is isolated left to right (U+2066 … U+2069); a number alone needs nothing."""
    from symback.report.render import code_rtl, md_rtl

    assert md_rtl("مقدار درست −0.0070 است") == "مقدار درست \u2066−0.0070\u2069 است"
    assert md_rtl("دورهٔ 1 و w1 پس از به‌روزرسانی") == "دورهٔ 1 و \u2066w1\u2069 پس از به\u200cروزرسانی"
    assert code_rtl("-0.053") == "\u2066`-0.053`\u2069"
