"""The event loop's lag: how late a ticker coroutine wakes while a block runs."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from typing import AsyncIterator

TICK_S = 0.005  # seconds the ticker sleeps between wakes


async def tick(lags_ms: list[float]) -> None:
    """Forever: sleep TICK_S and record how late the loop woke this coroutine (its lag), in ms."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lags_ms.append((time.perf_counter() - start - TICK_S) * 1000)


@contextlib.asynccontextmanager
async def loop_lag() -> AsyncIterator[list[float]]:
    """The loop's lag (ms) while the block runs, as a ticker coroutine sees it."""
    lags: list[float] = []
    ticker = asyncio.ensure_future(tick(lags))
    await asyncio.sleep(0)  # the ticker starts its first sleep now, so a block that holds the loop shows as lag
    try:
        yield lags
    finally:
        await asyncio.sleep(2 * TICK_S)  # a wake due by now is recorded
        ticker.cancel()


def lag_summary(lags_ms: list[float]) -> dict[str, float]:
    """p50, p99 (nearest rank) and max of the loop lag, ms."""
    ordered = sorted(lags_ms) or [0.0]
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[max(0, int(round(0.99 * len(ordered))) - 1)], 2), "max_ms": round(ordered[-1], 2)}
