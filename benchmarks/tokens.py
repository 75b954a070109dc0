"""Prompt and reply token counts per dataset with the real Qwen BPE: what fits in the policy's response budget.

    python -m videostar_benchmarks.tokens [--annotations DIR] [--budget 4096] [--out DIR]

For every annotation file of the shipped Video-STAR annotations (both protocols), counted as the env
counts them (videostar_env.clients.tokens, ChatML tokens included): the system prompt (role and
tool schemas), the user prompt listing every candidate, the action_explanation reply for every
candidate (its text alone too), and how many labels the env keeps in that reply when an episode
with `--budget` response tokens asks for it first. The prompt's video tokens are not counted.
Writes DIR/tokens.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from videostar_env.core import prompts
from videostar_env.actions import tool_call
from videostar_env.clients.tokens import QWEN_BPE, ReplyRoom, TokenMeter, make_encoder
from videostar_env.datasets import Clip, VideoStarDataset
from videostar_env.datasets.videostar import BASE2NOVEL_FOLDERS, CROSS_FILES
from videostar_env.core.budget import answer_reserve
from videostar_env.core.config import EnvConfig
from videostar_env.tasks import make_task
from videostar_env.tools import Toolbox
from videostar_env.tools.toolbox import fit_reply

SHARED_DATA = Path(os.environ.get("VIDEOSTAR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SHARED_ANNOTATIONS = SHARED_DATA / "video-star"
CROSS_SPLITS = {"hmdb51": ("1", "2", "3", "full"), "ucf101": ("1", "2", "3"), "kinetics600": ("1", "2", "3")}


def annotation_splits(root: Path) -> Iterator[tuple[str, str, str]]:
    """(dataset, protocol, split) of every rows file under the annotation folder."""
    for dataset, folder in BASE2NOVEL_FOLDERS.items():
        for path in sorted((root / "json" / folder).glob("*.json")):
            if not path.stem.endswith(("_rephrased", "_description")):
                yield dataset, "base2novel", path.stem
    for dataset, splits in CROSS_SPLITS.items():
        for split in splits:
            if (root / CROSS_FILES[dataset][0].format(split=split)).exists():
                yield dataset, "cross", split


def count_split(dataset: VideoStarDataset, meter: TokenMeter, budget: int,
                reserve: int = EnvConfig.answer_reserve) -> dict[str, Any]:
    """Token counts of one annotation file's prompts and full explanation reply, and the labels kept within `budget`."""
    task = make_task("action_recognition")
    box = Toolbox.build(task.default_tools, tool_cache=None)
    sample = dataset[0]  # every row of a file shares its label space
    candidates = task.candidates(sample)
    system = prompts.system_prompt(task.role, "hermes", box.schemas())
    user = prompts.user_prompt(task.question(sample, candidates, EnvConfig.num_frames), task.answer_format, "hermes",
                               box.names)
    # action_explanation reads no frames: a one-frame placeholder stands in for the (absent) video.
    clip = Clip(np.zeros((1, 8, 8, 3), np.uint8), (0,), 1.0, 1, sample.video)
    ctx = box.context(sample, clip, candidates, dataset.knowledge)
    record = box.run("action_explanation", {}, ctx)
    if not record.ok:
        raise RuntimeError(f"{dataset.name}: action_explanation failed: {record.text}")
    left = budget - meter.turn("assistant", tool_call("action_explanation"))  # the call that asks for it, first
    room = ReplyRoom(left - answer_reserve(reserve, budget), left, meter)  # as the env gives it
    fitted = fit_reply(box.tools["action_explanation"], record, room.fits, room.refusal)
    explanations = record.data["explanations"].values()
    return {"candidates": len(candidates), "system": meter.turn("system", system), "user": meter.turn("user", user),
            "explanation_text": meter.text(record.text), "explanation_reply": meter.tool_reply(record.text),
            "budget": budget, "labels_kept": sum(text in fitted.text for text in explanations) if fitted.ok else 0}


def count_all(root: Path, budget: int = 4096, counter: Any = QWEN_BPE) -> list[dict[str, Any]]:
    """count_split for every annotation file under `root`."""
    meter = TokenMeter(make_encoder(counter))
    rows = []
    for name, protocol, split in annotation_splits(root):
        with warnings.catch_warnings():  # the videos are not needed, and not shipped: every one is "missing"
            warnings.simplefilter("ignore", UserWarning)
            dataset = VideoStarDataset(name, protocol, split, annotations=root, missing="keep")
        rows.append({"dataset": name, "protocol": protocol, "split": split, **count_split(dataset, meter, budget)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The table of docs/environment.md (Token budgets)."""
    budget = rows[0]["budget"] if rows else 0
    lines = ["| dataset | protocol | split | candidates | system | user prompt | explanation (text) | "
             f"explanation reply | labels kept in {budget} |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['protocol']} | {r['split']} | {r['candidates']} | {r['system']:,} | "
                     f"{r['user']:,} | {r['explanation_text']:,} | {r['explanation_reply']:,} | "
                     f"{r['labels_kept']} of {r['candidates']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.tokens", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=Path, default=SHARED_ANNOTATIONS,
                        help=f"the Video-STAR annotation folder (default {SHARED_ANNOTATIONS})")
    parser.add_argument("--budget", type=int, default=4096, help="the policy's response tokens (default 4096)")
    parser.add_argument("--counter", default=QWEN_BPE,
                        help=f"{QWEN_BPE!r} (the Qwen BPE in dashscope) or a Hugging Face tokenizer name or folder")
    parser.add_argument("--out", default="runs/tokens", help="output folder (default runs/tokens)")
    args = parser.parse_args(argv)
    if not args.annotations.is_dir():
        parser.error(f"the annotation folder {args.annotations} does not exist; pass --annotations DIR")
    rows = count_all(args.annotations, args.budget, args.counter)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokens.json").write_text(json.dumps(rows, indent=2))
    print(table(rows))
    print(f"Wrote {out / 'tokens.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
