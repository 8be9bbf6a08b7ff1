"""Training: the epochs of gradient descent, with the notes a student needs.

Two runs of the same program: the first steps (those shown in tables) at 50 digits, and
every step in float64 for the loss curve and long runs — 10,000 epochs of a small
network take about a second.  An update step is one epoch with full-batch data, or one
sample with ``samples(...)`` data (stochastic gradient descent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

import mpmath
import numpy as np
import sympy as sp

from ..engine.graph import Tensor, describe_op
from ..errors import ModelError
from ..i18n import N_
from .formatting import entry_text
from .optim import OPTIMIZERS
from .program import DIGITS, FLOAT64, MPMATH, ZERO_TOLERANCE, mp_sqrt, to_float, to_mp

#: steps computed at high precision and kept in full
HIGH_PRECISION_STEPS = 20
#: with more steps than that, the last ones kept too
TAIL_STEPS = 5


@dataclass
class StepRecord:
    """One update step: what went in, what came out."""

    epoch: int
    sample: int | None  # 1-based, with samples(...) data
    precision: str
    params: dict[str, np.ndarray]
    forward: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    updated: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    deltas: dict[str, np.ndarray] = field(default_factory=dict)  # δ = ∂L/∂(named intermediate)
    # the optimizer's state of each parameter before and after the step: momentum's buffer "buf", Adam's
    # moments "m", "v" and step count "t" (empty for plain gradient descent)
    state: dict[str, dict[str, dict]] = field(default_factory=dict)
    loss_value: float = float("nan")
    stopped: str | None = None  # why training stops after this step (a value that is not finite)

    @property
    def loss(self):
        return self.forward["loss"] if "loss" in self.forward else next(reversed(self.forward.values()))


@dataclass
class History:
    steps: list[StepRecord]  # shown steps (all, or the first and the last ones)
    losses: list[float]  # loss of every step, float64
    steps_per_epoch: int
    total_steps: int
    stopped: str | None = None  # why training stopped early

    @property
    def elided(self) -> bool:
        return len(self.steps) < len(self.losses)



def _number(x, precision):
    x = sp.Rational(x)
    return mpmath.mpf(x.p) / x.q if precision == MPMATH else float(x.p) / float(x.q)


def train(model, epochs: int, lr, progress=None) -> History:
    """Train ``model`` for ``epochs`` epochs from its initial values.

    ``progress(done, total)``, if given, is called as update steps are done (about 200 times in all)."""
    per_epoch = model.samples
    total = epochs * per_epoch
    shown_mp = total if total <= HIGH_PRECISION_STEPS else HIGH_PRECISION_STEPS // 2
    keep_tail = 0 if total <= HIGH_PRECISION_STEPS else TAIL_STEPS

    records: list[StepRecord] = []
    work = shown_mp + total
    report = (lambda offset: lambda k: progress(offset + k, work)) if progress else (lambda offset: None)
    with mpmath.workdps(DIGITS):
        mp_records, mp_losses, mp_stop = _run(model, lr, shown_mp, per_epoch, MPMATH, keep=range(shown_mp),
                                              progress=report(0), every=max(1, work // 200))
    records += mp_records
    tail = range(max(shown_mp, total - keep_tail), total)
    float_records, losses, stopped = _run(model, lr, total, per_epoch, FLOAT64, keep=tail,
                                          progress=report(shown_mp), every=max(1, work // 200))
    records += float_records
    # where both ran, the 50-digit loss (rounded once) is the one kept: it does not depend on the CPU's libm
    losses[: len(mp_losses)] = mp_losses
    stopped = mp_stop or stopped
    return History(records, losses, per_epoch, total, stopped)


def _run(model, lr, steps: int, per_epoch: int, precision: str, keep, progress=None,
         every: int = 1) -> tuple[list, list, str | None]:
    records, losses = [], []
    keep = set(keep)
    for k, record in enumerate(islice(iter_steps(model, lr, precision), steps)):
        if progress and (k + 1) % every == 0:
            progress(k + 1)
        losses.append(record.loss_value)
        if k in keep or record.stopped:
            records.append(record)
        if record.stopped:
            return records, losses, record.stopped
    return records, losses, None


def iter_steps(model, lr, precision: str):
    """Every update step from the model's initial values, in order, for as long as it is asked:
    `StepRecord`s (their ``loss_value`` a float, ``stopped`` the reason when a value is not
    finite — the last step yielded).  The checker reads as many as a solution needs."""
    program = model.program
    leaves = program.leaves
    per_epoch = model.samples
    convert = to_mp if precision == MPMATH else (lambda v: np.array(v, dtype=np.float64))
    sqrt = mp_sqrt if precision == MPMATH else np.sqrt
    current = {leaf: convert(leaf.value) for leaf in leaves}
    trainable = program.trainable
    options = {k: _number(getattr(model, k), precision) for k in ("beta", "beta1", "beta2", "eps")}
    optimizer = OPTIMIZERS[model.optimizer](lr=_number(lr, precision), **options)
    states = {p: {} for p in trainable}
    sample_data = [leaf for leaf in leaves if leaf.samples is not None]
    k = 0
    while True:
        epoch, sample = divmod(k, per_epoch)
        for leaf in sample_data:
            current[leaf] = convert(leaf.samples[sample])
        values, grads = program.full([current[leaf] for leaf in leaves], precision)
        if k == 0:
            defined_at_start(model, values)
        loss_value = float(values[model.loss][0, 0])
        before = {p: dict(states[p]) for p in trainable}
        with mpmath.workdps(DIGITS):
            updated = {p: optimizer.step(current[p], grads[p], states[p], sqrt) for p in trainable}
        bad = not np.isfinite(loss_value) or any(not np.all(np.isfinite(to_float(u))) for u in updated.values())
        record = StepRecord(
            epoch=epoch + 1,
            sample=sample + 1 if sample_data else None,
            precision=precision,
            params={p.name: current[p] for p in model.params},
            forward={n.name: v for n, v in values.items() if not n.is_leaf and n.name},
            grads={p.name: grads[p] for p in trainable},
            updated={p.name: updated[p] for p in trainable},
            notes=notes(model, values, grads, precision),
            deltas={n.name: grads[n] for n in program.named_deltas},
            state={p.name: {"before": before[p], "after": dict(states[p])} for p in trainable if states[p]},
        )
        record.loss_value = loss_value
        if bad:
            where = N_("epoch %(epoch)s, sample %(sample)s", epoch=epoch + 1, sample=sample + 1) if sample_data \
                else N_("epoch %(epoch)s", epoch=epoch + 1)
            if not np.isfinite(loss_value):
                record.stopped = N_("the loss is not finite at %(step)s: training stopped (try a smaller learning "
                                    "rate)", step=where)
            else:
                record.stopped = N_("an updated parameter is not finite at %(step)s: training stopped (try a smaller "
                                    "learning rate)", step=where)
            record.notes.append(record.stopped)
            yield record
            return
        yield record
        current.update(updated)
        k += 1


def defined_at_start(model, values: dict) -> None:
    """Raise `ModelError` if the loss is not a finite real number at the initial values (a log of a
    negative parameter, a 0 divided by 0), naming the first operation whose value is not."""
    for node in model.program.nodes:
        value = np.asarray(to_float(values[node]))
        if np.all(np.isfinite(value)) or any(not np.all(np.isfinite(to_float(values[a]))) for a in node.args):
            continue
        i, j = map(int, np.argwhere(~np.isfinite(value))[0])
        what = f"{node.name} = {describe_op(node)}" if node.name else describe_op(node)
        entry = "" if value.size == 1 else f" (entry [{i + 1}, {j + 1}])"
        operands = ", ".join(f"{a.name or describe_op(a)} = {_fmt(_entry(values[a], i, j))}" for a in node.args
                             if a.kind != "const")
        kind = "not a real number" if np.isnan(value[i, j]) else "infinite"
        raise ModelError(f"{what} is {kind} at the initial values{entry}"
                         + (f", where {operands}" if operands else "")
                         + "; the loss must be defined where training starts",
                         file=str(model.source_path) if getattr(model, "source_path", None) else None)


def _entry(value, i: int, j: int):
    value = np.asarray(value)
    return value[min(i, value.shape[0] - 1), min(j, value.shape[1] - 1)]


def _sign(v, precision) -> int:
    if precision == MPMATH:
        return 0 if abs(v) <= ZERO_TOLERANCE else (1 if v > 0 else -1)
    return 0 if v == 0 else (1 if v > 0 else -1)


def _fmt(v) -> str:
    return mpmath.nstr(mpmath.mpf(v), 4) if not isinstance(v, float) else f"{v:.4g}"


def _unwrapped(text: str) -> str:
    """``(X @ W1) + b1`` for ``((X @ W1) + b1)``: the outer parentheses, when they enclose it all."""
    depth = 0
    for k, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if depth == 0 and k < len(text) - 1:
            return text
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _exact(r) -> str:
    """An exact number as a teacher writes it: 0.1 where it is a short decimal, else 1/3."""
    r = sp.Rational(r)
    as_decimal = repr(float(r))
    return as_decimal.removesuffix(".0") if sp.Rational(as_decimal) == r else f"{r.p}/{r.q}"


def notes(model, values: dict, grads: dict, precision: str) -> list[str]:
    """Relu units that are inactive or at their kink, and parameters that get no gradient: English
    sentences (``result.json``, the terminal) that a document shows in its language (`i18n.Message`)."""
    out = []
    for node in values:
        if node.is_leaf or node.op != "apply" or node.attrs["fn"] not in ("relu", "leaky_relu"):
            continue
        arg = node.args[0]
        label = arg.name or _unwrapped(describe_op(arg))  # the model's own name, or the expression as written
        entries = np.asarray(values[arg], dtype=object).ravel()
        signs = [_sign(v, precision) for v in entries]
        if any(s == 0 for s in signs):
            shape = np.asarray(values[arg]).shape
            at = ", ".join(entry_text("", *divmod(k, shape[1]), shape) for k, s in enumerate(signs) if s == 0)
            c = model.relu_grad_at_zero
            rule = f"relu′(0) = {_exact(c)}"
            if node.attrs["fn"] == "leaky_relu":  # one definition with the rule and the elementwise check
                alpha = node.attrs["params"][0]
                why = N_("%(value)s: %(formula)s with the slope %(alpha)s and %(rule)s",
                         value=_exact(alpha + (1 - alpha) * c), formula="α + (1 − α)·relu′(0)",
                         alpha=f"α = {_exact(alpha)}", rule=rule)
            else:
                why = N_("%(value)s by the convention %(rule)s", value=_exact(c), rule=rule)
            zeros = sum(1 for s in signs if s == 0)
            what = {"fn": node.attrs["fn"], "label": label, "why": why}
            if not at:
                out.append(N_("%(fn)s argument %(label)s is exactly 0: its derivative there is %(why)s", **what))
            elif zeros == 1:
                out.append(N_("%(fn)s argument %(label)s is exactly 0 at entry %(at)s: its derivative there is "
                              "%(why)s", at=at, **what))
            else:
                out.append(N_("%(fn)s argument %(label)s is exactly 0 at entries %(at)s: its derivative there is "
                              "%(why)s", at=at, **what))
        if node.attrs["fn"] == "relu" and all(s < 0 for s in signs):
            upstream = _upstream_params(arg, model)
            starved = [p.name for p in upstream if p in grads and not np.any(to_float(grads[p]))]
            value = f"{label} = {_fmt(entries[0])} < 0" if len(entries) == 1 else \
                N_("every entry of %(label)s < 0", label=label)
            if starved:
                out.append(N_("relu inactive (%(value)s): no gradient reaches %(params)s this epoch", value=value,
                              params=", ".join(starved)))
            else:
                out.append(N_("relu inactive (%(value)s)", value=value))
        elif node.attrs["fn"] == "relu" and any(s < 0 for s in signs):
            shape = np.asarray(values[arg]).shape
            dead = [entry_text("", *divmod(k, shape[1]), shape) for k, s in enumerate(signs) if s < 0]
            # a feature map's hundreds of units: the first few, then how many more
            listed = ", ".join(dead[:SHOWN_UNITS]) + (f", … (+{len(dead) - SHOWN_UNITS})" if len(dead) > SHOWN_UNITS else "")
            counts = {"dead": len(dead), "units": len(signs), "entries": listed}
            if node.name:  # the quantity by its name, not its definition in Python: H, not relu((X @ W1) + b1)
                out.append(N_("%(name)s: %(dead)s of %(units)s relu units inactive, entries %(entries)s",
                              name=node.name, **counts))
            else:
                out.append(N_("%(relu)s: %(dead)s of %(units)s units inactive, entries %(entries)s",
                              relu=f"relu({label})", **counts))
    return out


#: inactive relu units a note lists by entry
SHOWN_UNITS = 8


def _upstream_params(node: Tensor, model) -> list[Tensor]:
    from ..engine.graph import topological_order

    return [n for n in topological_order(node) if n.kind == "param" and n in model.trainable]
