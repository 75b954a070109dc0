"""SceneDataset: scenes made once from their seeds, cached as video and ground truth, in splits."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ...knowledge import KnowledgeBase
from ...paths import cache_dir
from ...video.encode import write_video
from ..sample import VideoSample
from .config import SPLITS, SceneConfig, TEST_EVERY
from .truth import SceneTruth
from .render import render_scene



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
