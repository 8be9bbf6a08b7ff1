"""Rendering documents through Jinja templates, one folder of templates per format.

As in nbconvert: each format has an entry template per document (``derivation.tex.j2``,
``worksheet.md.j2``, …) made of blocks a user can override; `environment` is the one
place where the Jinja environment is made, with LaTeX-safe delimiters for every format::

    ((* block name *)) … ((* endblock *))    statements
    ((( value )))                            expressions
    ((= comment =))                          comments

so ``{`` and ``}`` in LaTeX (in ``.tex`` and in the math of ``.md``) never clash with
Jinja.  ``--templates DIR`` puts ``DIR/<format>/`` (and ``DIR``) in front of the bundled
templates: a user's ``derivation.tex.j2`` can ``((* extends "base/derivation.tex.j2" *))``
and replace one block.

Text is written in the document's language (`symback.i18n`): the templates' English is the
message id of ``((( _("…") )))`` and ``ngettext``, installed per environment from the catalog
of the language (Jinja2's i18n extension, new style: ``_("%(n)s epochs", n=…)``).  A
right-to-left language's LaTeX sets runs of Latin text (a name, a formula in words) left to
right with xepersian's ``\\lr{}``; math is left to right anyway.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .. import i18n
from ..errors import OptionError
from ..printable import printable
from ..resources import templates_dir

FORMATS = {"markdown": "md", "latex": "tex"}


def environment(format: str, user_dir: Path | None = None,  # noqa: A002
                language: i18n.Language | None = None) -> jinja2.Environment:
    """The Jinja environment for ``format`` (``markdown`` or ``latex``), in ``language`` (default:
    the current one, `i18n.current`): its catalog's ``_``/``gettext``/``ngettext``, the globals
    ``lang`` and ``rtl``, the ``num`` filter for a number of the prose, and for a right-to-left
    language the ``tex`` filters that set Latin runs left to right.

    Jinja's immutable sandbox: a template (the bundled ones, or one from ``--templates`` that a
    course shares) reads the document's values and calls their public methods, and nothing
    else — no attribute starting with ``_``, no changing a list or dict, no ``range`` beyond
    100,000; an attempt is an `OptionError` naming the template."""
    bundled = templates_dir()
    search = []
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            raise OptionError(f"--templates {user_dir}: no such folder")
        search += [str(Path(user_dir) / format), str(user_dir)]
    search += [str(bundled / format), str(bundled)]
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(search),
        # the bundled entry templates stay reachable as base/… for a user's template to extend
        jinja2.PrefixLoader({"base": jinja2.FileSystemLoader(str(bundled / format))}),
    ])
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
        extensions=["jinja2.ext.i18n"],
    )
    language = language or i18n.current()
    # the catalog's messages in the language's digits; Jinja fills in their %(name)s (new style)
    env.install_gettext_callables(language.message, language.messages, newstyle=True)
    env.globals.update(lang=language.code, rtl=language.rtl, digits_style=language.digits)
    env.filters.update(FILTERS)
    env.filters["num"] = language.num
    if language.rtl:
        env.filters.update(tex=tex_rtl, tex_code=tex_code_rtl, tex_label=tex_label_rtl, md=md_rtl, code=code_rtl)
    # a sentence made where no document was being made (a training note: `i18n.Message`) is shown in this one's language
    for name in ("tex", "md", "sentence"):
        env.filters[name] = _showing(env.filters[name], language)
    return env


def _showing(text_filter, language: i18n.Language):
    def shown(value):
        return text_filter(language.shown(value))
    return shown


def render(document: str, format: str, context: dict, user_dir: Path | None = None,  # noqa: A002
           language: i18n.Language | None = None) -> str:
    """``document`` (``derivation``, ``worksheet``, …) in ``format``, from ``context``, in ``language``
    (default: the current one)."""
    env = environment(format, user_dir, language)
    name = document + ".j2" if "." in document else f"{document}.{FORMATS[format]}.j2"
    try:
        template = env.get_template(name)
        return template.render(**context)
    except jinja2.TemplateSyntaxError as e:
        raise OptionError(f"template {e.filename or e.name}:{e.lineno}: {e.message}") from None
    except jinja2.TemplateError as e:
        raise OptionError(f"template {name}: {e}") from None
    except (OverflowError, ZeroDivisionError, RecursionError, MemoryError) as e:
        # a template (--templates) that asks the impossible of its values: range(10**9), a macro calling itself
        raise OptionError(f"template {name} failed: {type(e).__name__}: {e}") from None


# -- filters: text into a format ----------------------------------------------------

# Unicode a sentence of symback's may contain, as LaTeX (text mode)
_TEX_UNICODE = {
    "′": r"$'$", "−": r"\textminus{}", "²": r"\textsuperscript{2}", "ⁿ": r"\textsuperscript{$n$}",
    "⁻": r"\textsuperscript{$-$}", "¹": r"\textsuperscript{1}", "⁰": r"\textsuperscript{0}",
    "³": r"\textsuperscript{3}", "⁴": r"\textsuperscript{4}", "⁵": r"\textsuperscript{5}",
    "⁶": r"\textsuperscript{6}", "⁷": r"\textsuperscript{7}", "⁸": r"\textsuperscript{8}",
    "⁹": r"\textsuperscript{9}", "⊙": r"$\odot$", "δ": r"$\delta$",
    "σ": r"$\sigma$", "Σ": r"$\Sigma$", "∑": r"$\sum$", "ᵀ": r"$^{\top}$", "α": r"$\alpha$",
    "β": r"$\beta$", "η": r"$\eta$", "ε": r"$\varepsilon$", "₁": r"$_1$", "₂": r"$_2$", "×": r"$\times$",
    "·": r"$\cdot$", "≤": r"$\le$", "≥": r"$\ge$", "←": r"$\leftarrow$", "→": r"$\to$", "∂": r"$\partial$",
    "…": r"\dots{}", "–": "--", "—": "---", "≈": r"$\approx$", "√": r"$\surd$",
    "⋆": r"$\star$", "x\u0302": r"$\hat{x}$",  # the convolution's X ⋆ δ; normalisation's x̂
}
_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}",
                # brackets braced: text after a line break \\ must not read as its optional [length]
                "[": "{[}", "]": "{]}"}
_TEX_PATTERN = re.compile("|".join(re.escape(k) for k in sorted({**_TEX_UNICODE, **_TEX_SPECIAL}, key=len,
                                                                        reverse=True)))


# what pdflatex sets from UTF-8 with the T1 fonts (Latin-1 and Latin Extended-A); the rest is shown as its code
_TEX_SETTABLE = re.compile(r"[^\x20-\x7e\u00a0-\u017f]")


def _unsettable(c: str) -> str:
    if c in "\t\n":
        return " "
    if 0xD800 <= ord(c) <= 0xDFFF:  # an undecodable byte of a file name
        return r"\texttt{[?]}"
    return rf"\texttt{{[U+{ord(c):04X}]}}"


def tex(value) -> str:
    """Plain text (a sentence, a note, a title, what a student wrote) escaped for LaTeX: its
    special characters, the Unicode symback's sentences use, and anything else TeX cannot set
    (an emoji, CJK, a control character) shown as its code point — never fatal to the document."""
    return _escaped(str(value), _TEX_SETTABLE)


def _escaped(text: str, settable: re.Pattern) -> str:
    table = {**_TEX_UNICODE, **_TEX_SPECIAL}
    text = _TEX_PATTERN.sub(lambda m: "\0" + table[m.group(0)] + "\0", text.replace("\0", ""))
    parts = text.split("\0")  # the replacements (odd parts) are TeX already; the rest may hold anything
    return "".join(part if k % 2 else settable.sub(lambda m: _unsettable(m.group()), part)
                   for k, part in enumerate(parts))


# -- right to left: Persian prose with runs of Latin text in it ------------------------------

# Arabic script (Persian's letters, digits and punctuation) and the zero-width non-joiner of its words
_ARABIC = "\u0600-\u06ff\u200c\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_SETTABLE = re.compile(rf"[^\x20-\x7e\u00a0-\u017f{_ARABIC}]")
# a run of non-Arabic text that starts with something strong (not a space or a sentence's punctuation)
_LATIN_RUN = re.compile(rf"[^\s{_ARABIC}.,:;!?][^{_ARABIC}]*")


_OPENING, _CLOSING = "([", ")]"


def _unmatched_opening(run: str) -> int | None:
    """Where the first opening bracket of ``run`` that is not closed in it is, or None."""
    open_at: list[int] = []
    for k, c in enumerate(run):
        if c in _OPENING:
            open_at.append(k)
        elif c in _CLOSING and open_at:
            open_at.pop()
    return open_at[0] if open_at else None


def _latin_run(run: str) -> tuple[str, str, str]:
    """A run of Latin text as (what goes before it, the run, the rest): spaces, the sentence's
    punctuation and a bracket whose partner is outside the run belong to the Persian sentence around
    it (the rest, which may hold another run, is looked at again)."""
    start = 0
    while start < len(run) and run[start] in _OPENING and _unmatched_opening(run[start:]) == 0:
        start += 1
    end = len(run)
    cut = _unmatched_opening(run[start:])
    if cut is not None:
        end = start + cut
    while end > start:
        c = run[end - 1]
        unmatched = c in _CLOSING and run[start:end].count(_OPENING[_CLOSING.index(c)]) < run[start:end].count(c)
        if not (c.isspace() or c in ".,:;!?" or unmatched):
            break
        end -= 1
    return run[:start], run[start:end], run[end:]


def _runs(text: str):
    """``text`` as (Persian prose, a run of Latin text) pairs in order — the last run may be empty. Spaces,
    the sentence's punctuation and a bracket whose partner is outside a run belong to the prose around it."""
    at = 0
    while (m := _LATIN_RUN.search(text, at)) is not None:
        before, run, _ = _latin_run(m.group())
        if not run:  # brackets only: they belong to the Persian around them
            yield text[at:m.start() + 1], ""
            at = m.start() + 1
            continue
        yield text[at:m.start()] + before, run
        at = m.start() + len(before) + len(run)  # what follows the run is looked at again
    yield text[at:], ""


