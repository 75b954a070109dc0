"""YOLO11 vision (ultralytics): person boxes and COCO-17 keypoints on the episode's sampled frames.

Any format ultralytics loads works: .pt, .onnx, .tflite, an OpenVINO folder. The paper used
yolo11x-pose.pt; the defaults are the nano models. Frames go through the model in batched calls
shared by the episodes of a process, and the result is in the oracle's format (backends/base.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..video.decode import Clip, native_stderr_muted
from ..datasets.sample import VideoSample
from ..errors import ToolError
from ..video.digest import file_digest
from ..perception.detections import Detection, FrameDetections
from .batched import BatchedModel, BatchOptions, frames_digest, shared

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


def _not_a_loading_line(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not (message.startswith("Loading ") and " inference" in message)


def quiet_model_loading() -> None:
    """Drop ultralytics' "Loading W for ... inference..." line, which it prints for every copy of every model."""
    from ultralytics.utils import LOGGER

    if _not_a_loading_line not in LOGGER.filters:
        LOGGER.addFilter(_not_a_loading_line)


def load_yolo(source: str, tasks: tuple[str, ...], what: str, advice: str) -> Any:
    """An ultralytics YOLO model from weights, or a ToolError saying what to do: e.g. the weights of `what` are
    missing, corrupt, or of a task not in `tasks`."""
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise ToolError("the yolo backends need ultralytics: pip install 'videostar-env[yolo]'") from exc
    quiet_model_loading()
    try:
        model = YOLO(source)
    except Exception as exc:  # ultralytics raises ConnectionError, FileNotFoundError, RuntimeError...
        raise ToolError(f"cannot load YOLO {what} {source!r}: {' '.join(str(exc).split())[:300]}. Download them "
                        f"where there is internet ({_RELEASES}) and {advice}, or put the file in "
                        f"${WEIGHTS_DIR_ENV}.") from exc
    if model.task not in tasks:
        raise ToolError(f"YOLO {what} {source!r} are a {model.task!r} model, but a {' or '.join(map(repr, tasks))} "
                        f"model is needed (e.g. yolo11n{'-pose' if tasks == ('pose',) else ''}.pt); {advice}.")
    return model


def ready(model: Any, predict_args: dict[str, Any]) -> Any:
    """The model after one prediction on a blank image: ultralytics builds its runtime (a LiteRT interpreter, the graph
    on its device) at the first prediction, which would otherwise fall on an episode's tool call and hold the GIL."""
    with native_stderr_muted():  # the runtime's own banner (e.g. "Created TensorFlow Lite XNNPACK delegate")
        model.predict(np.zeros((64, 64, 3), np.uint8), **predict_args)
    return model


def _ready_model(source: str, task: str, predict_args: dict[str, Any], advice: str) -> Any:
    """A vision model copy, ready to predict."""
    return ready(load_yolo(source, (task,), f"{task} weights", advice), predict_args)


# Measured with benchmarks/perf/yolo.py: on a CPU, model calls of many episodes' frames take no less time than
# one call per episode (the int8 TFLite graph runs one frame at a time) but hold every frame's input at once;
# ultralytics runs a TFLite model on cores - 1 threads, so a second copy uses the rest (1.9x on 2 cores). So on a
# CPU a call takes few frames: each is letterboxed to the model's size in float32 (4.9 MB at 640 px), and 16-frame
# calls on 4 copies raised the peak RSS of 64 episodes at once from 1.10 to 1.28 GB (benchmarks/perf/concurrency.py).
# A GPU gains from large batches on one copy.
GPU_SHARING = {"batch_size": 64, "replicas": 1}
CPU_SHARING = {"batch_size": 4, "replicas": 2}


def device_sharing(device: str | None) -> dict[str, int]:
    """Frames per model call and model copies for a device ("cpu", "cuda:0", ...; None: the one ultralytics picks)."""
    if device is None:
        import torch  # ultralytics picks the first GPU when there is one

        on_gpu = torch.cuda.is_available()
    else:
        on_gpu = not str(device).lower().startswith(("cpu", "intel"))
    if on_gpu:
        return dict(GPU_SHARING)
    return {**CPU_SHARING, "replicas": min(CPU_SHARING["replicas"], os.cpu_count() or 1)}


def sharing(batch_size: int | None, max_wait_ms: float, replicas: int | None, memory: int,
            device: str | None = "cpu") -> BatchOptions:
    """A backend's batching options on `device`; batch_size or replicas None take device_sharing(device)'s."""
    if batch_size is None or replicas is None:
        defaults = device_sharing(device)
        batch_size = defaults["batch_size"] if batch_size is None else batch_size
        replicas = defaults["replicas"] if replicas is None else replicas
    return BatchOptions(batch_size, max_wait_ms, replicas, memory)


def bgr_frames(clip: Clip) -> list[np.ndarray]:
    """A clip's frames as ultralytics reads numpy images: BGR, contiguous."""
    return [np.ascontiguousarray(frame[..., ::-1]) for frame in clip.frames]


