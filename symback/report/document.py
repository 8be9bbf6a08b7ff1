"""The worked solution as data: every section of a report, ready for the templates.

`build` turns a model, its verification and its training history into one dictionary of
plain values — strings, numbers, lists — in the order of SPEC §3: model, graph, derivation,
verification, training, loss curve.  Mathematics is LaTeX (GitHub's Markdown renders the
same LaTeX, so both formats share it); sentences are plain Unicode text, escaped by each
format's filters.  Nothing here knows about a file format.  Sentences are in the language of
the document being made (`symback.i18n`: ``with using(Language("fa")): build(...)``).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine.derive import tidy
from ..engine.explicit import entry_size, explicit
from ..engine.expr import InvStd, Normalize
from ..i18n import N_, _, ngettext, num
from ..i18n import formula as rule_sentence
from ..numeric.formatting import (
    entry_latex,
    entry_text,
    matrix_latex,
    matrix_text,
    number,
    number_latex,
    number_unicode,
    setting,
    setting_latex,
    shape_latex,
    shape_text,
)
from ..numeric.printing import _sum_order, juxtaposed, latex, latex_shaped, text
from ..numeric.printing import latex_names as names_of
from .figures import epoch_means, quantity_graph, thin

#: tensors with at most this many entries get their gradient written entry by entry
ELEMENTWISE_ENTRIES = 6
#: longest LaTeX of a closed form that is shown (longer ones: substitute the δ of the steps)
CLOSED_CHARS = 300
#: longest LaTeX of one entry's formula that is shown
ENTRY_CHARS = 200
#: entries are expanded only when each has at most this many terms and factors (``entry_size``);
#: longer ones would not be shown (ENTRY_CHARS), and expanding a deep chain's took minutes
ENTRY_TERMS = 400
#: values are written into the graph's boxes for tensors with at most this many entries
GRAPH_ENTRIES = 6
#: rows of one table in the PDF (a longer one is continued in another, which may start a new page: a
#: table in one box ran off the page and lost its last rows)
TABLE_ROWS = 8
#: layers of the graph in one picture (a deeper graph is drawn in parts, each readable on a page)
GRAPH_LAYERS = 6


def build(model, verification, history) -> dict:
    """Everything a derivation report shows, in reading order."""
    d = model._derivation
    names = names_of(model)
    digits = model.digits
    first = history.steps[0] if history.steps else None
    return {
        "name": model.name,
        "title": model.title or default_title(model),
        "digits": digits,
        "entry_chars": ENTRY_CHARS,
        "table_rows": TABLE_ROWS,
        "convention": convention(model),
        "optimizer": optimizer_sentence(model),
        "first_step": first_step(model),
        "sgd": model.optimizer == "sgd",
        "optimizer_kind": model.optimizer,
        "epochs_count": model.epochs,
        "warnings": list(model.warnings),
        "equations": equations(model, d, names),
        "normalisations": normalisations(model, d, names),
        "params": parameter_table(model, names, digits),
        "data": data_table(model, names, digits),
        "graph": graph(model, d, names, first, digits),
        "derivations": derivations(model, d, names, first, digits),
        "verification": verification_rows(verification, names, digits),
        "verified": verification.ok,
        "epochs": epoch_tables(model, history, names, digits),
        "training": {
            "total_steps": history.total_steps,
            "steps_per_epoch": history.steps_per_epoch,
            "shown_steps": len(history.steps),
            "elided": history.elided,
            "stopped": history.stopped,
            "unit": "update step" if history.steps_per_epoch > 1 else "epoch",
        },
        "loss_curve": loss_curve(history),
        "summary": summary(model, history, names, digits),
    }


# -- model ----------------------------------------------------------------------------


def default_title(model) -> str:
    """The title of a model's documents when the model file gives none."""
    return _("Backpropagation: %(name)s", name=model.name)


def first_step(model) -> str:
    """How the steps' numbers name the update step they come from: epoch 1, or epoch 1, sample 1."""
    if model.samples > 1:
        return _("epoch %(epoch)s, sample %(sample)s", epoch=num(1), sample=num(1))
    return _("epoch %(epoch)s", epoch=num(1))


