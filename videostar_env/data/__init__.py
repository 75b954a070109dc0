"""Datasets: the VideoSample unit, decoding, and the dataset registry."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from ..knowledge import KnowledgeBase
from .decode import Clip, VideoDecodeError, decode, uniform_indices
from .sample import VideoSample
from .local import FolderDataset, ManifestDataset
from .missing import MissingVideos
from .synthetic import SyntheticDataset
from .videostar import VideoStarDataset


class Dataset(Protocol):
    """What the environment needs from a dataset: indexed samples and the knowledge of their labels."""

    name: str
    knowledge: KnowledgeBase

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> VideoSample: ...


# name -> factory(**kwargs): gym.make(..., dataset="videostar", dataset_kwargs={"dataset": "hmdb51", ...}).
DATASETS: dict[str, Callable[..., Dataset]] = {"synthetic": SyntheticDataset, "videostar": VideoStarDataset,
                                               "folder": FolderDataset, "manifest": ManifestDataset}


def make_dataset(spec: Any, **kwargs: Any) -> Dataset:
    """A dataset from a registered name (with kwargs), or a dataset object passed through."""
    if not isinstance(spec, str):
        return spec
    if spec not in DATASETS:
        raise KeyError(f"unknown dataset {spec!r}; available: {sorted(DATASETS)}")
    return DATASETS[spec](**kwargs)


__all__ = ["Clip", "DATASETS", "Dataset", "FolderDataset", "ManifestDataset", "MissingVideos", "SyntheticDataset", "VideoStarDataset", "VideoDecodeError", "VideoSample", "decode",
           "make_dataset", "uniform_indices"]
