"""``symback worksheet``: the blank worksheet, its answer key and answers files, and variants."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..files import write_together
from ..i18n import using
from ..limits import MAX_VARIANTS, size_rule
from ..loader import load
from ..numeric.formatting import number
from ..report import exporters
from ..report import worksheet as ws
from ..report.pdf import DEFAULT_ENGINE, INSTALL_HINT, RTL_INSTALL_HINT, check_engine
from ..resources import seed_example
from .options import DigitsStyle, Lang, language, override

console = Console(highlight=False)


def worksheet(
    model_file: Annotated[
        Path | None, typer.Argument(help="Model file (Python). Default: the bundled seed exercise.", show_default=False)
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder. Default: worksheets/<model-name>/.")] = None,
    variants: Annotated[
        int | None, typer.Option(help="Make N variants with fresh nice initial values, each in variant-NN/.",
                                 min=1, max=MAX_VARIANTS)
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the variants (the same seed gives the same variants).")] = 0,
    digits: Annotated[int | None, typer.Option(help="Significant digits asked for and shown.", min=1, max=15)] = None,
    model_name: Annotated[str | None, typer.Option("--model", help="Which Model, if the file defines several.")] = None,
    pdf: Annotated[
        bool | None,
        typer.Option("--pdf/--no-pdf", help="Make PDFs. Default: when a TeX engine is installed.", show_default=False),
    ] = None,
    tex_engine: Annotated[str, typer.Option(help="TeX engine: latexmk, pdflatex, lualatex or xelatex.")] = DEFAULT_ENGINE,
    templates: Annotated[
        Path | None, typer.Option(help="Folder of your own templates (markdown/, latex/), searched first.")
    ] = None,
    lang: Lang = "en",
    digits_style: DigitsStyle = "latin",
) -> None:
    """Write a blank worksheet, its answer key, an empty solution file for `symback check`
    and the filled answers file; with --variants N, one set per variant.  --lang fa writes the
    worksheets and keys in Persian (the answers files are data and stay as they are).

    Exit code 0: written; 2: bad input; 3: --pdf asked for and no TeX engine.

    Sizes: {sizes}.
    """
    documents = language(lang, digits_style)
    check_engine(tex_engine, documents.rtl)
    path = model_file or seed_example()
    model = load(path, model=model_name)
    override(model, digits=digits)
    folder = out or Path("worksheets") / model.name
    source = path.read_text(encoding="utf-8")

    if variants is not None:
        with console.status(f"drawing {variants} variants (seed {seed})…"):
            chosen: list = ws.draw_variants(model, variants, seed)
    else:
        chosen = [None]

    files: dict[Path, str | bytes] = {}
    rows = []
    original = {p.name: p.value for p in model.params}
    for variant in chosen:
        where = ws.variant_folder(folder, variant)
        model_ref = str(path) if model_file is not None else path.name
        if variant is not None:
            ws.with_values(model, variant.values)
            model_ref = f"{path.stem}_v{variant.index:02d}.py"
            files[where / model_ref] = (
                f"# Variant {variant.index} of {path.name} (symback worksheet --variants {variants} --seed {seed})\n"
                + ws.rewrite_source(source, variant.values, str(path))
            )
        history = model.train()
        with using(documents):
            context = ws.build(model, history, variant, seed if variant else None)
            for name, key in (("worksheet", False), ("key", True)):
                rendered = {**exporters.markdown_files("worksheet", {**context, "key": key}, templates),
                            **exporters.latex_file("worksheet", {**context, "key": key}, templates)}
                files[where / f"{name}.md"] = rendered["worksheet.md"]
                files[where / f"{name}.tex"] = rendered["worksheet.tex"]
        files[where / "solution.yaml"] = ws.solution_yaml(model, history, False, model_ref, variant)
        files[where / "answers.yaml"] = ws.solution_yaml(model, history, True, model_ref, variant)
        rows.append((variant, history))
    ws.with_values(model, original)

    make_pdf = exporters.pdf_wanted(pdf, tex_engine, documents.rtl)
    if make_pdf:
        sources = [p for p in files if p.suffix == ".tex"]
        with Progress(console=console, transient=True) as progress, \
                ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            task = progress.add_task("typesetting PDFs", total=len(sources))

            def typeset(p: Path) -> tuple[Path, bytes]:
                pdf_bytes = exporters.pdf_file(p.stem, files[p], tex_engine, documents.rtl)[f"{p.stem}.pdf"]
                progress.advance(task)
                return p.with_suffix(".pdf"), pdf_bytes

            try:
                for target, content in pool.map(typeset, sources):
                    files[target] = content
            except Exception:
                _write(files)  # the .tex and .md are still written
                raise
    _write(files)
    _summary(model, rows, folder, sorted(files))
    if not make_pdf:
        console.print(f"PDF skipped ({'--no-pdf' if pdf is False else RTL_INSTALL_HINT if documents.rtl else INSTALL_HINT})")


worksheet.__doc__ = worksheet.__doc__.replace("{sizes}", size_rule())


def _write(files: dict[Path, str | bytes]) -> None:
    """Every file of the run, all variants, put in place together (or none: see ``files.py``)."""
    write_together({p: files[p] for p in sorted(files)})


def _summary(model, rows, folder: Path, written: list[Path]) -> None:
    table = Table(title=f"Worksheets of {model.title or model.name}", title_justify="left")
    table.add_column("variant")
    table.add_column("loss, first step → last")
    for variant, history in rows:
        first, last = history.losses[0], history.losses[-1]
        table.add_row("as written" if variant is None else f"{variant.index:02d}",
                      f"{number(first, model.digits)} → {number(last, model.digits)}")
    console.print(table)
    if len(rows) == 1:  # one set: every file, as `derive` says; variants: a count (a class makes thousands)
        console.print(f"wrote {', '.join(str(p) for p in written)}")
    else:
        console.print(f"wrote {len(written)} files under {folder}")
