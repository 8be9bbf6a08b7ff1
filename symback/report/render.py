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

from ..errors import OptionError
from ..resources import templates_dir

FORMATS = {"markdown": "md", "latex": "tex"}


def environment(format: str, user_dir: Path | None = None) -> jinja2.Environment:  # noqa: A002
    """The Jinja environment for ``format`` (``markdown`` or ``latex``)."""
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
    env = jinja2.Environment(
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


# -- filters: text into a format ----------------------------------------------------

# Unicode a sentence of symback's may contain, as LaTeX (text mode)
_TEX_UNICODE = {
    "′": r"$'$", "−": r"\textminus{}", "²": r"\textsuperscript{2}", "ⁿ": r"\textsuperscript{$n$}",
    "⁻": r"\textsuperscript{$-$}", "¹": r"\textsuperscript{1}", "⊙": r"$\odot$", "δ": r"$\delta$",
    "σ": r"$\sigma$", "Σ": r"$\Sigma$", "∑": r"$\sum$", "ᵀ": r"\textsuperscript{T}", "α": r"$\alpha$",
    "β": r"$\beta$", "η": r"$\eta$", "ε": r"$\varepsilon$", "₁": r"$_1$", "₂": r"$_2$", "×": r"$\times$",
    "·": r"$\cdot$", "≤": r"$\le$", "≥": r"$\ge$", "←": r"$\leftarrow$", "→": r"$\to$", "∂": r"$\partial$",
    "…": r"\dots{}", "–": "--", "—": "---", "≈": r"$\approx$", "√": r"$\surd$",
}
_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_TEX_PATTERN = re.compile("|".join(re.escape(k) for k in sorted({**_TEX_UNICODE, **_TEX_SPECIAL}, key=len,
                                                                        reverse=True)))


def tex(value) -> str:
    """Plain text (a sentence, a note, a title) escaped for LaTeX."""
    table = {**_TEX_UNICODE, **_TEX_SPECIAL}
    return _TEX_PATTERN.sub(lambda m: table[m.group(0)], str(value))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md(value) -> str:
    """Plain text escaped for Markdown (also inside a table cell)."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


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


FILTERS = {"tex": tex, "md": md, "math": math, "mermaid": mermaid, "sentence": sentence}
