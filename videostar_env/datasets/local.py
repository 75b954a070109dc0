"""Users' own videos: a folder per class or a JSONL manifest (action recognition), or a JSONL file of spatial
questions about them (Video-STR)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..knowledge import ActionEntry, KnowledgeBase, normalize_label
from .annotated import AnnotatedDataset
from .sample import VideoSample
from .videostar import definition, load_explanations
from .vsibench.rows import MCA_QUESTION_TYPES, NA_QUESTION_TYPES, parse_options, question_kind, question_meta

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


class ManifestDataset(AnnotatedDataset):
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
        self.keep(samples, missing)


QUESTION_FIELDS = ("video", "question", "question_type", "ground_truth")


def _question_row(row: Any) -> str | None:
    """What is wrong with a questions file's row, or None: VSI-Bench's row shape with a video path."""
    if not isinstance(row, dict):
        return f"a row must be a JSON object with {list(QUESTION_FIELDS)}, got {type(row).__name__}"
    absent = [f for f in QUESTION_FIELDS if f not in row]
    if absent:
        return f"missing {absent}; each row needs {list(QUESTION_FIELDS)} (and \"options\" for multiple choice)"
    if not isinstance(row["video"], str) or not row["video"].strip():
        return f"\"video\" must be a video path, got {row['video']!r}"
    kind = row["question_type"]
    if kind not in MCA_QUESTION_TYPES + NA_QUESTION_TYPES:
        return (f"unknown question_type {kind!r}; multiple choice: {list(MCA_QUESTION_TYPES)}, numeric: "
                f"{list(NA_QUESTION_TYPES)}")
    truth, options = str(row["ground_truth"]).strip(), row.get("options")
    if question_kind(kind) == "number":
        if options:
            return f"{kind} is a numeric question type: give a number as ground_truth and no options"
        try:
            value = float(truth)
        except ValueError:
            return f"{kind} is a numeric question type, but ground_truth {row['ground_truth']!r} is not a number"
        return None if math.isfinite(value) else f"ground_truth {row['ground_truth']!r} is not a finite number"
    if not isinstance(options, list) or len(options) < 2:
        return f"{kind} is multiple choice: give \"options\", a list like [\"A. chair\", \"B. table\"]"
    try:
        letters = parse_options(options)
    except ValueError as exc:
        return str(exc)
    if truth not in letters:
        return f"ground_truth {truth!r} is not one of the option letters {sorted(letters)}"
    return None


class QuestionsDataset(AnnotatedDataset):
    """Spatial questions about your own videos: a JSONL file, one question a line, in VSI-Bench's row shape with a
    video path: {"video", "question", "question_type", "ground_truth"} plus "options" (["A. text", ...]) for the
    multiple-choice types and optional "id" and "window" ([start, end] seconds).

    question_type is one of VSI-Bench's (data/vsibench.py: object_counting, object_abs_distance,
    object_rel_distance, ...), so an answer is scored as VSI-Bench scores it: exact option letter, or Mean
    Relative Accuracy for numbers. Relative video paths are read from video_root (default: the file's folder).
    There is no ground-truth scene, so the graph terms of the reward are 0; the object tools need a real
    objects backend (objects="yolo").
    """

    def __init__(self, path: str | os.PathLike, video_root: str | os.PathLike | None = None, missing: str = "skip"):
        """path: the questions file; video_root: where relative video paths start; missing: skip, keep or error."""
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"questions file {self.path} does not exist")
        self.name = self.path.stem
        self.knowledge = KnowledgeBase([])
        root = Path(video_root) if video_root is not None else self.path.parent
        samples, ids = [], set()
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{self.path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from exc
            problem = _question_row(row)
            if problem:
                raise ValueError(f"{where}: {problem}")
            sample_id = str(row.get("id", number))
            if sample_id in ids:
                raise ValueError(f"{where}: id {sample_id!r} is used by an earlier row; ids must be unique")
            ids.add(sample_id)
            try:
                meta = {**_meta(row, root), "question": question_meta({**row, "id": sample_id}),
                        "benchmark": "questions", "question_id": sample_id}
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from exc
            samples.append(VideoSample(sample_id, str(root / row["video"]), str(row["ground_truth"]).strip(),
                                       tuple(meta["question"]["options"]), self.name, "all", meta))
        if not samples:
            raise ValueError(f"{self.path} has no questions; write one JSON object a line, e.g. "
                             '{"video": "clip.mp4", "question": "How many people are there?", '
                             '"question_type": "object_counting", "ground_truth": "2"}')
        self.keep(samples, missing)
