"""Oracle vision: ground-truth boxes and keypoints from an annotation file, in the YOLO format."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..errors import ToolError
from ..perception.detections import Detection, FrameDetections


class OracleVision:
    """Reads `sample.meta["annotations"]`: an .npz with keypoints (N, 17, 3) and boxes (N, 4) per source frame."""

    id = "oracle-v1"

    def check(self, dataset: Any) -> None:
        """Refuse a dataset without ground-truth keypoint files: every detection or pose call would fail."""
        without = sum(not dataset[i].meta.get("annotations") for i in range(len(dataset)))
        if without:
            raise ValueError(
                f"the 'oracle' vision backend reads ground-truth keypoints, which only the synthetic dataset (or a "
                f"manifest with \"annotations\") has; {without} of the {len(dataset)} samples of dataset "
                f"{getattr(dataset, 'name', dataset)!r} have none. Use the yolo backend with weights, e.g. "
                f"vision=('yolo', {{'pose_weights': 'yolo11n-pose.pt', 'detect_weights': 'yolo11n.pt'}}) (on the "
                f"command line --vision yolo --vision-options '{{\"pose_weights\": \"PATH\", \"detect_weights\": "
                f"\"PATH\"}}'), or leave the vision tools out (tools=[...])")

    def _load(self, clip: Clip, sample: VideoSample) -> tuple[np.ndarray, np.ndarray]:
        path = sample.meta.get("annotations")
        if not path:
            raise ToolError(f"the oracle backend has no ground-truth annotations for video {sample.id}; "
                            "use a model backend (vision='yolo') for datasets without keypoint files.")
        try:
            with np.load(path) as ann:
                keypoints, boxes = ann["keypoints"], ann["boxes"]
        except (OSError, KeyError, ValueError) as exc:
            raise ToolError(f"cannot read annotations {path}: {exc}") from exc
        idx = np.clip(np.asarray(clip.indices), 0, len(keypoints) - 1)
        src_h, src_w = clip.source_size
        h, w = clip.frames.shape[1:3]
        scale = np.array([w / src_w, h / src_h], dtype=np.float32)
        kp = keypoints[idx].copy()
        kp[..., :2] *= scale
        bx = boxes[idx] * np.tile(scale, 2)
        return kp, bx

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]:
        """One detection per frame: the person's ground-truth box."""
        _, boxes = self._load(clip, sample)
        return [[Detection(tuple(float(v) for v in b), 1.0)] for b in boxes]

    def pose(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]:
        """One detection per frame with its ground-truth COCO-17 keypoints."""
        keypoints, boxes = self._load(clip, sample)
        return [[Detection(tuple(float(v) for v in b), 1.0, k)] for b, k in zip(boxes, keypoints)]
