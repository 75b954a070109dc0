"""VSI-Bench (Yang et al., "Thinking in Space", arXiv 2412.14171) from its published rows, with the official prompt.

The rows are those of the Hugging Face dataset nyu-visionx/VSI-Bench (the test parquet, or the JSON/JSONL export),
one per question, with the columns id, dataset (the scene source: arkitscenes, scannet or scannetpp), scene_name,
question_type, question, ground_truth (a string: an option letter or a number) and options (a list of "A. text"
strings for multiple choice, null for numeric answers); newer revisions add `pruned`, kept in the sample's meta.
The videos lie under the benchmark's layout, `<video_root>/<dataset>/<scene_name>.mp4` (the archives
arkitscenes.zip, scannet.zip and scannetpp.zip of the same Hugging Face repository unpack to it).

Same results as the official evaluation, repository vision-x-nyu/thinking-in-space, read at commit
51e089c3ae69b9435e9489058610f5b3964c56a8: lmms_eval/tasks/vsibench/utils.py (`vsibench_doc_to_visual`,
`vsibench_doc_to_text`) and lmms_eval/tasks/vsibench/vsibench.yaml (`lmms_eval_specific_kwargs`). Written anew here:

- The prompt, for the yaml's `default` kwargs: pre_prompt "" falls back to "These are frames of a video.";
  numeric types give  pre + "\\n" + question + "\\n" + "Please answer the question using a single word or phrase.";
  multiple-choice types give  "\\n".join([pre, question, "Options:\\n" + "\\n".join(options),
  "Answer with the option's letter from the given choices directly."])  with the options as published ("A. sofa").
  The video itself is not in the text: the model wrapper adds its frames.
- The frame budget is not fixed by the task (the yaml names none); it is each model's `max_frames_num`, which the
  repository's evaluate_all_in_one.sh sets to 32 for the open-source LLaVA-OneVision, LLaVA-NeXT-Video, VILA,
  LongVILA and LongVA models, 8 for InternVL2, 16 for GPT-4o and none (the whole video) for Gemini; frames are
  sampled uniformly: np.linspace(0, total - 1, n, dtype=int), truncated, in the load_video of the LLaVA-OneVision,
  LLaVA-NeXT-Video and LongVA wrappers (`official_frame_indices`, the frame sampler "vsi-bench" the env's official
  mode reads with). Hence no `num_frames` in the meta unless one is asked for (`num_frames=`).
- Decoding in the yaml: greedy, max_new_tokens 16 (GENERATION_KWARGS below, for a runner that wants them).
- No system prompt: neither the task nor evaluate_all_in_one.sh sets one (lmms_eval's --system_instruction is
  left unset), so the env's official mode sends none of its own; the model's chat template adds its default.
- Rows the official scoring cannot score are refused at load (`unscorable`): a numeric ground truth of 0 (its
  Mean Relative Accuracy divides by it: ZeroDivisionError), one that is no finite number (every answer scores
  0) or negative (every answer scores 1), and a multiple-choice row without options or whose answer is not
  one of their letters.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from ...errors import MissingDependency
from ...knowledge import KnowledgeBase
from ...video.decode import register_sampler
from ..annotated import AnnotatedDataset
from ..refused import RefusedRows
from ..sample import VideoSample

# VSI-Bench's question types by answer: multiple choice (MCA) and numeric (NA), as its evaluation names them.
MCA_QUESTION_TYPES = ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard",
                      "object_rel_distance", "route_planning", "obj_appearance_order")
NA_QUESTION_TYPES = ("object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation")

OFFICIAL_REPOSITORY = "vision-x-nyu/thinking-in-space"
OFFICIAL_COMMIT = "51e089c3ae69b9435e9489058610f5b3964c56a8"
HF_DATASET = "nyu-visionx/VSI-Bench"

# The pre-prompt vsibench_doc_to_text falls back to when the kwargs' pre_prompt is empty (it is, for every model).
DEFAULT_PRE_PROMPT = "These are frames of a video."
# lmms_eval_specific_kwargs of vsibench.yaml: the post-prompts per model family ("default" for all others).
POST_PROMPTS: dict[str, dict[str, str]] = {
    "default": {"mca": "Answer with the option's letter from the given choices directly.",
                "na": "Please answer the question using a single word or phrase."},
    "gemini_api": {"mca": "Answer with the option's letter from the given choices directly.",
                   "na": "Do not response anything other than a single number!"},  # sic, as published
    "gpt4v": {"mca": "Answer with the option's letter from the given choices directly.",
              "na": "Do not response anything other than a single number!"},
}
# max_frames_num per model in evaluate_all_in_one.sh (None: the API is given the whole video).
FRAME_BUDGETS: dict[str, int | None] = {
    "llava_onevision": 32, "llava_next_video": 32, "vila": 32, "longvila": 32, "longva": 32,
    "internvl2": 8, "gpt-4o": 16, "gemini": None,
}
DEFAULT_NUM_FRAMES = 32  # the script's num_frames, used by its open-source models
GENERATION_KWARGS = {"max_new_tokens": 16, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False}

_OPTION = re.compile(r"^\s*([A-Za-z])\s*\.\s?(.*)$", re.DOTALL)


def question_kind(question_type: str) -> str:
    """"choice" for the multiple-choice types, "number" for the numeric ones; ValueError for any other."""
    if question_type in MCA_QUESTION_TYPES:
        return "choice"
    if question_type in NA_QUESTION_TYPES:
        return "number"
    raise ValueError(f"Unknown question type: {question_type!r}; VSI-Bench has "
                     f"{list(MCA_QUESTION_TYPES) + list(NA_QUESTION_TYPES)}")


def official_prompt(row: Mapping[str, Any], variant: str = "default") -> str:
    """The text vsibench_doc_to_text builds for a row (without the video), with a model family's post-prompts."""
    if variant not in POST_PROMPTS:
        raise ValueError(f"variant must be one of {sorted(POST_PROMPTS)}, got {variant!r}")
    post = POST_PROMPTS[variant]
    if question_kind(row["question_type"]) == "number":
        return f"{DEFAULT_PRE_PROMPT}\n{row['question']}\n{post['na']}"
    options = "Options:\n" + "\n".join(_option_list(row))
    return "\n".join((DEFAULT_PRE_PROMPT, row["question"], options, post["mca"]))


