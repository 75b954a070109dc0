"""Shared test set-up: temporary caches, ultralytics kept offline, and where the shared data is."""

import atexit
import os
import shutil
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

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


# Videos the tests write, for what needs no real content (CI has no shared data): name -> (fps, frames, container).
# Non-integer rates and an AVI, as the real clips have; 240x320 so regions of the shared-clip tests fit.
WRITTEN = {"drum.mp4": (12.5, 80, "mp4"), "swing.avi": (25.0, 120, "avi")}
_WRITTEN_DIR = Path(tempfile.mkdtemp(prefix="videostar-test-videos-"))
atexit.register(shutil.rmtree, _WRITTEN_DIR, ignore_errors=True)


def written_video(name: str) -> Path:
    """A test-written video of WRITTEN (made once per session): frame i shows a bar at x = 2i and grey level 2i."""
    import av

    path = _WRITTEN_DIR / name
    if path.exists():
        return path
    fps, count, container = WRITTEN[name]
    tmp = path.with_name(f".{name}")
    with av.open(str(tmp), "w", format=container) as out:
        stream = out.add_stream("libx264" if container == "mp4" else "mpeg4", rate=Fraction(fps).limit_denominator())
        stream.height, stream.width, stream.pix_fmt = 240, 320, "yuv420p"
        # x264 without lookahead, as video/encode.py: the same bytes whatever the process did before
        stream.options = {"threads": "1", "g": "12", **({"x264-params": "rc-lookahead=0:mbtree=0"}
                                                         if container == "mp4" else {})}
        for i in range(count):
            frame = np.full((240, 320, 3), (2 * i) % 256, np.uint8)
            frame[40:200, 2 * i:2 * i + 16] = (255, 40, 40)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    tmp.rename(path)
    return path


@pytest.fixture
def written_folder(tmp_path):
    """root/<class>/<clip>: the WRITTEN videos as a folder dataset (symlinks), one class each."""
    root = tmp_path / "written"
    for name in WRITTEN:
        (root / name.split(".")[0]).mkdir(parents=True)
        (root / name.split(".")[0] / name).symlink_to(written_video(name))
    return root


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
