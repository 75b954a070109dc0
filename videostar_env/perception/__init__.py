"""Perception helpers: pure functions on arrays (people in frames, kinematics, drawing)."""

from .detections import Detection, FrameDetections, main_track, salient_keyframes, spread
from .kinematics import Kinematics, analyze, observed_submotions
from .overlay import draw_boxes, draw_skeletons

__all__ = ["Detection", "FrameDetections", "Kinematics", "analyze", "draw_boxes", "draw_skeletons", "main_track",
           "observed_submotions", "salient_keyframes", "spread"]
