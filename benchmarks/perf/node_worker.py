"""One agent-loop worker process of the node service benchmark: K episodes at once through EnvPool, then its figures."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from typing import Any

HEAVY = ("torch", "ultralytics", "ai_edge_litert", "tensorflow")
SETUP_HOOK = "videostar_trainers.process.tune_worker_process"  # the process settings of verl's set-up hook


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program (VmHWM): ru_maxrss would also count the
    parent's memory that a spawned child held for a moment between fork and exec."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)


def worker(index: int, mode: str, k: int, rounds: int, kwargs: dict[str, Any], videos: int, address: str,
           barrier: Any, results: Any) -> None:
    """The entry point of a worker process: its figures (or its error) go to `results`."""
    try:
        results.put(asyncio.run(_worker(index, mode, k, rounds, kwargs, videos, address, barrier)))
    except BaseException as exc:  # the parent must hear of it, not wait for a result that never comes
        barrier.abort()
        results.put({"index": index, "error": f"{type(exc).__name__}: {exc}"})
        raise


async def _worker(index: int, mode: str, k: int, rounds: int, kwargs: dict[str, Any], videos: int, address: str,
                  barrier: Any) -> dict[str, Any]:
    import ray

    from videostar_trainers.env_pool import EnvPool, preload_libraries
    from videostar_trainers.process import tune_worker_process

    from .grid import ENV_ID, GENERATION_S, GROUP
    from .looplag import lag_summary, loop_lag
    from .measure import play, warm_up

    # A verl agent-loop worker is a Ray worker either way; with in-process models Ray's set-up hook preloads the
    # heavy libraries (PRELOAD=1), which a worker of the node service does without. The job's set-up hook tunes
    # every Ray worker process it starts, the service actor too, as train_grpo.sh's does; this driver tunes itself.
    ray.init(address=address, log_to_driver=False, runtime_env={"worker_process_setup_hook": SETUP_HOOK})
    tune_worker_process()
    if mode == "in-process":
        preload_libraries()
    envs = EnvPool(ENV_ID, kwargs)
    async with loop_lag() as fill_lags:
        await envs.start(k, warm=warm_up)
    loop = asyncio.get_running_loop()
    async with envs.env() as env:
        vision = env.unwrapped.toolbox.backends.vision
    # The warm-up's results kept per clip are dropped (in each worker, or once in the service) once all are warm.
    await loop.run_in_executor(None, barrier.wait)
    if mode == "in-process" or index == 0:
        getattr(vision, "forget", lambda: None)()
    before = vision.stats() if mode == "service" and index == 0 else None  # the warm-ups' counts, not timed
    await loop.run_in_executor(None, barrier.wait)
    tally: Counter = Counter()
    keys: set = set()
    generation = GENERATION_S[0]
    async with loop_lag() as lags:
        start = time.time()
        for round_ in range(rounds):
            first = (index * rounds + round_) * k
            await asyncio.gather(*(play(envs, (e // GROUP) % videos, e, generation, tally, keys)
                                   for e in range(first, first + k)))
        end = time.time()
    envs.close()
    return {"index": index, "start": start, "end": end, "episodes": k * rounds, "loop_lag": lag_summary(lags),
            "fill_loop_lag_max_ms": lag_summary(fill_lags)["max_ms"],
            "peak_rss_mb": peak_rss_mb(), "service_before": before,
            "tool_calls": tally["tool_calls"], "tool_runs": tally["tool_runs"], "tool_errors": tally["tool_errors"],
            "keys": sorted(map(list, keys)), "heavy_modules": [m for m in HEAVY if m in sys.modules]}


def floor_worker(address: str, results: Any) -> None:
    """The least a thin worker holds: a Ray driver of the job, tuned, that imported the env package (no env yet)."""
    try:
        import ray

        from videostar_trainers.process import tune_worker_process

        ray.init(address=address, log_to_driver=False, runtime_env={"worker_process_setup_hook": SETUP_HOOK})
        tune_worker_process()
        import gymnasium  # noqa: F401

        import videostar_env  # noqa: F401

        results.put({"peak_rss_mb": peak_rss_mb(), "heavy_modules": [m for m in HEAVY if m in sys.modules]})
    except BaseException as exc:  # the parent must hear of it, not wait for a result that never comes
        results.put({"error": f"{type(exc).__name__}: {exc}"})
        raise

