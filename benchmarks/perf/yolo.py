"""Batched vs per-frame YOLO11 pose on an episode's sampled frames (CPU, and the GPU when torch sees one)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..tools import SHARED_POSE, machine, yaml_weights, yolo_batching


def yolo_pose(repeats: int = 3) -> dict[str, Any]:
    """ms per frame batched and per-frame: yaml-built YOLO11n-pose (PyTorch) and the shared int8 TFLite when present."""
    devices = ["cpu"] + (["cuda:0"] if machine()["gpu"] else [])
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as scratch:
        weights = [yaml_weights(Path(scratch))["pose"]] + ([str(SHARED_POSE)] if SHARED_POSE.exists() else [])
        rows = [yolo_batching(w, d, repeats=repeats) for w in weights for d in devices]
    gpu = [r for r in rows if r["device"] != "cpu"]
    target: dict[str, Any] = {"gpu_batched_speedup": 2.0}
    target["met"] = all(r["speedup"] >= 2.0 for r in gpu) if gpu else None  # None: no GPU here to measure
    return {"rows": rows, "target": target}
