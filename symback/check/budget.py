"""Running one piece of grading within a time and memory budget that it cannot bypass.

A student's formula can make SymPy or mpmath work without end (``exp(exp(exp(exp(exp(h)))))``
has a 10^1,600,000-digit exponent; a 32nd power of a sum expands to millions of terms).  No
check *inside* SymPy can stop that, so the work runs in a forked child process: the kernel caps
its address space (``RLIMIT_AS``) and the parent kills it when its time is up.  What it returns
travels back pickled through a pipe; past the budget the caller gets `BudgetError`.

>>> bounded(judge_formula, "w2", "exp(exp(h))", seconds=10, memory=2**30)
('correct', ...)                       # or raises BudgetError("took longer than 10 s")
"""

from __future__ import annotations

import math
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable

#: seconds and bytes one formula may take at most (beyond what the process already holds)
FORMULA_SECONDS = 5.0
FORMULA_MEMORY = 2 * 2**30
#: a formula may take this many times what judging the derived gradient itself takes, and at least
#: `FORMULA_FLOOR` s: the seed's budget is 1 s (its formulas take 0.04 s), an 8-layer chain's 5 s (0.5 s)
FORMULA_FACTOR = 10
FORMULA_FLOOR = 1.0


def formula_seconds(reference: float) -> float:
    """The time budget of one formula of a model whose own gradient formula is judged in
    ``reference`` seconds: `FORMULA_FACTOR` × that, within [`FORMULA_FLOOR`, `FORMULA_SECONDS`]."""
    return min(FORMULA_SECONDS, max(FORMULA_FLOOR, math.ceil(FORMULA_FACTOR * reference * 10) / 10))


class BudgetError(Exception):
    """The work took longer, or more memory, than it was allowed; the message says which."""


def address_space() -> int:
    """Bytes of address space this process holds now (what RLIMIT_AS counts)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def die_with_parent(number: int = signal.SIGKILL) -> None:
    """Linux: the kernel sends this (forked) process ``number`` when its parent dies, even by
    SIGKILL, so that no worker or formula process runs on for nobody."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(number))  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call
            os._exit(1)
    except (OSError, AttributeError):
        pass


def bounded(fn: Callable, *args, seconds: float = FORMULA_SECONDS, memory: int = FORMULA_MEMORY):
    """``fn(*args)`` in a forked child with at most ``seconds`` of wall time and ``memory`` bytes
    more than this process holds; its result (picklable), or `BudgetError`.  An exception in
    ``fn`` is raised here again as it was."""
    read, write = os.pipe()
    limit = address_space() + memory
    pid = os.fork()
    if pid == 0:  # the child: limits first, then the work; it never returns into the caller's code
        code = 0
        try:
            os.close(read)
            die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            except (ValueError, OSError):
                pass
            try:
                payload = ("ok", fn(*args))
            except MemoryError:
                payload = ("memory", None)
            except BaseException as e:  # noqa: BLE001 - sent to the parent, which raises it again
                payload = ("raised", e)
            try:
                data = pickle.dumps(payload)
            except Exception as e:  # noqa: BLE001 - an exception that does not pickle: its text
                data = pickle.dumps(("raised", RuntimeError(f"{type(e).__name__}: {e}")))
            view = memoryview(data)
            while view:
                view = view[os.write(write, view):]
        except BaseException:  # noqa: BLE001 - nothing escapes the child
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    chunks, deadline = [], time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BudgetError(f"took longer than {seconds:g} s")
            ready, _, _ = select.select([read], [], [], left)
            if not ready:
                continue
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read)
        try:
            os.kill(pid, signal.SIGKILL)  # done or over: the child goes either way
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if not chunks:
        raise BudgetError(f"needed more than {memory / 2**30:g} GB of memory (the process was stopped)")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "memory":
        raise BudgetError(f"needed more than {memory / 2**30:g} GB of memory")
    if kind == "raised":
        raise value
    return value
