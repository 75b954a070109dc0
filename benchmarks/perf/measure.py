"""One cell of the concurrency benchmark measured in its own process: K episodes at once, their counts and checks."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import statistics
import time
from collections import Counter
from typing import Any

import gymnasium as gym

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents.messages import qwen_chat
from videostar_env import answer, tool_call
from videostar_env.backends.batched import model_work as batched_work
from videostar_env.datasets import decode
from videostar_env.tools import Toolbox
from videostar_trainers.env_pool import EnvPool, load_models, preload_libraries
from videostar_trainers.process import tune_worker_process

from .envs_before import EnvsBefore
from .grid import ENV_ID, FRAMES, GROUP, TOOLS, TURNS, Cell, env_kwargs
from .looplag import lag_summary, loop_lag
from .workload import CountedBackend


def model_services(envs: list[gym.Env]) -> list[Any] | None:
    """The batched models behind these envs' vision backends (each once); None for a backend without them (the
    oracle)."""
    vision = [env.unwrapped.toolbox.backends.vision for env in envs]
    if not all(hasattr(v, "batched") for v in vision):
        return None
    return list({id(s): s for v in vision for s in (v.batched("detect"), v.batched("pose"))}.values())


def model_work(services: list[Any] | None) -> dict[str, int | None]:
    """Model calls and frames those services have run so far (None without services)."""
    if services is None:
        return {"model_calls": None, "model_frames": None}
    return batched_work(services)


_WARMED: set[int] = set()  # processes whose first env has run the warm-up


def warm_up(env: gym.Env) -> None:
    """An episode's work once per process before timing, so that first-use costs (libraries, models, tool code),
    which every env of the process shares, are not timed: reset, each tool run without the cache (nothing stored),
    the chat with the tool images, and the answer. Later envs: nothing (an env pool warms its first env alone)."""
    if os.getpid() in _WARMED:
        return
    _WARMED.add(os.getpid())
    load_models(env)  # every copy, as the agent loop's fill does
    inner = env.unwrapped
    _, info = env.reset(seed=0, options={"index": 0})
    sample, cfg = inner.dataset[0], inner.config
    clip = decode(sample.video, cfg.num_frames, cfg.frame_size, cfg.decoder)
    ctx = inner.toolbox.context(sample, clip, info["candidates"], inner.dataset.knowledge)
    uncached = Toolbox(inner.toolbox.tools, inner.toolbox.backends)
    for name in TOOLS:
        record = uncached.run(name, {}, ctx)
        if not record.ok:
            raise RuntimeError(f"the warm-up's {name} call failed: {record.text}")
        qwen_chat([*info["messages"], {"role": "tool", "content": [{"type": "image", "image": image}
                                                                   for image in record.images]}])
    env.step(answer(info["ground_truth"]["label"]))


async def play(envs: Any, index: int, seed: int, generation_s: float, tally: Counter, keys: set) -> None:
    """One episode as the agent loop plays it: reset, then generate (sleep) and step, TURNS times."""
    async with envs.env() as env:
        turn = await envs.reset(env, seed=seed, options={"index": index}, convert=qwen_chat, observe=False)
        actions = [tool_call(name) for name in TOOLS] + [answer(turn.info["ground_truth"]["label"])]
        for action in actions:
            await asyncio.sleep(generation_s)
            turn = await envs.step(env, action, convert=qwen_chat, observe=False)
    if not turn.done or turn.converted is not None:
        raise RuntimeError(f"episode {seed} did not end on its answer (turn {turn.info['turn']})")
    for record in turn.info["tool_results"]:
        tally["tool_calls"] += 1
        tally["tool_runs"] += not record["cached"]
        tally["tool_errors"] += not record["ok"]
        tally["tool_shared"] += bool(record.get("shared"))
        keys.add((turn.info["sample_id"], record["name"], json.dumps(record["arguments"], sort_keys=True)))


async def measure(cell: Cell, videos: int) -> dict[str, Any]:
    """In this process: fill the envs (warmed), fill the cache if warm, then time the rounds of K episodes."""
    kwargs = env_kwargs(cell)
    preload_s = None
    if cell.mode == "pool":  # as Ray's worker_process_setup_hook does when an agent-loop worker starts
        tune_worker_process()
        start = time.perf_counter()
        preload_libraries()
        preload_s = round(time.perf_counter() - start, 2)
    envs: Any = EnvPool(ENV_ID, kwargs, cell.threads) if cell.mode == "pool" else EnvsBefore(ENV_ID, kwargs)
    async with loop_lag() as fill_lags:
        start = time.perf_counter()
        await envs.start(cell.k, warm=warm_up)
        fill_s = time.perf_counter() - start
    if cell.cache == "warm":  # every key of the timed episodes, run once before timing
        for index in range(videos):
            await play(envs, index, index, 0.0, Counter(), set())
    counted = []
    async with contextlib.AsyncExitStack() as taken:  # every env's vision backend counted from here on
        every = [await taken.enter_async_context(envs.env()) for _ in range(cell.k)]
        services = model_services(every)
        for env in every:
            toolbox = env.unwrapped.toolbox
            getattr(toolbox.backends.vision, "forget", lambda: None)()  # the warm-up's results kept per clip
            counted.append(CountedBackend(toolbox.backends.vision))
            toolbox.backends = dataclasses.replace(toolbox.backends, vision=counted[-1])
    before = model_work(services)
    tally: Counter = Counter()
    keys: set = set()
    async with loop_lag() as lags:
        start, cpu = time.perf_counter(), time.process_time()
        for round_ in range(cell.rounds):
            episodes = range(round_ * cell.k, (round_ + 1) * cell.k)
            await asyncio.gather(*(play(envs, (e // GROUP) % videos, e, cell.generation_s, tally, keys)
                                   for e in episodes))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = model_work(services)
    envs.close()
    rate, ideal = cell.k * cell.rounds / seconds, cell.k / (TURNS * cell.generation_s)
    return {"efficiency": round(rate / ideal, 4), "env_overhead": round(1 - rate / ideal, 4),
            "episodes_per_s": round(rate, 3), "ideal_episodes_per_s": round(ideal, 3), "episodes": cell.k * cell.rounds,
            # CPU seconds of the whole process (every thread) per episode: the env's cost, which load from other
            # processes on the machine hardly changes (wall-clock rates do): cores needed = episodes/s x this.
            "cpu_ms_per_episode": round(1000 * cpu / (cell.k * cell.rounds), 1),
            # Per frame the models ran: how many tool runs identical calls in flight shared decides the work of a
            # cell with nothing kept, so this compares the cost of the same work across modes (None: no models).
            "cpu_ms_per_model_frame": None if not (after["model_frames"] or 0) - (before["model_frames"] or 0)
            else round(1000 * cpu / (after["model_frames"] - before["model_frames"]), 2),
            "threads": envs.threads, "loop_lag": lag_summary(lags),
            "fill": {"seconds": round(fill_s, 2), "loop_lag_max_ms": lag_summary(fill_lags)["max_ms"],
                     "preload_seconds": preload_s},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "tool_calls": tally["tool_calls"], "tool_runs": tally["tool_runs"], "tool_shared": tally["tool_shared"],
            "tool_errors": tally["tool_errors"], "unique_keys": len(keys),
            "backend_calls": sum(b.calls for b in counted),
            **{k: None if after[k] is None else after[k] - before[k] for k in after}}


def measure_cell(cell: dict[str, Any], videos: int) -> dict[str, Any]:
    """One cell in this process (the entry point of its fresh process)."""
    return asyncio.run(measure(Cell(**cell), videos))


def checks(cell: Cell, run: dict[str, Any]) -> dict[str, bool]:
    """The counted invariants of one run: every tool run is one backend call, and the cache mode's own rule."""
    # Identical calls running at once run once (shared), with or without a cache; a cache also serves later ones.
    uncached = run["unique_keys"] <= run["tool_runs"] <= run["tool_calls"]
    rule = {"off": uncached, "results": uncached, "warm": run["tool_runs"] == 0,
            "cold": run["unique_keys"] <= run["tool_runs"]}[cell.cache]
    frames = run.get("model_frames")  # None without model services (the oracle); each backend call runs its clip once
    kept = cell.cache == "results"  # results kept per clip: a backend call may run no model
    once = frames is None or (frames <= run["backend_calls"] * FRAMES if kept else frames == run["backend_calls"] * FRAMES)
    return {"runs_are_backend_calls": run["tool_runs"] == run["backend_calls"], "cache_rule": rule,
            "model_runs_each_call_once": once,
            "no_tool_errors": run["tool_errors"] == 0,
            "calls_are_episodes_x_tools": run["tool_calls"] == run["episodes"] * len(TOOLS)}