def convention(model) -> str:
    """The derivative at 0 the exercise uses, for relu and for each slope α of leaky_relu (α + (1 − α)·relu′(0),
    the rule's value; PyTorch takes 0 for relu and α for leaky_relu); "" for a model with neither."""
    fns = [n for n in model.program.nodes if n.op == "apply" and n.attrs.get("fn") in ("relu", "leaky_relu")]
    value = sp.Rational(model.relu_grad_at_zero)
    parts = []
    if any(n.attrs["fn"] == "relu" for n in fns):
        rule = f"relu′(0) = {setting(value)}"
        parts.append(_("%(rule)s (as PyTorch)", rule=rule) if value == 0 else _("%(rule)s (PyTorch uses 0)", rule=rule))
    for alpha in dict.fromkeys(sp.Rational(n.attrs["params"][0]) for n in fns if n.attrs["fn"] == "leaky_relu"):
        at_zero = alpha + (1 - alpha) * value
        slope, leaky = f"α = {setting(alpha)}", f"leaky relu′(0) = {setting(at_zero)}"
        rule = _("%(rule)s with %(alpha)s", rule=leaky, alpha=slope)
        parts.append(_("%(rule)s (as PyTorch)", rule=rule) if at_zero == alpha
                     else _("%(rule)s (PyTorch uses %(alpha)s)", rule=rule, alpha=slope))
    return "; ".join(parts)


def optimizer_sentence(model) -> str:
    """The optimizer and its settings, as a sentence (the formulas stay as they are in every language)."""
    lr = "η = " + setting(model.lr)
    if model.optimizer == "sgd":
        return _("gradient descent: %(rule)s with %(lr)s", rule="p ← p − η ∂L/∂p", lr=lr)
    if model.optimizer == "momentum":
        return _("gradient descent with momentum (as torch.optim.SGD): %(first)s at the first step, then "
                 "%(then)s; %(update)s, with %(settings)s", first="b ← ∂L/∂p", then="b ← β b + ∂L/∂p",
                 update="p ← p − η b", settings=lr + ", β = " + setting(model.beta))
    settings = f"{lr}, β₁ = {setting(model.beta1)}, β₂ = {setting(model.beta2)}, ε = {setting(model.eps)}"
    return _("Adam (as torch.optim.Adam) with %(settings)s", settings=settings)


def equations(model, d, names) -> list[dict]:
    out = []
    for node in d.order:
        if node in d.forward_defs and node.name:
            definition = tidy(d.forward_defs[node].xreplace(d.anonymous_values))
            out.append({"name": node.name, "lhs": names[node.name], "rhs": latex(definition, names),
                        "text": f"{node.name} = {text(definition)}",
                        "shape": shape_latex(node.shape), "shape_text": shape_text(node.shape),
                        "is_loss": node is model.loss})
    return out


def normalisations(model, d, names) -> list[dict]:
    """What the model's x̂ means, once per normalisation: ``definition``, the display x̂ = (x − μ)/σ with
    σ = √(var + ε) (the 1/σ of the three-term gradient), and for the sentence under it ``mean``, ``variance``,
    the normalised quantity ``x``, ``n`` (the variance divides by n, as PyTorch) and ``axis`` (0: each column
    over the batch, batch norm; 1: each row, layer norm)."""
    out, seen = [], set()
    for node in d.order:
        if node not in d.forward_defs:
            continue
        for e in sp.preorder_traversal(d.forward_defs[node].xreplace(d.anonymous_values)):
            if not isinstance(e, Normalize) or e in seen:
                continue
            seen.add(e)
            x = latex(e.arg, names)
            mean, sigma, variance = rf"\mu_{{{x}}}", rf"\sigma_{{{x}}}", rf"\operatorname{{var}}_{{{x}}}"
            operand = x if isinstance(e.arg, sp.MatrixSymbol) else rf"\left({x}\right)"
            out.append({"definition": rf"{latex(e, names)} = \frac{{{operand} - {mean}}}{{{sigma}}}, \quad "
                                      rf"{sigma} = \sqrt{{{variance} + \varepsilon}}, \quad "
                                      rf"\varepsilon = {setting_latex(e.eps)}",
                        "mean": mean, "variance": variance, "x": x, "axis": e.axis,
                        "n": int(e.arg.shape[0] if e.axis == 0 else e.arg.shape[1])})
    return out


def parameter_table(model, names, digits) -> list[dict]:
    return [{"name": p.name, "latex": names[p.name], "shape": shape_latex(p.shape), "shape_text": shape_text(p.shape),
             "value": matrix_latex(p.value, digits), "value_text": matrix_text(p.value, digits),
             "frozen": p in model.frozen}
            for p in model.params]


#: samples of a per-sample data tensor listed in the model's table (each is a row)
SHOWN_SAMPLES = 12


