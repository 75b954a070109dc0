"""The COCO-17 keypoint skeleton, shared by the synthetic renderer, pose tools and overlays."""

from __future__ import annotations

KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINTS)}

# Limb segments drawn for a skeleton overlay (the ultralytics/COCO convention).
EDGES: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
    (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
    (1, 3), (2, 4), (3, 5), (4, 6),
)


def pretty(name: str) -> str:
    """Human-readable joint name: 'left_wrist' -> 'Left wrist'."""
    return name.replace("_", " ").capitalize()
