"""Writing output files so that no run ever leaves half of them.

Every file is first written in full beside its target (a hidden temporary file in the same
folder), then all of them are renamed into place at once, with SIGINT and SIGTERM held back
for those few renames.  An interrupted or failed run therefore leaves the previous files,
all of them, or the new ones, all of them — never a mixture and never a truncated file.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HELD = {signal.SIGINT, signal.SIGTERM}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the mode open() would give a new file: 0666 less the process's umask
_MODE = 0o666 & ~_umask()


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path``: a crash leaves the old file or the new one, never half."""
    write_together({Path(path): content})


def write_together(files: dict[Path, str | bytes]) -> list[Path]:
    """Write every file in full, then put them all in place; returns the paths in order."""
    staged: list[tuple[str, Path]] = []
    try:
        for path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            content = files[path]
            data = content.encode("utf-8") if isinstance(content, str) else content
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((tmp, path))
            os.fchmod(fd, _MODE)  # mkstemp makes 0600; an output file gets the usual mode, as open() gives
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        with signals_held():
            for tmp, path in staged:
                os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    return [path for _, path in staged]


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done, then arrive as usual.

    Python-level handlers, not a thread signal mask: a process-directed signal may be taken by
    any thread that does not block it (BLAS and console threads), while Python runs every
    handler in the main thread, where these stand-ins only note the signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda number, frame: caught.append(number)) for s in _HELD}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for number in dict.fromkeys(caught):
            signal.raise_signal(number)
