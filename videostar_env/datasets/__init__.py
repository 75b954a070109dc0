"""Datasets: the VideoSample unit, the registry, and every dataset (local, the paper's, STI/VSI-Bench, synthetic)."""

from __future__ import annotations

from typing import Any, Protocol

from ..knowledge import KnowledgeBase
from ..registry import Registry
from ..video.decode import Clip, VideoDecodeError, decode, uniform_indices
from .sample import VideoSample
from .local import FolderDataset, ManifestDataset, QuestionsDataset
from .missing import MissingVideos
from .synthetic.dataset import SyntheticDataset
from .scenes import SceneConfig, SceneDataset, SceneQuestionDataset, SceneTruth
from .videostar import VideoStarDataset
from .stibench.rows import STIBenchDataset
from .vsibench.rows import VSIBenchDataset


class Dataset(Protocol):
    """What the environment needs from a dataset: indexed samples and the knowledge of their labels."""

    name: str
    knowledge: KnowledgeBase

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> VideoSample: ...


# name -> factory(**kwargs): gym.make(..., dataset="videostar", dataset_kwargs={"dataset": "hmdb51", ...}).
# Other packages add datasets with entry points in the group "videostar_env.datasets".
DATASETS: Registry[Dataset] = Registry("dataset", "videostar_env.datasets")
for _name, _factory in {"synthetic": SyntheticDataset, "videostar": VideoStarDataset, "folder": FolderDataset,
                        "manifest": ManifestDataset, "questions": QuestionsDataset, "scenes": SceneQuestionDataset,
                        "sti-bench": STIBenchDataset, "vsi-bench": VSIBenchDataset}.items():
    DATASETS.register(_name, _factory)


def make_dataset(spec: Any, **kwargs: Any) -> Dataset:
    """A dataset from a registered name (with kwargs), or a dataset object passed through."""
    if not isinstance(spec, str):
        return spec
    return DATASETS.make(spec, **kwargs)


__all__ = ["Clip", "DATASETS", "Dataset", "FolderDataset", "ManifestDataset", "MissingVideos", "QuestionsDataset", "SceneConfig", "SceneDataset", "SceneQuestionDataset", "STIBenchDataset", "SceneTruth", "VSIBenchDataset", "SyntheticDataset", "VideoStarDataset", "VideoDecodeError", "VideoSample", "decode",
           "make_dataset", "uniform_indices"]
