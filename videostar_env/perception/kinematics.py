"""Pose kinematics: a compact, model-readable summary of COCO-17 keypoints over time.

Shared by every pose backend (oracle, YOLO): the input is keypoints of the main person per
sampled frame; the output is a set of scale-free numeric features and a short text.
Distances are in body heights (so they do not depend on resolution or distance to camera),
angles in degrees, image y is flipped so that "up" is positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .skeleton import INDEX, KEYPOINTS, pretty

ANGLES = {  # joint: (a, vertex, b) keypoint names
    "left_elbow": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_elbow": ("right_shoulder", "right_elbow", "right_wrist"),
    "left_knee": ("left_hip", "left_knee", "left_ankle"),
    "right_knee": ("right_hip", "right_knee", "right_ankle"),
    "left_hip": ("left_shoulder", "left_hip", "left_knee"),
    "right_hip": ("right_shoulder", "right_hip", "right_knee"),
    "left_shoulder": ("left_hip", "left_shoulder", "left_elbow"),
    "right_shoulder": ("right_hip", "right_shoulder", "right_elbow"),
}
LIMB_JOINTS = ("left_wrist", "right_wrist", "left_elbow", "right_elbow", "left_ankle", "right_ankle", "left_knee", "right_knee", "nose")


@dataclass(frozen=True)
class Kinematics:
    """What the keypoints say about how the person moved."""

    features: dict[str, float]
    joint_motion: dict[str, float]  # per joint: std of its position relative to the hip centre, body heights
    angle_ranges: dict[str, tuple[float, float]]  # per joint angle: (min, max) degrees
    peak_frames: tuple[int, ...]  # positions (0-based, in the sampled frames) of largest joint displacement

    def summary(self, frame_indices: tuple[int, ...] | None = None) -> str:
        """A few lines of text a language model can read."""
        f = self.features
        moving = sorted(self.joint_motion.items(), key=lambda kv: -kv[1])[:4]
        lines = ["Joints that move most (relative to the hips): " + ", ".join(f"{pretty(j)} {v:.2f}" for j, v in moving) + "."]
        lines.append("Joint-angle ranges (deg): " + ", ".join(
            f"{pretty(j)} {lo:.0f}-{hi:.0f}" for j, (lo, hi) in self.angle_ranges.items()) + ".")
        trend = f["centre_vertical_trend"]
        trend_word = "rises" if trend > 0.05 else "drops" if trend < -0.05 else "returns to its level"
        lines.append(
            f"Body centre: vertical range {f['centre_vertical_range']:.2f}, overall it {trend_word} ({trend:+.2f}); "
            f"horizontal travel {f['centre_horizontal_travel']:.2f} body heights.")
        lines.append(
            f"Hands above the head in {f['hands_above_head']:.0%} of frames; wrist distance {f['wrist_distance_min']:.2f}-"
            f"{f['wrist_distance_max']:.2f}; feet spread range {f['ankle_spread_range']:.2f}; torso shortening {f['torso_shortening']:.2f}.")
        frames = [frame_indices[p] for p in self.peak_frames] if frame_indices else list(self.peak_frames)
        lines.append("Frames of largest joint displacement: " + ", ".join(str(i) for i in frames) + ".")
        return "\n".join(lines)


def _angle(kp: np.ndarray, a: str, v: str, b: str) -> np.ndarray:
    u = kp[:, INDEX[a]] - kp[:, INDEX[v]]
    w = kp[:, INDEX[b]] - kp[:, INDEX[v]]
    cos = (u * w).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1) + 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def fill_unseen(keypoints: np.ndarray, min_confidence: float = 0.3) -> np.ndarray:
    """(T, 17, 2) positions where each keypoint seen with low confidence takes its nearest confident position in time."""
    kp = np.asarray(keypoints, dtype=np.float64)
    xy = kp[..., :2].copy()
    if kp.shape[-1] < 3:
        return xy
    seen = kp[..., 2] >= min_confidence
    frames = np.arange(len(kp))
    for j in range(kp.shape[1]):
        good = frames[seen[:, j]]
        if 0 < len(good) < len(kp):
            nearest = good[np.abs(frames[:, None] - good[None, :]).argmin(axis=1)]
            xy[:, j] = xy[nearest, j]
    return xy


def analyze(keypoints: np.ndarray, num_peaks: int = 3) -> Kinematics:
    """Kinematics of one person from keypoints (T, 17, 2 or 3: x, y[, confidence]) in image pixels (T >= 2).

    Model keypoints of occluded joints are guesses with low confidence; those are replaced by the
    joint's nearest confident position in time so that they do not read as motion.
    """
    shape = np.shape(keypoints)
    if len(shape) != 3 or shape[1] != len(KEYPOINTS) or shape[0] < 2 or shape[2] not in (2, 3):
        raise ValueError(f"keypoints must have shape (T>=2, 17, 2|3), got {shape}")
    kp = fill_unseen(keypoints)
    kp[..., 1] *= -1.0  # image y grows downwards; make up positive
    hip = (kp[:, INDEX["left_hip"]] + kp[:, INDEX["right_hip"]]) / 2
    shoulder = (kp[:, INDEX["left_shoulder"]] + kp[:, INDEX["right_shoulder"]]) / 2
    ankle = (kp[:, INDEX["left_ankle"]] + kp[:, INDEX["right_ankle"]]) / 2
    # Body height from the tallest frame: nose-to-ankle plus the top of the head.
    height = float(np.max(kp[:, INDEX["nose"], 1] - ankle[:, 1])) * 1.12
    height = max(height, float(np.max(np.linalg.norm(shoulder - hip, axis=-1))) * 3.0, 1e-6)
    rel = (kp - hip[:, None, :]) / height
    joint_motion = {name: float(np.linalg.norm(rel[:, INDEX[name]].std(axis=0))) for name in LIMB_JOINTS}
    angle_ranges = {j: (float(v.min()), float(v.max())) for j, v in ((j, _angle(kp, *abc)) for j, abc in ANGLES.items())}
    quarter = max(len(kp) // 4, 1)
    centre_y = hip[:, 1] / height
    head_y = kp[:, INDEX["nose"], 1]
    wrists = kp[:, [INDEX["left_wrist"], INDEX["right_wrist"]]]
    wrist_dist = np.linalg.norm(wrists[:, 0] - wrists[:, 1], axis=-1) / height
    ankle_spread = np.abs(kp[:, INDEX["left_ankle"], 0] - kp[:, INDEX["right_ankle"], 0]) / height
    torso = np.linalg.norm(shoulder - hip, axis=-1)
    motion = {s: joint_motion[f"{s}_wrist"] for s in ("left", "right")}
    legs = {s: joint_motion[f"{s}_ankle"] for s in ("left", "right")}
    features = {
        "centre_vertical_range": float(centre_y.max() - centre_y.min()),
        "centre_vertical_trend": float(centre_y[-quarter:].mean() - centre_y[:quarter].mean()),
        "centre_horizontal_travel": float(abs(hip[-quarter:, 0].mean() - hip[:quarter, 0].mean()) / height),
        "wrist_motion": max(motion.values()),
        "arm_asymmetry": abs(motion["left"] - motion["right"]) / (motion["left"] + motion["right"] + 1e-6),
        "ankle_motion": max(legs.values()),
        "leg_asymmetry": abs(legs["left"] - legs["right"]) / (legs["left"] + legs["right"] + 1e-6),
        "hands_above_head": float(np.mean(np.max(wrists[..., 1], axis=1) > head_y)),
        "hands_above_head_end": float(np.mean(np.max(wrists[-quarter:, :, 1], axis=1) > head_y[-quarter:])),
        "wrist_distance_min": float(wrist_dist.min()),
        "wrist_distance_max": float(wrist_dist.max()),
        "ankle_spread_range": float(ankle_spread.max() - ankle_spread.min()),
        "knee_angle_range": max(hi - lo for j, (lo, hi) in angle_ranges.items() if j.endswith("knee")),
        "elbow_angle_range": max(hi - lo for j, (lo, hi) in angle_ranges.items() if j.endswith("elbow")),
        "torso_shortening": float(1.0 - torso.min() / (torso.max() + 1e-9)),
    }
    step = np.linalg.norm(np.diff(rel, axis=0), axis=-1).sum(axis=1)  # displacement into each frame
    peaks = sorted(int(i) + 1 for i in np.argsort(-step, kind="stable")[:num_peaks])
    return Kinematics(features, joint_motion, angle_ranges, tuple(peaks))


def observed_submotions(pose: dict[str, Any], expected: Sequence[Sequence[str]] = ()) -> list[tuple[str, str]]:
    """Up to 4 (body part, movement) pairs a pose result shows, those the expected sub-motions name first.

    pose: the pose_estimation tool's data (joint_motion, features); expected: (part, movement)
    pairs of the chosen action's definition, e.g. from the action_explanation tool.
    """
    observed: list[tuple[str, str]] = []
    for joint, amount in sorted(pose.get("joint_motion", {}).items(), key=lambda kv: -kv[1])[:3]:
        if amount > 0.02:  # below this it is keypoint jitter, not a movement
            observed.append((pretty(joint), f"moves {amount:.2f} body heights relative to the hips"))
    features = pose.get("features", {})
    if features.get("centre_vertical_range", 0.0) > 0.12:  # camera shake alone reaches ~0.1
        observed.append(("Hip", f"rises and falls over {features['centre_vertical_range']:.2f} body heights"))
    if features.get("torso_shortening", 0.0) > 0.15:
        observed.append(("Torso", "bends forward"))
    named = " ".join(part.lower() for part, *_ in expected)
    observed.sort(key=lambda pm: 0 if any(w in named for w in pm[0].lower().split()) else 1)
    return observed[:4]
