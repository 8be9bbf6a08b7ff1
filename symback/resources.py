"""Where the bundled files are: the repository's folders, or their copies in the wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def examples_dir() -> Path:
    repo = _PACKAGE.parent / "examples"
    return repo if repo.is_dir() else _PACKAGE / "_examples"


def seed_example() -> Path:
    return examples_dir() / "seed.py"


def templates_dir() -> Path:
    """The bundled Jinja templates: ``templates/<format>/``."""
    repo = _PACKAGE.parent / "templates"
    return repo if repo.is_dir() else _PACKAGE / "_templates"
