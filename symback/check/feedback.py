"""What a student's feedback report shows (templates ``feedback.md.j2`` and ``feedback.tex.j2``).

A student reads it as a teacher hands back a marked exercise:

* a **summary** first: the exercise, the file, the score (with a rubric), every *independent*
  mistake with the catalogue's name for it, its sentence and the line of the file it is on, and
  one sentence saying that everything after the first mistake follows from the student's own
  values — instead of the same note on every carried row;
* then the **detail**, step by step (epoch, or epoch and sample) and tensor by tensor: each
  tensor's written entries together, with what it should be and the verdict; a note shared by
  every entry of a tensor is said once for the tensor;
* the **formulas** last, each with the derived gradient typeset from the derivation's LaTeX.

Numbers symback prints carry a real minus (U+2212 in Markdown, math in TeX) and 10⁻⁷ rather
than ``e-07``.  What the student wrote is data: every field holding it is plain text here and
escaped by the templates' ``code``/``tex_code`` filters; only LaTeX made here from the model
(its names and derived gradients) and from numbers is passed on as LaTeX (the ``*_tex`` keys).

Sentences are in the language of the report being made (`symback.i18n`); a catalogued mistake's
title and message come from the catalogue's translation (a message that quotes the expected value is
kept as the grader wrote it: the value is not kept apart from it).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..i18n import N_, _, ngettext, num, shown
from ..i18n import formula as catalogue_sentence
from ..numeric.formatting import number, number_latex, number_unicode
from ..numeric.printing import latex, latex_name, latex_names
from .grade import SHAPE_RULE, FileResult, note, plain_latex
from .judge import Judged
from .mistakes import MESSAGES, TITLES

#: a tensor block this long may be split over pages; a shorter one is kept on one page
KEEP_ROWS = 20
#: a closed form longer than this (characters of LaTeX) is shown as the derivation's last step instead
FORMULA_CHARS = 600
#: significant digits of a shown true value beyond the model's own ``digits``
EXTRA_DIGITS = 2

#: a hyphen-minus that is a number's sign in symback's own sentences (not inside a word or a range)
_SIGN = re.compile(r"(?<![\w.)\]])-(?=\.?\d)")
#: the verdicts as a report writes them (the templates translate ``status``)
STATUS_WORDS = (N_("correct"), N_("carried"), N_("imprecise"), N_("wrong"), N_("error"))
_SECTION_WORDS = {"forward": N_("forward values"), "deltas": "δ", "grads": N_("gradients"), "updated": N_("updates")}


def minus(text: str) -> str:
    """symback's own text with real minus signs: ``-0.5`` → ``−0.5`` (``w1-2``, ``a - b`` stay)."""
    return _SIGN.sub("−", text)


def feedback_context(result: FileResult, model, score: tuple[float, ...] | None = None,
                     order: list | None = None) -> dict:
    """Everything a feedback report shows, for ``result`` (one graded file) of ``model``;
    ``score`` is (points, maximum[, values asked and left empty]) when the course gave a rubric; ``order`` the (section, name)
    keys of a step in computation order (``Checker.quantities.order``), which the tensors of the
    detail follow (else they follow the items)."""
    view = _View(model, order)
    groups = result.mistake_groups()
    number_of = {id(j): n for n, group in enumerate(groups, 1) for j in group}
    first = result.first_mistake
    title = model.title or _("Backpropagation: %(name)s", name=model.name)
    carried = result.counts["carried"]
    return {
        # the document (document.tex.j2 sets ``title``)
        "title": title,
        "exercise": title,
        "file": result.file,
        "file_name": Path(result.file).name,
        "verdict": result.verdict,
        "error": result.error,
        "counts": result.counts,
        "summary": _counts(result.counts),
        "score": None if score is None else _score(*score),
        # page 1
        "mistakes": [view.mistake(n, g) for n, g in enumerate(groups, 1)],
        "unreadable": [view.unreadable(j) for j in result.items if j.status == "error"],
        "consistent": None if first is None or not carried else {
            "where": view.place(first), "where_tex": view.place_tex(first), "carried": carried},
        # the detail
        "steps": view.steps([j for j in result.items if j.epoch is not None and j.section != "formulas"],
                            number_of),
        "formulas": [view.formula(j, number_of.get(id(j))) for j in result.items if j.section == "formulas"],
        # kept for templates of a course's own (--templates) written against the first layout
        "first": _row(first, model.digits) if first else None,
        "items": [_row(j, model.digits) for j in result.items],
    }


