"""Which tracker keeps one id per person on real clips: id switches against boxes drawn by hand.

    python -m videostar_benchmarks.tracking [--weights W] [--clips DIR] [--truth JSON] [--trackers NAME ...] [--out DIR]

Tracks every clip of the hand-made truth (benchmarks/data/tracking_truth.json: each person's box on
seven or eight frames of the three shared clips) with the yolo objects backend at the object tools'
sampling (every frame up to 64, spread evenly beyond: tools/objects.py TRACK_FRAMES), once per
tracker: ByteTrack, BoT-SORT without re-identification, and BoT-SORT with ultralytics' appearance
re-identification from the detector's own features (`with_reid: True`, `model: auto`). At each truth
frame the truth boxes are matched one-to-one to the tracked person boxes by IoU (Hungarian, IoU at
least 0.3); a switch is a change of a person's matched id between consecutive frames where they are
matched. Also counted: distinct ids per person, truth boxes no track matched, and extra ids (person
tracks present at truth frames that match no truth person: a background person or a false box).
Writes DIR/tracking.json and prints the table of docs/video-str.md. Needs the shared data (weights and clips).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml
from scipy.optimize import linear_sum_assignment

SHARED = Path(os.environ.get("VIDEOSTAR_SHARED_DATA", "/work/shared/data"))
TRUTH = Path(__file__).with_name("data") / "tracking_truth.json"
MIN_IOU = 0.3  # hand-drawn boxes are good to about 10 pixels; a wrong person overlaps far less
Box = Sequence[float]


@dataclass(frozen=True)
class Score:
    """How one tracker did on one clip against the truth."""

    switches: int  # changes of a person's matched id between consecutive matched truth frames, summed
    ids_per_person: dict[str, int]  # distinct ids matched to each person
    missed: int  # truth boxes no track matched
    extra_ids: int  # person ids at truth frames that matched no truth person
    truth_boxes: int


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(truth: Mapping[str, Box], tracked: Sequence[tuple[int, Box]], min_iou: float = MIN_IOU) -> dict[str, int]:
    """Person -> track id at one frame: the one-to-one assignment of largest total IoU, pairs below min_iou dropped."""
    people = list(truth)
    if not people or not tracked:
        return {}
    overlap = np.array([[iou(truth[p], box) for _, box in tracked] for p in people])
    rows, cols = linear_sum_assignment(-overlap)
    return {people[r]: tracked[c][0] for r, c in zip(rows, cols) if overlap[r, c] >= min_iou}


def score(truth: Mapping[int, Mapping[str, Box]], tracked: Mapping[int, Sequence[tuple[int, Box]]],
          min_iou: float = MIN_IOU) -> Score:
    """Score tracks against truth boxes; both keyed by frame: truth {person: box}, tracked [(track id, box)]."""
    missing = sorted(set(truth) - set(tracked))
    if missing:
        raise ValueError(f"no tracked boxes were given for truth frames {missing}; pass a (possibly empty) list "
                         f"for every truth frame")
    seen: dict[str, list[int]] = {}
    matched_ids: set[int] = set()
    present: set[int] = set()
    missed = boxes = 0
    for frame in sorted(truth):
        found = match(truth[frame], tracked[frame], min_iou)
        boxes += len(truth[frame])
        missed += len(truth[frame]) - len(found)
        for person, track_id in found.items():
            seen.setdefault(person, []).append(track_id)
        matched_ids |= set(found.values())
        present |= {track_id for track_id, _ in tracked[frame]}
    people = sorted({p for boxes_at in truth.values() for p in boxes_at})
    switches = sum(a != b for ids in seen.values() for a, b in zip(ids, ids[1:]))
    return Score(switches, {p: len(set(seen.get(p, []))) for p in people}, missed, len(present - matched_ids), boxes)


def tracker_files(folder: Path) -> dict[str, str]:
    """The trackers compared: ultralytics' two, and BoT-SORT with ReID from the detector's features (a yaml in folder)."""
    import ultralytics

    botsort = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg" / "trackers" / "botsort.yaml").read_text())
    reid = folder / "botsort_reid.yaml"
    reid.write_text(yaml.safe_dump({**botsort, "with_reid": True, "model": "auto"}))
    return {"bytetrack": "bytetrack.yaml", "botsort": "botsort.yaml", "botsort-reid": str(reid)}


def run_clip(path: Path, truth: Mapping[int, Mapping[str, Box]], size: tuple[int, int], weights: str, tracker: str,
             device: str | None, min_iou: float = MIN_IOU) -> dict[str, Any]:
    """Track one clip at the tools' sampling and score it; an error (e.g. a ReID model that cannot load) is reported."""
    from videostar_env.backends.yolo_objects import YOLOObjects
    from videostar_env.video.decode import decode
    from videostar_env.datasets.sample import VideoSample
    from videostar_env.errors import ToolError
    from videostar_env.tools.objects import TRACK_FRAMES

    clip = decode(str(path), TRACK_FRAMES, size)  # the source is longer than 64 frames: the tools' dense_clip
    lost = sorted(set(truth) - set(clip.indices))
    if lost:
        raise ValueError(f"truth frames {lost} of {path.name} are not among the {TRACK_FRAMES} frames the tools read; "
                         f"mark frames from {list(clip.indices)}")
    start = time.monotonic()
    try:
        backend = YOLOObjects(weights=weights, tracker=tracker, device=device)
        frames = backend.track(clip, VideoSample(path.stem, str(path), "unknown", (), "bench", "bench"))
    except (ValueError, ToolError) as exc:  # the table says why a tracker cannot run (after the backend's preamble)
        return {"error": " ".join(str(exc).split()).split(" failed: ", 1)[-1][:300]}
    seconds = time.monotonic() - start
    at = {index: [(o.track_id, o.box) for o in objects if o.label == "person" and o.track_id is not None]
          for index, objects in zip(clip.indices, frames)}
    result = score(truth, {frame: at[frame] for frame in truth}, min_iou)
    return {**asdict(result), "person_ids": len({i for boxes in at.values() for i, _ in boxes}),
            "seconds": round(seconds, 2)}


