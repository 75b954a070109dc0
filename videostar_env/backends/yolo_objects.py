"""Objects with ultralytics YOLO: labelled boxes of every COCO class, and tracks with ByteTrack or BoT-SORT.

`detect` runs the detector on a clip's frames in one batched call. `track` runs the tracker
through the frames in order, with a fresh tracker for every clip: the first frame starts new
trackers (ultralytics' `persist=False`), the rest continue them (`persist=True`), so no
state, and no track id, carries over from one clip to the next. Boxes are in pixels of the
clip's frames; a detector knows no ground-plane position, so `position` stays None.

Trackers assume nearby frames; the object tools decode the video densely for them
(tools/objects.py). Any weights format ultralytics loads works (.pt, .onnx, .tflite, ...).

Backends made with the same options share, per process, one batched model for detection (batched
calls across episodes) and one for tracking (a model copy per clip being tracked, since a
tracker's state lives in its model), each with its results per clip (backends/batched.py).
"""

from __future__ import annotations

import importlib.util
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..video.decode import Clip
from ..video.digest import file_digest
from ..datasets.sample import VideoSample
from ..errors import ToolError
from ..perception.objects import FrameObjects, ObjectBox
from .batched import BatchedModel, frames_digest, shared
from .yolo import bgr_frames, load_yolo, ready, resolve_weights, sharing

TRACKERS = ("bytetrack.yaml", "botsort.yaml")  # ultralytics' own tracker configurations
TASKS = ("detect", "segment")  # model tasks whose results carry labelled boxes of every class
_CHUNK = 16  # frames per model call while tracking (the tracker still sees them one by one, in order)


def _short(exc: BaseException) -> str:
    """An exception's message on one line, cut to a length an agent can read."""
    return " ".join(str(exc).split())[:300]


def _tracker_tag(tracker: str, source: str) -> str:
    """The tracker as it goes into the backend id: its name, or a custom yaml's name and digest."""
    if tracker in TRACKERS:
        return tracker
    path = Path(tracker).expanduser()
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        raise ValueError(f"tracker must be one of {TRACKERS} or the path of a tracker yaml file "
                         f"(ultralytics/cfg/trackers/ shows the format), got {tracker!r}")
    import yaml

    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"tracker yaml {path} does not parse: {_short(exc)}") from None
    if not isinstance(cfg, dict) or "tracker_type" not in cfg:
        raise ValueError(f"tracker yaml {path} must be a mapping with 'tracker_type' and its settings, as in "
                         f"ultralytics/cfg/trackers/botsort.yaml")
    # ultralytics takes 'model: auto' features from a PyTorch detector's head; for exported weights it
    # downloads yolo26n-cls.pt mid-episode instead (ultralytics/trackers/track.py, on_predict_start).
    if cfg.get("with_reid") and cfg.get("model", "auto") == "auto" and not source.endswith(".pt"):
        raise ValueError(f"tracker {path.name} asks for re-identification from the detector's own features "
                         f"(with_reid: True, model: auto), which ultralytics takes only from PyTorch .pt weights, "
                         f"not {Path(source).name}; use .pt weights, name a ReID model in the yaml's 'model', or "
                         f"set with_reid: False")
    return f"{path.name}#{file_digest(path)[:16]}"


def _load(source: str, classes: tuple[str, ...] | None, args: dict[str, Any]) -> Any:
    """The detector, checked to know every wanted class, ready to predict (yolo.ready)."""
    model = load_yolo(source, TASKS, "weights", "pass the path as the objects backend's 'weights' option "
                                                "(--objects-options '{\"weights\": \"PATH\"}')")
    names = [str(v) for v in model.names.values()]
    unknown = [c for c in classes or () if c not in names]
    if unknown:
        raise ToolError(f"YOLO weights {source!r} know no class {', '.join(map(repr, unknown))}; "
                        f"the 'classes' option takes names among: {', '.join(names)}.")
    return ready(model, _call_args(model, args, classes))


def _call_args(model: Any, args: dict[str, Any], classes: tuple[str, ...] | None) -> dict[str, Any]:
    if classes is None:
        return args
    ids = {str(v): int(k) for k, v in model.names.items()}
    return {**args, "classes": [ids[c] for c in classes]}


def _boxes(model: Any, results: list) -> list[FrameObjects]:
    """Labelled boxes per result, clipped to its frame."""
    frames = []
    for res in results:
        boxes = res.boxes
        if boxes is None or not len(boxes):
            frames.append([])
            continue
        h, w = res.orig_shape
        xyxy = boxes.xyxy.cpu().numpy().astype(float)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        scores = boxes.conf.cpu().numpy()
        classes = boxes.cls.cpu().numpy().astype(int)
        ids = boxes.id.cpu().numpy().astype(int) if boxes.id is not None else None
        frames.append([ObjectBox(str(model.names[int(classes[i])]), tuple(float(v) for v in xyxy[i]),
                                 float(scores[i]), None if ids is None else int(ids[i]))
                       for i in range(len(xyxy))])
    return frames


def _detect(source: str, args: dict[str, Any], classes: tuple[str, ...] | None, model: Any,
            frames: list[np.ndarray]) -> list[FrameObjects]:
    """One model call on frames from any episodes: the labelled boxes in each."""
    try:
        return _boxes(model, model.predict(frames, **_call_args(model, args, classes)))
    except Exception as exc:
        raise ToolError(f"YOLO detection with {source!r} failed: {type(exc).__name__}: {_short(exc)}") from exc


