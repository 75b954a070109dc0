"""Kinematic description: a video description computed from pose keypoints, offline."""

from __future__ import annotations

from ..tools.base import ToolContext, ToolError
from ..tools.kinematics import analyze
from .base import Description, main_track


class KinematicDescriber:
    """Describes which joints move, how, and in which frames, from the vision backend's poses."""

    id = "kinematic-v1"

    def describe(self, num_keyframes: int, ctx: ToolContext) -> Description:
        """A short paragraph about the person's movement; its keyframes are the frames of largest displacement."""
        track = main_track(ctx.backends.vision.pose(ctx))
        if track is None:
            raise ToolError("no person was found in the video, so there is no movement to describe.")
        kin = analyze(track, num_keyframes)
        times = ", ".join(f"{ctx.clip.timestamps[k]:.1f}s" for k in kin.peak_frames)
        text = f"One person is visible. Keyframes at {times}.\n" + kin.summary(ctx.clip.indices)
        return Description(text, kin.peak_frames)
