"""Oracle vision: ground-truth boxes and keypoints from an annotation file, in the YOLO format."""

from __future__ import annotations

import numpy as np

from ..tools.base import ToolContext, ToolError
from .base import Detection, FrameDetections


class OracleVision:
    """Reads `sample.meta["annotations"]`: an .npz with keypoints (N, 17, 3) and boxes (N, 4) per source frame."""

    id = "oracle-v1"

    def _load(self, ctx: ToolContext) -> tuple[np.ndarray, np.ndarray]:
        path = ctx.sample.meta.get("annotations")
        if not path:
            raise ToolError(f"the oracle backend has no ground-truth annotations for video {ctx.sample.id}; "
                            "use a model backend (vision='yolo') for datasets without keypoint files.")
        try:
            with np.load(path) as ann:
                keypoints, boxes = ann["keypoints"], ann["boxes"]
        except (OSError, KeyError, ValueError) as exc:
            raise ToolError(f"cannot read annotations {path}: {exc}") from exc
        idx = np.clip(np.asarray(ctx.clip.indices), 0, len(keypoints) - 1)
        src_h, src_w = ctx.clip.source_size
        h, w = ctx.clip.frames.shape[1:3]
        scale = np.array([w / src_w, h / src_h], dtype=np.float32)
        kp = keypoints[idx].copy()
        kp[..., :2] *= scale
        bx = boxes[idx] * np.tile(scale, 2)
        return kp, bx

    def detect(self, ctx: ToolContext) -> list[FrameDetections]:
        """One detection per frame: the person's ground-truth box."""
        _, boxes = self._load(ctx)
        return [[Detection(tuple(float(v) for v in b), 1.0)] for b in boxes]

    def pose(self, ctx: ToolContext) -> list[FrameDetections]:
        """One detection per frame with its ground-truth COCO-17 keypoints."""
        keypoints, boxes = self._load(ctx)
        return [[Detection(tuple(float(v) for v in b), 1.0, k)] for b, k in zip(boxes, keypoints)]
