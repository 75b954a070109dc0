"""Shared test set-up: temporary caches, ultralytics kept offline, and where the shared data is."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

# Set before any env is made so async vector-env workers (subprocesses) inherit them too.
os.environ.setdefault("VIDEOSTAR_CACHE_DIR", tempfile.mkdtemp(prefix="videostar-test-cache-"))
# Ultralytics must not touch the network in tests, nor write settings into the home folder.
os.environ["YOLO_OFFLINE"] = "1"
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="videostar-test-yolo-"))
# qwen_vl_utils (verl's RLHFDataset) prefers torchcodec, whose wheel needs a system FFmpeg this machine
# lacks; it reads this variable once, at import.
os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")

# The project's shared data sits beside the checkout; VIDEOSTAR_SHARED_DATA points elsewhere.
SHARED = Path(os.environ.get("VIDEOSTAR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(autouse=True)
def python_switch_interval():
    """Each test starts with Python's GIL switch interval: tune_worker_process sets the process's own (trainers/process.py)."""
    interval = sys.getswitchinterval()
    yield
    sys.setswitchinterval(interval)


def shared_file(relative: str) -> Path:
    """A file of the shared data, or a skip saying how to provide it."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not present (set VIDEOSTAR_SHARED_DATA to the shared data folder)")
    return path


# The shared real clips, by the class each stands for.
CLIPS = {"apply_eye_makeup": "apply_eye_makeup.avi", "arm_wrestling": "arm_wrestling.mp4",
         "flipping_pancake": "flipping_pancake.mkv"}


@pytest.fixture
def clip_folder(tmp_path):
    """root/<class>/<clip>: the three real clips as a folder dataset (symlinks)."""
    root = tmp_path / "clips"
    for label, name in CLIPS.items():
        (root / label).mkdir(parents=True)
        (root / label / name).symlink_to(shared_file(f"clips/{name}"))
    return root


def build_weights(yaml: str, path, seed: int = 0) -> str:
    """A random YOLO11 model from ultralytics' own yaml, saved the way trained weights are."""
    import torch
    import ultralytics

    torch.manual_seed(seed)
    ultralytics.YOLO(yaml).save(str(path))
    return str(path)
