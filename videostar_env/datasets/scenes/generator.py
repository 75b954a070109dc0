"""Synthetic 3D scenes for spatio-temporal questions (after Video-STR, arXiv 2510.10976): the data layer.

Each scene is a handful of coloured shapes (cube, sphere, cylinder, cone) of known metric size on a
textured ground plane, some static and some moving with piecewise-constant velocity, filmed by a
pinhole camera that is fixed or pans. A scene is sampled deterministically from a seed, rendered with
numpy/PIL, written once to an H.264 mp4, and its exact per-frame ground truth is saved beside it as
an .npz that `SceneTruth.load` reads back. Questions are written elsewhere from that ground truth.

Conventions
-----------
World: metres; x to the right of the (unpanned) camera view, y forward/away from it, z up. The ground
is the plane z = 0 and the scene area is the square |x|, |y| <= area_size / 2 centred on the origin.
Objects stand on the ground: an object's position is the centre of its bounding box, at z = height / 2.
Sizes are (width along x, depth along y, height along z); objects are not rotated.

Camera: OpenCV axes (x right, y down, z forward). `poses[t]` is the 4x4 world-to-camera transform
[R | t]: X_cam = R @ X_world + t. The camera centre is at (0, -camera_distance, camera_height); with
yaw 0 it looks along +y, pitched down to the centre of the area. Yaw turns it about the world z axis,
positive counter-clockwise seen from above (i.e. to the left); its right vector is (cos yaw, sin yaw, 0).
`camera_yaw` (T,) holds the yaw in radians.

Pixels: continuous coordinates with the image's top-left corner at (0, 0) and x to the right, so
pixel (column c, row r) of a decoded frame covers [c, c+1) x [r, r+1) and has its centre at
(c + 0.5, r + 0.5). Intrinsics: fx = fy = (width / 2) / tan(fov / 2) (fov horizontal), cx = width / 2,
cy = height / 2. Boxes are x1, y1, x2, y2 in these coordinates of the source video.

Visibility rule: object i is visible in frame t when (1) every point of its 3D outline is in front of
the camera (camera-frame z > NEAR metres), and (2) at least `SceneConfig.min_visible_pixels` pixels
of it are drawn in the final image (inside the frame and not hidden by nearer objects). Its box is
then the bounds of its projected outline (exact silhouette for cubes and spheres, 24-point circles
for cylinders and cones) clipped to the image; otherwise the box is NaN. `visible_pixels` counts the
object's pixels in the final image and `visible_fraction` divides that by the pixels of its whole
silhouette inside the image (1.0: nothing in front of it; 0 when not drawn at all).

Objects are drawn far to near (painter's order by the camera-frame depth of their centres); moving
objects never overlap on the ground, so that order is right for this scene geometry.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ...knowledge import KnowledgeBase
from ...paths import cache_dir, write_atomic
from ...video.encode import write_video
from ..sample import VideoSample

# Bump when sampling or rendering changes: it is part of the cache folder's digest.
RENDER_VERSION = "scenes-v1"

SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder", "cone")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 210, 40),
    "purple": (140, 60, 190), "orange": (245, 140, 30), "white": (235, 235, 235),
}
# Base (width, depth, height) in metres of each shape; a per-object size factor scales all three.
BASE_SIZES: dict[str, tuple[float, float, float]] = {
    "cube": (0.5, 0.5, 0.5), "sphere": (0.5, 0.5, 0.5), "cylinder": (0.4, 0.4, 0.6), "cone": (0.5, 0.5, 0.6),
}
NEAR = 0.05  # metres: outline points closer to the camera plane than this make an object invisible
LIGHT = np.array([-0.4, -0.5, 0.8]) / np.linalg.norm([-0.4, -0.5, 0.8])  # towards the light
SPLITS = ("train", "test", "all")
TEST_EVERY = 5  # scene i is in the test split when i % TEST_EVERY == TEST_EVERY - 1

_CIRCLE = 24  # points per circle of cylinders and cones
_SPHERE = 32  # points on a sphere's silhouette


@dataclass(frozen=True)
class SceneConfig:
    """How scenes are sampled and filmed. Every default is stated beside its field."""

    width: int = 256  # frame width in pixels (even, for yuv420p)
    height: int = 192  # frame height in pixels (even)
    fps: int = 8  # frames per second
    duration: float = 4.0  # seconds; frames = round(fps * duration) = 32 by default
    min_objects: int = 2  # objects per scene, drawn uniformly from min..max
    max_objects: int = 6
    moving_share: float = 0.5  # probability that an object moves
    panning_share: float = 0.5  # probability that a scene's camera pans
    max_speed: float = 1.0  # m/s, fastest speed of a motion segment
    min_speed: float = 0.3  # m/s, slowest speed of a motion segment (a segment may also stop when boxed in)
    max_segments: int = 3  # a moving object has 1..max_segments constant-velocity segments
    min_segment_frames: int = 6  # shortest segment, in frames
    area_size: float = 6.0  # metres; side of the square scene area centred on the origin
    size_range: tuple[float, float] = (0.7, 1.5)  # per-object factor on BASE_SIZES
    gap: float = 0.1  # metres kept between the footprints (circumscribed circles) of any two objects
    camera_height: float = 4.5  # metres above the ground
    camera_distance: float = 6.0  # metres behind the area centre, along -y
    fov: float = 60.0  # horizontal field of view, degrees
    pan_yaw: float = 25.0  # degrees: a panning camera's yaw moves linearly between two values in +-pan_yaw
    min_pan: float = 12.0  # degrees: the least total yaw change of a panning camera
    tile: float = 0.5  # metres: side of a ground checker tile
    noise: float = 1.5  # std of per-pixel Gaussian noise, 0..255 units (0: none)
    min_visible_pixels: int = 6  # drawn pixels an object needs to count as visible

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2 or self.width < 16 or self.height < 16:
            raise ValueError("frame width and height must be even and at least 16 pixels")
        if not 1 <= self.min_objects <= self.max_objects <= len(SHAPES) * len(COLOURS):
            raise ValueError(f"need 1 <= min_objects <= max_objects <= {len(SHAPES) * len(COLOURS)}")
        if self.fps <= 0 or self.duration <= 0 or self.num_frames < 2:
            raise ValueError("fps and duration must give at least two frames")
        if not (0 <= self.moving_share <= 1 and 0 <= self.panning_share <= 1):
            raise ValueError("moving_share and panning_share are probabilities in [0, 1]")
        if not 0 < self.min_speed <= self.max_speed:
            raise ValueError("need 0 < min_speed <= max_speed")
        if self.max_segments < 1 or self.min_segment_frames < 1:
            raise ValueError("max_segments and min_segment_frames must be at least 1")
        if not 0 < self.size_range[0] <= self.size_range[1]:
            raise ValueError("size_range must be (low, high) with 0 < low <= high")
        if not 0 < self.fov < 180:
            raise ValueError("fov must be in (0, 180) degrees")
        if self.min_pan > 2 * self.pan_yaw:
            raise ValueError("min_pan cannot exceed 2 * pan_yaw")

    @property
    def num_frames(self) -> int:
        return int(round(self.fps * self.duration))

    @property
    def digest(self) -> str:
        """A hash of the renderer version and every field (part of the cache folder's name)."""
        return hashlib.blake2b(f"{RENDER_VERSION}|{self!r}".encode(), digest_size=8).hexdigest()


# -- camera geometry ----------------------------------------------------------------------------

def intrinsics(width: int, height: int, fov: float) -> np.ndarray:
    """The 3x3 pinhole matrix K for a horizontal field of view in degrees (square pixels, centred)."""
    f = (width / 2) / math.tan(math.radians(fov) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def camera_pose(yaw: float, config: SceneConfig = SceneConfig()) -> np.ndarray:
    """World-to-camera 4x4 for the scene camera turned by yaw radians (see the module's conventions)."""
    centre = np.array([0.0, -config.camera_distance, config.camera_height])
    pitch = math.atan2(config.camera_height, config.camera_distance)  # looks down at the area centre
    forward = np.array([-math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), -math.sin(pitch)])
    right = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = -rotation @ centre
    return pose


def camera_centre(pose: np.ndarray) -> np.ndarray:
    """The camera's position in the world from a world-to-camera pose."""
    return -pose[:3, :3].T @ pose[:3, 3]


def to_camera(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """World points (..., 3) in camera coordinates (..., 3)."""
    points = np.asarray(points, float)
    return points @ pose[:3, :3].T + pose[:3, 3]


def project(points: np.ndarray, pose: np.ndarray, K: np.ndarray) -> np.ndarray:
    """World points (..., 3) -> pixels (..., 2); NaN for points not in front of the camera (z <= 0)."""
    cam = to_camera(points, pose)
    z = cam[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam[..., :2] / z) * K[[0, 1], [0, 1]] + K[:2, 2]
    return np.where(z > 0, uv, np.nan)


# -- object geometry ----------------------------------------------------------------------------

def object_corners(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of an object's axis-aligned bounding box; every shape lies inside them."""
    half = np.asarray(size, float) / 2
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    return np.asarray(centre, float) + signs * half


def _ring(n: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.arange(n) * (2 * math.pi / n)
    return np.cos(angles), np.sin(angles)


_RING = _ring(_CIRCLE)
_SPHERE_RING = _ring(_SPHERE)


def object_outline(shape: str, centre: np.ndarray, size: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """World points (M, 3) whose projections' convex hull is the object's silhouette seen from `camera`.

    Cube: its 8 corners. Sphere: its exact silhouette circle for that camera position. Cylinder:
    24-point top and bottom circles. Cone: a 24-point base circle and the apex.
    """
    c = np.asarray(centre, float)
    w, d, h = (float(v) for v in size)
    if shape == "cube":
        return object_corners(c, size)
    if shape == "sphere":
        r = w / 2
        v = c - np.asarray(camera, float)
        dist = float(np.linalg.norm(v))
        if dist <= r * 1.0001:  # the camera is inside: nothing sensible to draw
            return object_corners(c, size)
        axis = v / dist
        helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        a = np.cross(axis, helper)
        a /= np.linalg.norm(a)
        b = np.cross(axis, a)
        middle = c - axis * (r * r / dist)
        rho = r * math.sqrt(1 - (r / dist) ** 2)
        cos, sin = _SPHERE_RING
        return middle + rho * (cos[:, None] * a + sin[:, None] * b)
    cos, sin = _RING
    ring = np.stack([c[0] + cos * w / 2, c[1] + sin * d / 2, np.zeros_like(cos)], axis=1)
    bottom = ring + [0.0, 0.0, c[2] - h / 2]
    if shape == "cylinder":
        return np.concatenate([bottom, ring + [0.0, 0.0, c[2] + h / 2]])
    if shape == "cone":
        return np.concatenate([bottom, [[c[0], c[1], c[2] + h / 2]]])
    raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (K, 2) of 2D points, counter-clockwise in array coordinates (monotone chain)."""
    pts = np.unique(np.round(points, 6), axis=0)  # sorted by x, then y
    if len(pts) < 3:
        return pts

    def half(seq):
        out: list = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    rows = pts.tolist()
    lower, upper = half(rows), half(rows[::-1])
    return np.array(lower[:-1] + upper[:-1])


# -- ground truth -------------------------------------------------------------------------------

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


# -- sampling -----------------------------------------------------------------------------------

def _ray_to_box(p: np.ndarray, direction: np.ndarray, limit: float) -> float:
    """How far p can travel along the unit direction before leaving the square |x|, |y| <= limit."""
    travel = math.inf
    for k in range(2):
        if direction[k] > 1e-12:
            travel = min(travel, (limit - p[k]) / direction[k])
        elif direction[k] < -1e-12:
            travel = min(travel, (-limit - p[k]) / direction[k])
    return max(travel, 0.0)


def _motion(rng: np.random.Generator, start: np.ndarray, limit: float, config: SceneConfig) -> np.ndarray:
    """Per-frame x-y velocities (T, 2) of 1..max_segments constant segments keeping the object in bounds."""
    frames, dt = config.num_frames, 1.0 / config.fps
    steps = frames - 1  # velocities[t] moves frame t to t+1
    most = max(1, min(config.max_segments, steps // config.min_segment_frames))
    count = int(rng.integers(1, most + 1))
    cuts = [0]
    if count > 1:  # segment starts, each at least min_segment_frames after the previous and before the end
        slack = steps - count * config.min_segment_frames
        extra = np.sort(rng.integers(0, slack + 1, count - 1))
        cuts += [int(extra[k]) + (k + 1) * config.min_segment_frames for k in range(count - 1)]
    cuts.append(steps)
    velocity = np.zeros((frames, 2))
    p = np.asarray(start, float).copy()
    heading = rng.uniform(0, 2 * math.pi)
    for k in range(count):
        length = (cuts[k + 1] - cuts[k]) * dt
        chosen = np.zeros(2)
        for attempt in range(24):
            if k or attempt:  # turn clearly between segments (60..180 degrees either way)
                heading += rng.choice([-1.0, 1.0]) * rng.uniform(math.pi / 3, math.pi)
            direction = np.array([math.cos(heading), math.sin(heading)])
            speed = min(rng.uniform(config.min_speed, config.max_speed), _ray_to_box(p, direction, limit) / length)
            if speed >= config.min_speed:
                chosen = direction * speed
                break
        velocity[cuts[k]:cuts[k + 1]] = chosen
        p = p + chosen * length
    velocity[-1] = velocity[-2]
    return velocity


def _track(start: np.ndarray, velocity: np.ndarray, fps: int) -> np.ndarray:
    """Positions (T, 2) from a start and per-frame velocities."""
    steps = np.concatenate([np.zeros((1, 2)), velocity[:-1] / fps])
    return start + np.cumsum(steps, axis=0)


def _sample_objects(rng: np.random.Generator, config: SceneConfig) -> dict[str, Any]:
    """Shapes, colours, sizes and trajectories; footprints stay in the area and never overlap."""
    wanted = int(rng.integers(config.min_objects, config.max_objects + 1))
    kinds = [(s, c) for s in SHAPES for c in COLOURS]
    order = rng.permutation(len(kinds))
    half_area = config.area_size / 2
    placed: list[dict[str, Any]] = []
    for k in order[:wanted]:
        shape, colour = kinds[int(k)]
        factor = rng.uniform(*config.size_range)
        size = np.array(BASE_SIZES[shape]) * factor
        radius = 0.5 * math.hypot(size[0], size[1])  # footprint's circumscribed circle
        limit = half_area - radius
        moves = rng.random() < config.moving_share
        for attempt in range(60):
            start = rng.uniform(-limit, limit, 2)
            if moves and attempt < 40:  # then give up moving it
                velocity = _motion(rng, start, limit, config)
            else:
                velocity = np.zeros((config.num_frames, 2))
            track = _track(start, velocity, config.fps)
            if all(np.min(np.linalg.norm(track - other["track"], axis=1)) >= radius + other["radius"] + config.gap
                   for other in placed):
                placed.append(dict(shape=shape, colour=colour, size=size, radius=radius, track=track,
                                   velocity=velocity))
                break
    if len(placed) < config.min_objects:
        raise RuntimeError(f"could not place {config.min_objects} objects in a {config.area_size} m area")
    return placed


def _sample_yaws(rng: np.random.Generator, config: SceneConfig) -> tuple[np.ndarray, bool]:
    frames = config.num_frames
    if not rng.random() < config.panning_share:
        return np.zeros(frames), False
    limit = math.radians(config.pan_yaw)
    while True:
        a, b = rng.uniform(-limit, limit, 2)
        if abs(b - a) >= math.radians(config.min_pan):
            return a + (b - a) * np.arange(frames) / (frames - 1), True


# -- rendering ----------------------------------------------------------------------------------

_SKY_TOP, _SKY_HORIZON = np.array([150.0, 175.0, 205.0]), np.array([205.0, 212.0, 220.0])
_TILES_IN = (np.array([152.0, 150.0, 146.0]), np.array([118.0, 117.0, 114.0]))
_TILES_OUT = (np.array([104.0, 112.0, 96.0]), np.array([88.0, 95.0, 82.0]))


class _Ground:
    """The background of a frame: checkered ground (lighter tiles in the area) fading into fog and a sky.

    The camera only turns about the vertical axis through its centre, so each pixel's ray meets the
    ground at the same distance whatever the yaw, and its hit point just turns about the camera:
    everything but the tile lookup is computed once.
    """

    def __init__(self, K: np.ndarray, config: SceneConfig):
        H, W = config.height, config.width
        self.config, self.shape = config, (H, W)
        u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
        rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)
        pose = camera_pose(0.0, config)
        self.centre = camera_centre(pose)
        world = rays @ pose[:3, :3]  # R^T d: ray directions in world coordinates at yaw 0
        dz = world[..., 2]
        self.hits = dz < -1e-9
        s = -self.centre[2] / dz[self.hits]
        self.offsets = (s[:, None] * world[self.hits][:, :2]).astype(np.float64)  # hit point - camera, x-y
        self.fog = (1 - np.exp(-s / 30.0)).astype(np.float32)[:, None]
        elevation = np.clip(world[..., 2] / np.linalg.norm(world, axis=-1), 0, 1)[..., None]
        self.sky = (_SKY_HORIZON * (1 - elevation) + _SKY_TOP * elevation).astype(np.float32)
        self.table = np.stack([*_TILES_OUT, *_TILES_IN]).astype(np.float32)  # index: 2 * inside + parity
        self.haze = (self.fog * _SKY_HORIZON).astype(np.float32)

    def __call__(self, yaw: float) -> np.ndarray:
        c, s = math.cos(yaw), math.sin(yaw)
        ox, oy = self.offsets[:, 0], self.offsets[:, 1]
        x = self.centre[0] + c * ox - s * oy
        y = self.centre[1] + s * ox + c * oy
        tile, half = self.config.tile, self.config.area_size / 2
        parity = (np.floor(x / tile) + np.floor(y / tile)).astype(np.int64) & 1
        inside = (np.abs(x) <= half) & (np.abs(y) <= half)
        colour = self.table[2 * inside + parity]
        image = self.sky.copy()
        image[self.hits] = colour * (1 - self.fog) + self.haze
        return image


def _shade(rgb: np.ndarray, normal: np.ndarray) -> tuple[int, int, int]:
    factor = 0.5 + 0.55 * max(0.0, float(np.dot(normal, LIGHT)))
    return tuple(int(v) for v in np.clip(rgb * factor, 0, 255))


def _scaled(rgb: np.ndarray, factor: float) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.clip(rgb * factor, 0, 255))


def _polygon(points: np.ndarray) -> list[tuple[float, float]]:
    return [(float(u) - 0.5, float(v) - 0.5) for u, v in points]  # PIL puts pixel centres on integers


_FACES = [(np.array(n, float), idx) for n, idx in (
    ((-1, 0, 0), (0, 1, 3, 2)), ((1, 0, 0), (4, 6, 7, 5)), ((0, -1, 0), (0, 2, 6, 4)),
    ((0, 1, 0), (1, 5, 7, 3)), ((0, 0, -1), (0, 4, 5, 1)), ((0, 0, 1), (2, 3, 7, 6)))]


def _draw_object(draw: ImageDraw.ImageDraw, shape: str, centre: np.ndarray, size: np.ndarray, rgb: np.ndarray,
                 camera: np.ndarray, pose: np.ndarray, K: np.ndarray, hull: np.ndarray) -> None:
    """The object's shaded look, inside its silhouette `hull` (already projected)."""
    w, d, h = size
    if shape == "cube":
        draw.polygon(_polygon(hull), fill=_scaled(rgb, 0.5))
        corners = object_corners(centre, size)
        pixels = project(corners, pose, K)
        for normal, idx in _FACES:
            face_centre = centre + normal * size / 2
            if np.dot(normal, camera - face_centre) > 1e-9:
                draw.polygon(_polygon(pixels[list(idx)]), fill=_shade(rgb, normal))
        return
    if shape == "sphere":
        draw.polygon(_polygon(hull), fill=_scaled(rgb, 0.55))
        spot = project(centre + LIGHT * w * 0.22, pose, K)
        for shrink, factor in ((0.78, 0.72), (0.55, 0.88), (0.3, 1.02)):
            draw.polygon(_polygon(spot + (hull - spot) * shrink), fill=_scaled(rgb, factor))
        return
    # cylinder and cone: dark side, a lit side (ring points facing the light), then the top cap
    draw.polygon(_polygon(hull), fill=_scaled(rgb, 0.55))
    cos, sin = _RING
    lit = (cos * LIGHT[0] + sin * LIGHT[1]) / math.hypot(LIGHT[0], LIGHT[1]) > 0.2
    ring = np.stack([centre[0] + cos * w / 2, centre[1] + sin * d / 2, np.zeros_like(cos)], axis=1)
    bottom = ring + [0.0, 0.0, centre[2] - h / 2]
    top = ring + [0.0, 0.0, centre[2] + h / 2]
    if shape == "cylinder":
        side = np.concatenate([bottom[lit], top[lit]])
    else:
        side = np.concatenate([bottom[lit], [[centre[0], centre[1], centre[2] + h / 2]]])
    draw.polygon(_polygon(_hull(project(side, pose, K))), fill=_scaled(rgb, 0.82))
    if shape == "cylinder" and camera[2] > centre[2] + h / 2:
        draw.polygon(_polygon(project(top, pose, K)), fill=_shade(rgb, np.array([0.0, 0.0, 1.0])))


def render_scene(seed: int, config: SceneConfig = SceneConfig()) -> tuple[np.ndarray, SceneTruth]:
    """Sample and render one scene: (frames (T, H, W, 3) uint8, its SceneTruth). Deterministic by seed."""
    rng = np.random.default_rng(seed)
    objects = _sample_objects(rng, config)
    yaws, panning = _sample_yaws(rng, config)
    frames_n, n = config.num_frames, len(objects)
    H, W = config.height, config.width
    K = intrinsics(W, H, config.fov)
    poses = np.stack([camera_pose(float(y), config) for y in yaws])

    sizes = np.stack([o["size"] for o in objects])
    rgb = np.array([COLOURS[o["colour"]] for o in objects], np.uint8)
    positions = np.empty((frames_n, n, 3))
    velocities = np.zeros((frames_n, n, 3))
    for i, o in enumerate(objects):
        positions[:, i, :2] = o["track"]
        positions[:, i, 2] = o["size"][2] / 2
        velocities[:, i, :2] = o["velocity"]

    ground = _Ground(K, config)

    frames = np.empty((frames_n, H, W, 3), np.uint8)
    boxes = np.full((frames_n, n, 4), np.nan, np.float32)
    visible = np.zeros((frames_n, n), bool)
    visible_pixels = np.zeros((frames_n, n), np.int32)
    visible_fraction = np.zeros((frames_n, n), np.float32)
    background = None
    for t in range(frames_n):
        pose = poses[t]
        camera = camera_centre(pose)
        if background is None or panning:
            background = ground(float(yaws[t]))
        # Soft contact shadows, offset away from the light.
        shadow = Image.new("L", (W, H), 0)
        shadow_draw = ImageDraw.Draw(shadow)
        cos, sin = _RING
        for i in range(n):
            x, y, _ = positions[t, i]
            w, d, h = sizes[i]
            offset = -LIGHT[:2] * h * 0.3
            ring = np.stack([x + offset[0] + cos * w * 0.6, y + offset[1] + sin * d * 0.6, np.zeros_like(cos)], axis=1)
            pix = project(ring, pose, K)
            if np.isfinite(pix).all():
                shadow_draw.polygon(_polygon(pix), fill=255)
        image = background * (1 - 0.35 / 255 * np.asarray(shadow, np.float32)[..., None])
        img = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        ids = Image.new("L", (W, H), 0)
        id_draw = ImageDraw.Draw(ids)

        depth = to_camera(positions[t], pose)[:, 2]
        silhouettes = np.zeros(n, np.int64)
        for i in sorted(range(n), key=lambda k: (-depth[k], k)):
            outline = object_outline(objects[i]["shape"], positions[t, i], sizes[i], camera)
            if (to_camera(outline, pose)[:, 2] <= NEAR).any():
                continue
            pixels = project(outline, pose, K)
            x1, y1 = pixels.min(axis=0)
            x2, y2 = pixels.max(axis=0)
            box = np.array([max(x1, 0), max(y1, 0), min(x2, W), min(y2, H)])
            if box[2] <= box[0] or box[3] <= box[1]:
                continue  # entirely outside the frame
            hull = _hull(pixels)
            boxes[t, i] = box
            # The whole silhouette inside the frame, drawn alone, for visible_fraction.
            left, top = int(box[0]), int(box[1])
            mask = Image.new("1", (int(math.ceil(box[2])) - left + 1, int(math.ceil(box[3])) - top + 1), 0)
            ImageDraw.Draw(mask).polygon(_polygon(hull - [left, top]), fill=1)
            silhouettes[i] = int(np.count_nonzero(np.asarray(mask)))
            id_draw.polygon(_polygon(hull), fill=i + 1)
            _draw_object(draw, objects[i]["shape"], positions[t, i], sizes[i], rgb[i].astype(float), camera,
                         pose, K, hull)
        counts = np.bincount(np.asarray(ids).ravel(), minlength=n + 1)[1:]
        visible_pixels[t] = counts
        visible[t] = counts >= config.min_visible_pixels
        visible_fraction[t] = np.where(silhouettes > 0, np.minimum(counts / np.maximum(silhouettes, 1), 1.0), 0.0)
        boxes[t, ~visible[t]] = np.nan
        frame = np.asarray(img)
        if config.noise > 0:
            noisy = frame + rng.standard_normal(frame.shape, dtype=np.float32) * config.noise
            frame = np.clip(noisy, 0, 255).astype(np.uint8)
        frames[t] = frame

    truth = SceneTruth(
        ids=np.arange(n, dtype=np.int32),
        labels=np.array([f"{o['colour']} {o['shape']}" for o in objects]),
        shapes=np.array([o["shape"] for o in objects]), colours=np.array([o["colour"] for o in objects]),
        rgb=rgb, sizes=sizes, positions=positions, velocities=velocities,
        moving=np.abs(velocities[:, :, :2]).sum(axis=(0, 2)) > 0, boxes=boxes, visible=visible,
        visible_pixels=visible_pixels, visible_fraction=visible_fraction, intrinsics=K, poses=poses,
        camera_yaw=yaws.astype(np.float64), fps=float(config.fps), frame_size=(H, W),
        area=(-config.area_size / 2, -config.area_size / 2, config.area_size / 2, config.area_size / 2),
        panning=panning, seed=int(seed))
    return frames, truth



# -- the dataset --------------------------------------------------------------------------------

def default_root() -> Path:
    """Where rendered scenes are kept: the package cache folder's scenes/ (see paths.cache_dir)."""
    return cache_dir() / "scenes"


def scene_seed(seed: int, index: int) -> int:
    """The seed of scene `index` of a dataset seeded `seed` (independent of num_scenes and split)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def split_indices(num_scenes: int, split: str) -> tuple[int, ...]:
    """Scene indices of a split: test holds every TEST_EVERY-th scene (i % 5 == 4), train the rest."""
    if split not in SPLITS:
        raise ValueError(f"unknown scenes split {split!r}; choose one of {SPLITS}")
    every = range(num_scenes)
    if split == "test":
        return tuple(i for i in every if i % TEST_EVERY == TEST_EVERY - 1)
    if split == "train":
        return tuple(i for i in every if i % TEST_EVERY != TEST_EVERY - 1)
    return tuple(every)


class SceneDataset:
    """Synthetic 3D scenes, one VideoSample per scene, rendered on first use and cached on disk.

    Files: <root>/<digest of config and seed>/scene_<i>.mp4 and scene_<i>.npz, root defaulting to
    cache_dir()/scenes. Scene i is the same whatever num_scenes or split lists it.
    """

    name = "scenes"

    def __init__(self, num_scenes: int = 24, seed: int = 0, split: str = "all",
                 root: str | os.PathLike | None = None, config: SceneConfig = SceneConfig()):
        if num_scenes < 1:
            raise ValueError("num_scenes must be at least 1")
        self.scenes = split_indices(num_scenes, split)
        if not self.scenes:
            raise ValueError(f"split {split!r} of {num_scenes} scenes is empty")
        self.num_scenes = num_scenes
        self.seed = seed
        self.split = split
        self.config = config
        self.knowledge = KnowledgeBase([])
        self.root = Path(root) if root is not None else default_root()
        digest = hashlib.blake2b(f"{config.digest}|seed={seed}".encode(), digest_size=8).hexdigest()
        self.folder = self.root / digest

    def __len__(self) -> int:
        return len(self.scenes)

    def paths(self, i: int) -> tuple[Path, Path]:
        """(video, truth) file paths of scene i (not rendered by this call)."""
        return self.folder / f"scene_{i}.mp4", self.folder / f"scene_{i}.npz"

    def _ensure(self, i: int) -> tuple[Path, Path]:
        if i not in self.scenes:
            raise IndexError(f"scene {i} is not in the {self.split!r} split of {self.num_scenes} scenes")
        video, truth = self.paths(i)
        if not (video.exists() and truth.exists()):
            frames, scene = render_scene(scene_seed(self.seed, i), self.config)
            write_video(video, frames, self.config.fps)
            scene.save(truth)
        return video, truth

    def scene(self, i: int) -> SceneTruth:
        """The ground truth of scene i (the number in its id "scene-{i}" and meta["scene"])."""
        return SceneTruth.load(self._ensure(i)[1])

    def __getitem__(self, index: int) -> VideoSample:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} scenes")
        i = self.scenes[index]
        video, truth = self._ensure(i)
        return VideoSample(id=f"scene-{i}", video=str(video), label="", label_space=(), dataset=self.name,
                           split=self.split, meta={"truth": str(truth), "scene": i})
