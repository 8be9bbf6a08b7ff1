"""The typer application: registers each command and turns user errors into exit code 2."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import SymbackError
from . import check, derive, worksheet

app = typer.Typer(
    name="symback",
    help="Derive, verify and train backpropagation symbolically, step by step.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """symback: derive, verify and train backpropagation symbolically, step by step."""


app.command(name="derive")(derive.derive)
app.command(name="worksheet")(worksheet.worksheet)
app.command(name="check")(check.check)

stderr = Console(stderr=True, highlight=False)


def main() -> None:
    """Entry point of the ``symback`` console script."""
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code in this mode
        if isinstance(code, int):
            sys.exit(code)
    except SymbackError as e:
        stderr.print(f"[bold red]error:[/] {e}", markup=True, soft_wrap=True)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        stderr.print("aborted")
        sys.exit(130)
    except Exception as e:  # click's usage errors
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(2)
        raise