def data_table(model, names, digits) -> list[dict]:
    """One row per data tensor, or per sample of one given as ``samples(...)`` (the first SHOWN_SAMPLES):
    ``shown`` holds that sample's value, ``sample`` its 1-based number, ``samples`` how many there are."""
    rows = []
    for t in model.data:
        samples = t.samples if t.samples is not None else [t.value]
        for k, value in enumerate(samples[:SHOWN_SAMPLES], start=1):
            rows.append({"name": t.name, "latex": names[t.name], "shape": shape_latex(t.shape),
                         "shape_text": shape_text(t.shape), "samples": len(samples), "sample": k,
                         "shown": [matrix_latex(value, digits)], "shown_text": [matrix_text(value, digits)]})
    return rows


def step_data(model, record, names, digits) -> list[dict]:
    """The data a per-sample update step uses (its sample of each ``samples(...)`` tensor); [] for full batch."""
    if record.sample is None:
        return []
    return [{"name": t.name, "latex": names[t.name], "value": matrix_latex(t.samples[record.sample - 1], digits)}
            for t in model.data if t.samples is not None]


# -- graph ----------------------------------------------------------------------------


def graph(model, d, names, first, digits) -> dict:
    layout = quantity_graph(model.loss, d.order)
    eq = {e["name"]: e for e in equations(model, d, names)}
    nodes = []
    for g in layout:
        n = g.node
        small = n.shape[0] * n.shape[1] <= GRAPH_ENTRIES
        value = delta = None
        if first is not None:
            value = first.params.get(n.name) if n.kind == "param" else first.forward.get(n.name)
            if n.kind == "data":
                value = n.samples[0] if n.samples is not None else n.value
            delta = first.grads.get(n.name, first.deltas.get(n.name))
            if n is model.loss:
                delta = sp.Matrix([[1]])
        nodes.append({
            "id": n.name, "latex": names[n.name], "kind": n.kind, "layer": g.layer, "position": g.position,
            "shape": shape_latex(n.shape), "shape_text": shape_text(n.shape),
            "equation": eq[n.name]["rhs"] if n.name in eq else None,
            "equation_text": eq[n.name]["text"] if n.name in eq else None,
            "value": matrix_latex(value, digits) if small and value is not None else None,
            "value_text": matrix_text(value, digits) if small and value is not None else None,
            "delta": matrix_latex(delta, digits) if small and delta is not None else None,
            "delta_text": matrix_text(delta, digits) if small and delta is not None else None,
            "rows": n.shape[0] if small else 0,
            "inputs": [a.name for a in g.inputs],
        })
    layers: dict[int, list[dict]] = {}
    for n in nodes:
        layers.setdefault(n["layer"], []).append(n)
    ordered = [layers[k] for k in sorted(layers)]
    return {"nodes": nodes, "layers": ordered, "edges": [(a, n["id"]) for n in nodes for a in n["inputs"]],
            "parts": _graph_parts(ordered, names), "part_layers": GRAPH_LAYERS,
            "entries": GRAPH_ENTRIES, "unvalued": any(n["rows"] == 0 for n in nodes)}


def _graph_parts(layers: list[list[dict]], names) -> list[dict]:
    """The graph in pictures of at most GRAPH_LAYERS layers, each readable on its own page.

    A part after the first starts with a row of small boxes naming the quantities from the parts
    above that it uses (``kind`` "above"); its edges start there.  An edge that skips layers passes
    through a waypoint (``kind`` "via", an empty cell) in each layer between, placed at the same
    relative position as its source, so it runs in the gaps between boxes, never under one (the
    dummy nodes of layered graph drawing, Sugiyama et al. 1981).  Each edge is a source, the
    waypoints, and a target, with the 1-based row of each in the picture."""
    parts = []
    for start in range(0, len(layers), GRAPH_LAYERS):
        chunk = layers[start:start + GRAPH_LAYERS]
        here = {n["id"] for layer in chunk for n in layer}
        above = list(dict.fromkeys(a for layer in chunk for n in layer for a in n["inputs"] if a not in here))
        stubs = [{"id": f"above-{a}", "latex": names[a], "kind": "above"} for a in above]
        rows = [list(layer) for layer in ([stubs] if stubs else []) + chunk]
        row_of = {n["id"]: k for k, layer in enumerate(rows) for n in layer}
        edges = []
        for k, layer in enumerate(rows):
            for n in layer:
                for a in n.get("inputs", []):
                    source = a if a in here else f"above-{a}"
                    first = row_of[source]
                    where = rows[first].index(next(m for m in rows[first] if m["id"] == source)) / max(1, len(rows[first]) - 1)
                    via = []
                    for between in range(first + 1, k):
                        waypoint = {"id": f"via-{len(edges)}-{between}", "kind": "via"}
                        rows[between].insert(round(where * len(rows[between])), waypoint)
                        via.append({"id": waypoint["id"], "row": between + 1})
                    edges.append({"source": source, "source_row": first + 1, "via": via,
                                  "target": n["id"], "target_row": k + 1})
        parts.append({"layers": rows, "edges": edges})
    return parts


