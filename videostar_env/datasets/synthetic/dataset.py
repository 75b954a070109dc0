"""The built-in synthetic dataset: rendered human figures with ground-truth COCO-17 keypoints.

Each sample is rendered deterministically from (dataset seed, index), written once to a real
H.264 video with a sidecar of ground-truth keypoints and boxes, and read back through the same
decoder as real data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ...paths import atomic_path, cache_dir
from ...video.encode import write_video
from .motions import MOTIONS, sample_variation, trajectory
from ..sample import VideoSample
from ...perception.skeleton import INDEX
from .knowledge import KNOWLEDGE

# Bump when rendering changes so cached videos of an older renderer are not reused.
RENDER_VERSION = "v2"  # v2: the encoder made deterministic (video/encode.py)

CLASSES: tuple[str, ...] = tuple(MOTIONS)
# Each confusable pair is split across base and novel: the open-vocabulary challenge.
BASE_CLASSES: tuple[str, ...] = ("wave", "squat", "jump", "walk", "punch", "raise_arms", "bow")
NOVEL_CLASSES: tuple[str, ...] = tuple(c for c in CLASSES if c not in BASE_CLASSES)
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("wave", "clap"), ("squat", "sit_down"), ("jump", "jumping_jacks"), ("walk", "run"),
    ("raise_arms", "arm_circles"), ("sit_down", "stand_up"), ("punch", "clap"),
)
SPLITS = {"all": CLASSES, "base": BASE_CLASSES, "novel": NOVEL_CLASSES}


def default_root() -> Path:
    """Where rendered videos are kept: the package cache folder's synthetic/ (see paths.cache_dir)."""
    return cache_dir() / "synthetic"


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic videos look. Defaults: 160x160 px, 15 fps, 2-3 s clips."""

    size: int = 160  # square frame side in pixels
    fps: int = 15
    min_seconds: float = 2.0
    max_seconds: float = 3.0
    noise: float = 4.0  # std of per-pixel Gaussian noise, in 0..255 units
    jitter: float = 1.5  # std of per-frame camera shake, in pixels


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """A wall-and-floor scene with blurred texture, different for each video."""
    wall, floor = rng.integers(60, 200, 3), rng.integers(40, 160, 3)
    horizon = int(size * rng.uniform(0.62, 0.78))
    img = np.empty((size, size, 3), np.float32)
    img[:horizon], img[horizon:] = wall, floor
    img += rng.normal(0, 18, (size, size, 1)).repeat(3, axis=2)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(2, 5))):  # furniture-like blocks on the wall
        x0, y0 = rng.integers(0, size - 20), rng.integers(0, max(horizon - 30, 1))
        w, h = rng.integers(10, 40), rng.integers(10, 30)
        draw.rectangle([x0, y0, x0 + w, y0 + h], fill=tuple(int(c) for c in rng.integers(30, 230, 3)))
    return pil


def _draw_person(draw: ImageDraw.ImageDraw, kp: np.ndarray, scale: float, colours: dict[str, tuple]) -> None:
    """A solid figure: torso polygon, thick limbs with rounded joints, and a head."""
    width = max(int(scale * 0.07), 2)
    p = {name: tuple(kp[i]) for name, i in INDEX.items()}
    torso = [p["left_shoulder"], p["right_shoulder"], p["right_hip"], p["left_hip"]]
    limbs = [
        ("left_hip", "left_knee", "legs"), ("left_knee", "left_ankle", "legs"),
        ("right_hip", "right_knee", "legs"), ("right_knee", "right_ankle", "legs"),
        ("left_shoulder", "left_elbow", "shirt"), ("right_shoulder", "right_elbow", "shirt"),
        ("left_elbow", "left_wrist", "skin"), ("right_elbow", "right_wrist", "skin"),
    ]
    for a, b, part in limbs[:4]:
        draw.line([p[a], p[b]], fill=colours[part], width=width + 1)
        draw.ellipse(_disc(p[b], width / 2 + 0.5), fill=colours[part])
    draw.polygon(torso, fill=colours["shirt"])
    neck = ((p["left_shoulder"][0] + p["right_shoulder"][0]) / 2, (p["left_shoulder"][1] + p["right_shoulder"][1]) / 2)
    draw.line([neck, p["nose"]], fill=colours["skin"], width=width)
    for a, b, part in limbs[4:]:
        draw.line([p[a], p[b]], fill=colours[part], width=width)
        draw.ellipse(_disc(p[b], width / 2), fill=colours[part])
    draw.ellipse(_disc(p["nose"], scale * 0.075), fill=colours["skin"])
    draw.ellipse(_disc(p["nose"], scale * 0.075), outline=colours["hair"], width=max(width // 2, 1))


def _disc(centre: tuple[float, float], radius: float) -> list[float]:
    x, y = centre
    return [x - radius, y - radius, x + radius, y + radius]


def render(action: str, seed: int, config: SyntheticConfig = SyntheticConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one clip: (frames (T,S,S,3) uint8, keypoints (T,17,3) px with confidence, boxes (T,4) xyxy px)."""
    rng = np.random.default_rng(seed)
    num = int(round(config.fps * rng.uniform(config.min_seconds, config.max_seconds)))
    body = trajectory(action, sample_variation(rng), num)
    size = config.size
    scale = size * rng.uniform(0.50, 0.62)  # pixels per body unit
    ground = size * rng.uniform(0.86, 0.93)
    centre_x = size * 0.5 + rng.uniform(-0.08, 0.08) * size
    shake = np.cumsum(rng.normal(0, config.jitter, (num, 2)), axis=0) * 0.5
    shake -= shake.mean(axis=0)
    px = np.empty((num, 17, 2))
    px[..., 0] = centre_x + body[..., 0] * scale + shake[:, None, 0]
    px[..., 1] = ground - body[..., 1] * scale + shake[:, None, 1]
    colours = {
        "skin": tuple(int(c) for c in rng.integers([150, 100, 70], [250, 200, 170])),
        "shirt": tuple(int(c) for c in rng.integers(0, 256, 3)),
        "legs": tuple(int(c) for c in rng.integers(0, 140, 3)),
        "hair": tuple(int(c) for c in rng.integers(0, 90, 3)),
    }
    background = _background(rng, size)
    frames = np.empty((num, size, size, 3), np.uint8)
    for t in range(num):
        img = background.copy()
        _draw_person(ImageDraw.Draw(img), px[t], scale, colours)
        noisy = np.asarray(img, np.float32) + rng.normal(0, config.noise, (size, size, 3))
        frames[t] = np.clip(noisy, 0, 255).astype(np.uint8)
    margin = scale * 0.08
    boxes = np.concatenate([px.min(axis=1) - margin, px.max(axis=1) + margin], axis=1)
    boxes[:, 1] -= scale * 0.08  # the head extends above the nose keypoint
    boxes = np.clip(boxes, 0, size - 1)
    keypoints = np.concatenate([px, np.ones((num, 17, 1))], axis=2)
    return frames, keypoints.astype(np.float32), boxes.astype(np.float32)


