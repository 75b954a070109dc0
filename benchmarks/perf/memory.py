"""Memory of one env, and how it grows with the frames per episode.

Each configuration runs in a fresh spawned process, so one's figures do not include another's.
Three figures per frame count:
- process peak (VmHWM): what one async sub-env's process costs, libraries included;
- episode peak: the most memory Python and numpy held at once over the timed episodes
  (tracemalloc), i.e. the env's own data: frames, observations, tool images, dialogue;
- growth: RSS after the last episode minus after the warm-up one, which shows any leak.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import tracemalloc
from typing import Any

FRAME_COUNTS = (8, 16, 32, 64)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure_env(num_frames: int, episodes: int, cache: str) -> dict[str, float]:
    """In this process: one env's process peak, its episodes' peak allocations and RSS growth over them."""
    import gymnasium as gym

    import videostar_env  # noqa: F401  (registers the env ids)
    from videostar_env import answer, tool_call
    from videostar_env.tools.cache import CacheConfig

    env = gym.make("VideoSTAR-v0", num_frames=num_frames, tool_cache=CacheConfig(cache))

    def episode(seed: int) -> None:
        _, info = env.reset(seed=seed)
        for tool in info["tools"]:
            env.step(tool_call(tool["function"]["name"]))
        env.step(answer(info["candidates"][0]))

    episode(0)  # loads the decoder and the tools' libraries, which every later episode shares
    warm = _status_mb("VmRSS")
    tracemalloc.start()
    for k in range(1, episodes + 1):
        episode(k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    env.close()
    return {"process_peak_mb": round(_status_mb("VmHWM"), 1), "episode_peak_mb": round(peak / 2**20, 2),
            "rss_growth_mb": round(_status_mb("VmRSS") - warm, 1)}


def memory_per_env(frame_counts: tuple[int, ...] = FRAME_COUNTS, episodes: int = 20) -> dict[str, Any]:
    """Per frame count: the env's memory figures and its frames' size; the growth per extra frame."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as cache:
        context = multiprocessing.get_context("spawn")
        for frames in frame_counts:
            with context.Pool(1) as pool:  # a fresh process per configuration
                measured = pool.apply(measure_env, (frames, episodes, cache))
            rows.append({"num_frames": frames, **measured, "frames_mb": round(frames * 128 * 128 * 3 / 2**20, 2)})
    first, last = rows[0], rows[-1]
    slope = (last["episode_peak_mb"] - first["episode_peak_mb"]) / (last["num_frames"] - first["num_frames"])
    return {"episodes": episodes, "frame_size": [128, 128], "rows": rows, "episode_mb_per_extra_frame": round(slope, 3)}