def _people(task: str, predict_args: dict[str, Any], model: Any, frames: list[np.ndarray]) -> list[FrameDetections]:
    """One model call on frames from any episodes: the people in each, in the oracle's format."""
    person = next((k for k, v in model.names.items() if v == "person"), 0)
    out = []
    for res in model.predict(frames, **predict_args):
        boxes = res.boxes
        xyxy = boxes.xyxy.cpu().numpy() if len(boxes) else np.zeros((0, 4))
        scores = boxes.conf.cpu().numpy() if len(boxes) else np.zeros(0)
        classes = boxes.cls.cpu().numpy().astype(int) if len(boxes) else np.zeros(0, int)
        kps = res.keypoints.data.cpu().numpy() if task == "pose" and res.keypoints is not None else None
        people = []
        for i in range(len(xyxy)):
            if classes[i] == person:
                points = None if kps is None else kps[i].astype(np.float32)
                if points is not None:
                    points.setflags(write=False)  # shared by every episode that reads this clip
                people.append(Detection(tuple(float(v) for v in xyxy[i]), float(scores[i]), points))
        out.append(people)
    return out


class YOLOVision:
    """Person detection and pose with ultralytics YOLO; models load on first use, once per process.

    Backends made with the same options (every env of a process, in verl's agent loop) share one
    `BatchedModel` per model (backends/batched.py): its model copies, its model calls, which take the
    frames of every episode waiting, and its results per clip, so that video_description reads the
    poses pose_estimation found without running the model again.
    """

    def __init__(self, detect_weights: str = "yolo11n.pt", pose_weights: str = "yolo11n-pose.pt",
                 device: str | None = None, imgsz: int | None = None, conf: float = 0.25, iou: float = 0.7,
                 max_det: int = 20, half: bool = False, batch_size: int | None = None, max_wait_ms: float = 0.0,
                 replicas: int | None = None, memory: int = 256, download: bool = True):
        """device: e.g. "cpu", "cuda:0" (None: ultralytics picks); imgsz: inference size (None: the weights' own,
        640 for .pt); conf/iou: NMS thresholds; max_det: people per frame; half: fp16 on GPU; batch_size: frames
        per model call, from any episodes; max_wait_ms: how long a model call waits for other episodes' frames;
        replicas: model copies that run at once (batch_size, replicas None: device_sharing(device)'s); memory:
        clips whose results are kept; download: let ultralytics fetch official weights."""
        sharing(batch_size, max_wait_ms, replicas, memory)  # checks them now; the device's defaults come at first use
        self._sharing = (batch_size, max_wait_ms, replicas, memory)
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
        self._batched: dict[str, BatchedModel] = {}

    def prepare(self, tasks: Iterable[str]) -> None:
        """Fail now, naming the file and its option, when weights that the chosen tools need are missing."""
        missing = [self._missing[task] for task in tasks if task in self._missing]
        if len(missing) == 1:
            raise missing[0]
        if missing:
            raise FileNotFoundError("\n".join(str(exc) for exc in missing))

    def batched(self, task: str) -> BatchedModel:
        """The process's batched model for the `task` ("detect" or "pose") model of these options."""
        if task in self._missing:
            raise ToolError(str(self._missing[task]))
        if task not in self._batched:
            source, tag = self.weights[task]
            args = dict(self.predict_args)
            options = sharing(*self._sharing, device=args.get("device"))
            load = partial(_ready_model, source, task, args, f"pass the path as the vision backend's '{SLOTS[task]}' "
                           f"option")
            key = ("yolo", task, tag, tuple(sorted(args.items())), options)
            self._batched[task] = shared(key, lambda: BatchedModel(load, partial(_people, task, args), options))
        return self._batched[task]

    def load_models(self, tasks: Iterable[str]) -> None:
        """Load every copy of these tasks' models ("detect", "pose") now instead of at their first calls."""
        for task in tasks:
            self.batched(task).load_copies()

    def batched_models(self) -> tuple[BatchedModel, ...]:
        """The batched models this backend has used so far (shared with every backend of its options)."""
        return tuple(self._batched.values())  # a copy: another thread's first call may add one meanwhile

    def forget(self) -> None:
        """Drop the results kept per clip (for every backend of these options): the next calls run the models."""
        for task in self.weights:
            self.batched(task).forget()

    def _predict(self, task: str, clip: Clip) -> list[FrameDetections]:
        model = self.batched(task)
        frames = model.remember(frames_digest(clip.frames), lambda: model.run(bgr_frames(clip)))
        return [list(people) for people in frames]  # the caller's lists; the store keeps its own

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]:
        """People per sampled frame from the detection model (other COCO classes dropped)."""
        return self._predict("detect", clip)

    def pose(self, clip: Clip, sample: VideoSample) -> list[FrameDetections]:
        """People with COCO-17 keypoints per sampled frame from the pose model."""
        return self._predict("pose", clip)
