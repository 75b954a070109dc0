"""Tool benchmark: batched vs per-frame YOLO pose, and cold vs cached tool latency, as ratios in one run.

    python -m videostar_benchmarks.tools --out DIR [--pose-weights PATH] [--vision yolo --vision-options JSON ...]

Writes DIR/tools.json. YOLO runs on CPU, and on the GPU too when torch sees one. Without
--pose-weights it compares a YOLO11n-pose built from ultralytics' yaml (PyTorch; random
weights: the same compute, meaningless output) and the real int8 TFLite YOLO11n-pose from the
shared data when present. Cold vs cached latency is measured with the chosen backends, and
again with YOLO vision (the real int8 weights when present, else yaml-built ones).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from videostar_env.backends import YOLOVision
from videostar_env.cli.options import add_env_args, env_spec
from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.core.config import EnvConfig, EnvParts
from videostar_env.tools.cache import CacheConfig

SHARED_WEIGHTS = Path(os.environ.get("VIDEOSTAR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) \
    / "weights"
SHARED_POSE, SHARED_DETECT = SHARED_WEIGHTS / "yolo11n-pose_int8.tflite", SHARED_WEIGHTS / "yolo11n_int8.tflite"


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def yaml_weights(folder: Path) -> dict[str, str]:
    """YOLO11n detection and pose models built from ultralytics' yaml and saved as .pt (random weights)."""
    from ultralytics import YOLO

    paths = {"detect": folder / "yolo11n-random.pt", "pose": folder / "yolo11n-pose-random.pt"}
    YOLO("yolo11n.yaml").save(str(paths["detect"]))
    YOLO("yolo11n-pose.yaml").save(str(paths["pose"]))
    return {k: str(v) for k, v in paths.items()}


def yolo_vision_spec(folder: Path, device: str) -> tuple[str, dict[str, Any]]:
    """The real int8 YOLO11n weights when present; else yaml-built ones, with conf 0 so random weights find 'people'."""
    if SHARED_POSE.exists() and SHARED_DETECT.exists():
        return ("yolo", {"detect_weights": str(SHARED_DETECT), "pose_weights": str(SHARED_POSE), "device": device})
    built = yaml_weights(folder)
    return ("yolo", {"detect_weights": built["detect"], "pose_weights": built["pose"], "device": device,
                     "conf": 0.0, "max_det": 3})


def yolo_batching(pose_weights: str, device: str, frames: int = 16, size: int = 256, repeats: int = 3) -> dict:
    """Milliseconds per frame for one batched call over the sampled frames vs one call per frame."""
    video = SyntheticDataset(per_class=1)[0].video
    clip = decode(video, frames, (size, size))
    result: dict[str, Any] = {"device": device, "weights": Path(pose_weights).name, "frames": frames,
                              "frame_size": size}
    for mode, batch_size in (("batched", None), ("per_frame", 1)):
        vision = YOLOVision(pose_weights, pose_weights, device=device, batch_size=batch_size, memory=0)
        sample = SyntheticDataset(per_class=1)[0]

        def once() -> None:
            # A fresh clip object each time: the backend remembers only the last clip it saw.
            vision.pose(dataclasses.replace(clip), sample)

        once()  # warm-up: model load, runtime initialisation
        result[f"{mode}_ms_per_frame"] = round(_median_ms(once, repeats) / frames, 2)
    result["speedup"] = round(result["per_frame_ms_per_frame"] / result["batched_ms_per_frame"], 2)
    return result


def tool_latency(kwargs: dict[str, Any], cache_dir: str, videos: int = 4, repeats: int = 5) -> dict:
    """Median milliseconds of each tool's first call on a video (cold) and of later calls (cached)."""
    config = EnvConfig(**{**kwargs, "tool_cache": CacheConfig(cache_dir)})
    parts = EnvParts.build(config)
    task, dataset, toolbox = parts.task, parts.dataset, parts.toolbox
    out: dict[str, Any] = {"backends": {k: getattr(toolbox.backends, k).id for k in ("vision", "explanation", "description")}}
    cold: dict[str, list[float]] = {t: [] for t in toolbox.tools}
    cached: dict[str, list[float]] = {t: [] for t in toolbox.tools}
    for index in range(videos):
        sample = dataset[index]
        clip = decode(sample.video, config.num_frames, config.frame_size, config.decoder)
        ctx = toolbox.context(sample, clip, task.candidates(sample), dataset.knowledge)
        for tool in toolbox.tools:
            for k in range(1 + repeats):
                start = time.perf_counter()
                outcome = toolbox.run(tool, {}, ctx)
                ms = (time.perf_counter() - start) * 1000
                if outcome.ok:
                    (cached if outcome.cached else cold)[tool].append(ms)
    toolbox.close()
    for tool in toolbox.tools:
        entry: dict[str, Any] = {"cold_calls": len(cold[tool]), "cached_calls": len(cached[tool])}
        if cold[tool] and cached[tool]:
            entry["cold_ms_median"] = round(statistics.median(cold[tool]), 3)
            entry["cached_ms_median"] = round(statistics.median(cached[tool]), 3)
            entry["cold_over_cached"] = round(entry["cold_ms_median"] / entry["cached_ms_median"], 1)
        out[tool] = entry
    return out


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["gpu"] = None
    return info


def run(out: str | os.PathLike, kwargs: dict[str, Any] | None = None, pose_weights: str | None = None,
        yolo: bool = True) -> dict[str, Any]:
    """Run the benchmark and write out/tools.json; returns what it wrote."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="videostar-bench-") as scratch:
        report["tool_latency"] = [tool_latency(kwargs or {}, str(Path(scratch) / "cache"))]
        if yolo:
            folder = Path(scratch)
            weights = [pose_weights] if pose_weights else \
                [yaml_weights(folder)["pose"]] + ([str(SHARED_POSE)] if SHARED_POSE.exists() else [])
            devices = ["cpu"] + (["cuda:0"] if report["machine"]["gpu"] else [])
            report["yolo_pose"] = [yolo_batching(w, d) for w in weights for d in devices]
            vision = yolo_vision_spec(folder, devices[-1])
            report["tool_latency"].append(tool_latency({**(kwargs or {}), "vision": vision},
                                                       str(folder / "cache-yolo")))
    (out / "tools.json").write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.tools", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench-tools", help="output folder (default runs/bench-tools)")
    parser.add_argument("--pose-weights", help="YOLO pose weights for the batching comparison")
    parser.add_argument("--no-yolo", action="store_true", help="skip the YOLO batching comparison")
    add_env_args(parser, ["VideoSTAR-v0"], "dataset split")
    args = parser.parse_args(argv)
    report = run(args.out, env_spec(args), args.pose_weights, yolo=not args.no_yolo)
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=2))
    print(f"Wrote {Path(args.out) / 'tools.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
