"""Drawing tool evidence on frames: person boxes, COCO-17 skeletons, labelled object boxes."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .skeleton import EDGES
from .detections import Detection
from .objects import ObjectBox

BOX_COLOUR = (40, 90, 255)
BONE_COLOUR = (255, 60, 60)
JOINT_COLOUR = (255, 230, 0)
OBJECT_COLOUR = (255, 255, 255)


def draw_boxes(frame: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """A copy of the frame with each person's box and score."""
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    width = max(frame.shape[1] // 120, 1)
    for det in detections:
        draw.rectangle(det.box, outline=BOX_COLOUR, width=width)
        draw.text((det.box[0] + 2, det.box[1] + 1), f"person {det.score:.2f}", fill=BOX_COLOUR)
    return np.asarray(img)


def draw_skeletons(frame: np.ndarray, detections: Sequence[Detection], min_confidence: float = 0.3) -> np.ndarray:
    """A copy of the frame with each person's bones and joints (confident keypoints only)."""
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    width = max(frame.shape[1] // 100, 1)
    radius = width + 1
    for det in detections:
        if det.keypoints is None:
            continue
        kp = det.keypoints
        for a, b in EDGES:
            if kp[a, 2] >= min_confidence and kp[b, 2] >= min_confidence:
                draw.line([tuple(kp[a, :2]), tuple(kp[b, :2])], fill=BONE_COLOUR, width=width)
        for x, y, c in kp:
            if c >= min_confidence:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=JOINT_COLOUR)
    return np.asarray(img)


def draw_objects(frame: np.ndarray, objects: Sequence[ObjectBox]) -> np.ndarray:
    """A copy of the frame with each object's box, label and track id."""
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    width = max(frame.shape[1] // 160, 1)
    for obj in objects:
        draw.rectangle(obj.box, outline=OBJECT_COLOUR, width=width)
        name = obj.label if obj.track_id is None else f"{obj.label} #{obj.track_id}"
        draw.text((obj.box[0] + 2, obj.box[1] + 1), name, fill=OBJECT_COLOUR)
    return np.asarray(img)
