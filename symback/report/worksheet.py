"""Worksheets: the exercise with boxes to fill, its answer key, and variants of it.

A worksheet asks for what a student computes by hand — every derivation step (part 1, ruled
lines to write on), then for each epoch, on a page of its own and in computation order, the
forward values, the δ of every named quantity (the partial-credit checkpoints of backprop, which
let ``check`` place a mistake between the forward pass and a gradient), the gradients and the
updated parameters — a box for each entry, a point per line or box.  The key is the same
document filled, each derivation step also with epoch 1's numbers substituted; ``solution.yaml``
is the empty answers file for ``symback check`` and ``answers.yaml`` the filled one, with the
same sections in the same order.

Variants give each student fresh "nice" initial values (one decimal), drawn reproducibly
from a seed, and rejected when degenerate: a relu argument at or near 0 (a kink, or a
value that rounding would put on the wrong side), a unit dead from the first step, no
gradient reaching a parameter, or a loss that overflows.  Each variant gets its own model
file, so ``symback derive`` and ``symback check`` work on it as on any model.
"""

from __future__ import annotations

import ast
import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from ..errors import ModelError, OptionError
from ..i18n import N_, _, ngettext, num
from ..numeric.formatting import matrix_latex, number
from ..numeric.program import MPMATH, to_float
from . import document

#: a relu argument closer to 0 than this makes a variant degenerate
NEAR_KINK = 0.05
#: a loss larger than this (or not finite) makes a variant degenerate
LOSS_LIMIT = 1e6
#: candidates tried per variant asked for
ATTEMPTS = 200


@dataclass
class Variant:
    index: int  # 1-based; 0 for the exercise as written
    values: dict[str, sp.Matrix]  # initial value of every parameter


# -- drawing variants -----------------------------------------------------------------


def draw_variants(model, count: int, seed: int) -> list[Variant]:
    """``count`` distinct, non-degenerate variants of ``model``'s initial values."""
    if count < 1:
        raise OptionError(f"--variants must be at least 1, not {count}")
    rng = random.Random(seed)
    original = {p.name: sp.Matrix(p.value) for p in model.params}
    if any(not isinstance(p.value, sp.MatrixBase) for p in model.params):
        raise ModelError("variants need exact initial values (numbers, not NumPy arrays) for every parameter")
    chosen: list[Variant] = []
    seen = {_key(original)}
    for _attempt in range(count * ATTEMPTS):
        values = {name: _nice_like(m, rng) for name, m in original.items()}
        key = _key(values)
        if key in seen:
            continue
        seen.add(key)
        with_values(model, values)
        if degenerate(model) is None:
            chosen.append(Variant(len(chosen) + 1, values))
            if len(chosen) == count:
                break
    with_values(model, original)
    if len(chosen) < count:
        raise OptionError(f"found only {len(chosen)} good variants of {count} after {count * ATTEMPTS} tries: "
                          "the model leaves little room for nice values")
    return chosen


def _nice_like(m: sp.Matrix, rng: random.Random) -> sp.Matrix:
    """Entries k/10 within the magnitude of the original values (at least ±1)."""
    bound = max(10, int(np.ceil(float(max(abs(v) for v in m)) * 10)))
    return sp.Matrix(m.rows, m.cols, lambda i, j: sp.Rational(rng.randint(-bound, bound), 10))


def _key(values: dict) -> tuple:
    return tuple((k, tuple(v)) for k, v in sorted(values.items()))


def with_values(model, values: dict[str, sp.Matrix]) -> None:
    """Give the model's parameters these initial values (the derivation does not change)."""
    by_name = {p.name: p for p in model.params}
    for name, value in values.items():
        by_name[name].value = sp.ImmutableMatrix(value)


def degenerate(model) -> str | None:
    """Why the model's current initial values make a poor exercise, or None."""
    history = model.train()
    if history.stopped:
        return history.stopped
    if any(not np.isfinite(v) or abs(v) > LOSS_LIMIT for v in history.losses):
        return "the loss overflows"
    program = model.program
    relus = [n for n in program.nodes if n.op == "apply" and n.attrs.get("fn") in ("relu", "leaky_relu")]
    for k, r in enumerate(history.steps):
        if r.precision != MPMATH:
            continue
        if k == 0 and any(not np.any(to_float(g)) for g in r.grads.values()):
            return "no gradient reaches a parameter"
        leaves = [r.params[leaf.name] if leaf.kind == "param" else
                  (leaf.samples[(r.sample or 1) - 1] if leaf.samples is not None else leaf.value)
                  for leaf in program.leaves]
        values = program.forward(leaves, MPMATH)
        for node in relus:
            argument = to_float(values[node.args[0]])
            if np.any(np.abs(argument) < NEAR_KINK):
                return f"a relu argument is near 0 in step {k + 1}"
            if k == 0 and node.attrs["fn"] == "relu":
                units = argument.ravel()[:, None] if 1 in argument.shape else argument
                if np.any(np.all(units < 0, axis=0)):
                    return "a relu unit is dead from the first step"
    return None


