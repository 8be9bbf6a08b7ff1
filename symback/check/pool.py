"""Grading a class in worker processes that no single file can hang, crash or starve.

Each worker is forked from the process that built the checker (so it inherits the compiled
model) and grades one file at a time.  The parent gives every file a wall-time budget and
every worker an address-space limit: a worker past its time is killed, one that dies (a
crash, the kernel's out-of-memory killer, ``kill -9``) is reaped — either way that file alone
gets an ``error`` verdict naming what happened, a fresh worker takes its place and the run
goes on.  Results come back as they are done and are handed on in the order of the paths, so
the caller can write them out as it goes: nothing the size of the class is held here.

If the parent dies, a worker waiting for its next file reads the end of its task pipe and
exits; when the parent stops (Ctrl-C, SIGTERM, an error) it kills and reaps every worker on
the way out, so no run leaves orphans.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import shutil
import signal
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .budget import address_space, die_with_parent

#: a file's wall-time budget, and the memory a worker may take beyond what the parent holds
FILE_SECONDS = 300.0
WORKER_MEMORY = 4 * 2**30

_HEADER = struct.Struct("!Q")


def _send(fd: int, obj) -> None:
    data = pickle.dumps(obj)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int):
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(fd, _HEADER.unpack(header)[0])
    return None if data is None else pickle.loads(data)


@dataclass
class _Worker:
    pid: int
    tasks: int  # the parent writes paths here
    results: int  # and reads (path, result) here
    scratch: str  # its temporary folder (TeX's work, …), removed with it
    path: str | None = None  # the file it is grading
    deadline: float = 0.0


class ClassPool:
    """``grade(path) -> result`` for many paths on ``workers`` forked processes.

    ``failed(path, why) -> result`` makes the result of a file whose worker died or ran out of
    time.  Use as a context manager: leaving it (normally or not) ends every worker.
    """

    def __init__(self, grade: Callable[[str], object], failed: Callable[[str, str], object], workers: int,
                 seconds: float = FILE_SECONDS, memory: int = WORKER_MEMORY):
        self.grade, self.failed = grade, failed
        self.size, self.seconds, self.memory = max(1, workers), seconds, memory
        self.workers: list[_Worker] = []

    def __enter__(self) -> ClassPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kill and reap every worker (they hold no output: nothing is lost)."""
        for w in self.workers:
            self._end(w)
        self.workers = []

    # -- the workers ---------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        limit = address_space() + self.memory
        scratch = tempfile.mkdtemp(prefix="symback-worker-")
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.setpgid(0, 0)  # a group of its own: ending it ends what it started (TeX, a formula's child)
                # an orphaned worker removes its temporary folder, then ends (its formula child dies with it)
                signal.signal(signal.SIGTERM, lambda number, frame: (shutil.rmtree(scratch, ignore_errors=True),
                                                                     os._exit(1)))
                die_with_parent(signal.SIGTERM)
                tempfile.tempdir = os.environ["TMPDIR"] = scratch
                os.close(task_write)
                os.close(result_read)
                for w in self.workers:  # the other workers' pipes are not this one's
                    _close(w.tasks, w.results)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which ends us
                try:  # the soft limit only: a formula's own child may set a lower one for itself
                    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
                except (ValueError, OSError):
                    pass
                while True:
                    path = _receive(task_read)
                    if path is None:  # the parent is gone, or has no more files
                        break
                    try:
                        result = self.grade(path)
                    except MemoryError:
                        result = self.failed(path, "grading it needed more memory than a file may take")
                    _send(result_write, (path, result))
            except BaseException:  # noqa: BLE001 - nothing escapes a worker
                code = 1
            finally:
                os._exit(code)
        os.close(task_read)
        os.close(result_write)
        try:
            os.setpgid(pid, pid)  # also here: whichever of the two runs first, the group exists
        except OSError:
            pass
        worker = _Worker(pid, task_write, result_read, scratch)
        self.workers.append(worker)
        return worker

    def _end(self, w: _Worker, reaped: bool = False) -> None:
        """Close its pipes, kill its process group (what it started), remove its temporary folder;
        unless ``reaped`` already, kill and reap the worker itself (its pid is still its own)."""
        _close(w.tasks, w.results)
        try:
            os.killpg(w.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not reaped:
            try:
                os.kill(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(w.pid, 0)
            except ChildProcessError:
                pass
        shutil.rmtree(w.scratch, ignore_errors=True)

    def _replace(self, w: _Worker) -> None:
        self._end(w)
        self.workers.remove(w)

    # -- the run --------------------------------------------------------------------------
    def results(self, paths: list[str]) -> Iterator[object]:
        """The result of every path, in the order of ``paths``, each as soon as it and the ones
        before it are done."""
        pending = list(reversed(paths))
        done: dict[str, object] = {}
        order = iter(paths)
        following = next(order, None)
        while following is not None:
            while len(self.workers) < self.size and pending:
                self._give(self._spawn(), pending)
            for w in self.workers:
                if w.path is None and pending:
                    self._give(w, pending)
            busy = [w for w in self.workers if w.path is not None]
            if busy:
                wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
                ready, _, _ = select.select([w.results for w in busy], [], [], wait)
                now = time.monotonic()
                for w in busy:
                    if w.results in ready:
                        message = _receive(w.results)
                        if message is None:  # the worker died: this file alone pays
                            done[w.path] = self.failed(w.path, _death(w.pid))
                            self._replace_reaped(w)
                        else:
                            done[message[0]] = message[1]
                            w.path = None
                    elif now >= w.deadline:
                        done[w.path] = self.failed(w.path, f"grading it took longer than {self.seconds:g} s "
                                                           "(stopped)")
                        self._replace(w)
            while following is not None and following in done:
                yield done.pop(following)
                following = next(order, None)

    def _give(self, w: _Worker, pending: list[str]) -> None:
        w.path = pending.pop()
        w.deadline = time.monotonic() + self.seconds
        try:
            _send(w.tasks, w.path)
        except OSError:  # it died while idle: the file goes back for another worker
            pending.append(w.path)
            w.path = None
            self._replace(w)

    def _replace_reaped(self, w: _Worker) -> None:
        self._end(w, reaped=True)  # what it had started, if anything outlived it
        self.workers.remove(w)


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _death(pid: int) -> str:
    """Why a worker ended, for the file it was grading."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "the grading process died on this file; the other files are graded"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        how = "killed (out of memory?)" if number == signal.SIGKILL else f"stopped by {name}"
        return f"the grading process was {how} on this file; the other files are graded"
    return "the grading process died on this file; the other files are graded"
