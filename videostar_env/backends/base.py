"""Backend protocols: the models behind the tools. Backends take plain inputs and return plain outputs.

Every vision backend speaks perception.detections' format: per sampled frame, a list of
Detection(box, score, keypoints or None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..knowledge import KnowledgeBase
from ..perception.detections import FrameDetections


class VisionBackend(Protocol):
    """Finds people (and their keypoints) in a clip's sampled frames."""

    id: str  # names the backend and its weights, for caches and logs

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]: ...

    def pose(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]: ...


class ExplanationBackend(Protocol):
    """Redefines action labels through their phases and sub-motions."""

    id: str

    def explain(self, labels: Sequence[str], knowledge: KnowledgeBase) -> dict[str, str | None]: ...
    # None: no explanation for that label. A backend may also define check(dataset), raising ValueError when it
    # cannot serve the dataset (the env calls it when it is made).


@dataclass(frozen=True)
class Description:
    """A video description and the keyframes (positions in the sampled frames) it was made from."""

    text: str
    keyframes: tuple[int, ...]


class DescriptionBackend(Protocol):
    """Describes the movement in a clip's keyframes (poses: the vision backend's, None when it found none)."""

    id: str

    def describe(self, clip: Clip, sample: VideoSample, keyframes: Sequence[int],
                 poses: Sequence[FrameDetections] | None) -> Description: ...
