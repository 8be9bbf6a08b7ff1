"""`DerivationView`: what ``Model.derive()`` returns — the steps, readable in Jupyter."""

from __future__ import annotations

from ..numeric.printing import latex, text
from .result import latex_names


class DerivationView:
    """The derivation of every trainable parameter's gradient.

    ``view["w1"]`` is the `Gradient` (steps, closed form); in Jupyter it renders as LaTeX.
    """

    def __init__(self, model, derivation):
        self.model = model
        self.derivation = derivation
        self.gradients = derivation.gradients

    def __getitem__(self, name: str):
        return self.gradients[name]

    def __iter__(self):
        return iter(self.gradients)

    def lines(self) -> list[str]:
        """The derivation as plain text, one step per line."""
        out = []
        for name, g in self.gradients.items():
            out.append(f"∂L/∂{name}:")
            for s in g.steps:
                out.append(f"  δ_{s.node.name} = {text(s.formula)}")
            out.append(f"  ∂L/∂{name} = {text(g.written)}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_markdown_(self) -> str:
        names = latex_names(self.model)
        parts = []
        for name, g in self.gradients.items():
            parts.append(f"**∂L/∂{name}**\n")
            rows = [rf"\delta_{{{s.node.name}}} &= {latex(s.formula, names)}" for s in g.steps]
            rows.append(rf"\frac{{\partial L}}{{\partial {name}}} &= {latex(g.written, names)}")
            parts.append("$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$\n")
        return "\n".join(parts)

    def _repr_latex_(self) -> str:
        return self._repr_markdown_()
