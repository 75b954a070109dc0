"""Synthetic 3D scenes (after Video-STR, arXiv 2510.10976): their settings, constants and conventions.

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
from dataclasses import dataclass

import numpy as np




# Bump when sampling or rendering changes: it is part of the cache folder's digest.
RENDER_VERSION = "scenes-v2"  # v2: the encoder made deterministic (video/encode.py)

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
