"""Replay: the paper's released tool outputs served as tool results, for users with the datasets but no API key.

The Video-STAR annotation folder holds per-class explanations (`*rephrased*.json`:
{"i": "Label: explanation"}) and per-video descriptions (`*_description.json`: rows of
{path, problem_id, analysis}, from Qwen2.5-VL-72B on three keyframes), keyed by the video's
path relative to its dataset root.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePath
from typing import Any, Sequence

from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..datasets.videostar import load_explanations
from ..errors import ToolError
from ..knowledge import KnowledgeBase
from ..knowledge import normalize_label
from ..paths import annotations_root
from ..perception.detections import FrameDetections
from .base import Description

def _files(root: Path, pattern: str) -> list[Path]:
    files = sorted(root.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern!r} under {root}")
    return files


def _digest(files: Sequence[Path]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}".encode())
    return h.hexdigest()


class ReplayExplainer:
    """Explanations from the released `*rephrased*.json` files, looked up by normalised label."""

    def __init__(self, root: str | os.PathLike | None = None, pattern: str = "**/*rephrased*.json"):
        """root: the annotation folder (default $VIDEOSTAR_ANNOTATIONS); pattern: which files to read."""
        self.files = _files(annotations_root(root), pattern)
        self.id = f"replay-explanations:{_digest(self.files)}"
        self._by_label: dict[str, str] | None = None

    def _index(self) -> dict[str, str]:
        if self._by_label is None:
            self._by_label = load_explanations(self.files)  # sorted: the first file naming a label wins
        return self._by_label

    def labels(self) -> list[str]:
        """Every label (normalised) that has a released explanation."""
        return sorted(self._index())

    def check(self, dataset: Any) -> None:
        """Refuse a dataset none of whose labels has a released explanation."""
        labels = {label for sample in (dataset[0],) for label in sample.label_space}
        if not any(normalize_label(label) in self._index() for label in labels):
            raise ValueError(f"the 'replay' explanation backend has no released explanation for any label of dataset "
                             f"{getattr(dataset, 'name', dataset)!r} ({len(self.files)} files under the annotation "
                             f"folder); use explanation='knowledge' with explanations, dashscope or openai")

    def explain(self, labels: Sequence[str], knowledge: KnowledgeBase | None = None) -> dict[str, str | None]:
        """label -> the released 'Label: explanation', or None where the release has none."""
        index = self._index()
        return {label: index.get(normalize_label(label)) for label in labels}


class ReplayDescriber:
    """Descriptions from the released `*_description.json` files, looked up by the video's relative path."""

    def __init__(self, root: str | os.PathLike | None = None, pattern: str = "**/*description*.json"):
        """root: the annotation folder (default $VIDEOSTAR_ANNOTATIONS); pattern: which files to read."""
        self.files = _files(annotations_root(root), pattern)
        self.id = f"replay-descriptions:{_digest(self.files)}"
        self._by_path: dict[str, dict[str, str]] | None = None  # relative path -> {file name: description}

    def _index(self) -> dict[str, dict[str, str]]:
        if self._by_path is None:
            self._by_path = {}
            for path in self.files:
                for row in json.loads(path.read_text()):
                    self._by_path.setdefault(PurePath(row["path"]).as_posix(), {})[path.name] = row["analysis"]
        return self._by_path

    def lookup(self, video: str, relative_path: str | None = None, annotation_file: str | None = None) -> str | None:
        """The released description of a video, by its relative path (or the longest matching tail of its path).

        The same video can appear in several files (protocol splits) with different descriptions:
        the one beside `annotation_file` (`<stem>_description.json`) is preferred.
        """
        index = self._index()
        parts = PurePath(video).parts
        keys = [relative_path] if relative_path else []
        keys += ["/".join(parts[k:]) for k in range(len(parts))]
        for key in keys:
            found = index.get(key)
            if found:
                preferred = f"{PurePath(annotation_file).stem}_description.json" if annotation_file else None
                return found.get(preferred) or found[sorted(found)[0]]
        return None

    def describe(self, clip: Clip, sample: VideoSample, keyframes: Sequence[int],
                 poses: Sequence[FrameDetections] | None = None) -> Description:
        """The paper's description of this video (made from its own three keyframes, whatever num_keyframes is)."""
        meta = sample.meta
        text = self.lookup(sample.video, meta.get("path"), meta.get("annotation_file"))
        if text is None:
            raise ToolError(f"no released description for video {sample.video!r} in {len(self.files)} description "
                            "files; the replay backend covers the paper's evaluation videos only. Use "
                            "description='kinematic' or a Qwen backend (dashscope, openai) for other videos.")
        return Description(text, ())
