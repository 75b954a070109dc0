"""AnnotatedDataset: the samples of annotation rows whose videos are on disk, indexed as every dataset is."""

from __future__ import annotations

from .missing import MissingVideos, apply_missing_policy
from .sample import VideoSample


class AnnotatedDataset:
    """A dataset built from annotation rows: `keep` applies the missing-video policy once, then it is a list.

    Subclasses set `name` and call `keep(samples, missing)` at the end of their `__init__`.
    """

    name: str
    samples: list[VideoSample]
    missing: MissingVideos
    annotated: int  # samples the annotation names, before the missing ones are skipped

    def keep(self, samples: list[VideoSample], missing: str) -> None:
        """Keep the samples the policy `missing` keeps ("skip", "keep" or "error"), counting the rest."""
        self.annotated = len(samples)
        self.samples, self.missing = apply_missing_policy(samples, missing, self.name)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> VideoSample:
        return self.samples[index]
