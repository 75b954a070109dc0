"""reset() against the raw decode of the same frames, and the decoders side by side.

The floor is decord opening the file and decoding the env's frame indices at source size:
nothing can sample those frames with less work. reset() adds resizing, the prompt and the
observation; the target is reset <= 1.2x the floor for 16 frames. Each timed reset decodes: the
env played another video just before, so it holds no decoded frames of this one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.video.decode import uniform_indices

from .timing import interleaved_ms, summary

SHARED_CLIPS = Path(os.environ.get("VIDEOSTAR_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) \
    / "clips"


def decord_floor(path: str, num_frames: int) -> np.ndarray:
    """The floor: decord opens the file and decodes the sampled indices at source size, nothing else."""
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    return reader.get_batch(uniform_indices(len(reader), num_frames)).asnumpy()


def opencv_decode(path: str, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """OpenCV for comparison: a seek per sampled index, then a resize."""
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        for index in uniform_indices(total, num_frames):
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if not ok:
                raise RuntimeError(f"OpenCV could not read frame {index} of {path}")
            frames.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size[::-1], interpolation=cv2.INTER_AREA))
        return np.stack(frames)
    finally:
        capture.release()


def benchmark_videos(folder: Path, real_clips: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, path, env kwargs) per video: a synthetic clip, and the shared real clips when present."""
    synthetic = SyntheticDataset()
    videos = [("synthetic " + synthetic[0].id, synthetic[0].video, {"dataset": "synthetic"})]
    clips = sorted(SHARED_CLIPS.glob("*.*")) if real_clips and SHARED_CLIPS.is_dir() else []
    if clips:
        # A folder dataset of the real clips, one class each, so reset() reads them as any user's videos.
        root = folder / "clips"
        for clip in clips:
            (root / clip.stem).mkdir(parents=True, exist_ok=True)
            link = root / clip.stem / clip.name
            if not link.exists():
                link.symlink_to(clip.resolve())
        # reset() calls no tool, and the default backends refuse clips without keypoints or label explanations: no tools.
        real = {"dataset": "folder", "dataset_kwargs": {"root": str(root)}, "tools": []}
        videos += [(clip.name, str(root / clip.stem / clip.name), real) for clip in clips]
    return videos


def reset_vs_decode(repeats: int = 20, num_frames: int = 16, size: tuple[int, int] = (128, 128),
                    real_clips: bool = True) -> dict[str, Any]:
    """Per video (synthetic, and the shared real clips unless real_clips=False): median ms of the floor, each
    decoder and reset(), and reset / floor."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as scratch:
        for name, path, kwargs in benchmark_videos(Path(scratch), real_clips):
            env = gym.make("VideoSTAR-v0", num_frames=num_frames, frame_size=size, **kwargs).unwrapped
            index = next(i for i in range(len(env.dataset)) if env.dataset[i].video == path)
            contenders: dict[str, Callable[[], Any]] = {
                "floor_decord_source_size": lambda: decord_floor(path, num_frames),
                "decord": lambda: decode(path, num_frames, size, "decord"),
                "pyav": lambda: decode(path, num_frames, size, "pyav"),
                "reset": lambda: env.reset(seed=0, options={"index": index}),
            }
            try:
                import cv2  # noqa: F401  (optional: comes with the yolo extra)

                contenders["opencv"] = lambda: opencv_decode(path, num_frames, size)
            except ImportError:
                pass
            # Another video's reset first, untimed: an env shares the clip it still holds, so a timed reset of the
            # video it just played would reuse the decoded frames instead of reading them.
            other = next(i for i in range(len(env.dataset)) if env.dataset[i].video != path)
            release = {"reset": lambda: env.reset(seed=0, options={"index": other})}
            times = interleaved_ms(contenders, repeats, before=release)
            env.close()
            row: dict[str, Any] = {"video": name, **{k: summary(v) for k, v in times.items()}}
            floor = row["floor_decord_source_size"]["median_ms"]
            row["reset_over_floor"] = round(row["reset"]["median_ms"] / floor, 3)
            row["decoder_over_floor"] = {k: round(row[k]["median_ms"] / floor, 3)
                                         for k in ("decord", "pyav", "opencv") if k in row}
            rows.append(row)
    worst = max(r["reset_over_floor"] for r in rows)
    return {"num_frames": num_frames, "frame_size": list(size), "repeats": repeats, "videos": rows,
            "reset_over_floor_worst": worst, "default_decoder": "decord",
            "target": {"reset_over_floor": 1.2, "met": worst <= 1.2}}