def _score(points: float, maximum: float, unanswered: int = 0) -> dict:
    percent = f"{100 * points / maximum:.1f}" if maximum else ""
    return {"points": f"{points:g}", "max": f"{maximum:g}", "percent": percent, "unanswered": unanswered}


class _View:
    """How one model's quantities and numbers are written in a feedback report."""

    def __init__(self, model, order: list | None = None):
        self.model = model
        self.rank = {key: n for n, key in enumerate(order or [])}
        self.digits = model.digits + EXTRA_DIGITS
        self.names = latex_names(model)
        self.gradients = model._derivation.gradients
        self.shapes = {n.name: tuple(int(d) for d in n.shape) for n in model.nodes if n.name}

    # -- names of entries and places ---------------------------------------------------------
    def entry(self, j: Judged) -> str:
        """The entry as a student reads it: ``w1[1, 2]``, ``∂L/∂w1[1, 2]`` (the derivative by that
        entry), ``δ_h[2]``; the index never wraps (a no-break space)."""
        text = j.entry.replace(", ", ",\u00a0") if j.index is not None else j.name
        return {"grads": f"∂L/∂{text}", "deltas": f"δ_{text}"}.get(j.section, text)

    def entry_tex(self, j: Judged) -> str:
        """The entry in math (one unbreakable unit): ``w_{1}[1,\\,2]``, ``\\partial L/\\partial w_{1}[1,\\,2]``."""
        name = self.names.get(j.name) or latex_name(j.name)
        index = ""
        if j.index is not None:
            text = j.entry
            index = text[len(j.name):].replace(", ", r",\,") if text != j.name else ""
        body = f"{{{name}}}{index}"
        return {"grads": rf"\partial L/\partial {body}", "deltas": rf"\delta_{{{name}}}{index}"}.get(j.section, body)

    def whole(self, j: Judged) -> str:
        """The tensor an entry belongs to, as its section names it: ``∂L/∂w1``, ``δ_h``, ``w1``."""
        return {"grads": f"∂L/∂{j.name}", "deltas": f"δ_{j.name}"}.get(j.section, j.name)

    def step(self, j: Judged) -> str:
        if j.sample:
            return _("epoch %(epoch)s, sample %(sample)s", epoch=num(j.epoch), sample=num(j.sample))
        return _("epoch %(epoch)s", epoch=num(j.epoch))

    def place(self, j: Judged) -> str:
        """Where an item is, for a sentence: ``epoch 1, ∂L/∂w1[1, 1]``; ``the formula for ∂L/∂w1``."""
        if j.rule == SHAPE_RULE:  # a shape written under a part of a LaTeX formula
            return _("the shape of %(part)s in %(gradient)s", part=plain_latex(j.text), gradient=f"∂L/∂{j.name}")
        if j.section == "formulas":
            return _("the formula for %(gradient)s", gradient=f"∂L/∂{j.name}")
        if j.epoch is None:
            return _("the file")
        if j.index is None:
            what = _SECTION_WORDS.get(j.section, j.section)
            return _("%(step)s, %(what)s of %(name)s", step=self.step(j), what=_(what), name=j.name)
        if j.section == "updated":
            return _("%(step)s, %(entry)s after the update", step=self.step(j), entry=self.entry(j))
        return _("%(step)s, %(entry)s", step=self.step(j), entry=self.entry(j))

    def place_tex(self, j: Judged) -> str:
        """`place` as LaTeX (text with the entry in math); "" where `place` is plain text.  Its words are
        symback's own (the catalog's, the step's), which need no escaping."""
        if j.rule == SHAPE_RULE:
            return ""  # the part is the student's own LaTeX: the template writes `place`, escaped, as text
        if j.section == "formulas":
            return _("the formula for %(gradient)s",
                     gradient=rf"$\partial L/\partial {{{self.names.get(j.name) or latex_name(j.name)}}}$")
        if j.epoch is None or j.index is None:
            return ""  # the template writes `place` as text
        if j.section == "updated":
            return _("%(step)s, %(entry)s after the update", step=self.step(j), entry=f"${self.entry_tex(j)}$")
        return _("%(step)s, %(entry)s", step=self.step(j), entry=f"${self.entry_tex(j)}$")

    def tensor_title(self, section: str, name: str) -> tuple[str, str]:
        """A tensor block's heading, as text and as LaTeX."""
        tex = self.names.get(name) or latex_name(name)
        return {
            "forward": (f"{name}", f"${tex}$"),
            "deltas": (f"δ_{name}", rf"$\delta_{{{tex}}}$"),
            "grads": (f"∂L/∂{name}", rf"$\partial L/\partial {{{tex}}}$"),
            "updated": (_("%(name)s after the update", name=name), _("%(name)s after the update", name=f"${tex}$")),
        }.get(section, (name, f"${tex}$"))

    # -- numbers -------------------------------------------------------------------------------
    def value(self, j: Judged) -> tuple[str, str]:
        """The true value, as text and as LaTeX math."""
        if j.expected is None or isinstance(j.expected, str):
            return "—", ""
        return number_unicode(j.expected, self.digits), number_latex(j.expected, self.digits)

    # -- page 1 --------------------------------------------------------------------------------
    def mistake(self, n: int, group: list[Judged]) -> dict:
        """One independent mistake: where, what was written and what it should be, its likely cause."""
        j = group[0]
        value, value_tex = self.value(j)
        code = (j.diagnosis or {}).get("code")
        more = len(group) - 1
        shape = j.rule == SHAPE_RULE  # "You wrote 1×1; the value is 1×3."
        text = j.written if shape else j.text
        if shape:
            value, value_tex = str(j.expected), str(j.expected).replace("×", r"\times ")
        return {
            "number": n, "where": self.place(j), "where_tex": self.place_tex(j), "line": j.line,
            "formula": j.section == "formulas" and not shape, "text": text, "value": value, "value_tex": value_tex,
            "gradient_tex": self.gradient_tex(j.name) if j.section == "formulas" else "",
            "more": _more(more, self.whole(j)) if more else "",
            "more_tex": _more(more, self.tensor_title(j.section, j.name)[1]) if more and j.section in ("grads", "deltas")
            else "",
            "cause": _title(code) if code else _("cause unknown"),
            "code": code or "",
            "explanation": _sentence(_message(j.diagnosis) if j.diagnosis else shown(j.reason) or _("no catalogued mistake "
                                                                                              "gives this value")),
            # a formula's difference (where it differs) beside its diagnosis
            "detail": _sentence(shown(j.reason)) if j.diagnosis and j.reason and j.section == "formulas" and not shape
            else "",
            **self.shape_place(j),
        }

    def unreadable(self, j: Judged) -> dict:
        where = self.place(j) if j.section != "file" else "the file"
        return {"where": where, "line": j.line, "column": j.column, "reason": j.reason or ""}

    # -- the detail ------------------------------------------------------------------------------
    def steps(self, items: list[Judged], number_of: dict) -> list[dict]:
        """The written values by step, and within a step by tensor, in computation order."""
        steps: dict = {}
        for j in items:  # in computation order; a tensor is one block even if its items are apart
            title = self.step(j)
            step = steps.setdefault((j.epoch, j.sample), {"title": title[:1].upper() + title[1:], "blocks": {}})
            block = step["blocks"].get((j.section, j.name))
            if block is None:
                text, tex = self.tensor_title(j.section, j.name)
                shape = self.shapes.get(j.name, j.shape)  # (an unreadable tensor's item has no shape of its own)
                block = step["blocks"][(j.section, j.name)] = {
                    "title": text, "title_tex": tex, "shape": f"{shape[0]}×{shape[1]}", "rows": [], "note": ""}
            block["rows"].append(self.row(j, number_of.get(id(j))))
        out = []
        for step in steps.values():
            last = len(self.rank)
            blocks = [b for _, b in sorted(step["blocks"].items(), key=lambda kb: self.rank.get(kb[0], last))]
            for block in blocks:
                _hoist(block)
                block["keep"] = len(block["rows"]) <= KEEP_ROWS
            out.append({"title": step["title"], "blocks": blocks})
        return out

    def row(self, j: Judged, mistake: int | None) -> dict:
        value, value_tex = self.value(j)
        return {"entry": self.entry(j), "entry_tex": self.entry_tex(j),
                "line": j.line, "text": j.text, "value": value, "value_tex": value_tex, "status": j.status,
                "note": self.note(j, mistake)}

    def note(self, j: Judged, mistake: int | None) -> str:
        """The note of one row: what is particular to it (the summary says the rest)."""
        if j.status == "wrong" and mistake is not None and j.diagnosis:
            code = j.diagnosis["code"]
            return _("mistake %(n)s: %(cause)s", n=num(mistake), cause=_title(code))
        if j.status == "wrong" and mistake is not None:
            return _("mistake %(n)s: %(cause)s", n=num(mistake), cause=_("cause unknown"))
        if j.status == "carried" and not j.reason:
            return ""  # the summary's one sentence: everything after the first mistake follows from your values
        if j.status == "error":
            return shown(j.reason) or ""
        return minus(shown(note(j)))

    def formula(self, j: Judged, mistake: int | None) -> dict:
        tex = self.names.get(j.name) or latex_name(j.name)
        if j.rule == SHAPE_RULE:  # where: the part and its gradient, as text (the part is the student's LaTeX)
            where = self.place(j)
            return {"where": where[:1].upper() + where[1:], "where_tex": "", "line": j.line, "text": j.written,
                    "gradient_tex": "", "status": j.status,
                    "note": self.note(j, mistake) if j.status != "correct" else minus(shown(j.reason) or ""),
                    "detail": "",
                    **self.shape_place(j)}
        return {"where": f"∂L/∂{j.name}", "where_tex": rf"$\partial L/\partial {{{tex}}}$", "line": j.line, "text": j.text,
                "gradient_tex": self.gradient_tex(j.name), "status": j.status,
                "note": self.note(j, mistake) if j.status != "correct" else minus(shown(j.reason) or ""),
                "detail": _sentence(shown(j.reason)) if j.status == "wrong" and j.diagnosis and j.reason else "",
                **self.shape_place(j)}

    def shape_place(self, j: Judged) -> dict:
        """For a shape under part of a formula: the part as the student wrote it (``part``, for the LaTeX
        template to set in typewriter type, left to right) and the gradient it belongs to, in math."""
        if j.rule != SHAPE_RULE:
            return {"part": "", "part_of": ""}
        tex = self.names.get(j.name) or latex_name(j.name)
        return {"part": plain_latex(j.text), "part_of": rf"$\partial L/\partial {{{tex}}}$"}

    def gradient_tex(self, name: str) -> str:
        """``∂L/∂name = …`` typeset from the derivation: its closed form, or — when that is too long
        to read — its last step in the δ of the named quantities."""
        tex = self.names.get(name) or latex_name(name)
        g = self.gradients.get(name)
        if g is None:
            return rf"\frac{{\partial L}}{{\partial {tex}}} = 0"
        body = latex(g.closed, self.names) if g.short else ""
        if not body or len(body) > FORMULA_CHARS:
            body = latex(g.formula, self.names)
        return rf"\frac{{\partial L}}{{\partial {tex}}} = {body}"


