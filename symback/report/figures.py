"""What the two pictures of a report show: the computational graph and the loss curve.

The graph is drawn at the granularity a teacher draws it: one box per named quantity
(parameters, data and the model's named intermediates) and an arrow from every quantity
to the named ones computed from it; anonymous steps such as ``x.T @ w1`` live inside the
box of the named quantity they feed.  Boxes are laid out in layers, inputs at the top and
the loss at the bottom, each parameter one layer above its first use.  The templates turn
the layout into TikZ (LaTeX) or Mermaid (Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.graph import Tensor


@dataclass
class GraphNode:
    node: Tensor
    inputs: list[Tensor] = field(default_factory=list)
    layer: int = 0
    position: int = 0  # place within the layer, left to right


def quantity_graph(loss: Tensor, order: list[Tensor]) -> list[GraphNode]:
    """The named quantities of the graph under ``loss``, layered; operands before results."""
    named = [n for n in order if n.name and n.kind != "const"]
    inputs: dict[Tensor, list[Tensor]] = {}
    for n in named:
        if n.is_leaf:
            continue
        found: list[Tensor] = []
        stack = list(reversed(n.args))
        seen = set()
        while stack:
            a = stack.pop()
            if id(a) in seen or a.kind == "const":
                continue
            seen.add(id(a))
            if a.name:
                found.append(a)
            else:
                stack.extend(reversed(a.args))
        inputs[n] = found

    layer: dict[Tensor, int] = {}
    for n in named:  # operands come first, so one pass gives longest paths
        if not n.is_leaf:
            layer[n] = 1 + max((layer.get(a, 0) for a in inputs[n]), default=0)
    consumers: dict[int, list[Tensor]] = {}
    for n, ins in inputs.items():
        for a in ins:
            consumers.setdefault(id(a), []).append(n)
    for n in named:
        if n.is_leaf:
            layer[n] = max(0, min((layer[c] for c in consumers.get(id(n), [])), default=1) - 1)
    # a quantity sits beside the leaves of its layer; leaves first, in the model's order
    by_layer: dict[int, list[Tensor]] = {}
    for n in sorted(named, key=lambda t: (0 if t.is_leaf else 1, t.serial)):
        by_layer.setdefault(layer[n], []).append(n)
    nodes = []
    for k in sorted(by_layer):
        row = sorted(by_layer[k], key=lambda t: (not t.is_leaf, t.serial))
        # the computed quantity in the middle of its layer reads best
        computed = [t for t in row if not t.is_leaf]
        leaves = [t for t in row if t.is_leaf]
        half = len(leaves) // 2
        row = leaves[:half] + computed + leaves[half:]
        for position, t in enumerate(row):
            nodes.append(GraphNode(t, inputs.get(t, []), k, position))
    return nodes


def epoch_means(losses: list[float], per_epoch: int) -> list[tuple[int, float]]:
    """Loss per epoch: the mean over the epoch's update steps (one step for full batch)."""
    out = []
    for start in range(0, len(losses), per_epoch):
        chunk = losses[start : start + per_epoch]
        out.append((start // per_epoch + 1, sum(chunk) / len(chunk)))
    return out


def thin(points: list[tuple[int, float]], limit: int = 400) -> list[tuple[int, float]]:
    """At most ``limit`` points, evenly spread, keeping the first and the last."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(k * step)] for k in range(limit)]


def svg_geometry(curve: dict, width: int = 640, height: int = 320) -> dict:
    """Pixel geometry of the loss plot for the SVG picture in Markdown reports."""
    import math

    left, right, top, bottom = 70, 20, 20, 45
    points = curve["points"]
    xmin, xmax = curve["xmin"], curve["xmax"]
    ymin, ymax = float(curve["ymin"]), float(curve["ymax"])
    scale = math.log10 if curve["log"] else (lambda v: v)
    y0, y1 = scale(ymin), scale(ymax)

    def px(x):
        return left + (x - xmin) / (xmax - xmin) * (width - left - right)

    def py(y):
        return top + (y1 - scale(y)) / (y1 - y0) * (height - top - bottom)

    if curve["log"]:
        yticks = [10.0**k for k in range(math.ceil(y0), math.floor(y1) + 1)]
    else:
        raw = (ymax - ymin) / 5
        magnitude = 10 ** math.floor(math.log10(raw))
        step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
        yticks = [k * step for k in range(math.ceil(ymin / step), math.floor(ymax / step) + 1)]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom,
        "polyline": " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points),
        "markers": [(round(px(x), 1), round(py(y), 1)) for x, y in points] if len(points) <= 30 else [],
        "xticks": [(round(px(x), 1), str(x)) for x in curve["xticks"]],
        "yticks": [(round(py(y), 1), f"{y:.3g}") for y in yticks],
    }