# -- derivation -----------------------------------------------------------------------


def _rules(step) -> list[str]:
    """The sentences of the rules a step used, each once, in the document's language (a sentence built
    from a node's settings, relu′ at 0, has no entry in the catalog and stays as the rule says it)."""
    seen, out = set(), []
    for _rule, says in step.rules:
        if says not in seen:
            seen.add(says)
            out.append(rule_sentence(says))
    return out


def derivations(model, d, names, first=None, digits: int = 4) -> list[dict]:
    """Per parameter: its chain of steps, each written out once in the report (``repeat`` marks a
    step an earlier parameter showed; ``quoted``, those of them the new lines use, quoted "from
    above" — all of them would make a chain's report quadratic in its depth)."""
    shown: set[str] = set()
    printed: dict = {}  # a step's printed forms, shared by every parameter whose chain holds it
    values = _values_at(model, d, first) if first is not None else None
    out = []
    for name, g in d.gradients.items():
        steps = []
        for s in g.steps[:-1]:
            node = s.node.name
            if node not in printed:
                printed[node] = {"node": node, "lhs": rf"\delta_{{{names[node]}}}",
                                 "partial": rf"\frac{{\partial L}}{{\partial {names[node]}}}",
                                 "rhs": latex_shaped(s.formula, names), "rhs_plain": latex(s.formula, names),
                                 "text": f"δ_{node} = {text(s.formula)}",
                                 "shape": shape_latex(s.node.shape), "rules": _rules(s),
                                 **_numbers(s.formula, d.delta[s.node], values, names, digits)}
            steps.append({**printed[node], "repeat": node in shown})
            shown.add(node)
        used = set().union(*(s.formula.free_symbols for s, row in zip(g.steps, [*steps, None])
                             if row is None or not row["repeat"]))
        for s, row in zip(g.steps, steps):
            row["quoted"] = row["repeat"] and d.delta[s.node] in used
        last = g.steps[-1]
        closed = latex(g.closed, names) if g.short else None
        entries = elementwise(g, d, names)
        final = latex_shaped(last.formula, names)
        out.append({
            "name": name, "latex": names[name], "shape": shape_latex(g.param.shape),
            "shape_text": shape_text(g.param.shape),
            "lhs": rf"\frac{{\partial L}}{{\partial {names[name]}}}",
            "lhs_inline": rf"\partial L / \partial {names[name]}",
            "steps": steps,
            "final": final, "final_text": text(last.formula), "final_rules": _rules(last),
            **{f"final_{k}": v for k, v in _numbers(last.formula, d.delta[g.param], values, names, digits).items()},
            "closed": closed if closed and closed != latex(last.formula, names) and len(closed) <= CLOSED_CHARS
            else None,
            "closed_omitted": closed is None or len(closed) > CLOSED_CHARS,
            "closed_text": text(g.closed) if closed else None,
            "substituted": _short(latex(g.substituted, names)) if g.substituted is not None else None,
            "elementwise": entries,
            "elementwise_omitted": _entrywise(g.param.shape) and entries is None,
        })
    return out


#: a formula in the parameters and data alone is shown only when its LaTeX is this short
SUBSTITUTED_CHARS = 240


def _short(formula: str) -> str | None:
    return formula if len(formula) <= SUBSTITUTED_CHARS and formula else None


def _entrywise(shape) -> bool:
    rows, cols = shape
    return rows * cols <= ELEMENTWISE_ENTRIES and (rows, cols) != (1, 1)


