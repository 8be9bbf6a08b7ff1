"""Small SVG line charts with logarithmic axes, for ``reports/bench.md`` (no plotting library)."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 380
LEFT, RIGHT, TOP, BOTTOM = 70, 170, 40, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _decades(lo: float, hi: float) -> list[float]:
    return [10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def line_chart(title: str, xlabel: str, ylabel: str, series: dict[str, list[tuple[float, float]]],
               limit: float | None = None, limit_label: str = "") -> str:
    """``series`` maps a label to (x, y) points; both axes logarithmic.  ``limit``: a dashed
    horizontal line (a time limit or a target)."""
    points = [p for ps in series.values() for p in ps if p[1] > 0]
    xs = [x for x, _ in points]
    ys = [y for _, y in points] + ([limit] if limit else [])
    x_ticks = [2.0**k for k in range(int(math.log2(min(xs))), int(math.log2(max(xs))) + 1)]
    y_ticks = _decades(min(ys), max(ys))
    x0, x1 = math.log2(x_ticks[0]), math.log2(x_ticks[-1]) if x_ticks[-1] > x_ticks[0] else math.log2(x_ticks[0]) + 1
    y0, y1 = math.log10(y_ticks[0]), math.log10(y_ticks[-1]) if y_ticks[-1] > y_ticks[0] else math.log10(y_ticks[0]) + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (math.log2(x) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (math.log10(y) - y0) / (y1 - y0) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>']
    for t in x_ticks:
        out.append(f'<line x1="{px(t):.1f}" y1="{TOP}" x2="{px(t):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{px(t):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{t:g}</text>')
    for t in y_ticks:
        out.append(f'<line x1="{LEFT}" y1="{py(t):.1f}" x2="{LEFT + plot_w}" y2="{py(t):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               f'{escape(ylabel)}</text>')
    if limit:
        out.append(f'<line x1="{LEFT}" y1="{py(limit):.1f}" x2="{LEFT + plot_w}" y2="{py(limit):.1f}" '
                   'stroke="#999" stroke-dasharray="5 4"/>')
        out.append(f'<text x="{LEFT + plot_w - 4}" y="{py(limit) - 5:.1f}" text-anchor="end" fill="#777">'
                   f'{escape(limit_label)}</text>')
    for k, (label, ps) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        ps = [p for p in ps if p[1] > 0]
        if ps:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ps)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in ps]
        out.append(f'<line x1="{WIDTH - RIGHT + 12}" y1="{TOP + 12 + 20 * k}" x2="{WIDTH - RIGHT + 32}" '
                   f'y2="{TOP + 12 + 20 * k}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{WIDTH - RIGHT + 38}" y="{TOP + 16 + 20 * k}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
