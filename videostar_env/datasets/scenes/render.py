"""Sampling a scene from its seed and rendering it with numpy/PIL: objects, motions, camera yaws, frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .config import BASE_SIZES, COLOURS, LIGHT, NEAR, SHAPES, SceneConfig
from .camera import (RING, camera_centre, camera_pose, convex_hull, intrinsics, object_corners, object_outline, project,
                     to_camera)
from .truth import SceneTruth



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
    cos, sin = RING
    lit = (cos * LIGHT[0] + sin * LIGHT[1]) / math.hypot(LIGHT[0], LIGHT[1]) > 0.2
    ring = np.stack([centre[0] + cos * w / 2, centre[1] + sin * d / 2, np.zeros_like(cos)], axis=1)
    bottom = ring + [0.0, 0.0, centre[2] - h / 2]
    top = ring + [0.0, 0.0, centre[2] + h / 2]
    if shape == "cylinder":
        side = np.concatenate([bottom[lit], top[lit]])
    else:
        side = np.concatenate([bottom[lit], [[centre[0], centre[1], centre[2] + h / 2]]])
    draw.polygon(_polygon(convex_hull(project(side, pose, K))), fill=_scaled(rgb, 0.82))
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
        cos, sin = RING
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
            hull = convex_hull(pixels)
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
