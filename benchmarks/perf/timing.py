"""Timing helpers: round-robin repeats, so that load on a shared machine hits every contender alike."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def interleaved_ms(contenders: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1,
                   before: dict[str, Callable[[], Any]] | None = None) -> dict[str, list[float]]:
    """Milliseconds of each contender over `repeats` rounds, one call of each per round; `before[name]`, if
    given, runs untimed before each call of that contender."""
    before = before or {}
    for name, fn in contenders.items():
        for _ in range(warmup):
            before.get(name, _nothing)()
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            before.get(name, _nothing)()
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def _nothing() -> None:
    pass


def summary(times: list[float]) -> dict[str, float]:
    """Median and 95th percentile (nearest rank) of a list of milliseconds."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return {"median_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3), "n": len(ordered)}
