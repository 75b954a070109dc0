"""STI-Bench (Li et al., ICCV 2025, arXiv 2503.23765): real desktop, indoor and outdoor videos with
multiple-choice spatio-temporal questions, read from the published `qa.parquet`.

Rows have the columns `Video` (file name under the video root), `ID`, `Question`, `Candidates` (a JSON map
letter -> option text, or an already decoded mapping), `Answer` (a letter), `Task`, `time_start`, `time_end`
(seconds) and `Scene` (plus `Source` in the release the scripts read). A JSON list of such records, or a JSONL
file of them, is read the same way.

Prompt and frame protocol: the official evaluation, repository MINT-SJTU/STI-Bench, read at commit
43ddebea5e386072cc9f95f4b3cdbe81fbc390a3 (HEAD, 2025-07-07). Two scripts are published:

- `opensource_test.py` (last changed in 082810f37933d07b7d80f33aa1c2e4424903ed50): Qwen2.5-VL, the only
  script that also extracts the letter and scores (see tasks/sti_scoring.py). Its prompt, reproduced by
  `official_prompt`, is the text part of the user turn; the video goes first in the same turn::

      From {time_start} s to {time_end} s. {Question}
      (A) {option A}
      (B) {option B}
      ...
      Please output only the option letter!

  The times are Python's str() of the values as the file gives them (a float column gives "3.0", an integer
  one "3", a NaN "nan"); the options follow the order of the Candidates map. No trailing newline.
  Frames: MAX_FRAMES = 30 over the WHOLE video, not the window (the window is only stated in the text):
  `compute_sample_fps` gives fps = 30 / duration (or the video's own fps when it has <= 30 frames) and
  qwen_vl_utils samples at that fps (`official_frame_indices`, registered as the frame sampler "sti-bench" that
  the env's official mode reads with). The script measures the duration with OpenCV and qwen_vl_utils counts
  the frames with decord; both are taken here from the one decoder the env opens the video with (they agree
  on the files tested, an H.264 mp4 from PyAV).
- `openai_test.py` (last changed in 05018e8d2bf6e97ea3b95b0a5cd02729f0c9485c): API models; a different text,
  naming the sampling rate (`api_prompt`), and every k-th frame from the start, at most 30
  (`api_frame_indices`). It does not score.

This module is written anew from reading those files, not copied from them.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from ...knowledge import KnowledgeBase
from ...video.decode import register_sampler
from ..annotated import AnnotatedDataset
from ..refused import RefusedRows
from ..sample import VideoSample

OFFICIAL_REPOSITORY = "MINT-SJTU/STI-Bench"
OFFICIAL_COMMIT = "43ddebea5e386072cc9f95f4b3cdbe81fbc390a3"
NAME = "sti-bench"
MAX_FRAMES = 30  # opensource_test.py MAX_FRAMES, openai_test.py get_frame's max_frames
REQUIRED_COLUMNS = ("Video", "ID", "Question", "Candidates", "Answer")
LETTERS = "ABCDE"  # the only letters the official script reads from a reply
# qwen_vl_utils (QwenLM/Qwen2.5-VL, qwen-vl-utils/src/qwen_vl_utils/vision_process.py, smart_nframes as of
# 7398cc56b402908c7253b01f699bd1e157df392b "add fps for Qwen2.5-VL", unchanged in the released 0.0.10-0.0.14)
_FRAME_FACTOR, _FPS_MIN_FRAMES, _FPS_MAX_FRAMES = 2, 4, 768


# -- reading the file --------------------------------------------------------------------------------

def _missing(value: Any) -> bool:
    """None, or a float NaN (what pandas gives for an empty cell)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def load_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a qa.parquet (as pandas' to_dict("records"), like the official scripts) or of a JSON
    list / JSONL export of it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"STI-Bench annotation file {path} does not exist (expected qa.parquet)")
    if path.suffix.lower() == ".parquet":
        import pandas as pd

        rows = pd.read_parquet(path).to_dict("records")
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc.msg}); give qa.parquet, a JSON list or JSONL") from exc
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of records (pandas orient='records'), "
                             f"got {type(data).__name__}")
        rows = data
    for number, row in enumerate(rows):
        if not isinstance(row, dict) or not set(REQUIRED_COLUMNS) <= set(row):
            have = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ValueError(f"{path}: row {number} needs the columns {list(REQUIRED_COLUMNS)}, has {have}")
    return rows


