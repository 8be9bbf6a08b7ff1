"""Errors a user can cause.  The CLI turns every `SymbackError` into one line and exit code 2."""

from __future__ import annotations


class SymbackError(Exception):
    """A problem with the user's input: one clear sentence, no traceback."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return where + self.message


class ModelError(SymbackError):
    """The model file is broken: syntax, shapes, unknown names, bad values or options."""


class ShapeError(ModelError):
    """Two operands whose shapes do not fit the operation."""


class SolutionError(SymbackError):
    """A solution file is unreadable or malformed: names the file, line and column."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, column: int | None = None):
        super().__init__(message, file=file, line=line)
        self.column = column

    def __str__(self) -> str:
        if self.file and self.line and self.column:
            return f"{self.file}:{self.line}:{self.column}: {self.message}"
        return super().__str__()


class OptionError(SymbackError):
    """A command-line or `Model` option out of range."""


class TexMissingError(SymbackError):
    """A PDF was asked for and no TeX engine is installed."""

    exit_code = 3
