"""The node vision service batching the frames of many episodes into its model calls vs one call per episode.

    python -m videostar_benchmarks.perf.service_batching --out DIR [--episodes 64] [--repeats 3] [--device DEVICE]

E episodes at once, each asking the service for the poses of its own clip (16 frames at 224 px, the real
clips from later and later starts) from its own executor thread, as verl's agent-loop workers do: the
service's model calls take up to 64 frames from every episode waiting ("batched") or one episode's
frames each ("per_episode"), no results kept (every call runs the model). Per mode: episodes/s (median
of the rounds, the modes interleaved) and the frames per model call; then batched ÷ per-episode. On the
GPU (device cuda:0, the default when torch sees one) a YOLO11n-pose built from ultralytics' yaml runs
(random weights: the same compute); on CPU the real int8 TFLite when the shared data holds it. Writes
DIR/service_batching.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from videostar_env.backends import make_backend
from videostar_env.datasets import SyntheticDataset

from ..tools import SHARED_POSE, machine, yaml_weights
from .yolo import episode_clips

MODES = ("batched", "per_episode")


def service_batching(device: str | None = None, episodes: int = 64, frames: int = 16, batch: int = 64,
                     repeats: int = 3) -> dict[str, Any]:
    """Episodes/s and frames per model call of `episodes` concurrent episodes through the node service, per mode."""
    import ray

    if episodes < 1 or frames < 1 or batch < 1 or repeats < 1:
        raise ValueError(f"episodes, frames, batch and repeats must be at least 1; got {episodes}, {frames}, {batch}, "
                         f"{repeats}")
    device = device or ("cuda:0" if machine()["gpu"] else "cpu")
    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, log_to_driver=False)
    visions: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="videostar-perf-batching-") as scratch:
            weights = str(SHARED_POSE) if device == "cpu" and SHARED_POSE.exists() \
                else yaml_weights(Path(scratch))["pose"]
            clips = episode_clips(episodes, frames)
            sample = SyntheticDataset(per_class=1)[0]  # the backend reads only the clip
            for mode in MODES:
                visions[mode] = make_backend("vision", ("ray", {
                    "backend": "yolo", "service_name": f"videostar-perf-batching-{mode}-{time.monotonic_ns()}",
                    "num_gpus": 0.1 if device.startswith("cuda") else 0, "memory": 0,
                    "options": {"pose_weights": weights, "detect_weights": weights, "device": device, "memory": 0,
                                "batch_size": batch if mode == "batched" else frames}}))
                visions[mode].load_models(["pose"])
            with ThreadPoolExecutor(episodes) as pool:
                def play(mode: str) -> dict[str, float]:
                    vision = visions[mode]
                    before = vision.stats()
                    start = time.perf_counter()
                    list(pool.map(lambda clip: vision.pose(clip, sample), clips))
                    wall = time.perf_counter() - start
                    after = vision.stats()
                    return {"wall_s": wall, **{k: after[k] - before[k] for k in ("model_calls", "model_frames")}}

                for mode in MODES:  # warm-up: every model copy's first calls
                    play(mode)
                runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
                for _ in range(repeats):  # interleaved: load on a shared machine hits both modes alike
                    for mode in MODES:
                        runs[mode].append(play(mode))
    finally:
        for vision in visions.values():  # the services are detached actors: they would outlive the caller's job
            ray.kill(vision.service.handle)
        if started:
            ray.shutdown()
    result: dict[str, Any] = {"device": device, "weights": Path(weights).name, "episodes": episodes,
                              "frames": frames, "batch": batch, "repeats": repeats}
    for mode, rows in runs.items():
        wall = statistics.median(r["wall_s"] for r in rows)
        result[mode] = {"episodes_per_s": round(episodes / wall, 2), "wall_s": round(wall, 3),
                        "frames_per_call": round(sum(r["model_frames"] for r in rows)
                                                 / max(1, sum(r["model_calls"] for r in rows)), 1)}
    result["batched_over_per_episode"] = round(result["batched"]["episodes_per_s"]
                                               / result["per_episode"]["episodes_per_s"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.perf.service_batching",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/perf", help="output folder (default runs/perf)")
    parser.add_argument("--episodes", type=int, default=64, help="episodes at once (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per mode (default 3)")
    parser.add_argument("--device", default=None, help="cuda:0, cpu, ... (default: the GPU when torch sees one)")
    args = parser.parse_args(argv)
    report = {"machine": machine(), "service_batching": service_batching(args.device, args.episodes,
                                                                         repeats=args.repeats)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "service_batching.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["service_batching"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
