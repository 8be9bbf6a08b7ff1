"""Command-line overrides of a model's options, shared by the commands that take them."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import OptionError
from ..i18n import Language


def override(model, **options) -> None:
    """Set each option given on the command line (None: keep the model file's); an out-of-range
    value is an `OptionError` naming the option as typed (``--epochs``), not a file and line."""
    for key, value in options.items():
        if value is None:
            continue
        try:
            model.configure(**{key: value})
        except OptionError as e:
            flag = "--" + key.replace("_", "-")
            rest = e.message[len(key):] if e.message.startswith(key) else f": {e.message}"
            raise OptionError(flag + rest) from None


#: ``--lang`` and ``--digits-style``, shared by the commands that write documents for people
LANG_HELP = ("Language of the documents it writes: en or fa (Persian, right to left, PDFs through XeLaTeX). "
             "Terminal output and JSON stay English.")
DIGITS_HELP = ("Digits in the documents' prose with --lang fa: latin or persian (۰–۹); math keeps Latin digits. "
               "persian with --lang en is an error.")
Lang = Annotated[str, typer.Option("--lang", help=LANG_HELP)]
DigitsStyle = Annotated[str, typer.Option("--digits-style", help=DIGITS_HELP)]


def language(lang: str, digits_style: str) -> Language:
    """The documents' language from ``--lang`` and ``--digits-style`` (an `OptionError` naming the option)."""
    return Language(lang, digits_style)
