"""Progress on a terminal for the work that may take more than a second (rich).

`Stages` shows one line at a time — a spinner, what is being done, a bar where the work is
counted (parameters verified, update steps trained), and the time taken — and leaves nothing
behind when done.  Off a terminal, or with ``--format json``, it shows nothing.
"""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Stages:
    """``with Stages(console, enabled) as stages: with stages.stage("verifying", total=n) as tick: …``"""

    def __init__(self, console: Console, enabled: bool = True):
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True,
                                  disable=not enabled)

    def __enter__(self) -> Stages:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    @contextmanager
    def stage(self, description: str, total: int | None = None):
        """A stage of the work; yields ``tick(done, total)`` to move its bar (a spinner without ``total``)."""
        task = self._progress.add_task(description, total=total)

        def tick(done: int, of: int) -> None:
            self._progress.update(task, completed=done, total=of)

        try:
            yield tick
        finally:
            self._progress.remove_task(task)
