"""Episodes per second through Gymnasium's sync and async vector envs, 1, 2 and 4 sub-envs.

An episode is reset (decode 16 frames), one cached pose call and the right answer: the env's
own cost with a policy that costs nothing, which is what the vector env must parallelise.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env import answer, make_vec, tool_call
from videostar_env.tools.cache import CacheConfig

from .grid import ENV_ID, TOOLS, Cell, env_kwargs
from .stepping import warm_pose_cache


DATA = {"dataset": "synthetic", "dataset_kwargs": {"per_class": 2}}  # 28 videos, all rendered before timing


def warm_cache(directory: str) -> None:
    """Run the pose tool once on each video, so that every timed episode reads it from the cache."""
    env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig(directory), **DATA).unwrapped
    warm_pose_cache(env, len(env.dataset))
    env.close()


def episodes_per_second(mode: str, num_envs: int, episodes: int, cache: str, seed: int = 0) -> float:
    """Episodes finished per second by a vector env of num_envs sub-envs (creation not timed)."""
    envs = make_vec("VideoSTAR-v0", num_envs, mode, vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                    tool_cache=CacheConfig(cache), **DATA)
    try:
        start = time.perf_counter()
        _, infos = envs.reset(seed=seed)
        done = 0
        while done < episodes:
            # SAME_STEP autoreset: a finished sub-env's info is already its next episode's first one.
            actions = [tool_call("pose_estimation") if infos["turn"][i] == 0 else answer(infos["ground_truth"]["label"][i])
                       for i in range(num_envs)]
            _, _, terminated, truncated, infos = envs.step(actions)
            done += int((terminated | truncated).sum())
        return done / (time.perf_counter() - start)
    finally:
        envs.close()


def vector_throughput(episodes: int = 48, counts: tuple[int, ...] = (1, 2, 4), rounds: int = 2) -> dict[str, Any]:
    """Episodes/s (median of interleaved rounds) for each mode and sub-env count, and each relative to one sync env."""
    configs = [(mode, n) for mode in ("sync", "async") for n in counts]
    runs: dict[str, list[float]] = {f"{mode}_{n}": [] for mode, n in configs}
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as cache:
        warm_cache(cache)
        episodes_per_second("sync", 1, 4, cache)  # warm-up: file system cache, lazy imports
        for round_ in range(rounds):
            for mode, n in configs:
                runs[f"{mode}_{n}"].append(episodes_per_second(mode, n, episodes, cache, seed=round_))
    rates = {k: round(statistics.median(v), 2) for k, v in runs.items()}
    base = rates["sync_1"]
    result: dict[str, Any] = {"episodes": episodes, "episodes_per_s": rates,
                              "speedup_over_sync_1": {k: round(v / base, 2) for k, v in rates.items()}}
    if "async_2" in rates:
        result["async_2_over_async_1"] = round(rates["async_2"] / rates["async_1"], 2)
        # The cost of the pipes: what one async sub-env adds per episode over the same env run in-process.
        result["ipc_ms_per_episode"] = round(1000 / rates["async_1"] - 1000 / base, 1)
        result["target"] = {"async_2_over_1_env": 1.6, "met": rates["async_2"] / base >= 1.6}
    return result


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
