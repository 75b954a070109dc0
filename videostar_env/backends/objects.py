"""Objects backends: labelled boxes and tracks of every object in the sampled frames.

`oracle` reads a synthetic scene's ground truth (data/scenes.py), with noise knobs to make it
imperfect on purpose; `yolo` (backends/yolo_objects.py) runs an ultralytics detector and tracker.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

import numpy as np

from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..datasets.scenes import SceneTruth
from ..errors import ToolError
from ..perception.objects import FrameObjects, ObjectBox


class ObjectsBackend(Protocol):
    """Finds and tracks labelled objects in a clip's sampled frames."""

    id: str

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]: ...

    def track(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]: ...


class OracleObjects:
    """Ground-truth boxes, ids, sizes and ground-plane positions of a synthetic scene, optionally degraded.

    Positions are metres on the ground plane, x to the right of the first camera view and y away
    from it (the scene's world turned by the camera's first yaw), so that "left" and "towards the
    camera" read off them as the questions mean them.

    position_noise: std of Gaussian noise on positions (metres) and, scaled to pixels, on boxes;
    miss_rate: chance that an object is missed in a frame; id_switch_rate: chance per frame that
    two objects' track ids are swapped from then on. The noise is seeded by (seed, sample id),
    so an episode sees the same noisy world every time.
    """

    def __init__(self, position_noise: float = 0.0, miss_rate: float = 0.0, id_switch_rate: float = 0.0,
                 seed: int = 0):
        for name, value in (("position_noise", position_noise), ("miss_rate", miss_rate),
                            ("id_switch_rate", id_switch_rate)):
            if not isinstance(value, (int, float)) or value < 0 or (name != "position_noise" and value > 1):
                raise ValueError(f"{name} must be a number in [0, {'inf' if name == 'position_noise' else 1}], "
                                 f"got {value!r}")
        self.noise, self.miss, self.switch, self.seed = float(position_noise), float(miss_rate), float(id_switch_rate), seed
        self.id = f"oracle-objects-v1:noise={position_noise},miss={miss_rate},switch={id_switch_rate},seed={seed}"

    def check(self, dataset: Any) -> None:
        """Refuse a dataset without scene ground truth."""
        without = sum(not dataset[i].meta.get("truth") for i in range(len(dataset)))
        if without:
            raise ValueError(f"the 'oracle' objects backend reads synthetic scene ground truth; {without} of the "
                             f"{len(dataset)} samples of dataset {getattr(dataset, 'name', dataset)!r} have none. "
                             f"Use objects=('yolo', {{'weights': PATH}}) (--objects yolo --objects-options "
                             f"'{{\"weights\": \"PATH\"}}') or leave the object tools out")

    def _truth(self, sample: VideoSample) -> SceneTruth:
        path = sample.meta.get("truth")
        if not path:
            raise ToolError(f"the oracle objects backend has no scene ground truth for video {sample.id}; use "
                            "objects='yolo' for videos that are not synthetic scenes.")
        return SceneTruth.load(path)

    def detect(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]:
        """Every visible object per sampled frame, with its ground-plane position; no track ids."""
        return [[ObjectBox(o.label, o.box, o.score, None, o.position) for o in frame] for frame in self.track(clip, sample)]

    def track(self, clip: Clip, sample: VideoSample) -> list[FrameObjects]:
        """Every visible object per sampled frame with a stable track id (the object index, unless switched)."""
        truth = self._truth(sample)
        rng = np.random.default_rng([self.seed, zlib.crc32(sample.id.encode())])
        h, w = clip.frames.shape[1:3]
        scale = np.array([w / truth.width, h / truth.height] * 2)
        ids = np.arange(len(truth.labels))
        yaw = float(truth.camera_yaw[0])
        turn = np.array([[np.cos(yaw), np.sin(yaw)], [-np.sin(yaw), np.cos(yaw)]])  # world -> first view
        ground = truth.positions[..., :2] @ turn.T
        frames = []
        for index in clip.indices:
            t = min(int(index), len(truth.positions) - 1)
            if self.switch and len(ids) > 1 and rng.random() < self.switch:
                a, b = rng.choice(len(ids), 2, replace=False)
                ids[[a, b]] = ids[[b, a]]
            objects = []
            for i, label in enumerate(truth.labels):
                if not truth.visible[t, i] or (self.miss and rng.random() < self.miss):
                    continue
                position = ground[t, i] + rng.normal(0.0, self.noise, 2) if self.noise else ground[t, i]
                box = truth.boxes[t, i] * scale
                if self.noise:  # the same error in pixels as in metres, at this object's depth
                    box = box + rng.normal(0.0, self.noise, 4) * (box[2] - box[0]) / max(float(truth.sizes[i].max()), 1e-6)
                objects.append(ObjectBox(str(label), tuple(float(v) for v in box), 1.0, int(ids[i]),
                                         (float(position[0]), float(position[1])),
                                         tuple(float(v) for v in truth.sizes[i])))
            frames.append(objects)
        return frames