# -- the variant's model file ------------------------------------------------------------


def rewrite_source(source: str, values: dict[str, sp.Matrix], filename: str = "model.py") -> str:
    """The model file with each ``name = param(VALUE, ...)`` given the new value."""
    tree = ast.parse(source)
    edits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        call = node.value
        func = call.func if isinstance(call, ast.Call) else None
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called == "param" and call.args and node.targets[0].id in values:
            edits.append((call.args[0], _literal(values[node.targets[0].id])))
    found = {n.targets[0].id for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and n.targets[0].id in values}
    missing = sorted(set(values) - found)
    if len(edits) != len(values) or missing:
        raise ModelError("variants rewrite each parameter's `name = param(value)` line; not found for "
                         f"{', '.join(missing) or 'some parameters'}", file=filename)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    data = source.encode("utf-8")
    for arg, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        start = offsets[arg.lineno - 1] + arg.col_offset
        end = offsets[arg.end_lineno - 1] + arg.end_col_offset
        data = data[:start] + text.encode("utf-8") + data[end:]
    return data.decode("utf-8")


def _decimal(v: sp.Rational) -> str:
    return number(v, 15) if sp.Rational(number(v, 15)) == v else f'"{v}"'


def _literal(m: sp.Matrix) -> str:
    if m.shape == (1, 1):
        return _decimal(m[0, 0])
    return "[" + ", ".join("[" + ", ".join(_decimal(v) for v in m.row(i)) + "]" for i in range(m.rows)) + "]"


# -- the worksheet document -----------------------------------------------------------------

#: an empty box in Markdown (GitHub's math): a signed number of 4 significant digits, e.g. -0.001234
BOX_MD = r"\boxed{\phantom{-0.000000}}"
#: the same in LaTeX: a macro of worksheet.tex.j2, sized for handwriting
BOX_TEX = r"\answerbox"
#: a tensor with more columns than this has its boxes on a line of their own (2.3 cm each beside its
#: name would run past the page)
WIDE_COLUMNS = 5
#: the width its boxes may take (the text width less the parentheses), and what each box's frame adds
LINE_PT, BOX_FRAME_PT, PT_PER_CM = 440, 6.8, 28.45
#: ruled lines to write on below the line of each derivation step (the step's own line comes first)
WRITING_LINES = 2
#: points of one answer line of the derivation (part 1, marked by hand; ``check`` judges entries)
LINE_POINTS = 1

#: an epoch's sub-parts, in computation order: (section of the solution file, title); the templates
#: say what each asks
EPOCH_PARTS = (("forward", N_("Forward pass")), ("deltas", N_("Backward pass")), ("grads", N_("Gradients")),
               ("updated", N_("Updated parameters")))


def _boxes(shape, box: str, gap: str = "") -> str:
    """A matrix of empty boxes, ``gap`` between rows.

    A tensor of more than WIDE_COLUMNS columns goes on a line of its own below its name (the template
    sees ``_wide``), its boxes 4pt apart and as wide as the line allows, 2.3 cm at most: eight columns
    get 1.57 cm each, room for a handwritten −0.1234, where beside the name they would be shrunk."""
    rows, cols = shape
    if (rows, cols) == (1, 1):
        return box
    wide = box == BOX_TEX and _wide(shape)
    if wide:
        box = rf"{box}[{min(2.3, ((LINE_PT - 4 * (cols - 1)) / cols - BOX_FRAME_PT) / PT_PER_CM):.2f}cm]"
    body = (r" \\" + (f"[{gap}]" if gap else "") + " ").join(" & ".join([box] * cols) for _ in range(rows))
    if wide:
        columns = r"@{\hspace{4pt}}".join(["c"] * cols)
        return rf"\left(\begin{{array}}{{@{{}}{columns}@{{}}}} {body} \end{{array}}\right)"
    return rf"\begin{{pmatrix}} {body} \end{{pmatrix}}"


