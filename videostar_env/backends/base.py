"""Backend protocols: the models behind the tools. Every vision backend speaks the same format.

Format (what YOLO produces and the oracle reproduces): per sampled frame, a list of
Detection(box=[x1, y1, x2, y2] in pixels of the episode's frames, score, keypoints=(17, 3)
array of x, y, confidence in COCO-17 order, or None for detection-only backends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..tools.base import ToolContext


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


class VisionBackend(Protocol):
    """Finds people (and their keypoints) in the episode's sampled frames."""

    id: str  # names the backend and its weights, for caches and logs

    def detect(self, ctx: "ToolContext") -> list[FrameDetections]: ...

    def pose(self, ctx: "ToolContext") -> list[FrameDetections]: ...


class ExplanationBackend(Protocol):
    """Redefines action labels through their phases and sub-motions."""

    id: str

    def explain(self, labels: Sequence[str], ctx: "ToolContext") -> dict[str, str]: ...


@dataclass(frozen=True)
class Description:
    """A video description and the keyframes (positions in the sampled frames) it was made from."""

    text: str
    keyframes: tuple[int, ...]


class DescriptionBackend(Protocol):
    """Describes the movement in the salient keyframes of the video."""

    id: str

    def describe(self, num_keyframes: int, ctx: "ToolContext") -> Description: ...


def salient_keyframes(ctx: "ToolContext", count: int) -> tuple[int, ...]:
    """The paper's keyframe rule: frames of maximum joint displacement; evenly spaced if no pose is found."""
    from ..tools.base import ToolError
    from ..tools.kinematics import analyze
    from ..tools.overlay import spread

    try:
        track = main_track(ctx.backends.vision.pose(ctx))
    except ToolError:
        track = None
    if track is None:
        return tuple(spread(len(ctx.clip.frames), count))
    return analyze(track, count).peak_frames


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