def parse_options(options: Iterable[str]) -> dict[str, str]:
    """{letter: text} from the published "A. text" strings; an option without a letter takes its position's."""
    parsed: dict[str, str] = {}
    for i, option in enumerate(options):
        match = _OPTION.match(str(option))
        if match:
            letter, text = match.group(1).upper(), match.group(2).strip()
        else:
            letter, text = chr(ord("A") + i), str(option).strip()
        if letter in parsed:
            raise ValueError(f"option letter {letter} appears twice in {list(options)}")
        parsed[letter] = text
    return parsed


def official_frame_indices(total_frames: int, video_fps: float, num_frames: int) -> list[int]:
    """The frames the open-source models' load_video reads: np.linspace(0, total - 1, n, dtype=int) (truncated, so
    repeats in a video shorter than n); video_fps is not used."""
    import numpy as np

    return np.linspace(0, total_frames - 1, num_frames, dtype=int).tolist()


register_sampler("vsi-bench", official_frame_indices)


def video_path(video_root: str | os.PathLike, dataset: str, scene_name: str) -> Path:
    """Where the benchmark keeps a scene's video: <video_root>/<dataset>/<scene_name>.mp4."""
    return Path(video_root) / str(dataset) / f"{scene_name}.mp4"


def load_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The published rows from a parquet file (needs pyarrow), a JSON list, or JSON lines."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"VSI-Bench rows file {path} does not exist")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise MissingDependency("reading the VSI-Bench parquet needs pyarrow (pip install pyarrow), "
                              "or pass the JSON/JSONL export instead") from err
        return pq.read_table(path).to_pylist()
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON lines
    if isinstance(data, dict):  # a single row, or {"test": [...]} as some exports write it
        data = data.get("test", [data])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{path}: expected a list of VSI-Bench rows (objects)")
    return data


def _option_list(row: Mapping[str, Any]) -> list[str]:
    options = row.get("options")
    return [] if options is None else [str(o) for o in options]


def _number(text: Any, row_id: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError) as err:
        raise ValueError(f"VSI-Bench row {row_id}: numeric ground truth {text!r} is not a number") from err
    if math.isnan(value):
        raise ValueError(f"VSI-Bench row {row_id}: numeric ground truth is NaN")
    return value


