"""YOLO11 vision (ultralytics): person boxes and COCO-17 keypoints on the episode's sampled frames.

Any format ultralytics loads works: .pt, .onnx, .tflite, an OpenVINO folder. The paper used
yolo11x-pose.pt; the defaults are the nano models. Each episode's frames go through the
model in one batched call, and the result is in the oracle's format (backends/base.py).
"""

from __future__ import annotations

import hashlib
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..data.decode import Clip
from ..data.sample import VideoSample
from ..errors import ToolError
from ..data.digest import file_digest
from ..perception.detections import Detection, FrameDetections

WEIGHTS_DIR_ENV = "VIDEOSTAR_WEIGHTS_DIR"
_RELEASES = "https://github.com/ultralytics/assets/releases"


def weights_digest(path: str | os.PathLike) -> str:
    """A short digest of a weights file, or of every file in a weights folder (OpenVINO, saved_model)."""
    p = Path(path)
    if p.is_file():
        return file_digest(p)[:16]
    h = hashlib.blake2b(digest_size=8)
    for child in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(f"{child.relative_to(p)}:{file_digest(child)}".encode())
    return h.hexdigest()


def _ultralytics_version() -> str:
    try:
        return version("ultralytics")
    except PackageNotFoundError:
        return "missing"


SLOTS = {"detect": "detect_weights", "pose": "pose_weights"}  # model task -> the option naming its weights


def resolve_weights(name: str, download: bool = True, option: str = "pose_weights") -> tuple[str, str]:
    """(what to pass to ultralytics.YOLO, a tag naming exactly those weights) for a path or an official name.

    Looks at the path as given, then in $VIDEOSTAR_WEIGHTS_DIR. A bare official name such as
    "yolo11n-pose.pt" that is not on disk is left for ultralytics to download, unless downloads
    are off (download=False or YOLO_OFFLINE=1): then FileNotFoundError names `option` and how to provide it.
    """
    candidates = [Path(name).expanduser()]
    if os.environ.get(WEIGHTS_DIR_ENV):
        candidates.append(Path(os.environ[WEIGHTS_DIR_ENV]) / Path(name).name)
    for path in candidates:
        if path.exists():
            return str(path), f"{path.name}#{weights_digest(path)}"
    bare = Path(name).name == name and name.endswith(".pt")
    offline = os.environ.get("YOLO_OFFLINE", "").lower() in ("1", "true", "yes")
    if bare and download and not offline:
        # Official release assets are fixed per ultralytics version.
        return name, f"{name}@ultralytics-{_ultralytics_version()}"
    raise FileNotFoundError(
        f"YOLO {option} {name!r} were not found (looked in: {', '.join(str(c) for c in candidates)}) and "
        f"{'downloads are off' if bare else 'it is not an official name ultralytics can download'}. "
        f"Download the file where there is internet ({_RELEASES}) or export one with `yolo export`, then pass its "
        f"path, e.g. vision=('yolo', {{'{option}': '/path/to/{Path(name).name}'}}) (on the command line "
        f"--vision-options '{{\"{option}\": \"PATH\"}}'), or put it in ${WEIGHTS_DIR_ENV}.")


