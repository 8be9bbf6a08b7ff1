"""Timing helpers: the median of repeats, each repeat long enough to be measured."""

from __future__ import annotations

import statistics
import time


def per_call(fn, repeats: int = 15, budget: float = 0.2) -> float:
    """Median seconds per call of ``fn()`` over ``repeats`` batches of at least ``budget`` / 5 s."""
    fn()  # warm up (first-call allocations, lazy imports)
    number, elapsed = 1, 0.0
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= budget / 5 or number >= 1 << 20:
            break
        number *= 2
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - started) / number)
    return statistics.median(samples)


def paired(fn_a, fn_b, repeats: int = 15, budget: float = 0.2) -> tuple[float, float, float]:
    """Median seconds per call of ``fn_a`` and ``fn_b``, and the median of their ratio, with the
    batches interleaved (a, b, a, b, …) so that a slow spell of the machine hits both alike."""
    per_call(fn_a, repeats=1, budget=budget)
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn_a()
        if time.perf_counter() - started >= budget / 5 or number >= 1 << 20:
            break
        number *= 2
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((fn_a, a), (fn_b, b)):
            started = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - started) / number)
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b))


def median(values) -> float:
    return statistics.median(values)