def tex_rtl(value) -> str:
    """`tex` for a right-to-left document: Persian is set as it is, and each run of Latin text in
    it (a name, ``w1[1, 2]``, a formula in words) goes into xepersian's ``\\lr{…}`` — unmarked,
    a run of several Latin words would be set right to left, its words in reverse order."""
    return "".join(_escaped(prose, _ARABIC_SETTABLE) + (r"\lr{" + _escaped(run, _ARABIC_SETTABLE) + "}" if run else "")
                   for prose, run in _runs(str(value).replace("\0", "")))


def tex_code_rtl(value) -> str:
    """`tex_code` set left to right in a right-to-left document (a student's ``0.1*(4.47-6)``)."""
    return r"\lr{" + tex_code(value) + "}"


def tex_label_rtl(value) -> str:
    """A part's number or a label (``2.1``, ``1.1a``, ``۱.۱a``) left to right in a right-to-left document, in
    the prose's font: `tex_rtl`'s ``\\lr`` would set Persian digits in the Latin font, which has none, and
    the Persian font shapes ``1.2`` as ``2.1`` even inside bidi's ``\\LRE`` — a zero kern between its
    characters makes each one a run of its own, which ``\\LRE`` then sets left to right."""
    return r"\LRE{" + r"\kern0pt ".join(_escaped(c, _ARABIC_SETTABLE) for c in str(value).replace("\0", "")) + "}"