#: lines of text a sub-part's heading and sentence take, and a row of answer boxes (a 0.72 cm box, 2pt clear
#: above and below: 1.8 lines of 11pt type)
HEADING_LINES, BOX_ROW_LINES = 4, 1.8


def _lines_before(section_values: dict, nodes, section: str) -> int:
    """The lines a sub-part needs at the foot of a page to start there: its heading (and the backward pass's
    sentence) and its first quantity's rows of boxes — a heading whose first 3×4 boxes went to the next
    page was left alone at the foot of this one."""
    first = next(iter(section_values), None)
    rows = int(nodes[first].shape[0]) if first is not None else 1
    return HEADING_LINES + (section == "deltas") + math.ceil(rows * BOX_ROW_LINES)


def _wide(shape) -> bool:
    return int(shape[1]) > WIDE_COLUMNS


def _points(value: float) -> str:
    return f"{value:g}"


def _worth(value: float) -> str:
    """What a part is worth, as its heading says it: "1 point", "16 points" (in the document's language)."""
    return ngettext("%(num)s point", "%(num)s points", value, num=num(_points(value)))


def _derivation_parts(model, d, names, first, digits) -> list[dict]:
    """Part 1: per parameter a sub-part (1.1, 1.2, …), each step a lettered line (1.1a); a step an
    earlier sub-part asked for is not asked again, it names where it was asked."""
    asked: dict[str, str] = {}
    out = []
    for k, g in enumerate(document.derivations(model, d, names, first=first, digits=digits), start=1):
        number = f"1.{k}"
        letters = iter("abcdefghijklmnopqrstuvwxyz")
        steps = []
        for s in g["steps"]:
            if s["node"] in asked:
                steps.append({**s, "repeat": True, "see": asked[s["node"]], "label": None})
                continue
            label = number + next(letters, "")
            asked[s["node"]] = label
            steps.append({**s, "repeat": False, "see": None, "label": label})
        lines = sum(1 for s in steps if not s["repeat"]) + 1
        out.append({**g, "number": number, "steps": steps, "final_label": number + next(letters, ""),
                    "points": _points(lines * LINE_POINTS), "worth": _worth(lines * LINE_POINTS)})
    return out


def _epoch_part(model, r, number: int, names, nodes, digits, rubric) -> dict:
    """One update step as a part: forward pass, backward pass (δ), gradients, updates — each entry a box."""
    values = dict(_sections(model, r))
    lhs = {"forward": lambda v: f"{v} =", "deltas": lambda v: rf"\delta_{{{v}}} =",
           "grads": lambda v: rf"\partial L/\partial {v} =", "updated": lambda v: rf"{v} \leftarrow"}
    lhs_md = {**lhs, "grads": lambda v: rf"\frac{{\partial L}}{{\partial {v}}} ="}
    subparts = []
    for section, title in EPOCH_PARTS:
        if section not in values:
            continue
        rows, total = [], 0.0
        for name, value in values[section].items():
            shape = nodes[name].shape
            points = rubric.points_of(section, name) * shape[0] * shape[1]
            total += points
            rows.append({"name": name, "lhs": lhs[section](names[name]), "lhs_md": lhs_md[section](names[name]),
                         "blank": _boxes(shape, BOX_TEX), "blank_md": _boxes(shape, BOX_MD, "2pt"),
                         "wide": _wide(shape),
                         "answer": matrix_latex(value, digits), "points": _points(points)})
        subparts.append({"number": f"{number}.{len(subparts) + 1}", "section": section, "title": _(title),
                         "rows": rows, "points": _points(total), "worth": _worth(total),
                         "need": _lines_before(values[section], nodes, section)})
    total = sum(float(s["points"]) for s in subparts)
    return {"number": str(number), "title": document.step_label(r),
            "epoch": r.epoch, "sample": r.sample, "subparts": subparts, "points": _points(total), "worth": _worth(total),
            "data": document.step_data(model, r, names, digits), "notes": list(r.notes)}


