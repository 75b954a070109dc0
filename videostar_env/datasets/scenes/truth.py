"""SceneTruth: a scene's exact per-frame ground truth, saved beside its video and read back."""

from __future__ import annotations

import io
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...paths import write_atomic
from .config import RENDER_VERSION
from .camera import camera_centre, object_corners, project, to_camera



_ARRAY_FIELDS = ("ids", "labels", "shapes", "colours", "rgb", "sizes", "positions", "velocities", "moving",
                 "boxes", "visible", "visible_pixels", "visible_fraction", "intrinsics", "poses", "camera_yaw")
_SCALAR_FIELDS = ("fps", "frame_size", "area", "panning", "seed", "version")


@dataclass(frozen=True, eq=False)
class SceneTruth:
    """Exact per-frame ground truth of one scene (T frames, N objects); see the module for conventions.

    The .npz holds one array per field, under the field's name:
    ids (N,) int32 0..N-1; labels, shapes, colours (N,) str ("red cube", "cube", "red"); rgb (N, 3) uint8
    base colour; sizes (N, 3) float64 width/depth/height in metres; positions (T, N, 3) float64 world
    centres; velocities (T, N, 3) float64 m/s, the velocity from frame t to t+1 (positions[t+1] =
    positions[t] + velocities[t] / fps; the last row repeats the one before); moving (N,) bool;
    boxes (T, N, 4) float32 x1, y1, x2, y2 pixels, NaN when not visible; visible (T, N) bool;
    visible_pixels (T, N) int32; visible_fraction (T, N) float32; intrinsics (3, 3) float64;
    poses (T, 4, 4) float64 world-to-camera; camera_yaw (T,) float64 radians; fps float64;
    frame_size (2,) int64 (height, width); area (4,) float64 x_min, y_min, x_max, y_max; panning bool;
    seed int64 (the scene's own seed); version str (RENDER_VERSION).
    """

    ids: np.ndarray
    labels: np.ndarray
    shapes: np.ndarray
    colours: np.ndarray
    rgb: np.ndarray
    sizes: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    moving: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray
    visible_pixels: np.ndarray
    visible_fraction: np.ndarray
    intrinsics: np.ndarray
    poses: np.ndarray
    camera_yaw: np.ndarray
    fps: float
    frame_size: tuple[int, int]  # (height, width), as decode's size argument
    area: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in metres
    panning: bool
    seed: int
    version: str = RENDER_VERSION

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def num_objects(self) -> int:
        return int(self.positions.shape[1])

    @property
    def height(self) -> int:
        return int(self.frame_size[0])

    @property
    def width(self) -> int:
        return int(self.frame_size[1])

    @property
    def times(self) -> np.ndarray:
        """Seconds from the start of the video of each frame (T,)."""
        return np.arange(self.num_frames) / self.fps

    @property
    def camera_centres(self) -> np.ndarray:
        """World position of the camera in each frame (T, 3)."""
        return np.stack([camera_centre(p) for p in self.poses])

    def frame_at(self, seconds: float) -> int:
        """The index of the frame shown at `seconds` (clamped to the video)."""
        return int(min(max(math.floor(seconds * self.fps + 1e-9), 0), self.num_frames - 1))

    def index(self, label: str) -> int:
        """The object index of a label such as "red cube"; KeyError if the scene has none."""
        hits = np.flatnonzero(self.labels == label)
        if not len(hits):
            raise KeyError(f"no object {label!r} in this scene; objects: {', '.join(self.labels)}")
        return int(hits[0])

    def to_camera(self, points_world: np.ndarray, t: int) -> np.ndarray:
        """World points (..., 3) in the camera coordinates of frame t (x right, y down, z forward)."""
        return to_camera(points_world, self.poses[t])

    def project(self, points_world: np.ndarray, t: int) -> np.ndarray:
        """World points (..., 3) -> source-video pixels (..., 2) in frame t; NaN for points behind the camera."""
        return project(points_world, self.poses[t], self.intrinsics)

    def corners(self, i: int, t: int) -> np.ndarray:
        """The 8 bounding-box corners (8, 3) of object i in frame t, in world coordinates."""
        return object_corners(self.positions[t, i], self.sizes[i])

    def arrays(self) -> dict[str, np.ndarray]:
        """Every field as a numpy array, keyed as in the .npz."""
        out = {name: np.asarray(getattr(self, name)) for name in _ARRAY_FIELDS}
        out.update(fps=np.float64(self.fps), frame_size=np.asarray(self.frame_size, np.int64),
                   area=np.asarray(self.area, np.float64), panning=np.bool_(self.panning),
                   seed=np.int64(self.seed), version=np.str_(self.version))
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the .npz atomically, byte-identical for identical truth (fixed zip timestamps)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for name, value in self.arrays().items():
                data = io.BytesIO()
                np.lib.format.write_array(data, np.asarray(value), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, data.getvalue())
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SceneTruth":
        """Read a truth .npz written by save."""
        with np.load(path, allow_pickle=False) as data:
            fields = {name: data[name] for name in _ARRAY_FIELDS}
            return cls(**fields, fps=float(data["fps"]), frame_size=tuple(int(v) for v in data["frame_size"]),
                       area=tuple(float(v) for v in data["area"]), panning=bool(data["panning"]),
                       seed=int(data["seed"]), version=str(data["version"]))
