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
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import OptionError
from ..printable import printable
from ..resources import templates_dir

FORMATS = {"markdown": "md", "latex": "tex"}


def environment(format: str, user_dir: Path | None = None) -> jinja2.Environment:  # noqa: A002
    """The Jinja environment for ``format`` (``markdown`` or ``latex``).

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
    )
    env.filters.update(FILTERS)
    return env


def render(document: str, format: str, context: dict, user_dir: Path | None = None) -> str:  # noqa: A002
    """``document`` (``derivation``, ``worksheet``, …) in ``format``, from ``context``."""
    env = environment(format, user_dir)
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
    table = {**_TEX_UNICODE, **_TEX_SPECIAL}
    text = _TEX_PATTERN.sub(lambda m: "\0" + table[m.group(0)] + "\0", str(value).replace("\0", ""))
    parts = text.split("\0")  # the replacements (odd parts) are TeX already; the rest may hold anything
    return "".join(part if k % 2 else _TEX_SETTABLE.sub(lambda m: _unsettable(m.group()), part)
                   for k, part in enumerate(parts))


def tex_code(value) -> str:
    """What a student wrote, for ``\\texttt{…}``: escaped as `tex` does, with a break allowed
    between any two characters, so that a long formula or value wraps in its table cell instead
    of running over the next column and off the page."""
    return r"\allowbreak{}".join(tex(c) for c in str(value).replace("\0", ""))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
def md(value) -> str:
    """Plain text escaped for Markdown (also inside a table cell): no live HTML, no line break."""
    return _MD_SPECIAL.sub(r"\\\1", printable(" ".join(str(value).splitlines())))


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
    """The first letter upper-case, the rest as it is (Jinja's ``capitalize`` lowers the rest)."""
    value = str(value)
    return value[:1].upper() + value[1:]


FILTERS = {"tex": tex, "tex_code": tex_code, "md": md, "code": code, "math": math, "mermaid": mermaid, "sentence": sentence}
