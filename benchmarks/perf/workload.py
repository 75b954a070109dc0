"""Tool runs in a GRPO-style workload: groups of rollouts per video, several epochs, with and without the cache.

Two policies: "same_tools" (every rollout of a group calls the same two tools, as a converged policy
does: the uncached run repeats each call group-size times) and "sampled_tools" (each rollout draws
1-3 tools, as an exploring policy does, so a group repeats some keys and not others). Backend calls are counted by
wrapping the env's backends: each is one model call (YOLO, Qwen) with real backends.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import gymnasium as gym
import numpy as np

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env import answer, tool_call
from videostar_env.backends import Backends
from videostar_env.video.decode import decode
from videostar_env.tools import ToolContext, validate_arguments
from videostar_env.tools.cache import CacheConfig, ToolCache, tool_key


class CountedBackend:
    """A backend whose method calls are counted; everything else passes through."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return attr(*args, **kwargs)

        return counted


POLICIES = ("same_tools", "sampled_tools")


def rollout_calls(policy: str, tools: list[str], video: int, rollout: int, epoch: int) -> list[str]:
    """The tools one rollout calls: the first two, or 1-3 drawn from a seed of (video, rollout, epoch)."""
    if policy == "same_tools":
        return tools[:2]
    rng = np.random.default_rng([video, rollout, epoch])
    return [str(name) for name in rng.choice(tools, size=int(rng.integers(1, 4)), replace=False)]


def grpo_workload(policy: str = "same_tools", videos: int = 8, group: int = 4, epochs: int = 2) -> dict[str, Any]:
    """Tool runs and backend calls per epoch, cached vs uncached, against the unique (video, tool, args) keys."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    result: dict[str, Any] = {"policy": policy, "videos": videos, "group_size": group, "epochs": epochs}
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as cache:
        for mode, cache_config in (("cached", CacheConfig(cache)), ("uncached", None)):
            env = gym.make("VideoSTAR-v0", tool_cache=cache_config).unwrapped
            toolbox, cfg = env.toolbox, env.config
            counted = [CountedBackend(getattr(toolbox.backends, kind)) for kind in ("vision", "explanation", "description")]
            toolbox.backends = Backends(*counted)
            contexts: dict[int, ToolContext] = {}  # what the tools saw of each video, for its cache keys
            seen: set[str] = set()
            per_epoch = []
            for epoch in range(epochs):
                before, runs, calls, unique_new = sum(b.calls for b in counted), 0, 0, 0
                start = time.perf_counter()
                for video in range(videos):
                    for rollout in range(group):
                        _, info = env.reset(seed=rollout, options={"index": video})
                        names = rollout_calls(policy, toolbox.names, video, rollout, epoch)
                        if video not in contexts:
                            sample = env.dataset[video]
                            clip = decode(sample.video, cfg.num_frames, cfg.frame_size, cfg.decoder)
                            contexts[video] = toolbox.context(sample, clip, info["candidates"], env.dataset.knowledge)
                        for name in names:
                            _, _, _, _, info = env.step(tool_call(name))
                            outcome = info["tool_results"][-1]
                            runs += not outcome["cached"]
                            calls += 1
                            # What the tool reads decides what is unique: a tool that does not read the video
                            # (explanations of the candidates) is one key for every video with those candidates.
                            tool = toolbox.tools[name]
                            key = ToolCache.hash(tool_key(tool, validate_arguments(tool, outcome["arguments"]),
                                                          contexts[video]))
                            unique_new += key not in seen
                            seen.add(key)
                        env.step(answer(info["candidates"][0]))
                per_epoch.append({"tool_calls": calls, "tool_runs": runs, "new_unique_keys": unique_new,
                                  "backend_calls": sum(b.calls for b in counted) - before,
                                  "seconds": round(time.perf_counter() - start, 3)})
            env.close()
            result[mode] = per_epoch
    first_cached, first_uncached = result["cached"][0], result["uncached"][0]
    result["epoch1_uncached_over_cached_runs"] = round(first_uncached["tool_runs"] / max(1, first_cached["tool_runs"]), 2)
    # Each key is asked group times per epoch only when the whole group calls the same tools.
    fewer = group if policy == "same_tools" else 1
    # Later epochs run only keys no earlier epoch asked for: none when every rollout calls the same tools.
    met = (all(e["tool_runs"] == e["new_unique_keys"] for e in result["cached"])
           and result["epoch1_uncached_over_cached_runs"] >= fewer
           and (policy != "same_tools" or all(e["tool_runs"] == 0 for e in result["cached"][1:])))
    result["target"] = {"runs_equal_new_unique_keys": True, "epoch1_fewer_at_least": fewer,
                        "later_epochs_runs": 0 if policy == "same_tools" else "new keys only", "met": met}
    return result