def elementwise(g, d, names) -> list[dict] | None:
    """∂L/∂p_ij written out entry by entry, in the entries of the named quantities.

    The closed form where its entries are short (the seed's ``w_{2,j} x_i (1 − h_j²) (out − 6)
    step(z)``), else the last step's form in the entries of the nearest δ, else nothing.
    """
    rows, cols = g.param.shape
    if not _entrywise(g.param.shape):
        return None
    for formula in ((g.closed,) if g.short else ()) + (g.formula,):
        if entry_size(formula, {}) > ENTRY_TERMS:
            continue
        env, entry_names, free = {}, {}, formula.free_symbols
        for node, symbol in [*d.value.items(), *d.delta.items()]:
            if not node.name or not isinstance(symbol, sp.MatrixSymbol) or symbol not in free:
                continue
            label = names[node.name] if symbol is d.value[node] else rf"\delta_{{{names[node.name]}}}"
            r, c = node.shape
            entries = [[sp.Symbol(f"{symbol.name}[{i},{j}]") for j in range(c)] for i in range(r)]
            env[symbol] = sp.ImmutableMatrix(entries)
            for i in range(r):
                for j in range(c):
                    entry_names[entries[i][j].name] = entry_latex(label, i, j, node.shape)
        try:
            matrix = explicit(formula, env)
        except KeyError:  # an anonymous quantity left in the formula
            continue
        printing_names = {**names, **entry_names}
        lines = [{"lhs": rf"\frac{{\partial L}}{{\partial {entry_latex(names[g.param.name], i, j, g.param.shape)}}}",
                  "rhs": latex(sp.factor_terms(matrix[i, j]), printing_names)}
                 for i in range(rows) for j in range(cols)]
        if all(len(line["rhs"]) <= ENTRY_CHARS for line in lines):
            return lines
    return None


# -- verification ---------------------------------------------------------------------


#: how SymPy's elementwise check was made (``verify.py``), as the report names it
METHODS = {"exact": N_("exact"), "random points": N_("random points"), "node by node": N_("node by node")}


def verification_rows(verification, names, digits) -> list[dict]:
    out = []
    for name, c in verification.params.items():
        if c.elementwise_ok is None:
            elementwise_text = _("skipped: %(reason)s", reason=c.reason)
        elif c.elementwise_ok:
            elementwise_text = _("agrees (%(method)s)", method=_(METHODS.get(c.elementwise_method, c.elementwise_method)))
        else:
            elementwise_text = _("DISAGREES")
        if c.fd_max_rel_err is None:
            fd_text = _("every entry at a kink (%(where)s): not judged", where=_where(c, c.kinks)) if c.kinks \
                else _("no entry judged") if c.fd_undefined else _("not computed")
        else:
            fd_text = _("max. rel. error %(error)s", error=number_unicode(c.fd_max_rel_err, 2))
        if c.kinks and c.fd_max_rel_err is not None:
            fd_text += _("; not judged at a kink (the step crosses it): %(where)s", where=_where(c, c.kinks))
        if c.fd_refined:
            fd_text += _("; %(entries)s differenced again at 50 digits (too small a derivative for double precision)",
                         entries=_entries(len(c.fd_refined)))
        if c.fd_undefined:
            fd_text += _("; NaN or infinite at %(entries)s (a step of the difference leaves where the loss is "
                         "defined): FAILED", entries=_entries(len(c.fd_undefined)))
        out.append({
            "name": name, "latex": names[name], "matrix": matrix_latex(c.matrix, digits),
            "matrix_text": matrix_text(c.matrix, digits),
            "elementwise": elementwise_text, "fd": fd_text, "ok": c.ok,
            "mismatches": [_("%(entry)s: matrix form %(matrix)s, SymPy %(sympy)s",
                             entry=entry_text(name, m.index[0], m.index[1], c.matrix.shape),
                             matrix=format(m.matrix, ".10g"), sympy=format(m.elementwise, ".10g"))
                           for m in c.mismatches],
        })
    return out


#: a step is shown again with epoch 1's numbers when its values have at most this many entries in all,
#: and at most this many columns of numbers side by side (what fits across a page at the body's size):
#: a 5×5 image correlated with a 4×4 δ into a 2×2 kernel's gradient (45), a 4×4 relu step (48)
NUMBERED_ENTRIES = 48
NUMBERED_COLUMNS = 12


def _values_at(model, d, record) -> dict:
    """Every symbol of the derivation with its value at ``record`` (epoch 1's first step): the named
    quantities, the parameters and data, and the δ of each named quantity (the loss's is 1)."""
    out = {}
    for node in d.order:
        if not node.name:
            continue
        if node.kind == "param":
            value = record.params.get(node.name)
        elif node.kind == "data":
            value = node.samples[(record.sample or 1) - 1] if node.samples is not None else node.value
        else:
            value = record.forward.get(node.name)
        if value is not None:
            out[d.value[node]] = value
        delta = sp.Matrix([[1]]) if node is model.loss else record.deltas.get(node.name, record.grads.get(node.name))
        if delta is not None and node in d.delta:
            out[d.delta[node]] = delta
    return out


