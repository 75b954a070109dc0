"""YOLO11 pose in one process (CPU, and the GPU when torch sees one), as ratios:

- one episode's frames in one model call vs one call per frame;
- 64 episodes at once, verl's agent-loop pattern (asyncio, each env call in an executor thread,
  each episode's env with its own vision backend of the same options, so all share one model
  service): model calls of up to 64 frames from the episodes waiting vs one call per episode,
  with 1 and 2 model copies on CPU (what backends/yolo.py's CPU_SHARING and GPU_SHARING rest on).

The real int8 TFLite YOLO11n-pose from the shared data when present (CPU); a YOLO11n-pose built
from ultralytics' yaml otherwise and on the GPU (random weights: the same compute). No results
are kept per clip (memory=0): every call runs the model.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from videostar_env.backends import YOLOVision
from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.video.decode import Clip

from ..tools import SHARED_POSE, machine, yaml_weights
from .timing import interleaved_ms

CLIPS = SHARED_POSE.parents[1] / "clips"
REAL_CLIPS = ("arm_wrestling.mp4", "apply_eye_makeup.avi", "flipping_pancake.mkv")


def episode_clips(episodes: int, frames: int = 16, size: int = 224) -> list[Clip]:
    """Clips with different frames, one per episode: the real clips from later and later starts (synthetic videos
    when the real clips are absent)."""
    videos = [str(CLIPS / name) for name in REAL_CLIPS if (CLIPS / name).exists()] or \
        [s.video for s in SyntheticDataset(per_class=1)][:3]
    clips = []
    for k in range(episodes):
        video = videos[k % len(videos)]
        whole = decode(video, frames, (size, size))
        duration = whole.total_frames / whole.fps
        start = (k // len(videos)) * duration / (episodes // len(videos) + 2)
        clips.append(decode(video, frames, (size, size), window=(start, duration)))
    return clips


def episodes_at_once(options: dict[str, Any], clips: list[Clip], threads: int) -> dict[str, Any]:
    """Every clip's pose at once, one backend per episode, env calls in `threads` executor threads."""
    sample = SyntheticDataset(per_class=1)[0]  # the backend reads only the clip
    visions = [YOLOVision(**options) for _ in clips]
    service = visions[0].batched("pose")
    calls, frames = service.calls, service.frames

    async def play() -> None:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(threads) as pool:
            await asyncio.gather(*(loop.run_in_executor(pool, v.pose, c, sample) for v, c in zip(visions, clips)))

    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(play())
    return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "model_calls": service.calls - calls, "frames": service.frames - frames}


def shared_service(pose_weights: str, device: str, episodes: int = 64, frames: int = 16, size: int = 224,
                   batch: int = 64, threads: int | None = None, repeats: int = 3) -> dict[str, Any]:
    """Episodes per second of `episodes` concurrent episodes: calls of up to `batch` frames from any episodes vs one
    call per episode."""
    threads = threads or min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor, as verl's loop uses
    clips = episode_clips(episodes, frames, size)
    base = {"detect_weights": pose_weights, "pose_weights": pose_weights, "device": device, "memory": 0}
    copies = (1, 2) if device == "cpu" else (1,)
    modes = {f"{kind}_x{n}": {**base, "batch_size": frames if kind == "per_episode" else batch, "replicas": n}
             for n in copies for kind in ("per_episode", "batched")}
    keep = [YOLOVision(**options) for options in modes.values()]  # their services (the models) live between rounds
    for options in modes.values():  # warm-up: load every model copy, initialise the runtime
        episodes_at_once(options, clips[:threads], threads)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in modes}
    for _ in range(repeats):  # round-robin: load on a shared machine hits every mode alike
        for name, options in modes.items():
            runs[name].append(episodes_at_once(options, clips, threads))
    del keep
    result: dict[str, Any] = {"device": device, "weights": Path(pose_weights).name, "episodes": episodes,
                              "frames": frames, "frame_size": size, "batch": batch, "threads": threads,
                              "repeats": repeats}
    for name, rows in runs.items():
        wall = statistics.median(r["wall_s"] for r in rows)
        cpu = statistics.median(r["cpu_s"] for r in rows)
        result[name] = {"episodes_per_s": round(episodes / wall, 2), "wall_s": round(wall, 2),
                        "cpu_ms_per_frame": round(1000 * cpu / (episodes * frames), 2),
                        "frames_per_call": round(sum(r["frames"] for r in rows) / sum(r["model_calls"] for r in rows),
                                                 1)}
    for n in copies:
        batched, single = result[f"batched_x{n}"], result[f"per_episode_x{n}"]
        result[f"batched_over_per_episode_x{n}"] = round(batched["episodes_per_s"] / single["episodes_per_s"], 2)
    if len(copies) > 1:
        result["two_copies_over_one"] = round(result["batched_x2"]["episodes_per_s"]
                                              / result["batched_x1"]["episodes_per_s"], 2)
    return result


def frame_batching(pose_weights: str, device: str, frames: int = 16, size: int = 256, repeats: int = 3) -> dict:
    """Milliseconds per frame for one episode's frames in one model call vs one call per frame."""
    clip = decode(SyntheticDataset(per_class=1)[0].video, frames, (size, size))
    sample = SyntheticDataset(per_class=1)[0]
    visions = {mode: YOLOVision(pose_weights, pose_weights, device=device, batch_size=batch_size, memory=0)
               for mode, batch_size in (("batched", frames), ("per_frame", 1))}
    times = interleaved_ms({mode: (lambda v=v: v.pose(clip, sample)) for mode, v in visions.items()}, repeats)
    result: dict[str, Any] = {"device": device, "weights": Path(pose_weights).name, "frames": frames,
                              "frame_size": size}
    for mode in visions:
        result[f"{mode}_ms_per_frame"] = round(statistics.median(times[mode]) / frames, 2)
    result["speedup"] = round(result["per_frame_ms_per_frame"] / result["batched_ms_per_frame"], 2)
    return result


def yolo_pose(repeats: int = 3, episodes: int = 64) -> dict[str, Any]:
    """Batched vs per-frame calls in one episode, and `episodes` concurrent episodes batched vs one call each."""
    devices = ["cpu"] + (["cuda:0"] if machine()["gpu"] else [])
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as scratch:
        built = yaml_weights(Path(scratch))["pose"]
        weights = [built] + ([str(SHARED_POSE)] if SHARED_POSE.exists() else [])
        rows = [frame_batching(w, d, repeats=repeats) for w in weights for d in devices]
        # The runtime a CPU runs the episodes on: the int8 TFLite when present; the GPU runs the PyTorch model.
        on_cpu = str(SHARED_POSE) if SHARED_POSE.exists() else built
        service = [shared_service(on_cpu if d == "cpu" else built, d, episodes=episodes, repeats=repeats)
                   for d in devices]
    gpu = [r for r in rows if r["device"] != "cpu"]
    target: dict[str, Any] = {"gpu_batched_speedup": 2.0}
    target["met"] = all(r["speedup"] >= 2.0 for r in gpu) if gpu else None  # None: no GPU here to measure
    return {"rows": rows, "target": target, "episodes": service}
