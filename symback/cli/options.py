"""Command-line overrides of a model's options, shared by the commands that take them."""

from __future__ import annotations

from ..errors import OptionError


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
