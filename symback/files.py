"""Writing output files so that no run ever leaves half of them.

Every file is first written in full beside its target (a hidden temporary file in the same
folder), then all of them are renamed into place at once, with SIGINT and SIGTERM held back
for those few renames.  An interrupted or failed run therefore leaves the previous files,
all of them, or the new ones, all of them — never a mixture and never a truncated file.
"""

from __future__ import annotations

import errno
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SymbackError

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


class OutputError(SymbackError):
    """An output cannot be written: a full disk, a read-only folder, a path that is a folder."""


def _output_error(e: OSError, path: Path) -> OutputError:
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied", errno.EISDIR: "it is a folder",
           errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EEXIST: "it exists and is not a folder",
           errno.ENAMETOOLONG: "the name is too long"}.get(e.errno, e.strerror or str(e))
    return OutputError(f"cannot write {path}: {why}; nothing was changed")


class Staging:
    """Output files written as a run goes (whole, or a line at a time), then put in place all
    together — or, if anything fails, none of them, the earlier files left as they were and no
    temporary file left behind.  A failure to write is one `OutputError` naming the path.

    >>> with Staging() as out:
    ...     out.write(Path("report.json"), text)
    ...     log = out.open(Path("junit.xml"))     # a text file to write into as results come
    """

    def __init__(self) -> None:
        self.staged: list[tuple[str, Path]] = []
        self.handles: list = []
        self.made: list[Path] = []  # folders this run made, removed again if it writes nothing

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def _temporary(self, path: Path) -> int:
        path = Path(path)
        try:
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
            missing = [f for f in (path.parent, *path.parent.parents) if not f.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made += reversed(missing)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", dir=path.parent)  # fits beside a long name
        except OSError as e:
            raise _output_error(e, path) from None
        self.staged.append((tmp, path))
        os.fchmod(fd, _MODE)  # mkstemp makes 0600; an output file gets the usual mode, as open() gives
        return fd

    def write(self, path: Path, content: str | bytes) -> None:
        """Stage the whole of ``path``."""
        fd = self._temporary(path)
        data = content.encode("utf-8", "backslashreplace") if isinstance(content, str) else content
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            raise _output_error(e, path) from None

    def open(self, path: Path):
        """A text file (UTF-8) staged for ``path``, to write into as the run goes; write errors
        surface as `OutputError` from `write_line`."""
        handle = _StagedText(os.fdopen(self._temporary(path), "w", encoding="utf-8", errors="backslashreplace",
                                       newline=""), Path(path))
        self.handles.append(handle)
        return handle

    def commit(self) -> list[Path]:
        """Put every staged file in place, all together; returns their paths.  If a rename fails
        midway, the files already replaced get their earlier content back."""
        backups: dict[Path, str | None] = {}
        try:
            for h in self.handles:
                h.close()
            for tmp, path in self.staged:  # the earlier files, kept (hard links) until all are in place
                backups[path] = None
                if path.exists():
                    backup = f"{tmp}.was"
                    try:
                        os.link(path, backup)
                        backups[path] = backup
                    except OSError:
                        pass
            with signals_held():
                done: list[Path] = []
                try:
                    for tmp, path in self.staged:
                        os.replace(tmp, path)
                        done.append(path)
                except OSError as e:
                    for path_done in done:  # roll back
                        if backups.get(path_done):
                            os.replace(backups.pop(path_done), path_done)
                        else:
                            path_done.unlink(missing_ok=True)
                    raise _output_error(e, path) from None
        except BaseException:
            self.discard()
            raise
        finally:
            for backup in backups.values():
                if backup:
                    Path(backup).unlink(missing_ok=True)
        return [path for _, path in self.staged]

    def discard(self) -> None:
        for h in self.handles:
            try:
                h.file.close()
            except OSError:
                pass
        for tmp, _ in self.staged:
            Path(tmp).unlink(missing_ok=True)
        for folder in reversed(self.made):
            try:
                folder.rmdir()
            except OSError:  # not empty: something else put a file there
                pass
        self.staged, self.handles, self.made = [], [], []


class _StagedText:
    def __init__(self, file, path: Path):
        self.file, self.path = file, path

    def write(self, text: str) -> None:
        try:
            self.file.write(text)
        except OSError as e:
            raise _output_error(e, self.path) from None

    def close(self) -> None:
        try:
            self.file.close()
        except OSError as e:
            raise _output_error(e, self.path) from None


def write_together(files: dict[Path, str | bytes]) -> list[Path]:
    """Write every file in full, then put them all in place; returns the paths in order."""
    with Staging() as staging:
        for path in files:
            staging.write(Path(path), files[path])
    return [Path(p) for p in files]


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
