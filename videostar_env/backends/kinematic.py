"""Kinematic description: a video description computed from pose keypoints, offline."""

from __future__ import annotations

from typing import Sequence

from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..errors import ToolError
from ..perception.detections import FrameDetections, main_track
from ..perception.kinematics import analyze
from .base import Description


class KinematicDescriber:
    """Describes which joints move, how, and in which frames, from the vision backend's poses."""

    id = "kinematic-v1"

    def describe(self, clip: Clip, sample: VideoSample, keyframes: Sequence[int],
                 poses: Sequence[FrameDetections] | None) -> Description:
        """A short paragraph about the person's movement; its keyframes are the frames of largest displacement."""
        track = main_track(poses) if poses is not None else None
        if track is None:
            raise ToolError("no person was found in the video, so there is no movement to describe.")
        kin = analyze(track, len(keyframes))
        times = ", ".join(f"{clip.timestamps[k]:.1f}s" for k in kin.peak_frames)
        text = f"One person is visible. Keyframes at {times}.\n" + kin.summary(clip.indices)
        return Description(text, kin.peak_frames)