def median_row(cell: Cell, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A cell's row: its configuration, the median of each figure over its processes, each run's counts and checks."""
    def med(get: Any) -> float:
        return round(statistics.median(get(r) for r in runs), 4)

    return {"data": cell.data, "cache": cell.cache, "mode": cell.mode, "threads": runs[0]["threads"], "k": cell.k,
            "generation_s": cell.generation_s,
            "efficiency": med(lambda r: r["efficiency"]), "env_overhead": med(lambda r: r["env_overhead"]),
            "episodes_per_s": med(lambda r: r["episodes_per_s"]), "ideal_episodes_per_s": runs[0]["ideal_episodes_per_s"],
            "cpu_ms_per_episode": med(lambda r: r["cpu_ms_per_episode"]),
            "cpu_ms_per_model_frame": None if any(r["cpu_ms_per_model_frame"] is None for r in runs)
            else med(lambda r: r["cpu_ms_per_model_frame"]),
            "loop_lag": {k: med(lambda r, k=k: r["loop_lag"][k]) for k in runs[0]["loop_lag"]},
            "fill_loop_lag_max_ms": med(lambda r: r["fill"]["loop_lag_max_ms"]),
            "peak_rss_mb": med(lambda r: r["peak_rss_mb"]),
            "tool_runs_over_unique_keys": med(lambda r: r["tool_runs"] / max(1, r["unique_keys"])),
            "runs": runs, "checks": {k: all(checks(cell, r)[k] for r in runs) for k in checks(cell, runs[0])}}