def _numbers(formula, target, values, names, digits) -> dict:
    """The step with epoch 1's numbers substituted (``numbers``) and its value (``result``), as LaTeX;
    for a sum, also its terms one by one (``terms``: the first as it is, the others with their sign) for a
    line each when the whole is wider than the page — the contribution of each time step of a recurrent
    net's shared weight, each on its line.

    Every step whose value is known has its ``result``; ``numbers`` is None when the step only renames
    (∂L/∂b2 = δ_z: the numbers would be the result itself), or when the numbers are more than fit across a
    page at the body's size (NUMBERED_ENTRIES in all, NUMBERED_COLUMNS side by side, or in each term of a
    sum) — then the step is written with its result alone.  Both are None without values, or for a result
    too large to show.  A normalisation of known values (x̂, 1/σ) is written as its own numbers, as a
    student computes it first — a hat over Z's numbers would read as if they were x̂'s."""
    none = {"numbers": None, "result": None, "terms": None}
    result = values.get(target) if values is not None else None  # the δ of the step's quantity (a parameter's gradient)
    if result is None or _columns(result) > NUMBERED_COLUMNS or int(np.prod(np.shape(result))) > NUMBERED_ENTRIES:
        return none
    value = matrix_latex(result, digits)
    alone = {"numbers": None, "result": value, "terms": None}
    if isinstance(formula, sp.MatrixSymbol):  # δ_b2 = δ_z: nothing to compute
        return alone
    formula, values = _normalisations_valued(formula, values)
    symbols = sorted((x for x in formula.free_symbols if isinstance(x, sp.MatrixSymbol)), key=lambda x: x.name)
    if any(x not in values for x in symbols):
        return none
    shapes = [values[x] for x in symbols] + [result]
    if sum(int(np.prod(np.shape(v))) for v in shapes) > NUMBERED_ENTRIES:
        return alone
    # a placeholder of the symbol's own class, numbered in the symbols' order: SymPy orders the factors and
    # terms as in the symbolic line above it (δ first in a ⊙), so the two lines read alike
    placeholders = {x: type(x)(f"#{k}", *x.shape) for k, x in enumerate(symbols)}
    substituted = formula.xreplace(placeholders)

    def columns(e) -> int:  # columns of numbers side by side in ``e`` (each occurrence of a value)
        return sum(_columns(values[x]) * _occurrences(e, placeholders[x]) for x in symbols)

    # more columns than fit across a page at the body's size and the line would be shrunk unreadably; a sum
    # is set a term per line when the whole does not fit, so then each term must
    terms = _sum_order(substituted.args) if isinstance(substituted, sp.MatAdd) else None
    if columns(substituted) + _columns(result) > NUMBERED_COLUMNS and (
            terms is None or max(columns(t) for t in terms) > NUMBERED_COLUMNS):
        return alone
    shown = {placeholder.name: _operand(values[x], digits) for x, placeholder in placeholders.items()}
    printing = {**names, **shown}
    numbers = latex(substituted, printing)
    if numbers == value:
        return alone
    if terms is not None:
        printed = [latex(t, printing) for t in terms]
        terms = printed[:1] + [f"- {t[1:]}" if t.startswith("-") else f"+ {t}" for t in printed[1:]]
    return {"numbers": numbers, "result": value, "terms": terms}


def _normalisations_valued(formula, values) -> tuple:
    """``formula`` with each normalisation whose operands are known (x̂ = normalize(Z), 1/σ_Z) replaced by a
    symbol, and ``values`` with that symbol's value: the normalisation computed from the operands' values."""
    known = {}
    for e in sp.preorder_traversal(formula):
        if isinstance(e, (Normalize, InvStd)) and e not in known:
            operands = [x for x in e.free_symbols if isinstance(x, sp.MatrixSymbol)]
            if operands and all(x in values for x in operands):
                known[e] = explicit(e, {x: sp.ImmutableMatrix(values[x]) for x in operands})
    if not known:
        return formula, values
    # named after the operand, so that the symbols' order (and SymPy's of the terms) stays that of the line above
    symbols = {e: sp.MatrixSymbol(f"{min(x.name for x in e.free_symbols)}~{k}", *e.shape) for k, e in enumerate(known)}
    return formula.xreplace(symbols), {**values, **{symbols[e]: v for e, v in known.items()}}


def _columns(value) -> int:
    shape = np.shape(value)
    return int(shape[1]) if len(shape) == 2 else 1


