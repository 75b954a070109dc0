"""Videos an annotation names but the disk does not have: counted, shown by example, never silently dropped."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

from ..errors import warn
from .sample import VideoSample

MISSING_POLICIES = ("skip", "keep", "error")


@dataclass(frozen=True)
class MissingVideos:
    """Which annotated videos are absent or unreadable (empty files), out of how many."""

    total: int
    paths: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def message(self, dataset: str, examples: int = 3) -> str:
        """One line saying how many are missing, with examples."""
        shown = ", ".join(self.paths[:examples])
        return (f"{dataset}: {len(self.paths)} of {self.total} videos are missing or empty "
                f"(e.g. {shown}); check the video root")


def find_missing(samples: Sequence[VideoSample]) -> MissingVideos:
    """Samples whose video file does not exist or is empty."""
    missing = tuple(s.video for s in samples if not os.path.isfile(s.video) or os.path.getsize(s.video) == 0)
    return MissingVideos(len(samples), missing)


def apply_missing_policy(samples: list[VideoSample], policy: str, dataset: str) -> tuple[list[VideoSample], MissingVideos]:
    """skip: drop missing videos with a warning; keep: keep them (reset names the file); error: raise."""
    if policy not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {policy!r}")
    missing = find_missing(samples)
    if not missing:
        return samples, missing
    if policy == "error":
        raise FileNotFoundError(missing.message(dataset))
    warn(missing.message(dataset) + ("; they are skipped" if policy == "skip" else ""), stacklevel=3)
    if policy == "skip":
        absent = set(missing.paths)
        samples = [s for s in samples if s.video not in absent]
    return samples, missing