class YOLOVision:
    """Person detection and pose with ultralytics YOLO; models load on first use."""

    def __init__(self, detect_weights: str = "yolo11n.pt", pose_weights: str = "yolo11n-pose.pt",
                 device: str | None = None, imgsz: int | None = None, conf: float = 0.25, iou: float = 0.7,
                 max_det: int = 20, half: bool = False, batch_size: int | None = None, download: bool = True):
        """device: e.g. "cpu", "cuda:0" (None: ultralytics picks); imgsz: inference size (None: the weights' own,
        640 for .pt); conf/iou: NMS thresholds; max_det: people per frame; half: fp16 on GPU; batch_size: frames
        per model call (None: all sampled frames at once); download: let ultralytics fetch official weights."""
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 or None, got {batch_size}")
        self.batch_size = batch_size
        # Weights load only for the tools that need them (prepare); a missing file is reported by its option.
        given = {"detect": detect_weights, "pose": pose_weights}
        self.weights: dict[str, tuple[str, str]] = {}
        self._missing: dict[str, FileNotFoundError] = {}
        for task, name in given.items():
            try:
                self.weights[task] = resolve_weights(name, download, SLOTS[task])
            except FileNotFoundError as exc:
                self._missing[task] = exc
        self.predict_args: dict[str, Any] = {"conf": conf, "iou": iou, "max_det": max_det, "verbose": False}
        if half:
            self.predict_args["quantize"] = 16  # ultralytics >= 8.4 spelling of fp16 inference
        if device is not None:
            self.predict_args["device"] = device
        if imgsz is not None:
            self.predict_args["imgsz"] = imgsz
        tags = ",".join(self.weights[t][1] if t in self.weights else f"{given[t]}(missing)" for t in SLOTS)
        self.id = f"yolo[{tags}]imgsz={imgsz},conf={conf},iou={iou},max_det={max_det},half={half}"
        self._models: dict[str, Any] = {}
        # pose_estimation and video_description both need the pose of the same clip: run the model once.
        self._last: dict[str, tuple[Any, list[FrameDetections]]] = {}

    def prepare(self, tasks: Iterable[str]) -> None:
        """Fail now, naming the file and its option, when weights that the chosen tools need are missing."""
        missing = [self._missing[task] for task in tasks if task in self._missing]
        if len(missing) == 1:
            raise missing[0]
        if missing:
            raise FileNotFoundError("\n".join(str(exc) for exc in missing))

    def _model(self, task: str) -> Any:
        if task in self._missing:
            raise ToolError(str(self._missing[task]))
        if task not in self._models:
            source, _ = self.weights[task]
            try:
                from ultralytics import YOLO
            except ImportError as exc:
                raise ToolError("the yolo backend needs ultralytics: pip install 'videostar-env[yolo]'") from exc
            try:
                model = YOLO(source)
            except Exception as exc:  # ultralytics raises ConnectionError, FileNotFoundError, RuntimeError...
                raise ToolError(
                    f"cannot load YOLO {task} weights {source!r}: {str(exc).strip()[:300]}. Download them where "
                    f"there is internet ({_RELEASES}) and pass the path in the vision backend's options, "
                    f"or put the file in ${WEIGHTS_DIR_ENV}.") from exc
            if model.task != task:
                raise ToolError(f"YOLO weights {source!r} are a {model.task!r} model, but the {task} slot needs a "
                                f"{task!r} model (e.g. yolo11n{'-pose' if task == 'pose' else ''}.pt)")
            self._models[task] = model
        return self._models[task]

    def _predict(self, task: str, clip: Clip) -> list[FrameDetections]:
        last = self._last.get(task)
        if last is not None and last[0] is clip:
            return last[1]
        model = self._model(task)
        bgr = [np.ascontiguousarray(frame[..., ::-1]) for frame in clip.frames]  # ultralytics reads BGR
        step = self.batch_size or len(bgr)
        results = [r for k in range(0, len(bgr), step) for r in model.predict(bgr[k:k + step], **self.predict_args)]
        person = next((k for k, v in model.names.items() if v == "person"), 0)
        frames = []
        for res in results:
            boxes = res.boxes
            xyxy = boxes.xyxy.cpu().numpy() if len(boxes) else np.zeros((0, 4))
            scores = boxes.conf.cpu().numpy() if len(boxes) else np.zeros(0)
            classes = boxes.cls.cpu().numpy().astype(int) if len(boxes) else np.zeros(0, int)
            kps = res.keypoints.data.cpu().numpy() if task == "pose" and res.keypoints is not None else None
            frames.append([Detection(tuple(float(v) for v in xyxy[i]), float(scores[i]),
                                     None if kps is None else kps[i].astype(np.float32))
                           for i in range(len(xyxy)) if classes[i] == person])
        self._last[task] = (clip, frames)
        return frames

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]:
        """People per sampled frame from the detection model (other COCO classes dropped)."""
        return self._predict("detect", clip)

    def pose(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]:
        """People with COCO-17 keypoints per sampled frame from the pose model."""
        return self._predict("pose", clip)