class SyntheticDataset:
    """Rendered action videos, `per_class` per class, rendered on first use and cached on disk."""

    name = "synthetic"

    def __init__(self, split: str = "all", per_class: int = 20, seed: int = 0,
                 root: str | os.PathLike | None = None, config: SyntheticConfig = SyntheticConfig()):
        if split not in SPLITS:
            raise ValueError(f"unknown synthetic split {split!r}; choose one of {sorted(SPLITS)}")
        if per_class < 1:
            raise ValueError("per_class must be at least 1")
        self.split = split
        self.classes = SPLITS[split]
        self.per_class = per_class
        self.seed = seed
        self.config = config
        self.knowledge = KNOWLEDGE.subset(self.classes)
        self.root = Path(root) if root is not None else default_root()
        self.folder = self.root / f"{RENDER_VERSION}-s{config.size}-f{config.fps}-seed{seed}"

    def __len__(self) -> int:
        return len(self.classes) * self.per_class

    def __getitem__(self, index: int) -> VideoSample:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} synthetic samples")
        label = self.classes[index % len(self.classes)]
        number = index // len(self.classes)
        # The seed depends on the class and its number, not the split, so a video is the
        # same whichever split lists it.
        video_seed = int(np.random.SeedSequence([self.seed, CLASSES.index(label), number]).generate_state(1)[0])
        sample_id = f"{label}_{number:04d}"
        video = self.folder / f"{sample_id}.mp4"
        annotations = self.folder / f"{sample_id}.npz"
        if not (video.exists() and annotations.exists()):
            frames, keypoints, boxes = render(label, video_seed, self.config)
            write_video(video, frames, self.config.fps)
            with atomic_path(annotations) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, keypoints=keypoints, boxes=boxes)
        return VideoSample(
            id=sample_id, video=str(video), label=label, label_space=self.classes,
            dataset=self.name, split=self.split, meta={"annotations": str(annotations), "seed": video_seed,
                  "group": "base" if label in BASE_CLASSES else "novel"},
        )
