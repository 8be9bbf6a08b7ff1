"""``symback derive``: derive, verify and train a model; write ``result.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import OptionError, SymbackError
from ..i18n import using
from ..limits import LR_RANGE, MAX_EPOCHS, size_rule
from ..loader import load
from ..numeric.printing import text
from ..report import document, exporters
from ..report import result as result_json
from ..report.pdf import DEFAULT_ENGINE, INSTALL_HINT, RTL_INSTALL_HINT, check_engine
from ..resources import seed_example
from .options import DigitsStyle, Lang, language, override
from .progress import Stages

console = Console(highlight=False)
#: scalar quantities shown as columns of the terminal's training table (all are in the reports)
TERMINAL_COLUMNS = 6


def derive(
    model_file: Annotated[
        Path | None, typer.Argument(help="Model file (Python). Default: the bundled seed exercise.", show_default=False)
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder. Default: reports/<model-name>/.")] = None,
    format: Annotated[str, typer.Option("--format", help="Terminal output: text or json.")] = "text",  # noqa: A002
    epochs: Annotated[int | None, typer.Option(help="Override the model's number of epochs.", min=0,
                                               max=MAX_EPOCHS)] = None,
    lr: Annotated[str | None, typer.Option(
        help=f"Override the learning rate (e.g. 0.1 or 1/10; {LR_RANGE[0]:g} to {LR_RANGE[1]:g}).")] = None,
    digits: Annotated[int | None, typer.Option(help="Digits shown after rounding.", min=1, max=15)] = None,
    relu_grad_at_zero: Annotated[
        str | None, typer.Option("--relu-grad-at-zero", help="relu'(0): 0 (PyTorch), 1/2 or 1.")
    ] = None,
    model_name: Annotated[str | None, typer.Option("--model", help="Which Model, if the file defines several.")] = None,
    pdf: Annotated[
        bool | None,
        typer.Option("--pdf/--no-pdf", help="Make derivation.pdf. Default: when a TeX engine is installed.",
                     show_default=False),
    ] = None,
    tex_engine: Annotated[str, typer.Option(help="TeX engine for the PDF: latexmk, pdflatex, lualatex or xelatex.")]
    = DEFAULT_ENGINE,
    templates: Annotated[
        Path | None, typer.Option(help="Folder of your own templates (markdown/, latex/), searched first.")
    ] = None,
    lang: Lang = "en",
    digits_style: DigitsStyle = "latin",
) -> None:
    """Derive every gradient step by step, verify it three ways, train, and write the reports.

    Writes derivation.md (with loss.svg), derivation.tex, derivation.pdf and result.json.
    Exit code 0: all gradients verified; 1: a gradient failed verification; 2: bad input;
    3: --pdf asked for and no TeX engine (the other files are still written).

    Sizes: {sizes}.
    """
    if format not in ("text", "json"):
        raise OptionError(f"--format must be text or json, not {format!r}")
    documents = language(lang, digits_style)
    path = model_file or seed_example()
    model = load(path, model=model_name)
    override(model, epochs=epochs, lr=lr, digits=digits, relu_grad_at_zero=relu_grad_at_zero)

    check_engine(tex_engine, documents.rtl)
    make_pdf = exporters.pdf_wanted(pdf, tex_engine, documents.rtl)
    folder = out or Path("reports") / model.name
    with Stages(console, enabled=format == "text") as stages:
        with stages.stage("deriving"):
            model.program  # noqa: B018  (the derivation and its program, built once here)
        with stages.stage("verifying", total=1 + len(model.trainable)) as tick:
            verification = model.verify(progress=tick)
        with stages.stage(f"training ({model.epochs} epoch{'' if model.epochs == 1 else 's'})") as tick:
            history = model.train(progress=tick)
        with stages.stage("writing the reports"):
            result = result_json.build(model, verification, history)
            files = {"result.json": result_json.dumps(result)}
            with using(documents):
                context = document.build(model, verification, history)
                files.update(exporters.markdown_files("derivation", context, templates))
                files.update(exporters.latex_file("derivation", context, templates))
        if make_pdf:
            try:
                with stages.stage(f"typesetting the PDF ({tex_engine})"):
                    files.update(exporters.pdf_file("derivation", files["derivation.tex"], tex_engine, documents.rtl))
            except SymbackError:
                exporters.write_files(folder, files)  # the .tex and .md are still written
                raise
    written = exporters.write_files(folder, files)

    if format == "json":
        typer.echo(result_json.dumps(result), nl=False)
    else:
        _summary(model, result, verification, history)
        console.print(f"wrote {', '.join(str(p) for p in written)}")
        if not make_pdf:
            console.print(f"PDF skipped ({'--no-pdf' if pdf is False else RTL_INSTALL_HINT if documents.rtl else INSTALL_HINT})")
    if not verification.ok:
        for line in verification.failures():
            typer.echo(f"verification failed: {line}", err=True)
        raise typer.Exit(1)


derive.__doc__ = derive.__doc__.replace("{sizes}", size_rule())


def _summary(model, result, verification, history) -> None:
    import mpmath

    digits = model.digits
    console.rule(f"[bold]{model.title or model.name}")
    for warning in model.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"relu′(0) = {result['convention']['relu_grad_at_zero']} · optimizer {model.optimizer} · "
                  f"lr {result['options']['lr']} · {model.epochs} epoch{'' if model.epochs == 1 else 's'}")

    derivation = model._derivation
    formulas = Table(title="Gradients", show_lines=False, title_justify="left")
    formulas.add_column("parameter")
    formulas.add_column("shape")
    formulas.add_column("steps")
    formulas.add_column("∂L/∂parameter")
    shown: set = set()  # each step once (the rows below a chain's first reuse its steps)
    for name, g in derivation.gradients.items():
        steps = "\n".join(f"δ_{s.node.name} = {text(s.formula)}" for s in g.steps[:-1] if s.node not in shown)
        shown.update(s.node for s in g.steps[:-1])
        # formulas are text, never markup: a joined row [P1  P2] or a matrix [0.1, 0.2] would be taken for a tag
        formulas.add_row(name, f"{g.param.shape[0]}×{g.param.shape[1]}", escape(steps), escape(text(g.formula)))
    console.print(formulas)

    checks = Table(title="Verification (matrix form · SymPy elementwise · finite differences)", title_justify="left")
    for column in ("parameter", "elementwise", "finite differences", "result"):
        checks.add_column(column)
    for name, c in verification.params.items():
        elementwise = {True: f"agrees ({c.elementwise_method})", False: "DISAGREES", None: f"skipped: {c.reason}"}
        fd = "not judged" if c.fd_max_rel_err is None else f"rel. err {c.fd_max_rel_err:.1e}"
        if c.kinks:
            fd += f" ({len(c.kinks)} at a kink, not judged)"
        if c.fd_refined:
            fd += f" ({len(c.fd_refined)} at 50 digits)"
        if c.fd_undefined:
            fd += f" (NaN at {len(c.fd_undefined)})"
        checks.add_row(name, elementwise[c.elementwise_ok], fd, "[green]ok[/]" if c.ok else "[red]FAILED[/]")
    console.print(checks)

    epochs = Table(title="Training", title_justify="left")
    named = [n.name for n in derivation.order if n in derivation.forward_defs and n.name and n.shape == (1, 1)]
    hidden = len(named) - TERMINAL_COLUMNS
    named = named[-TERMINAL_COLUMNS:]  # a deep scalar chain has a column per layer: the last ones, the loss
    epochs.add_column("epoch")
    for name in named:
        epochs.add_column(name)
    epochs.add_column("notes")
    for r in history.steps:
        label = f"{r.epoch}" + (f".{r.sample}" if r.sample else "")
        cells = [mpmath.nstr(mpmath.mpf(r.forward[n][0, 0]), digits) for n in named]
        epochs.add_row(label, *cells, "\n".join(r.notes))
    console.print(epochs)
    if history.elided:
        console.print(f"(showing {len(history.steps)} of {history.total_steps} steps)")
    if hidden > 0:
        console.print(f"({hidden} earlier scalar quantities are in the reports; the last {TERMINAL_COLUMNS} are shown)")
    if history.stopped:
        console.print(f"[red]{history.stopped}[/]")
