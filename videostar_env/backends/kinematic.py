"""Kinematic description: a video description computed from pose keypoints, offline."""

from __future__ import annotations

from typing import Sequence

from ..tools.base import ToolContext, ToolError
from ..tools.kinematics import analyze
from .base import main_track


class KinematicDescriber:
    """Describes which joints move, how, and in which frames, from the vision backend's poses."""

    id = "kinematic-v1"

    def describe(self, keyframes: Sequence[int], ctx: ToolContext) -> str:
        """A short paragraph about the person's movement around the keyframes."""
        track = main_track(ctx.backends.vision.pose(ctx))
        if track is None:
            raise ToolError("no person was found in the video, so there is no movement to describe.")
        kin = analyze(track)
        times = ", ".join(f"{ctx.clip.timestamps[k]:.1f}s" for k in keyframes)
        return f"One person is visible. Keyframes at {times}.\n" + kin.summary(ctx.clip.indices)
