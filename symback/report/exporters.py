"""The files of a report, rendered in memory and then written together.

`derivation_files` renders a derivation report — ``derivation.md`` (with ``loss.svg``),
``derivation.tex`` and, when TeX is there, ``derivation.pdf`` — from the document of
``document.py``.  `write_files` writes them together, so an interrupted run leaves the
previous reports or the new ones, never half of them.
"""

from __future__ import annotations

from pathlib import Path

from ..files import write_together
from .figures import svg_geometry
from .pdf import DEFAULT_ENGINE, compile_pdf, engine_path
from .render import render


def markdown_files(document: str, context: dict, templates: Path | None = None) -> dict[str, str]:
    """``<document>.md`` and the loss picture it shows."""
    files = {f"{document}.md": render(document, "markdown", context, templates)}
    curve = context.get("loss_curve")
    if curve and curve["points"] and document == "derivation":
        files["loss.svg"] = render("loss.svg", "markdown", {"g": svg_geometry(curve), "log": curve["log"]}, templates)
    return files


def latex_file(document: str, context: dict, templates: Path | None = None) -> dict[str, str]:
    return {f"{document}.tex": render(document, "latex", context, templates)}


def pdf_wanted(pdf: bool | None, engine: str = DEFAULT_ENGINE, rtl: bool = False) -> bool:
    """``--pdf``: always (exit 3 without TeX); ``--no-pdf``: never; default: when TeX (and for a
    right-to-left document XeLaTeX) is installed."""
    if pdf is None:
        return engine_path(engine, rtl) is not None
    return pdf


def pdf_file(document: str, tex_source: str, engine: str = DEFAULT_ENGINE, rtl: bool = False) -> dict[str, bytes]:
    """``<document>.pdf`` typeset from ``tex_source`` (with XeLaTeX when ``rtl``)."""
    return {f"{document}.pdf": compile_pdf(tex_source, engine, name=document, rtl=rtl)}


def write_files(folder: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Write every file into ``folder`` together (see ``files.py``), in a stable order; returns the paths."""
    return write_together({Path(folder) / name: files[name] for name in sorted(files)})
