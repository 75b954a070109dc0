"""Objects with ultralytics YOLO: labelled boxes of every COCO class, and tracks with ByteTrack or BoT-SORT.

`detect` runs the detector on a clip's frames in one batched call. `track` runs the tracker
through the frames in order, with a fresh tracker for every clip: the first frame starts new
trackers (ultralytics' `persist=False`), the rest continue them (`persist=True`), so no
state, and no track id, carries over from one clip to the next. Boxes are in pixels of the
clip's frames; a detector knows no ground-plane position, so `position` stays None.

Trackers assume nearby frames; the object tools decode the video densely for them
(tools/objects.py). Any weights format ultralytics loads works (.pt, .onnx, .tflite, ...).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data.decode import Clip
from ..data.digest import file_digest
from ..data.sample import VideoSample
from ..errors import ToolError
from ..perception.objects import FrameObjects, ObjectBox
from .yolo import _RELEASES, WEIGHTS_DIR_ENV, resolve_weights

TRACKERS = ("bytetrack.yaml", "botsort.yaml")  # ultralytics' own tracker configurations
TASKS = ("detect", "segment")  # model tasks whose results carry labelled boxes of every class
_CHUNK = 16  # frames per model call while tracking (the tracker still sees them one by one, in order)


def _short(exc: BaseException) -> str:
    """An exception's message on one line, cut to a length an agent can read."""
    return " ".join(str(exc).split())[:300]


def _tracker_tag(tracker: str) -> str:
    """The tracker as it goes into the backend id: its name, or a custom yaml's name and digest."""
    if tracker in TRACKERS:
        return tracker
    path = Path(tracker).expanduser()
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        raise ValueError(f"tracker must be one of {TRACKERS} or the path of a tracker yaml file "
                         f"(ultralytics/cfg/trackers/ shows the format), got {tracker!r}")
    return f"{path.name}#{file_digest(path)[:16]}"