def unscorable(row: Mapping[str, Any]) -> str | None:
    """Why the official scoring cannot score a row, else None; ValueError for an unknown question type."""
    truth = row.get("ground_truth")
    if question_kind(row["question_type"]) == "number":
        try:
            value = float(truth)  # the official to_float
        except (TypeError, ValueError):
            return f"numeric ground truth {truth!r} is not a number (the official scoring gives every answer 0)"
        if not math.isfinite(value):
            return f"numeric ground truth {truth!r} is not finite (every answer would score 0)"
        if value == 0:
            return ("numeric ground truth is 0: Mean Relative Accuracy divides by it (the official scoring raises "
                    "ZeroDivisionError)")
        if value < 0:
            return f"numeric ground truth {truth!r} is negative (every answer would score 1)"
        return None
    try:
        options = parse_options(_option_list(row))
    except ValueError as exc:
        return str(exc)
    if not options:
        return "a multiple-choice question without options"
    if str(truth).strip() not in options:
        return f"answer {truth!r} is not an option letter {sorted(options)}"
    return None


def question_meta(row: Mapping[str, Any]) -> dict[str, Any]:
    """The sample meta's "question" entry for a row (the shape the spatio-temporal task reads)."""
    kind = question_kind(row["question_type"])
    options = parse_options(_option_list(row)) if kind == "choice" else {}
    truth = str(row["ground_truth"]).strip()
    if kind == "choice" and options and truth not in options:
        raise ValueError(f"VSI-Bench row {row.get('id')}: answer {truth!r} is not an option letter {sorted(options)}")
    return {"type": row["question_type"], "kind": kind, "text": row["question"], "options": options,
            "answer": truth if kind == "choice" else _number(truth, row.get("id")), "unit": "", "names": [],
            "times": [], "keyframes": []}


class VSIBenchDataset(AnnotatedDataset):
    """VSI-Bench's published questions; each sample is one question about one scene video."""

    name = "vsi-bench"

    def __init__(self, path: str | os.PathLike, video_root: str | os.PathLike, missing: str = "skip",
                 prompt: str = "default", num_frames: int | None = None):
        """path: the parquet, JSON or JSONL rows; video_root: the folder holding <dataset>/<scene_name>.mp4;
        missing: skip, keep or error (videos; counted in .missing); rows `unscorable` names are skipped with a
        warning naming them (.refused); prompt: which yaml post-prompts official_prompt uses ("default", "gpt4v",
        "gemini_api"); num_frames: a frame budget to record in each sample's meta (the official task fixes none)."""
        self.path = Path(path)
        self.video_root = Path(video_root)
        self.knowledge = KnowledgeBase([])
        self.rows = load_rows(self.path)
        reasons = [unscorable(row) for row in self.rows]
        self.refused = RefusedRows(len(self.rows), tuple((str(row.get("id")), why)
                                                         for row, why in zip(self.rows, reasons) if why))
        self.refused.warn(self.name)
        samples = [self._sample(row, prompt, num_frames) for row, why in zip(self.rows, reasons) if not why]
        ids = [s.id for s in samples]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.path}: duplicate VSI-Bench ids")
        self.keep(samples, missing)

    def _sample(self, row: Mapping[str, Any], prompt: str, num_frames: int | None) -> VideoSample:
        question = question_meta(row)
        video = video_path(self.video_root, row["dataset"], row["scene_name"])
        meta: dict[str, Any] = {
            "question": question, "window": None, "scene": str(row["scene_name"]), "source": str(row["dataset"]),
            "path": f"{row['dataset']}/{row['scene_name']}.mp4", "official_prompt": official_prompt(row, prompt),
            "benchmark": "vsi-bench", "question_id": row["id"], "frame_sampler": "vsi-bench",
        }
        if "pruned" in row and row["pruned"] is not None:
            meta["pruned"] = bool(row["pruned"])
        if num_frames is not None:
            meta["num_frames"] = int(num_frames)
        return VideoSample(id=str(row["id"]), video=str(video), label=str(row["ground_truth"]),
                           label_space=tuple(question["options"]), dataset="vsi-bench", split="test", meta=meta)

    def question_types(self) -> dict[str, int]:
        """How many samples each question type has, in the official MCA-then-NA order."""
        counts = {t: 0 for t in (*MCA_QUESTION_TYPES, *NA_QUESTION_TYPES)}
        for sample in self.samples:
            counts[sample.meta["question"]["type"]] += 1
        return {t: n for t, n in counts.items() if n}


__all__ = ["DEFAULT_NUM_FRAMES", "DEFAULT_PRE_PROMPT", "FRAME_BUDGETS", "GENERATION_KWARGS", "HF_DATASET",
           "OFFICIAL_COMMIT", "OFFICIAL_REPOSITORY", "POST_PROMPTS", "VSIBenchDataset", "load_rows",
           "official_frame_indices", "official_prompt", "parse_options", "question_kind", "question_meta", "unscorable", "video_path"]