def _occurrences(e, symbol) -> int:
    return sum(1 for a in sp.preorder_traversal(e) if a == symbol)


def _where(c, cells: list, shown: int = 6) -> str:
    """The entries, named as the model names them: W1[1,1], W1[2,1] (and how many more)."""
    names = [entry_text(c.name, i, j, c.matrix.shape) for i, j in cells[:shown]]
    more = _(" and %(n)s more", n=num(len(cells) - shown)) if len(cells) > shown else ""
    return ", ".join(names) + more


def _entries(count: int) -> str:
    return ngettext("%(num)s entry", "%(num)s entries", count)


# -- training -------------------------------------------------------------------------


def step_label(r) -> str:
    """An update step's heading: Epoch 2, or Epoch 2, sample 3."""
    if r.sample:
        return _("Epoch %(epoch)s, sample %(sample)s", epoch=num(r.epoch), sample=num(r.sample))
    return _("Epoch %(epoch)s", epoch=num(r.epoch))


def epoch_tables(model, history, names, digits) -> list[dict]:
    out = []
    previous = None
    named = [n for n in model._derivation.order if n.name and not n.is_leaf]
    lr = setting_latex(model.lr)
    for r in history.steps:
        index = (r.epoch - 1) * history.steps_per_epoch + (r.sample or 1)
        if previous is not None and index > previous + 1:
            out.append({"gap": _gap_sentence(previous + 1, index - 1, history.steps_per_epoch)})
        previous = index
        params = []
        for p in model.params:
            grad, updated = r.grads.get(p.name), r.updated.get(p.name)
            params.append({"name": p.name, "latex": names[p.name],
                           "used": matrix_latex(r.params[p.name], digits),
                           # gradient descent with the numbers: w − η g = (…) − 0.1 (…), the used value then this
                           "update_step": juxtaposed(["- " + lr, _operand(grad, digits)]) if grad is not None else None,
                           **_optimizer_state(model, r.state.get(p.name), grad, lr, digits),
                           "grad": matrix_latex(grad, digits) if grad is not None else None,
                           "updated": matrix_latex(updated, digits) if updated is not None else None,
                           "used_text": matrix_text(r.params[p.name], digits),
                           "grad_text": matrix_text(grad, digits) if grad is not None else None,
                           "updated_text": matrix_text(updated, digits) if updated is not None else None})
        forward = []
        for n in named:
            if n.name not in r.forward:
                continue
            delta = r.deltas.get(n.name)
            forward.append({"name": n.name, "latex": names[n.name], "shape": shape_latex(n.shape),
                            "value": matrix_latex(r.forward[n.name], digits),
                            "value_text": matrix_text(r.forward[n.name], digits),
                            "delta": "1" if n is model.loss else (matrix_latex(delta, digits) if delta is not None else None),
                            "is_loss": n is model.loss})
        loss = r.forward[model.loss.name]
        # the backward pass in the order it is computed: from the loss (δ = 1) back to the first quantity
        backward = [f for f in reversed(forward) if f["delta"] is not None]
        out.append({"gap": None, "label": step_label(r), "epoch": r.epoch, "sample": r.sample,
                    "data": step_data(model, r, names, digits),
                    "new_page": (r.sample or 1) == 1,
                    "precision": r.precision, "params": params, "forward": forward, "backward": backward,
                    "loss": number_latex(loss[0, 0], digits), "loss_text": number(loss[0, 0], digits),
                    "notes": list(r.notes)})
    return out


def _optimizer_state(model, state, grad, lr: str, digits: int) -> dict:
    """What momentum and Adam keep per parameter, for the update lines: momentum's buffer b (``buffer``,
    with its numbers ``buffer_numbers`` = β b + g after the first step, and ``update_step`` = − η b);
    Adam's moments ``m`` and ``v`` and its step count ``t``.  Source: torch.optim.SGD and torch.optim.Adam."""
    out = {"buffer": None, "buffer_numbers": None, "m": None, "v": None, "t": None, "m_numbers": None,
           "v_numbers": None}
    if not state or grad is None:
        return out
    before, after = state["before"], state["after"]
    if "buf" in after:
        out["buffer"] = matrix_latex(after["buf"], digits)
        if "buf" in before:
            out["buffer_numbers"] = juxtaposed([setting_latex(model.beta), _operand(before["buf"], digits)]) + \
                " + " + _operand(grad, digits)
        out["update_step"] = juxtaposed(["- " + lr, _operand(after["buf"], digits)])
    if "m" in after:
        out.update(m=matrix_latex(after["m"], digits), v=matrix_latex(after["v"], digits), t=int(after["t"]))
        # m ← β₁ m + (1 − β₁) g and v ← β₂ v + (1 − β₂) g², with the numbers (m = v = 0 before the first step)
        beta1, beta2 = sp.Rational(model.beta1), sp.Rational(model.beta2)
        g = _operand(grad, digits)
        squared = g + "^{2}"  # entrywise, as the update's sentence says
        out["m_numbers"] = " + ".join(
            ([juxtaposed([setting_latex(beta1), _operand(before["m"], digits)])] if "m" in before else [])
            + [juxtaposed([setting_latex(1 - beta1), g])])
        out["v_numbers"] = " + ".join(
            ([juxtaposed([setting_latex(beta2), _operand(before["v"], digits)])] if "v" in before else [])
            + [juxtaposed([setting_latex(1 - beta2), squared])])
    return out


