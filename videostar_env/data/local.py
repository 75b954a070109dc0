"""Users' own videos: a folder per class, or a JSONL manifest."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..knowledge import ActionEntry, KnowledgeBase, normalize_label
from .missing import apply_missing_policy
from .sample import VideoSample
from .videostar import definition, load_explanations

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


def _knowledge(labels: list[str], explanations: str | os.PathLike | None) -> KnowledgeBase:
    """Entries for the labels, defined from a {"i": "Label: explanation"} file when one is given."""
    known = load_explanations((Path(explanations),)) if explanations else {}
    return KnowledgeBase(ActionEntry(label, definition(known.get(normalize_label(label), ""))) for label in labels)


class FolderDataset:
    """root/<class>/<video>: one class per sub-folder, every class a candidate."""

    def __init__(self, root: str | os.PathLike, explanations: str | os.PathLike | None = None, split: str = "all"):
        """root: the folder of class folders; explanations: optional label explanations in the paper's format."""
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist")
        self.name = self.root.name
        classes = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if not classes:
            raise ValueError(f"{self.root} has no class sub-folders (expected root/<class>/<video>)")
        self.label_space = tuple(classes)
        self.knowledge = _knowledge(classes, explanations)
        self.samples = [
            VideoSample(f"{label}/{video.name}", str(video), label, self.label_space, self.name, split,
                        {"path": f"{label}/{video.name}"})
            for label in classes for video in sorted((self.root / label).iterdir())
            if video.suffix.lower() in VIDEO_EXTENSIONS]
        empty = [c for c in classes if not any(s.label == c for s in self.samples)]
        if empty:
            raise ValueError(f"class folders without videos ({', '.join(VIDEO_EXTENSIONS)}): {empty[:5]}")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> VideoSample:
        return self.samples[index]


def _meta(row: dict, folder: Path) -> dict:
    """A manifest line's sample meta: its video path, and its ground-truth keypoint file if it names one."""
    meta = {"path": row["video"]}
    if row.get("annotations"):  # an .npz of keypoints (N, 17, 3) and boxes (N, 4) per source frame, for the oracle
        meta["annotations"] = str(folder / row["annotations"])
    if row.get("window") is not None:  # [start, end] seconds: the frames are drawn from that part only
        start, end = (float(t) for t in row["window"])
        if not 0 <= start < end:
            raise ValueError(f"a manifest window must be [start, end] seconds with 0 <= start < end, got {row['window']}")
        meta["window"] = (start, end)
    return meta


class ManifestDataset:
    """A JSONL file, one video per line: {"video": path, "label": str} plus optional "id", "label_space", "split",
    "annotations" (ground-truth keypoints for the oracle vision backend), "window" ([start, end] seconds).

    Relative video paths are read from the manifest's folder; the label space of a line
    defaults to every label in the manifest.
    """

    def __init__(self, path: str | os.PathLike, explanations: str | os.PathLike | None = None, missing: str = "skip"):
        """path: the manifest; explanations: optional label explanations; missing: skip, keep or error."""
        self.path = Path(path)
        self.name = self.path.stem
        rows = []
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not {"video", "label"} <= set(row):
                raise ValueError(f"{self.path}:{number}: each line needs \"video\" and \"label\", got {line[:120]}")
            rows.append(row)
        labels = sorted({row["label"] for row in rows} | {c for row in rows for c in row.get("label_space", ())})
        self.label_space = tuple(labels)
        self.knowledge = _knowledge(labels, explanations)
        samples = [VideoSample(str(row.get("id", i)), str(self.path.parent / row["video"]), row["label"],
                               tuple(row.get("label_space", labels)), self.name, str(row.get("split", "all")),
                               _meta(row, self.path.parent)) for i, row in enumerate(rows)]
        self.annotated = len(samples)
        self.samples, self.missing = apply_missing_policy(samples, missing, self.name)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> VideoSample:
        return self.samples[index]
