"""The typer application: registers each command and turns user errors into exit code 2."""

from __future__ import annotations

import inspect
import signal
import sys

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import SymbackError
from ..limits import size_rule
from ..printable import printable

try:  # typer up to 0.2x depends on click; later versions carry their own copy
    from click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the typer version installed
    from typer._click.exceptions import ClickException
from . import check, derive, worksheet

app = typer.Typer(
    name="symback",
    help="Derive, verify and train backpropagation symbolically, step by step.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"symback {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Show the version and exit.", callback=_version,
                                 is_eager=True),
) -> None:
    """symback: derive, verify and train backpropagation symbolically, step by step."""


def _reflowed(command):
    """The command's docstring with each paragraph on one line: typer keeps the source's line breaks,
    which broke the help mid-sentence at any terminal width but the source's."""
    paragraphs = inspect.cleandoc(command.__doc__ or "").split("\n\n")
    command.__doc__ = "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)
    return command


app.command(name="derive")(_reflowed(derive.derive))
app.command(name="worksheet")(_reflowed(worksheet.worksheet))
app.command(name="check")(_reflowed(check.check))

stderr = Console(stderr=True, highlight=False)


_NOTHING_HALF = "no file was left half-written (output files are replaced all together, at the end)"


class Stopped(BaseException):
    """SIGINT or SIGTERM, as an exception of our own (typer would turn Ctrl-C into an exit code),
    so the run unwinds through every cleanup and says what happened."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame) -> None:
    raise Stopped(signum)


def _error(message: str) -> None:
    """One line on stderr; the message (a path, a student's text) is shown as written, never as markup."""
    stderr.print(f"[bold red]error:[/] {escape(printable(message))}", markup=True, soft_wrap=True)


def main() -> None:
    """Entry point of the ``symback`` console script."""
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code in this mode
        if isinstance(code, int):
            sys.exit(code)
    except Stopped as e:
        what = "terminated" if e.signum == signal.SIGTERM else "interrupted"
        stderr.print(f"{what}: {_NOTHING_HALF}")
        sys.exit(128 + e.signum)
    except SymbackError as e:
        _error(str(e))
        sys.exit(e.exit_code)
    except RecursionError:  # a model nested deeper than SymPy's recursive algorithms go
        _error(f"the model's expressions are nested too deeply to derive; {size_rule()}")
        sys.exit(2)
    except MemoryError:
        _error(f"out of memory: the model is too large for this machine; {size_rule()}")
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:  # end of input at a prompt
        stderr.print("aborted")
        sys.exit(130)
    except ClickException as e:  # usage errors: unknown option, missing argument, a value out of range
        command = getattr(getattr(e, "ctx", None), "command_path", None) or "symback"
        if e.format_message():  # (none after the help shown for a bare `symback`)
            _error(f"{e.format_message()} (see '{command} --help')")  # one line, as every other error
        sys.exit(2)
