"""The scenes' camera and object geometry: intrinsics, poses, projection, outlines (conventions in config.py)."""

from __future__ import annotations

import math

import numpy as np

from .config import SHAPES, SceneConfig

_CIRCLE = 24  # points per circle of cylinders and cones
_SPHERE = 32  # points on a sphere's silhouette



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


def object_corners(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of an object's axis-aligned bounding box; every shape lies inside them."""
    half = np.asarray(size, float) / 2
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    return np.asarray(centre, float) + signs * half


def _ring(n: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.arange(n) * (2 * math.pi / n)
    return np.cos(angles), np.sin(angles)


RING = _ring(_CIRCLE)
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
    cos, sin = RING
    ring = np.stack([c[0] + cos * w / 2, c[1] + sin * d / 2, np.zeros_like(cos)], axis=1)
    bottom = ring + [0.0, 0.0, c[2] - h / 2]
    if shape == "cylinder":
        return np.concatenate([bottom, ring + [0.0, 0.0, c[2] + h / 2]])
    if shape == "cone":
        return np.concatenate([bottom, [[c[0], c[1], c[2] + h / 2]]])
    raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")


def convex_hull(points: np.ndarray) -> np.ndarray:
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
