"""Concurrent episodes in one event loop, driven through EnvPool as verl's agent loop drives it.

    python -m videostar_benchmarks.perf.concurrency --out DIR [--quick] [--data synthetic,clips] [--ks 1,16] [--threads N] ...

A cell is K episodes started together (one agent-loop worker's share of a rollout batch; GRPO
groups of 4 rollouts on one video), each: reset, then 3 turns of a simulated generation
(asyncio.sleep(G): the LLM server's time, no CPU here) and a step (pose_estimation, human_detection,
the answer), messages converted by qwen_chat as the agent loop does. Without env cost a cell runs
K / (3 G) episodes per second (ideal); the env overhead is the share of that lost. Per cell, in a
fresh process (so that its peak RSS is its own), median of `repeats` processes: episodes/s over the
ideal, CPU ms per episode (all threads: the env's cost, which other load hardly changes), the event
loop's lag (a ticker coroutine), peak RSS, and the tool runs against the unique (video, tool,
arguments) keys, with the backend calls counted by wrapping each env's vision backend and the
frames its models ran. Cache: off (no tool cache, and the YOLO service keeps no results per clip:
every tool run is model work), results (no tool cache, the YOLO service keeping results per clip
as it does by default), cold (empty at the start) or warm (filled before timing). Mode "pool" is EnvPool; mode "before" is
the agent loop's pattern before it (verl's default executor, envs made on the loop, messages
converted on the loop, no gc.freeze, equal CPU priority, Python's GIL switch interval, malloc left alone), for comparison. Data: synthetic videos (oracle vision) and
the three real clips (YOLO11n int8 pose and detection, 224 px frames). Each process runs one
episode's work (no cache) on its first env before timing; in mode "pool" it first sets the worker's
process settings and imports the heavy libraries (tune_worker_process and preload_libraries, as Ray's
worker_process_setup_hook does when a verl worker starts), so the fill's loop lag is that of building envs, not of importing torch. Plus Gymnasium's async vector env on the real clips:
2 sub-envs over 1. Writes DIR/concurrency.json and DIR/concurrency.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, AsyncIterator

import gymnasium as gym
from gymnasium.vector import AutoresetMode

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents.messages import qwen_chat
from videostar_env import answer, make_vec, tool_call
from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.tools import Toolbox
from videostar_env.tools.cache import CacheConfig
from videostar_trainers.env_pool import EnvPool, Transition, load_models, preload_libraries
from videostar_trainers.process import tune_worker_process

from ..tools import SHARED_DETECT, SHARED_POSE
from .decoding import SHARED_CLIPS, benchmark_videos
from .workload import CountedBackend

ENV_ID, TURNS, GROUP, FRAMES, TICK_S = "VideoSTAR-v0", 3, 4, 16, 0.005
TOOLS = ("pose_estimation", "human_detection")  # turns 1 and 2; turn 3 answers
KS, GENERATION_S, DATA = (1, 4, 16, 64), (0.05, 0.5), ("synthetic", "clips")
CACHES, MODES = ("off", "results", "cold", "warm"), ("pool", "before")
SYNTHETIC = {"dataset": "synthetic", "dataset_kwargs": {"per_class": 2}}  # two videos per class
QUICK = {"ks": (1, 16, 64), "generation_s": (0.05,), "rounds": 1, "repeats": 1, "vector_episodes": 6}  # a smoke run


@dataclasses.dataclass
class Cell:
    """One measured configuration, and where its data and cache are."""

    data: str
    cache: str
    mode: str
    k: int
    generation_s: float
    rounds: int
    data_kwargs: dict[str, Any]
    cache_dir: str | None = None
    threads: int | None = None
    vision_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # more YOLO options on the clips


def env_kwargs(cell: Cell) -> dict[str, Any]:
    """gym.make keyword arguments of a cell: its data, the vision tools, 224 px frames and its cache (off: no tool
    cache, and the YOLO service keeps no results per clip either, so that every tool run is model work; results:
    no tool cache, the service's default memory)."""
    off = cell.cache == "off"
    kwargs: dict[str, Any] = {**cell.data_kwargs, "num_frames": FRAMES, "frame_size": (224, 224), "tools": list(TOOLS),
                              "tool_cache": None if cell.cache in ("off", "results") else CacheConfig(cell.cache_dir)}
    if cell.data == "clips":
        kwargs["vision"] = ("yolo", {"detect_weights": str(SHARED_DETECT), "pose_weights": str(SHARED_POSE),
                                     "imgsz": 256, "device": "cpu", **({"memory": 0} if off else {}),
                                     **cell.vision_options})
    return kwargs


def model_services(envs: list[gym.Env]) -> list[Any] | None:
    """The model services behind these envs' vision backends (each once); None for a backend without them (the
    oracle)."""
    vision = [env.unwrapped.toolbox.backends.vision for env in envs]
    if not all(hasattr(v, "service") for v in vision):
        return None
    return list({id(s): s for v in vision for s in (v.service("detect"), v.service("pose"))}.values())


def model_work(services: list[Any] | None) -> dict[str, int | None]:
    """Model calls and frames those services have run so far (None without services)."""
    if services is None:
        return {"model_calls": None, "model_frames": None}
    return {"model_calls": sum(s.calls for s in services), "model_frames": sum(s.frames for s in services)}


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


class EnvsBefore:
    """The agent loop's pattern before EnvPool: verl's default executor (min(32, cores + 4) threads), envs made on
    the loop, messages converted on the loop, no gc.freeze. The same methods as EnvPool, for comparison."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]):
        self.env_id, self.kwargs, self.idle = env_id, kwargs, []
        self.threads = min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's default, which verl's loop uses

    async def start(self, envs: int, warm: Any = None) -> None:
        """Make envs on the loop, as the first batch did; warm them there too."""
        for _ in range(envs):
            self.idle.append(gym.make(self.env_id, **self.kwargs))
            if warm is not None:
                warm(self.idle[-1])

    @contextlib.asynccontextmanager
    async def env(self) -> AsyncIterator[gym.Env]:
        """An idle env (made on the loop when none is), given back afterwards."""
        env = self.idle.pop() if self.idle else gym.make(self.env_id, **self.kwargs)
        try:
            yield env
        finally:
            self.idle.append(env)

    async def reset(self, env: gym.Env, *, seed: int, options: dict, convert: Any, observe: bool = True) -> Transition:
        """reset on the default executor, messages converted on the loop."""
        obs, info = await asyncio.get_running_loop().run_in_executor(None, lambda: env.reset(seed=seed, options=options))
        return Transition(obs if observe else None, info, converted=convert(info["messages"]))

    async def step(self, env: gym.Env, action: str, convert: Any, observe: bool = True) -> Transition:
        """step on the default executor, messages converted on the loop while the episode goes on."""
        obs, reward, term, trunc, info = await asyncio.get_running_loop().run_in_executor(None, lambda: env.step(action))
        return Transition(obs if observe else None, info, float(reward), term, trunc, None if term or trunc else convert(info["messages"]))

    def close(self) -> None:
        """Close every env."""
        for env in self.idle:
            env.close()


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


def cells(ks: tuple[int, ...], generation_s: tuple[float, ...], data: tuple[str, ...], caches: tuple[str, ...],
          modes: tuple[str, ...], threads: tuple[int | None, ...] = (None,)) -> list[tuple]:
    """The grid as (data, cache, mode, threads, K, G): EnvPool for every data, cache and thread count (None: the
    cores); the pattern before it with no tool cache only (off and results)."""
    return [(d, c, m, t, k, g) for d in data for m in modes for c in caches if m == "pool" or c in ("off", "results")
            for t in (threads if m == "pool" else (None,)) for k in ks for g in generation_s]


def data_kwargs(data: tuple[str, ...], scratch: Path) -> dict[str, tuple[dict[str, Any], int]]:
    """Per data: its gym.make data options and its number of videos (synthetic videos rendered now, not timed)."""
    found: dict[str, tuple[dict[str, Any], int]] = {}
    if "synthetic" in data:
        videos = SyntheticDataset(**SYNTHETIC["dataset_kwargs"])
        found["synthetic"] = (SYNTHETIC, len([videos[i] for i in range(len(videos))]))
    if "clips" in data:
        if not (SHARED_CLIPS.is_dir() and SHARED_POSE.exists() and SHARED_DETECT.exists()):
            raise FileNotFoundError(f"the real clips and YOLO weights are not under {SHARED_CLIPS.parent}: set "
                                    f"VIDEOSTAR_SHARED_DATA to the shared data folder, or pass --data synthetic")
        kwargs = next(k for _, _, k in benchmark_videos(scratch) if k["dataset"] == "folder")
        found["clips"] = (kwargs, len(list(SHARED_CLIPS.glob("*.*"))))
    return found


def vector_on_clips(clips: dict[str, Any], episodes: int, rounds: int) -> dict[str, Any]:
    """Episodes/s of make_vec's sync (1) and async (1, 2) vector envs on the real clips, cache off; 2 over 1."""
    kwargs = env_kwargs(Cell("clips", "off", "vector", 1, 0.0, 1, clips))

    def rate(mode: str, n: int) -> float:
        envs = make_vec(ENV_ID, n, mode, vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kwargs)
        try:
            _, infos = envs.reset(seed=0)
            done, start = 0, None
            while done < episodes + n:  # each sub-env's first episode loads the models: not timed
                actions = [tool_call(TOOLS[infos["turn"][i]]) if infos["turn"][i] < len(TOOLS)
                           else answer(infos["ground_truth"]["label"][i]) for i in range(n)]
                _, _, terminated, truncated, infos = envs.step(actions)
                done += int((terminated | truncated).sum())
                if start is None and done >= n:
                    start, done = time.perf_counter(), 0
            return done / (time.perf_counter() - start)
        finally:
            envs.close()

    runs: dict[str, list[float]] = {"sync_1": [], "async_1": [], "async_2": []}
    for _ in range(rounds):
        for name in runs:
            mode, n = name.split("_")
            runs[name].append(rate(mode, int(n)))
    eps = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    return {"async_2_over_async_1": round(eps["async_2"] / eps["async_1"], 2),
            "async_2_over_sync_1": round(eps["async_2"] / eps["sync_1"], 2), "episodes_per_s": eps, "episodes": episodes}


def concurrency(ks: tuple[int, ...] = KS, generation_s: tuple[float, ...] = GENERATION_S, data: tuple[str, ...] = DATA,
                caches: tuple[str, ...] = CACHES, modes: tuple[str, ...] = MODES, rounds: int = 2, repeats: int = 3,
                threads: tuple[int | None, ...] = (None,), vector_episodes: int = 24,
                vision_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every cell in fresh processes (repeats interleaved, so load on a shared machine hits all alike), then the
    vector env on the clips (vector_episodes=0: skipped). threads: EnvPool sizes to compare (None: the default);
    vision_options: YOLO options added on the clips (e.g. {"replicas": 1, "batch_size": 8})."""
    for name, given, known in (("data", data, DATA), ("caches", caches, CACHES), ("modes", modes, MODES)):
        if not given or set(given) - set(known):
            raise ValueError(f"{name} must be some of {known}, got {given}")
    if min(ks) < 1 or min(generation_s) <= 0 or rounds < 1 or repeats < 1:
        raise ValueError(f"ks, rounds and repeats must be at least 1 and generation_s above 0, got ks={ks}, "
                         f"generation_s={generation_s}, rounds={rounds}, repeats={repeats}")
    grid = [Cell(d, c, m, k, g, rounds, {}, None, t, dict(vision_options or {})) for d, c, m, t, k, g in cells(ks, generation_s, data, caches, modes,
                                                                                  threads)]
    runs: list[list[dict[str, Any]]] = [[] for _ in grid]
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as scratch:
        found = data_kwargs(data, Path(scratch))
        for repeat in range(repeats):
            for n, cell in enumerate(grid):
                cell = dataclasses.replace(cell, data_kwargs=found[cell.data][0],
                                           cache_dir=str(Path(scratch) / f"cache-{repeat}-{n}"))  # fresh, empty
                with context.Pool(1) as pool:
                    runs[n].append(pool.apply(measure_cell, (dataclasses.asdict(cell), found[cell.data][1])))
        vector = vector_on_clips(found["clips"][0], vector_episodes, 1 if repeats == 1 else 2) \
            if "clips" in found and vector_episodes else None
    rows = [median_row(cell, cell_runs) for cell, cell_runs in zip(grid, runs)]
    return {"turns": TURNS, "group_size": GROUP, "rounds": rounds, "repeats": repeats,
            "tools": list(TOOLS), "rows": rows, "vector_clips": vector}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from . import machine
    from .report import concurrency_table

    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.perf.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/perf", help="output folder (default runs/perf)")
    parser.add_argument("--quick", action="store_true", help="K 1, 16, 64 at G 0.05 s, one process per cell: a smoke run")
    parser.add_argument("--data", default=",".join(DATA), help=f"comma-separated, some of {','.join(DATA)}")
    parser.add_argument("--caches", default=",".join(CACHES), help=f"comma-separated, some of {','.join(CACHES)}")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, some of {','.join(MODES)}")
    parser.add_argument("--ks", help=f"comma-separated episodes at once (default {','.join(map(str, KS))})")
    parser.add_argument("--generation", help=f"comma-separated seconds per generation (default "
                                             f"{','.join(map(str, GENERATION_S))})")
    parser.add_argument("--rounds", type=int, help="rounds of K episodes per process (default 2; quick 1)")
    parser.add_argument("--repeats", type=int, help="processes per cell (default 3; quick 1)")
    parser.add_argument("--vector-episodes", type=int, help="timed episodes of the vector envs on the clips (0: skip)")
    parser.add_argument("--threads", help="comma-separated EnvPool thread counts to compare (default: 4 per core)")
    parser.add_argument("--vision-options", metavar="JSON", help='more YOLO options on the clips, e.g. {"replicas": 1}')
    args = parser.parse_args(argv)
    options: dict[str, Any] = {"data": tuple(args.data.split(",")), "caches": tuple(args.caches.split(",")),
                               "modes": tuple(args.modes.split(","))}
    if args.quick:
        options.update(QUICK)
    given = {"ks": args.ks and tuple(int(k) for k in args.ks.split(",")),
             "generation_s": args.generation and tuple(float(g) for g in args.generation.split(",")),
             "threads": args.threads and tuple(int(t) for t in args.threads.split(",")), "rounds": args.rounds,
             "repeats": args.repeats, "vector_episodes": args.vector_episodes,
             "vision_options": args.vision_options and json.loads(args.vision_options)}
    options.update({k: v for k, v in given.items() if v is not None})
    start = time.perf_counter()
    report = {"machine": machine(), "quick": args.quick, "concurrency": concurrency(**options)}
    report["seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "concurrency.json").write_text(json.dumps(report, indent=2))
    table = concurrency_table(report["concurrency"])
    (out / "concurrency.md").write_text(table)
    print(table)
    print(f"Wrote {out / 'concurrency.json'} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
