"""The Video-STAR annotation layout: HMDB-51, UCF-101, Kinetics-400/600 and SSv2 under the paper's protocols.

base2novel: json/<dataset>/{train,val,test}.json with <split>_rephrased.json (or
train_rephrased.json) explanations. cross: json_split/ files, HMDB-51 and UCF-101 splits 1-3
(HMDB-51 also "full") and Kinetics-600 splits 1-3 of 160 novel classes. Rows name their video
relative to the dataset's root in the mmaction2 layout; the videos live under `video_root`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..knowledge import ActionEntry, KnowledgeBase, normalize_label
from ..paths import annotations_root
from .missing import MissingVideos
from .annotated import AnnotatedDataset
from .sample import VideoSample

BASE2NOVEL_FOLDERS = {"hmdb51": "hmdb51", "ucf101": "ucf101", "kinetics400": "kinetics400", "ssv2": "SSv2"}
CROSS_FILES = {  # dataset -> (rows file, explanations file, class list file or None), {split} filled in
    "hmdb51": ("json_split/hmdb51/hmdb_exp_split_{split}.json", "json_split/hmdb51/hmdb_rephrased_classes.json", None),
    "ucf101": ("json_split/ucf101/ucf_split_{split}.json", "json_split/ucf101/ucf101_rephrased_classes.json", None),
    "kinetics600": ("json_split/Kinetics-600-val/k600_split_{split}.json",
                    "json_split/Kinetics-600-val/k600_split{split}_rephrased_classes.json",
                    "json_split/Kinetics-600-val/k600_split{split}_classes.json"),
}
PROTOCOLS = ("base2novel", "cross")


@dataclass(frozen=True)
class AnnotationFiles:
    """The files one (dataset, protocol, split) reads."""

    rows: Path
    explanations: tuple[Path, ...]  # read in order: the first file explaining a label wins
    classes: Path | None = None


def annotation_files(root: Path, dataset: str, protocol: str, split: str) -> AnnotationFiles:
    """Where a protocol's rows, explanations and class list are; FileNotFoundError lists what exists."""
    if protocol == "base2novel":
        if dataset not in BASE2NOVEL_FOLDERS:
            raise KeyError(f"no base2novel files for {dataset!r}; datasets: {sorted(BASE2NOVEL_FOLDERS)}")
        folder = root / "json" / BASE2NOVEL_FOLDERS[dataset]
        rows = folder / f"{split}.json"
        own = folder / f"{split}_rephrased.json"
        # Splits without their own file (val, traintestval) take the class explanations of the others.
        files = AnnotationFiles(rows, tuple(dict.fromkeys([own] * own.exists() + sorted(folder.glob("*_rephrased.json")))))
    elif protocol == "cross":
        if dataset not in CROSS_FILES:
            raise KeyError(f"no cross-dataset files for {dataset!r}; datasets: {sorted(CROSS_FILES)}")
        rows, explanations, classes = (root / p.format(split=split) if p else None for p in CROSS_FILES[dataset])
        files = AnnotationFiles(rows, (explanations,), classes)
    else:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not files.rows.exists():
        present = sorted(p.name for p in files.rows.parent.glob("*.json")) if files.rows.parent.exists() else []
        raise FileNotFoundError(f"{files.rows} does not exist; files there: {present}")
    return files


def _label(solution: str) -> str:
    return re.sub(r"</?answer>", "", solution).strip()


def load_explanations(paths: Sequence[Path]) -> dict[str, str]:
    """normalised label -> its released "Label: explanation" text, from {"i": "Label: explanation"} files.

    Files are read in order; the first one explaining a label wins.
    """
    out: dict[str, str] = {}
    for path in paths:
        for text in json.loads(path.read_text()).values():
            out.setdefault(normalize_label(text.split(":", 1)[0]), text.strip())
    return out


def definition(text: str) -> str:
    """The explanation part of a released "Label: explanation" text."""
    return text.partition(":")[2].strip()


class VideoStarDataset(AnnotatedDataset):
    """One annotation file of the paper as a dataset; the label space is the file's class set."""

    def __init__(self, dataset: str = "hmdb51", protocol: str = "base2novel", split: str = "test",
                 video_root: str | os.PathLike | None = None, annotations: str | os.PathLike | None = None,
                 missing: str = "skip"):
        """dataset: hmdb51, ucf101, kinetics400, kinetics600 or ssv2; split: train/val/test (base2novel) or
        1/2/3/full (cross); video_root: the dataset's videos in the mmaction2 layout (default: the annotation
        folder's videos/<dataset>); annotations: default $VIDEOSTAR_ANNOTATIONS; missing: skip, keep or error."""
        root = annotations_root(annotations)
        self.files = annotation_files(root, dataset, protocol, str(split))
        self.name = f"{dataset}-{protocol}-{split}"
        self.video_root = Path(video_root) if video_root else root / "videos" / dataset
        rows = json.loads(self.files.rows.read_text())
        explained = load_explanations(self.files.explanations)
        if self.files.classes is not None:
            labels = sorted({c.strip() for c in json.loads(self.files.classes.read_text()).values()})
        else:
            labels = sorted({_label(r["solution"]) for r in rows})
        # Other spellings of a label (brush_hair, Brush hair) need no aliases: lookups and the reward normalise.
        self.knowledge = KnowledgeBase(
            ActionEntry(label, definition(explained[normalize_label(label)]) if normalize_label(label) in explained
                        else _row_explanation(rows, label)) for label in labels)
        self.label_space = tuple(labels)
        self.unexplained = tuple(label for label in labels if normalize_label(label) not in explained)
        group = _group(protocol, str(split))
        samples = []
        for row in rows:
            label = self.knowledge.get(_label(row["solution"]))
            samples.append(VideoSample(
                id=f"{self.name}/{row['problem_id']}", video=str(self.video_root / row["path"]),
                label=label.label if label else _label(row["solution"]), label_space=self.label_space,
                dataset=dataset, split=str(split),
                meta={"path": row["path"], "annotation_file": str(self.files.rows), "problem_id": row["problem_id"],
                      "group": group}))
        self.keep(samples, missing)


def _group(protocol: str, split: str) -> str | None:
    """base or novel for a base-to-novel split file: the released train/val files hold the base classes, test the novel."""
    if protocol != "base2novel":
        return None
    return {"train": "base", "val": "base", "test": "novel"}.get(split)


def _row_explanation(rows: list[dict], label: str) -> str:
    """A label's short definition from the rows' `explain` field, for labels without a released explanation."""
    return next((r.get("explain", "") for r in rows if _label(r["solution"]) == label), "")


__all__ = ["AnnotationFiles", "MissingVideos", "VideoStarDataset", "annotation_files", "load_explanations"]
