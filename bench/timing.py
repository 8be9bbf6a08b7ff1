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


def median(values) -> float:
    return statistics.median(values)
