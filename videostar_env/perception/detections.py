"""People found in frames, the one format every vision backend speaks, and the main person's track.

Per sampled frame, a list of Detection(box=[x1, y1, x2, y2] in pixels of the episode's frames,
score, keypoints=(17, 3) array of x, y, confidence in COCO-17 order, or None for detection-only
backends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .kinematics import analyze


@dataclass(frozen=True)
class Detection:
    """One person in one frame."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    keypoints: np.ndarray | None = None  # (17, 3): x, y, confidence

    def to_json(self) -> dict:
        """JSON-ready form (for tool data and caches)."""
        out = {"box": [round(float(v), 2) for v in self.box], "score": round(float(self.score), 4)}
        if self.keypoints is not None:
            out["keypoints"] = np.round(self.keypoints.astype(float), 2).tolist()
        return out


FrameDetections = list[Detection]


def main_track(frames: Sequence[FrameDetections]) -> np.ndarray | None:
    """(T, 17, 3) keypoints of the largest person per frame; gaps filled from the nearest frame; None if nobody."""
    picked: list[np.ndarray | None] = []
    for dets in frames:
        with_kp = [d for d in dets if d.keypoints is not None]
        best = max(with_kp, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]), default=None)
        picked.append(None if best is None else np.asarray(best.keypoints, dtype=np.float32))
    present = [i for i, kp in enumerate(picked) if kp is not None]
    if not present:
        return None
    return np.stack([picked[min(present, key=lambda j: abs(j - i))] for i in range(len(picked))])


def spread(n: int, k: int) -> list[int]:
    """k positions spread evenly over range(n) (all of them if k >= n)."""
    if k >= n:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / max(k - 1, 1))) for i in range(k)})


def salient_keyframes(num_frames: int, poses: Sequence[FrameDetections] | None, count: int) -> tuple[int, ...]:
    """The paper's keyframe rule: frames of maximum joint displacement; evenly spaced if no pose is known."""
    track = main_track(poses) if poses is not None else None
    if track is None:
        return tuple(spread(num_frames, count))
    return analyze(track, count).peak_frames
