"""The cells of the concurrency benchmark: what one measured configuration is, its env options and its data."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from videostar_env.datasets import SyntheticDataset
from videostar_env.tools.cache import CacheConfig

from ..tools import SHARED_DETECT, SHARED_POSE
from .decoding import SHARED_CLIPS, benchmark_videos

ENV_ID, TURNS, GROUP, FRAMES = "VideoSTAR-v0", 3, 4, 16
TOOLS = ("pose_estimation", "human_detection")  # turns 1 and 2; turn 3 answers
KS, GENERATION_S, DATA = (1, 4, 16, 64), (0.05, 0.5), ("synthetic", "clips")
CACHES, MODES = ("off", "results", "cold", "warm"), ("pool", "before")
SYNTHETIC = {"dataset": "synthetic", "dataset_kwargs": {"per_class": 2}}  # two videos per class
QUICK = {"ks": (1, 16, 64), "generation_s": (0.05,), "rounds": 1, "repeats": 1, "vector_episodes": 6}  # a smoke run
# The grid `python -m videostar_benchmarks.perf` measures and docs/scaling-out.md shows (the whole grid above is the
# concurrency command's default, hours on 2 cores): every cache a worker runs with, EnvPool against the pattern
# before it, K = 1, 16 and 64; on the real clips when they are here (documented_grid).
DOCUMENTED = {"caches": ("off", "results", "cold"), "modes": ("pool", "before"), "ks": (1, 16, 64),
              "generation_s": (0.05,), "rounds": 1, "repeats": 3}


def documented_grid() -> dict[str, Any]:
    """The documented grid's options, on the real clips when the shared data holds them, else the synthetic videos."""
    clips = SHARED_CLIPS.is_dir() and SHARED_POSE.exists() and SHARED_DETECT.exists()
    return {**DOCUMENTED, "data": ("clips",) if clips else ("synthetic",)}


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