def build(model, history, variant: Variant | None = None, seed: int | None = None) -> dict:
    """The worksheet and its key as one document; the templates show answers when ``key``.

    Parts are numbered as a class refers to them: 1 derives the gradients (1.1 per parameter, 1.1a
    per step), then one part per update step (2 for epoch 1: 2.1 forward pass, 2.2 backward pass,
    2.3 gradients, 2.4 updates).  A derivation line is worth one point; an entry of an epoch, its
    points in the default rubric of ``symback check`` (one each), so the worksheet's total is what a
    teacher marking by hand and the gradebook count alike.  Its sentences are in the language of the
    document being made (`symback.i18n`: ``with using(Language("fa")): build(...)``)."""
    from ..check.rubric import Rubric

    d = model._derivation
    names = document.names_of(model)
    digits = model.digits
    nodes = {n.name: n for n in d.order if n.name}
    shown = [r for r in itertools.takewhile(lambda r: r.precision == MPMATH, history.steps)]
    derivations = _derivation_parts(model, d, names, shown[0] if shown else None, digits)
    rubric = Rubric()
    epochs = [_epoch_part(model, r, k, names, nodes, digits, rubric) for k, r in enumerate(shown, start=2)]
    derivation_points = sum(float(g["points"]) for g in derivations)
    parts = [{"number": "1", "title": _("Derive the gradients"), "points": _points(derivation_points),
              "worth": _worth(derivation_points)}]
    parts += [{"number": e["number"], "title": e["title"], "points": e["points"], "worth": e["worth"]} for e in epochs]
    title = model.title or document.default_title(model)
    return {
        "name": model.name,
        "title": title,
        "variant": variant.index if variant else None,
        "seed": seed,
        "digits": digits,
        "convention": document.convention(model),
        "first_step": document.first_step(model),
        "optimizer": document.optimizer_sentence(model),
        "epochs_count": model.epochs,
        "equations": document.equations(model, d, names),
        "normalisations": document.normalisations(model, d, names),
        "params": document.parameter_table(model, names, digits),
        "data": document.data_table(model, names, digits),
        "derivations": derivations,
        "epochs": epochs,
        "parts": parts,
        "total_points": _points(sum(float(p["points"]) for p in parts)),
        "more_steps": history.total_steps - len(shown),
        "writing_lines": WRITING_LINES,
        "blank_line": r"\underline{\hspace{12em}}",
    }


# -- the answers files ---------------------------------------------------------------------


def solution_yaml(model, history, filled: bool, model_file: str, variant: Variant | None = None) -> str:
    """The answers file for ``symback check``: every field ``~`` (empty), or the exact answers rounded."""
    digits = model.digits
    what = "Answers" if filled else "Solution"
    label = f" (variant {variant.index})" if variant else ""
    out = [f"# {what} for {model.title or model.name}{label}: symback check {model_file} <this file>"]
    if not filled:
        out += ["# Replace each ~ by your value: a number, a fraction such as 3/10, or arithmetic such as",
                "# 0.1*(4.47-6). Leave ~ where you did not compute a value; it is not judged.",
                "# formulas: a gradient in the model's names: @ a matrix product, * elementwise, .T a transpose,",
                '#   step(z) relu\'s derivative, e.g. "a.T @ (d * (1 - a * a))" (not an answer of this exercise).']
    out.append("epochs:")

    def cell(v) -> str:
        return number(v, digits) if filled else "~"

    def tensor(value) -> str:
        m = np.asarray(value, dtype=object)
        if m.shape == (1, 1):
            return cell(m[0, 0])
        return "[" + ", ".join("[" + ", ".join(cell(v) for v in row) + "]" for row in m) + "]"

    for r in history.steps:
        if r.precision != MPMATH:
            break
        key = f"{r.epoch}" if r.sample is None else f'"{r.epoch}.{r.sample}"'
        out.append(f"  {key}:")
        for section, values in _sections(model, r):
            out.append(f"    {section}:")
            out += [f"      {name}: {tensor(v)}" for name, v in values.items()]
    out.append("formulas:")
    for name in model._derivation.gradients:
        formula = f'"{_formula_hint(model, name)}"' if filled else "~"
        out.append(f"  {name}: {formula}")
    return "\n".join(out) + "\n"


def _sections(model, r) -> list[tuple[str, dict]]:
    """An update step's values in computation order, as the worksheet asks them: forward values, the δ
    of each named quantity from the loss back, gradients, updates (a model without named intermediates
    has no δ section)."""
    deltas = {n.name: r.deltas[n.name] for n in reversed(model.program.named_deltas) if n.name in r.deltas}
    out = [("forward", r.forward), ("deltas", deltas), ("grads", r.grads), ("updated", r.updated)]
    return [(section, values) for section, values in out if values]


def _formula_hint(model, name: str) -> str:
    """The gradient in the model's names, as a solution file writes it (``@``, ``.T``, ``*``)."""
    from ..numeric.printing import code

    return code(model._derivation.gradients[name].closed)


def variant_folder(out: Path, variant: Variant | None) -> Path:
    return out if variant is None else out / f"variant-{variant.index:02d}"