class YOLOObjects:
    """Labelled boxes and tracks of objects with an ultralytics YOLO detector; the model loads on first use."""

    def __init__(self, weights: str = "yolo11n.pt", device: str | None = None, imgsz: int | None = None,
                 conf: float | None = None, iou: float = 0.7, max_det: int = 50, tracker: str = "bytetrack.yaml",
                 classes: Sequence[str] | None = None, download: bool = True):
        """weights: a path or an official name (looked up like the yolo vision backend's, also in
        $VIDEOSTAR_WEIGHTS_DIR); device: e.g. "cpu", "cuda:0" (None: ultralytics picks); imgsz: inference
        size (None: the weights' own); conf: least box score (None: 0.25 to detect, 0.1 to track, as
        ultralytics does: trackers use low-score boxes to keep tracks alive); iou: NMS threshold; max_det:
        boxes per frame; tracker: "bytetrack.yaml", "botsort.yaml" or a tracker yaml path; classes: class
        names to keep, e.g. ["person", "car"] (None: every class the model knows); download: let
        ultralytics fetch official weights (never when YOLO_OFFLINE=1)."""
        for name, value, low, high in (("iou", iou, 0.0, 1.0), ("conf", conf, 0.0, 1.0)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not low <= value <= high):
                raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
        if isinstance(max_det, bool) or not isinstance(max_det, int) or max_det < 1:
            raise ValueError(f"max_det must be a positive integer, got {max_det!r}")
        if imgsz is not None and (isinstance(imgsz, bool) or not isinstance(imgsz, int) or imgsz < 32):
            raise ValueError(f"imgsz must be an integer of at least 32 (a multiple of 32) or None, got {imgsz!r}")
        if isinstance(classes, str):
            classes = [classes]
        if classes is not None:
            classes = list(classes)
            if not classes or not all(isinstance(c, str) and c for c in classes):
                raise ValueError(f"classes must be a non-empty list of class names such as ['person', 'car'], "
                                 f"or None for every class; got {classes!r}")
        self.classes = tuple(dict.fromkeys(classes)) if classes is not None else None
        self.tracker = str(tracker)
        tracker_tag = _tracker_tag(self.tracker)
        try:
            self.source, tag = resolve_weights(weights, download, "weights")
        except FileNotFoundError as exc:  # its advice names the vision backend's options: point it at ours
            raise FileNotFoundError(str(exc).replace("vision=(", "objects=(").replace(
                "--vision-options", "--objects-options")) from None
        self.conf = conf
        self.args: dict[str, Any] = {"iou": iou, "max_det": max_det, "verbose": False}
        if device is not None:
            self.args["device"] = device
        if imgsz is not None:
            self.args["imgsz"] = imgsz
        wanted = "all" if self.classes is None else "+".join(self.classes)
        self.id = (f"yolo-objects[{tag}]imgsz={imgsz},conf={conf},iou={iou},max_det={max_det},"
                   f"tracker={tracker_tag},classes={wanted}")
        self._model: Any = None
        self._class_ids: list[int] | None = None
        # The model holds one predictor and one tracker: one clip at a time (env threads share backends).
        self._lock = threading.Lock()
        # object_tracking and relation_graph track the same dense clip in one episode: run the tracker once.
        self._last: dict[str, tuple[tuple, list[FrameObjects]]] = {}

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise ToolError("the yolo objects backend needs ultralytics: pip install 'videostar-env[yolo]'") from exc
        try:
            model = YOLO(self.source)
        except Exception as exc:  # ultralytics raises ConnectionError, FileNotFoundError, RuntimeError...
            raise ToolError(
                f"cannot load YOLO weights {self.source!r}: {_short(exc)}. Download them where there "
                f"is internet ({_RELEASES}) and pass the path as the objects backend's 'weights' option "
                f"(--objects-options '{{\"weights\": \"PATH\"}}'), or put the file in ${WEIGHTS_DIR_ENV}.") from exc
        if model.task not in TASKS:
            raise ToolError(f"YOLO weights {self.source!r} are a {model.task!r} model, but the objects backend needs "
                            f"a detection model of labelled boxes (e.g. yolo11n.pt); pass one as 'weights'.")
        names = {str(v): int(k) for k, v in model.names.items()}
        if self.classes is not None:
            unknown = [c for c in self.classes if c not in names]
            if unknown:
                raise ToolError(f"YOLO weights {self.source!r} know no class {', '.join(map(repr, unknown))}; "
                                f"the 'classes' option takes names among: {', '.join(names)}.")
            self._class_ids = [names[c] for c in self.classes]
        self._model = model
        return model

    def _call_args(self, default_conf: float) -> dict[str, Any]:
        args = {**self.args, "conf": default_conf if self.conf is None else self.conf}
        if self._class_ids is not None:
            args["classes"] = self._class_ids
        return args

    @staticmethod
    def _key(clip: Clip) -> tuple:
        # The frames' content, not the Clip object: each tool decodes its own dense clip.
        return (clip.frames.shape, hashlib.blake2b(np.ascontiguousarray(clip.frames).data, digest_size=16).digest())

    def _boxes(self, results: list, names: dict, frame_size: tuple[int, int]) -> list[FrameObjects]:
        h, w = frame_size
        frames = []
        for res in results:
            boxes = res.boxes
            if boxes is None or not len(boxes):
                frames.append([])
                continue
            xyxy = boxes.xyxy.cpu().numpy().astype(float)
            xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
            xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
            scores = boxes.conf.cpu().numpy()
            classes = boxes.cls.cpu().numpy().astype(int)
            ids = boxes.id.cpu().numpy().astype(int) if boxes.id is not None else None
            frames.append([ObjectBox(str(names[int(classes[i])]), tuple(float(v) for v in xyxy[i]),
                                     float(scores[i]), None if ids is None else int(ids[i]))
                           for i in range(len(xyxy))])
        return frames

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]:
        """Labelled boxes per frame of the clip, from one batched model call; no track ids."""
        return self._remembered("detect", clip, self._detect)

    def track(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]:
        """Labelled boxes per frame with track ids from a fresh tracker that reads the frames in order.

        A box the tracker has not confirmed yet keeps track_id None; ids start at 1 in every clip.
        """
        if importlib.util.find_spec("lap") is None:  # else ultralytics would try to pip-install it mid-episode
            raise ToolError("object tracking with the yolo objects backend needs the 'lap' package: pip install lap "
                            "(or pip install 'videostar-env[yolo]').")
        return self._remembered("track", clip, self._track)

    def _remembered(self, kind: str, clip: Clip, run: Any) -> list[FrameObjects]:
        # object_tracking and relation_graph decode the same dense clip: run the model once for both.
        key = self._key(clip)
        with self._lock:
            last = self._last.get(kind)
            if last is None or last[0] != key:
                model = self._load()
                bgr = [np.ascontiguousarray(frame[..., ::-1]) for frame in clip.frames]  # ultralytics reads BGR
                last = self._last[kind] = (key, self._boxes(run(model, bgr), model.names, clip.frames.shape[1:3]))
            return [list(f) for f in last[1]]

    def _detect(self, model: Any, bgr: list[np.ndarray]) -> list:
        try:
            return model.predict(bgr, **self._call_args(0.25))
        except Exception as exc:
            raise ToolError(f"YOLO detection with {self.source!r} failed: {type(exc).__name__}: {_short(exc)}") from exc

    def _track(self, model: Any, bgr: list[np.ndarray]) -> list:
        args = {**self._call_args(0.1), "tracker": self.tracker}
        results: list = []
        try:
            # persist=False makes new trackers for the first frame (ultralytics/trackers/track.py,
            # on_predict_start); persist=True keeps them for the rest. A list of frames is one batch whose
            # results the tracker reads in order; frames of one list get different names, which
            # persist=False would take for new videos and reset on, so only the first frame goes alone.
            results += model.track(bgr[0], persist=False, **args)
            for k in range(1, len(bgr), _CHUNK):
                results += model.track(bgr[k:k + _CHUNK], persist=True, **args)
        except Exception as exc:
            raise ToolError(f"YOLO tracking with {self.source!r} and tracker {self.tracker!r} failed: "
                            f"{type(exc).__name__}: {_short(exc)}") from exc
        return results