#: Persian (۰–۹) and Arabic-Indic (٠–٩) digits and the Arabic decimal mark, which no typewriter font has
_DIGITS_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫", "0123456789" * 2 + ".")


def tex_code(value) -> str:
    """What a student wrote, for ``\\texttt{…}``: escaped as `tex` does, with a break allowed
    between any two characters, so that a long formula or value wraps in its table cell instead
    of running over the next column and off the page.  Persian digits are set as the same digits
    in ASCII (۰٫۲۵۳ as 0.253): the typewriter font has no Persian glyphs."""
    return r"\allowbreak{}".join(tex(c) for c in str(value).replace("\0", "").translate(_DIGITS_ASCII))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
def md(value) -> str:
    """Plain text escaped for Markdown (also inside a table cell): no live HTML, no line break."""
    return _MD_SPECIAL.sub(r"\\\1", printable(" ".join(str(value).splitlines())))


#: Unicode's left-to-right isolate and its end: a run of Latin text in Persian prose keeps its own order
#: (a browser otherwise shows −0.0070 as 0.0070− in a right-to-left paragraph)
_LRI, _PDI = "\u2066", "\u2069"


def md_rtl(value) -> str:
    """`md` for a right-to-left document: each run of Latin text (a name, a number with its sign) is
    isolated left to right, and the zero-width non-joiner of Persian words (نام‌دار) is kept — it joins
    no line and overrides no direction; every other unseen character is shown as `md` shows it."""
    text = "\u200c".join(md(part) for part in str(value).split("\u200c"))
    # a number alone reads right in Persian prose; a sign, an operator or a Latin word needs the isolate
    return "".join(prose + (_LRI + run + _PDI if re.search(r"[^\d.,\s]", run) else run) for prose, run in _runs(text))


def code_rtl(value) -> str:
    """`code` in a right-to-left document: the code span isolated left to right (`-0.053` keeps its sign
    in front)."""
    return _LRI + code(value) + _PDI


def code(value) -> str:
    """Text as a Markdown code span that nothing in it can end (a fence longer than any run of
    backticks in it), safe in a table cell; HTML in a code span is shown, never run."""
    text = printable(" ".join(str(value).splitlines())).replace("|", "\\|")
    runs = [len(r) for r in re.findall("`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def math(value) -> str:
    """Inline math for GitHub Markdown: ``$`…`$`` keeps the LaTeX away from Markdown."""
    return f"$`{value}`$"


def mermaid(value) -> str:
    """Text inside a quoted Mermaid label."""
    return str(value).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def sentence(value) -> str:
    """The first letter upper-case, the rest as it is (Jinja's ``capitalize`` lowers the rest); a sentence
    that opens with a symbol — δ, σ′, relu′ — keeps it as written (δ is not Δ)."""
    value = str(value)
    if value[:1].isascii():
        return value[:1].upper() + value[1:]
    return value


def parts(items, size: int) -> list[list]:
    """``items`` in as few parts of at most ``size`` as hold them, as even as can be: 9 rows in 5 and 4, where
    Jinja's ``batch(8)`` leaves a table of one row (the loss alone below the forward pass)."""
    items = list(items)
    count = -(-len(items) // size) if items else 0
    return [items[-(-len(items) * k // count):-(-len(items) * (k + 1) // count)] for k in range(count)]


FILTERS = {"parts": parts, "tex": tex, "tex_code": tex_code, "tex_label": tex, "md": md, "code": code, "math": math, "mermaid": mermaid, "sentence": sentence}