#: a status as counted in the summary ("3 correct, 1 carried"), in the report's language
_COUNTED = {"correct": N_("%(num)s correct"), "imprecise": N_("%(num)s imprecise"), "carried": N_("%(num)s carried"),
            "wrong": N_("%(num)s wrong"), "error": N_("%(num)s unreadable or not judged")}


def _counts(counts: dict[str, int]) -> str:
    """"36 correct, 91 carried, 11 wrong" — the statuses that occur (`FileResult.summary`, translated)."""
    parts = [_(_COUNTED[s], num=num(n)) for s, n in counts.items() if n and s in _COUNTED]
    return _(", ").join(parts) if parts else _("nothing judged")


def _more(count: int, what: str) -> str:
    return ngettext("and %(num)s more entry of %(what)s", "and %(num)s more entries of %(what)s", count, what=what)


def _title(code: str) -> str:
    """The catalogue's name for a mistake, in the report's language."""
    return catalogue_sentence(TITLES[code]) if code in TITLES else code


def _message(diagnosis: dict) -> str:
    """A diagnosis's sentence in the report's language: the catalogue's message translated and filled with
    the diagnosis's detail; as the grader wrote it when the message quotes a value not kept apart from it."""
    template = MESSAGES.get(diagnosis.get("code"))
    if template is None or ("{expected}" in template and "expected" not in diagnosis) or "detail" not in diagnosis:
        return diagnosis["message"]
    return catalogue_sentence(template).format(detail=diagnosis["detail"], expected=diagnosis.get("expected", ""))


def _sentence(text: str) -> str:
    """symback's own sentence, with real minus signs and a full stop."""
    text = minus(text)
    return text if text.endswith((".", "!", "?")) else text + "."


def _hoist(block: dict) -> None:
    """A note every noted entry of a tensor shares is said once, for the tensor."""
    notes = [r["note"] for r in block["rows"] if r["note"]]
    if len(notes) > 1 and len(set(notes)) == 1:
        block["note"] = notes[0]
        for r in block["rows"]:
            r["note"] = ""


def _row(j: Judged, digits: int) -> dict:
    """An item as the first feedback layout showed it (kept for a course's own templates)."""
    expected = j.expected if isinstance(j.expected, str) or j.expected is None else number(j.expected, digits + 2)
    return {"label": j.label(), "line": j.line, "text": j.text, "expected_text": expected or "",
            "status": j.status, "note": note(j), "diagnosis": j.diagnosis, "more": ""}