def parse_candidates(value: Any) -> dict[str, str]:
    """letter -> option text, in the file's order, from a JSON string (as opensource_test.py decodes it) or a
    mapping. Mapping entries whose text is missing are dropped (a parquet struct column pads absent letters with
    None; the official scripts would print them as "None" - not seen in the release, an unverified case)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Candidates is not a JSON map: {value[:120]!r}") from exc
    if not isinstance(value, Mapping):
        raise ValueError(f"Candidates must map letters to option texts, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items() if not _missing(v)}


# -- the official text -------------------------------------------------------------------------------

def official_prompt(question: str, options: Mapping[str, str], time_start: Any, time_end: Any) -> str:
    """opensource_test.py's prompt text for one row (the video is a separate item of the same user turn).

    time_start/time_end are the row's values as read; they are formatted by str() exactly as the official
    f-string does. When a row has no time columns at all (the official script would raise KeyError) pass None
    for both: the "From ... s." sentence is then left out (not an official case).
    """
    lines = "\n".join(f"({letter}) {text}" for letter, text in options.items())
    when = "" if time_start is None and time_end is None else f"From {time_start} s to {time_end} s. "
    return f"{when}{question}\n{lines}\nPlease output only the option letter!"


def api_prompt(question: str, options: Mapping[str, str], time_start: Any, time_end: Any, sample_fps: float) -> str:
    """openai_test.py's prompt text (frames as separate images after it), which names the sampling rate
    (`api_frame_indices`' fps); options are "A text", without brackets."""
    lines = "\n".join(f"{letter} {text}" for letter, text in options.items())
    q = f"From {time_start} seconds to {time_end} seconds. " + question + "\n" + lines
    return ("Answer the question below based on the frames provided, "
            f"which are sampled at about {sample_fps:.2f} FPS.\n"
            f"Question: {q}\n"
            "Please output only the option you choose!")


# -- the official frames -----------------------------------------------------------------------------

def official_sample_fps(video_fps: float, total_frames: int, max_frames: int = MAX_FRAMES) -> float:
    """opensource_test.py compute_sample_fps: the rate giving about max_frames frames over the whole video."""
    fps = video_fps or 1.0
    duration = total_frames / fps
    if total_frames <= max_frames or duration == 0:
        return fps
    return max_frames / duration


def official_frame_indices(total_frames: int, video_fps: float, max_frames: int = MAX_FRAMES) -> list[int]:
    """The frames Qwen2.5-VL saw in opensource_test.py: qwen_vl_utils' smart_nframes at official_sample_fps, then
    linspace(0, total - 1, n) rounded (half to even), over the whole video.

    n is floored to an even number, and total / fps * (30 / (total / fps)) is often 29.999...: about one video
    in nine gets 28 frames, not 30; a video of <= 30 frames gives all of them, floored to even.
    """
    fps = official_sample_fps(video_fps, total_frames, max_frames)
    min_frames = math.ceil(_FPS_MIN_FRAMES / _FRAME_FACTOR) * _FRAME_FACTOR
    top = math.floor(min(_FPS_MAX_FRAMES, total_frames) / _FRAME_FACTOR) * _FRAME_FACTOR
    n = total_frames / (video_fps or 1.0) * fps
    n = min(min(max(n, min_frames), top), total_frames)
    n = math.floor(n / _FRAME_FACTOR) * _FRAME_FACTOR
    if not _FRAME_FACTOR <= n <= total_frames:
        raise ValueError(f"nframes should be in [{_FRAME_FACTOR}, {total_frames}], got {n}")
    import numpy as np

    return [int(i) for i in np.round(np.linspace(0, total_frames - 1, n))]


register_sampler(NAME, official_frame_indices)


def api_frame_indices(total_frames: int, video_fps: float, max_frames: int = MAX_FRAMES) -> tuple[list[int], float]:
    """openai_test.py get_frame: every k-th frame from the first, k = max(1, int(total / 30)), at most 30 (so the
    end of the video can be left out), and the rate it states in the prompt, fps / k."""
    fps = video_fps or 1.0
    step = max(1, int(total_frames / max_frames))
    return list(range(0, total_frames, step))[:max_frames], fps / step


def scene_type(video: str) -> str:
    """The official fallback scene of a row without one, from its video's name: 'camera' in it -> outdoor, a
    name starting 'scene' -> indoor, six digits -> desktop, else unknown (opensource_test.py scene_type)."""
    stem = video.split(".")[0]
    if "camera" in video:
        return "outdoor"
    if video.startswith("scene"):
        return "indoor"
    if stem.isdigit() and len(stem) == 6:
        return "desktop"
    return "unknown"


# -- the dataset -------------------------------------------------------------------------------------

def _window(start: Any, end: Any) -> tuple[float, float] | None:
    if _missing(start) or _missing(end) or not 0 <= float(start) < float(end):
        return None  # no window, or one no frame can be drawn from: the whole video
    return float(start), float(end)


def _as_written(value: Any, has_times: bool) -> Any:
    """A time as the official f-string prints it; an empty one (NaN in parquet, null in a JSON export) is "nan"
    (what pandas hands the script for an empty float cell; nulls in an export are assumed to come from such
    cells - unverified); None when the file has no time columns."""
    if not has_times:
        return None
    return "nan" if _missing(value) else value


def _sample_ids(rows: list[dict[str, Any]]) -> list[str]:
    """str(ID) when IDs are unique; otherwise the official result key Video|ID (|time_start|time_end), and the
    row's position as a last resort, so that no two samples share an id."""
    keys = [
        lambda r, i: str(r["ID"]),
        lambda r, i: f"{r['Video']}|{r['ID']}",
        lambda r, i: f"{r['Video']}|{r['ID']}|{r.get('time_start')}|{r.get('time_end')}",  # make_key
        lambda r, i: f"{r['Video']}|{r['ID']}|{r.get('time_start')}|{r.get('time_end')}#{i}",
    ]
    for key in keys:
        ids = [key(r, i) for i, r in enumerate(rows)]
        if len(set(ids)) == len(ids):
            return ids
    raise AssertionError("unreachable: positions are unique")


def unscorable(row: Mapping[str, Any]) -> str | None:
    """Why the official evaluation cannot score a row (no options, or an answer it never reads), else None."""
    try:
        options = parse_candidates(row["Candidates"])
    except ValueError as exc:
        return str(exc)
    if not options:
        return "Candidates is empty: the question has no options"
    answer = row["Answer"]
    if _missing(answer) or str(answer) not in LETTERS or len(str(answer)) != 1:
        return f"Answer {answer!r} is not one of the letters {LETTERS} the official script reads"
    if str(answer) not in options:
        return f"Answer {answer!r} is not an option letter {list(options)}"
    return None


def stibench_sample(row: Mapping[str, Any], video_root: Path, sample_id: str) -> VideoSample:
    """One qa.parquet record as a VideoSample (see STIBenchDataset for its meta)."""
    options = parse_candidates(row["Candidates"])
    answer = str(row["Answer"])
    has_times = "time_start" in row or "time_end" in row
    start, end = row.get("time_start"), row.get("time_end")
    task = None if _missing(row.get("Task")) else str(row["Task"])
    scene = row.get("scene") or row.get("Scene")  # the official order; a NaN or absent one takes the fallback
    scene = scene_type(str(row["Video"])) if _missing(scene) else str(scene)
    meta: dict[str, Any] = {
        "question": {"type": task, "kind": "choice", "text": str(row["Question"]), "options": options,
                     "answer": answer, "unit": "", "names": [], "times": [], "keyframes": [], "objects": []},
        "window": _window(start, end),
        "scene": scene,
        "official_prompt": official_prompt(str(row["Question"]), options, _as_written(start, has_times),
                                           _as_written(end, has_times)),
        "benchmark": NAME,
        "num_frames": MAX_FRAMES,
        "frame_sampler": NAME,  # official frames span the whole video; the window is only named in the text
        "path": str(row["Video"]),
        "row_id": row["ID"] if isinstance(row["ID"], (str, int)) else str(row["ID"]),
        "time_start": None if _missing(start) else start,
        "time_end": None if _missing(end) else end,
    }
    if not _missing(row.get("Source")):
        meta["source"] = str(row["Source"])
    return VideoSample(sample_id, str(video_root / str(row["Video"])), answer, tuple(options), NAME, "test", meta)


class STIBenchDataset(AnnotatedDataset):
    """STI-Bench's multiple-choice questions, one sample per qa.parquet row.

    path: qa.parquet (or a JSON list / JSONL export with the same columns); video_root: the folder of the
    videos the `Video` column names; missing: skip, keep or error for videos that are absent or empty
    (counted in .missing, out of .annotated rows). Rows the official evaluation cannot score (`unscorable`: no
    options, an answer outside A-E or the options) are skipped with a warning naming them (.refused).

    Each sample: id str(ID) (see _sample_ids when IDs repeat), label the answer letter, label_space the option
    letters, split "test", and meta with "question" ({"type": Task, "kind": "choice", "text", "options",
    "answer", ...}), "window" (time_start, time_end) in seconds or None, "scene" (the Scene column, or the
    official fallback from the video name), "official_prompt", "benchmark": "sti-bench", "num_frames": 30,
    "frame_sampler": "sti-bench", "path" (the Video value), "row_id", "time_start", "time_end" and "source" if
    present.
    """

    def __init__(self, path: str | os.PathLike, video_root: str | os.PathLike, missing: str = "skip"):
        self.path = Path(path)
        self.video_root = Path(video_root)
        self.name = NAME
        self.knowledge = KnowledgeBase([])
        rows = load_rows(self.path)
        ids = _sample_ids(rows)
        reasons = [unscorable(row) for row in rows]
        self.refused = RefusedRows(len(rows), tuple((i, why) for i, why in zip(ids, reasons) if why))
        self.refused.warn(self.name)
        samples = [stibench_sample(row, self.video_root, sample_id)
                   for row, sample_id, why in zip(rows, ids, reasons) if not why]
        self.keep(samples, missing)

    def tasks(self) -> list[str]:
        """The question types (Task values) present, sorted."""
        return sorted({s.meta["question"]["type"] for s in self.samples if s.meta["question"]["type"]})


__all__ = ["LETTERS", "MAX_FRAMES", "NAME", "OFFICIAL_COMMIT", "OFFICIAL_REPOSITORY", "REQUIRED_COLUMNS", "STIBenchDataset",
           "api_frame_indices", "api_prompt", "load_rows", "official_frame_indices", "official_prompt",
           "official_sample_fps", "parse_candidates", "scene_type", "stibench_sample", "unscorable"]