def _track(source: str, tracker: str, args: dict[str, Any], classes: tuple[str, ...] | None, model: Any,
           frames: list[np.ndarray]) -> list[FrameObjects]:
    """Boxes with track ids from a fresh tracker that reads the frames in order."""
    args = {**_call_args(model, args, classes), "tracker": tracker}
    results: list = []
    try:
        # persist=False makes new trackers for the first frame (ultralytics/trackers/track.py,
        # on_predict_start); persist=True keeps them for the rest. A list of frames is one batch whose
        # results the tracker reads in order; frames of one list get different names, which
        # persist=False would take for new videos and reset on, so only the first frame goes alone.
        results += model.track(frames[0], persist=False, **args)
        for k in range(1, len(frames), _CHUNK):
            results += model.track(frames[k:k + _CHUNK], persist=True, **args)
    except Exception as exc:
        raise ToolError(f"YOLO tracking with {source!r} and tracker {tracker!r} failed: "
                        f"{type(exc).__name__}: {_short(exc)}") from exc
    return _boxes(model, results)


class YOLOObjects:
    """Labelled boxes and tracks of objects with an ultralytics YOLO detector; models load on first use."""

    def __init__(self, weights: str = "yolo11n.pt", device: str | None = None, imgsz: int | None = None,
                 conf: float | None = None, iou: float = 0.7, max_det: int = 50, tracker: str = "botsort.yaml",
                 classes: Sequence[str] | None = None, batch_size: int | None = None, max_wait_ms: float = 0.0,
                 replicas: int | None = None, memory: int = 256, download: bool = True):
        """weights: a path or an official name (looked up like the yolo vision backend's, also in
        $VIDEOSTAR_WEIGHTS_DIR); device: e.g. "cpu", "cuda:0" (None: ultralytics picks); imgsz: inference
        size (None: the weights' own); conf: least box score (None: 0.25 to detect, 0.1 to track, as
        ultralytics does: trackers use low-score boxes to keep tracks alive); iou: NMS threshold; max_det:
        boxes per frame; tracker: "botsort.yaml" (fewest id switches on the shared real clips:
        benchmarks/tracking.py), "bytetrack.yaml" or a tracker yaml path; classes: class
        names to keep, e.g. ["person", "car"] (None: every class the model knows); batch_size: frames per
        detection call, from any episodes; max_wait_ms: how long a detection call waits for other episodes'
        frames; replicas: model copies that run at once, for detection and for tracking (batch_size, replicas
        None: yolo.device_sharing(device)'s); memory: clips whose results are kept; download: let
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
        try:
            self.source, tag = resolve_weights(weights, download, "weights")
        except FileNotFoundError as exc:  # its advice names the vision backend's options: point it at ours
            raise FileNotFoundError(str(exc).replace("vision=(", "objects=(").replace(
                "--vision-options", "--objects-options")) from None
        tracker_tag = _tracker_tag(self.tracker, self.source)
        self.conf = conf
        self.args: dict[str, Any] = {"iou": iou, "max_det": max_det, "verbose": False}
        if device is not None:
            self.args["device"] = device
        if imgsz is not None:
            self.args["imgsz"] = imgsz
        wanted = "all" if self.classes is None else "+".join(self.classes)
        self.id = (f"yolo-objects[{tag}]imgsz={imgsz},conf={conf},iou={iou},max_det={max_det},"
                   f"tracker={tracker_tag},classes={wanted}")
        sharing(batch_size, max_wait_ms, replicas, memory)  # checks them now; the device's defaults come at first use
        self._sharing = (batch_size, max_wait_ms, replicas, memory)
        self._batched: dict[str, BatchedModel] = {}

    def batched(self, kind: str) -> BatchedModel:
        """The process's batched model for `kind` ("detect" or "track") with these options."""
        if kind not in self._batched:
            conf = self.conf if self.conf is not None else 0.25 if kind == "detect" else 0.1
            args = {**self.args, "conf": conf}
            run = partial(_detect, self.source, args, self.classes) if kind == "detect" else \
                partial(_track, self.source, self.tracker, args, self.classes)
            load = partial(_load, self.source, self.classes, args)
            options = sharing(*self._sharing, device=self.args.get("device"))
            key = ("yolo-objects", kind, self.id, tuple(sorted(args.items())), options)
            self._batched[kind] = shared(key, lambda: BatchedModel(load, run, options))
        return self._batched[kind]

    def load_models(self, kinds: Sequence[str]) -> None:
        """Load every copy of these kinds' models ("detect", "track") now instead of at their first calls."""
        for kind in kinds:
            self.batched(kind).load_copies()

    def batched_models(self) -> tuple[BatchedModel, ...]:
        """The batched models this backend has used so far (shared with every backend of its options)."""
        return tuple(self._batched.values())  # a copy: another thread's first call may add one meanwhile

    def forget(self) -> None:
        """Drop the results kept per clip (for every backend of these options): the next calls run the model."""
        for kind in ("detect", "track"):
            self.batched(kind).forget()

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]:
        """Labelled boxes per frame of the clip, from batched model calls; no track ids."""
        model = self.batched("detect")
        # The frames' content, not the Clip object, is the key: each object tool decodes its own dense clip.
        frames = model.remember(frames_digest(clip.frames), lambda: model.run(bgr_frames(clip)))
        return [list(f) for f in frames]

    def track(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]:
        """Labelled boxes per frame with track ids from a fresh tracker that reads the frames in order.

        A box the tracker has not confirmed yet keeps track_id None; ids start at 1 in every clip.
        """
        if importlib.util.find_spec("lap") is None:  # else ultralytics would try to pip-install it mid-episode
            raise ToolError("object tracking with the yolo objects backend needs the 'lap' package: pip install lap "
                            "(or pip install 'videostar-env[yolo]').")
        model = self.batched("track")
        # object_tracking and relation_graph track the same dense clip: once for both.
        return [list(f) for f in model.remember(frames_digest(clip.frames),
                                                  lambda: model.exclusive(bgr_frames(clip)))]
