"""VideoSample: one labelled video, the unit every dataset yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VideoSample:
    """One labelled video with the label space its episode is asked to choose from."""

    id: str
    video: str  # path to the video file
    label: str
    label_space: tuple[str, ...]
    dataset: str
    split: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
