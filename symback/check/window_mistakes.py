"""The catalogue's mistakes of convolution, pooling and flatten, each the engine's own rule with its VJP changed.

* ``pool-routing``: a max-pool's δ given to every entry of its window, or shared equally as an average
  pool shares it; an average pool's δ given whole to every entry, or to the maximum only;
* ``kernel-rotation``: the input's gradient correlated with K instead of rot180(K), or the kernel's
  gradient turned by 180° (a convolution where the rule is a correlation);
* ``conv-stride``: a strided convolution's kernel gradient with the stride left out (X[i + a, j + b]
  instead of X[s·i + a, s·j + b]);
* ``flatten-order``: a flattened δ put back column by column instead of row by row.

The sentences are ``mistakes.py``'s (``MESSAGES``, ``TITLES``); the details here, in the model's names.
"""

from __future__ import annotations

from ..engine.expr import scaled, transpose
from ..engine.rules import RULES
from ..engine.windows import Correlate, Pad, PoolRoute, PoolSpread, Reshape, Rot180
from .mistakes import Mistake, _name


def window_mistakes(node, d) -> list[Mistake]:
    """The mistakes of one convolution, pooling or flatten node of derivation ``d``."""
    if node.op in ("max_pool2d", "avg_pool2d"):
        return _pool_mistakes(node)
    if node.op == "conv2d":
        return _conv_mistakes(node, d)
    rows, cols = node.args[0].shape
    if node.op == "flatten" and rows > 1 and cols > 1:
        return [Mistake("flatten-order", f"{_name(node.args[0], d.value[node.args[0]])} is {rows}×{cols}",
                        vjps={(node, 0): _column_by_column})]
    return []


def _window(ctx) -> tuple:
    return (*ctx.attrs["window"], *ctx.attrs["stride"])


def _shared(g, ctx):
    """Each window's δ shared equally among the window's entries (what an average pool does)."""
    return PoolSpread(g, *_window(ctx), *ctx.node.args[0].shape)


def _whole_to_every_entry(g, ctx):
    """Each window's whole δ to every entry of the window (overlapping windows adding up)."""
    kr, kc = ctx.attrs["window"]
    return scaled(kr * kc, _shared(g, ctx))


def _to_the_maximum(g, ctx):
    """Each window's δ to the window's maximum only (what a max pool does)."""
    return PoolRoute(ctx.args[0], g, *_window(ctx))


def _pool_mistakes(node) -> list[Mistake]:
    """δ through a pooling layer by another pool's rule, or to every entry of the window whole."""
    key = (node, 0)
    if node.op == "max_pool2d":
        return [Mistake("pool-routing", "max-pool gives each window's δ to the window's maximum only (0 to the other "
                        "entries), not to every entry of the window", vjps={key: _whole_to_every_entry}),
                Mistake("pool-routing", "max-pool gives each window's δ to the window's maximum only, not shared "
                        "equally among the window's entries as an average pool does", vjps={key: _shared})]
    kr, kc = node.attrs["window"]
    return [Mistake("pool-routing", f"average-pool shares each window's δ equally, 1/{kr * kc} of it to each entry, "
                    "not the whole δ to every entry", vjps={key: _whole_to_every_entry}),
            Mistake("pool-routing", "average-pool shares each window's δ equally among the window's entries, not only "
                    "to the maximum as a max-pool does", vjps={key: _to_the_maximum})]


def _conv_mistakes(node, d) -> list[Mistake]:
    """The kernel's 180° turn left out of the input's gradient or added to the kernel's; the stride left out
    of the kernel's gradient.  Each is the engine's own VJP, changed."""
    rule = RULES["conv2d"]
    x, k = node.args
    xname, kname = _name(x, d.value[x]), _name(k, d.value[k])
    out = []
    if x in d.delta_defs:
        def unturned(g, ctx):
            return rule.vjps[0](g, ctx).xreplace({Rot180(ctx.args[1]): ctx.args[1]})

        out.append(Mistake("kernel-rotation", f"the gradient of {xname} is δ ⋆ rot180({kname}), δ padded in full; "
                           f"{kname} was used unturned", vjps={(node, 0): unturned}))
    if k in d.delta_defs:
        out.append(Mistake("kernel-rotation", f"the gradient of {kname} is {xname} ⋆ δ; it came out turned by 180° "
                           "(a convolution, not a correlation)",
                           vjps={(node, 1): lambda g, ctx: Rot180(rule.vjps[1](g, ctx))}))
        sr, sc = node.attrs["stride"]
        if (sr, sc) != (1, 1):
            stride = str(sr) if sr == sc else f"{sr},{sc}"
            out.append(Mistake("conv-stride", f"with stride {stride}, {kname}[a, b] meets {xname}[{sr}i + a, {sc}j + b] "
                               f"for δ[i, j] ({xname} ⋆ dilate_{stride}(δ)), not {xname}[i + a, j + b]",
                               vjps={(node, 1): _unstrided}))
    return out


def _unstrided(g, ctx):
    """The kernel's gradient with every window one step from the last: the padded input, cropped to where
    such windows reach, correlated with δ as it is."""
    (pr, pc), (h, w), (kh, kw), (oh, ow) = (ctx.attrs["padding"], ctx.node.args[0].shape, ctx.node.args[1].shape,
                                            ctx.node.shape)
    widths = (pr, pc, pr - (h + 2 * pr - (kh + oh - 1)), pc - (w + 2 * pc - (kw + ow - 1)))
    return Correlate(Pad(ctx.args[0], *widths) if any(widths) else ctx.args[0], g)


def _column_by_column(g, ctx):
    """A flattened δ put back column by column (Fortran's order) instead of row by row."""
    rows, cols = ctx.node.args[0].shape
    return transpose(Reshape(g, cols, rows))