def load_truth(path: Path) -> dict[str, dict[str, Any]]:
    """The hand-made truth: per clip file name, its size and {frame index: {person: box}}."""
    clips = json.loads(path.read_text())["clips"]
    return {name: {"size": tuple(c["size"]), "frames": {int(k): v for k, v in c["frames"].items()}}
            for name, c in clips.items()}


def table(rows: list[dict[str, Any]]) -> str:
    """The table of docs/video-str.md: one row per tracker and clip, then each tracker's totals."""
    lines = ["| tracker | clip | id switches | ids per person | missed boxes | extra ids | seconds |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['tracker']} | {row['clip']} | could not run: {row['error']} | | | | |")
            continue
        ids = ", ".join(f"{p} {n}" for p, n in row["ids_per_person"].items())
        lines.append(f"| {row['tracker']} | {row['clip']} | {row['switches']} | {ids} | "
                     f"{row['missed']}/{row['truth_boxes']} | {row['extra_ids']} | {row['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.tracking", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=str(SHARED / "weights" / "yolo11n_int8.tflite"),
                        help="detector weights (default: the shared int8 YOLO11n)")
    parser.add_argument("--clips", default=str(SHARED / "clips"), help="folder of the truth's clips")
    parser.add_argument("--truth", default=str(TRUTH), help=f"hand-made truth JSON (default {TRUTH})")
    parser.add_argument("--trackers", nargs="+", choices=("bytetrack", "botsort", "botsort-reid"),
                        default=["bytetrack", "botsort", "botsort-reid"], help="trackers to compare (default: all)")
    parser.add_argument("--min-iou", type=float, default=MIN_IOU,
                        help=f"least IoU of a truth box and its track's box (default {MIN_IOU})")
    parser.add_argument("--device", default="cpu", help="the detector's device (default cpu)")
    parser.add_argument("--out", default="runs/tracking", help="output folder (default runs/tracking)")
    args = parser.parse_args(argv)
    missing = [p for p in (args.weights, args.clips, args.truth) if not Path(p).exists()]
    if missing:
        print(f"error: {', '.join(missing)} not found; set VIDEOSTAR_SHARED_DATA to the shared data folder or pass "
              f"--weights/--clips/--truth", file=sys.stderr)
        return 2
    if not 0 < args.min_iou <= 1:
        print(f"error: --min-iou must be in (0, 1], got {args.min_iou}", file=sys.stderr)
        return 2
    truth = load_truth(Path(args.truth))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files = tracker_files(Path(folder))
        for name in args.trackers:
            for clip, entry in truth.items():
                result = run_clip(Path(args.clips) / clip, entry["frames"], entry["size"], args.weights, files[name],
                                  args.device, args.min_iou)
                rows.append({"tracker": name, "clip": clip, **result})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracking.json").write_text(json.dumps(rows, indent=2))
    print(table(rows))
    print(f"Wrote {out / 'tracking.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