def _operand(value, digits: int) -> str:
    """A value as a factor of a product: a negative number in parentheses, (−1.528)."""
    written = matrix_latex(value, digits)
    return r"\left(" + written + r"\right)" if written.startswith("-") else written


#: the loss table of the summary shows every epoch up to this many, else the first and the last ones
SUMMARY_EPOCHS = 24


def summary(model, history, names, digits) -> dict:
    """The last page: the loss of every epoch (the mean over its update steps), and each parameter's
    initial and final value."""
    means = epoch_means(history.losses, history.steps_per_epoch)
    shown = means if len(means) <= SUMMARY_EPOCHS else means[: SUMMARY_EPOCHS - 6] + [None] + means[-5:]
    losses = [None if m is None else {"epoch": m[0], "loss": number_latex(m[1], digits),
                                      "loss_text": number(m[1], digits)} for m in shown]
    last = history.steps[-1] if history.steps else None
    params = []
    for p in model.params:
        final = last.updated.get(p.name, last.params.get(p.name)) if last is not None else None
        params.append({"name": p.name, "latex": names[p.name], "frozen": p in model.frozen,
                       "initial": matrix_latex(p.value, digits), "initial_text": matrix_text(p.value, digits),
                       "final": matrix_latex(final, digits) if final is not None else None,
                       "final_text": matrix_text(final, digits) if final is not None else None})
    return {"losses": losses, "params": params, "epochs": len(means),
            "mean_loss": history.steps_per_epoch > 1}


def _gap_sentence(first: int, last: int, per_epoch: int) -> str:
    count = last - first + 1
    if per_epoch == 1:
        what = _("epoch %(first)s", first=num(first)) if count == 1 else \
            _("epochs %(first)s–%(last)s", first=num(first), last=num(last))
    else:
        what = _("update step %(first)s", first=num(first)) if count == 1 else \
            _("update steps %(first)s–%(last)s", first=num(first), last=num(last))
    return _("%(what)s (%(count)s in all) are not shown; the loss of every epoch is in the plot below "
             "and in result.json", what=what, count=num(count))


def loss_curve(history) -> dict:
    points = thin(epoch_means(history.losses, history.steps_per_epoch))
    finite = [(e, v) for e, v in points if v == v and abs(v) != float("inf")]
    values = [v for _, v in finite]
    log = bool(values) and min(values) > 0 and max(values) / min(values) > 100
    curve = {"points": finite, "log": log, "coordinates": [f"({e}, {v!r})" for e, v in finite]}
    if finite:
        low, high = min(values), max(values)
        if log:
            low, high = low / 1.5, high * 1.5
        else:
            # at least 10⁻⁴ of the loss either side: a loss that barely moves (lr 1e-9, vanishing gradients)
            # is drawn flat, not on a range its 6 printed digits (and pgfplots) cannot tell apart
            pad = max((high - low) * 0.08, abs(high) * 1e-4, 1e-12)
            low, high = low - pad, high + pad
        curve.update(xmin=1, xmax=max(2, finite[-1][0]), ymin=f"{low:.6g}", ymax=f"{high:.6g}",
                     xticks=_ticks(max(2, finite[-1][0])))
    return curve


def _ticks(last: int) -> list[int]:
    """Whole-number epoch ticks, a 1-2-5 step giving at most 10 of them."""
    step = 1
    while last / step > 10:
        for factor in (2, 5 / 2, 2):
            step = int(step * factor)
            if last / step <= 10:
                break
    return [1] + list(range(step, last + 1, step)) if step > 1 else list(range(1, last + 1))
