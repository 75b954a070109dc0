"""Cold-start SFT data: a teacher model plays env episodes, a judge assesses the chains, survivors become verl rows.

The teacher (any OpenAI-compatible endpoint: vLLM, DashScope compatible mode) plays through the
env like any agent, so its chains hold real tool calls and real tool outputs and end in the
paper's three-stage reasoning ([1] sub-motion decomposition, [2] candidate selection,
[3] matching scores) before <answer>. Data assessment then rejects, with the reason counted:
episodes without an answer, wrong final answers, missing or out-of-order stages, answers that
are not the best-scored candidate, and chains the judge model finds inconsistent (or whose
judgement cannot be read). Kept episodes are written as verl multi-turn SFT rows: messages with
<video>/<image> placeholders, the video path, and the tool images as PNG bytes.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from PIL import Image

from videostar_agents.messages import chat_turns
from videostar_env.clients.chat import OpenAIChat
from videostar_env.rollout import play

from .data import AGENT_NAME

STAGES = ("[1]", "[2]", "[3]")
JUDGE_SYSTEM = ("You assess reasoning chains written for video action recognition. A chain is consistent when its "
                "observed movements [1] support the candidates it selects [2], its scores [3] follow from that "
                "comparison, and the final answer is the best-scored candidate. Reply with one JSON object: "
                '{"consistent": true or false, "reason": "one sentence"}.')


@dataclass
class SFTReport:
    """How many chains were kept, and why the others were rejected (with examples)."""

    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)

    def reject(self, sample_id: str, reason: str, detail: str) -> None:
        """Count a rejection and keep its first examples."""
        self.rejected[reason] += 1
        if len(self.examples) < 20:
            self.examples.append({"sample_id": sample_id, "reason": reason, "detail": detail})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"kept": self.kept, "rejected": dict(self.rejected), "examples": self.examples}


def stage_problem(final: str, answer: str | None) -> tuple[str, str] | None:
    """(reason, detail) when the final turn breaks the three-stage format or contradicts its own scores."""
    positions = [final.find(stage) for stage in STAGES]
    missing = [s for s, p in zip(STAGES, positions) if p < 0]
    if missing:
        return "missing_stage", f"no {', '.join(missing)} section"
    if positions != sorted(positions):
        return "stage_order", "the stages are out of order"
    scores = {name.strip().lower(): float(score) for name, score in
              re.findall(r"^-\s*([^:\n]+):\s*([01](?:\.\d+)?)\b", final[positions[2]:], re.MULTILINE)}
    if answer is not None and scores and answer.strip().lower() != max(scores, key=scores.get):
        return "answer_not_best_scored", f"answers {answer!r} but scores {max(scores, key=scores.get)!r} highest"
    return None


def judge_chain(judge: OpenAIChat, chain: str) -> tuple[bool | None, str]:
    """(consistent, reason) from the judge model; (None, why) when its reply cannot be read."""
    reply = judge.converse([{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": chain}])
    match = re.search(r"\{.*\}", reply, re.DOTALL)
    try:
        verdict = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        verdict = None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("consistent"), bool):
        return None, f"unreadable judgement: {reply[:120]!r}"
    return verdict["consistent"], str(verdict.get("reason", ""))


def _png(image: np.ndarray) -> dict[str, bytes]:
    out = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(out, "PNG")
    return {"bytes": out.getvalue()}


def sft_row(info: dict[str, Any]) -> dict[str, Any]:
    """A finished episode as a verl multi-turn SFT row: the policy's chat (videostar_agents.messages.chat_turns) with
    <video>/<image> placeholders for its media."""
    messages, images = [], []
    for role, parts in chat_turns(info["messages"]):
        text = []
        for part in parts:
            if part["type"] == "video":
                text.append("<video>")
            elif part["type"] == "image":
                images.append(_png(part["image"]))
                text.append("<image>")
            else:
                text.append(part["text"])
        messages.append({"role": role, "content": "".join(text)})
    return {"messages": messages, "videos": [{"video": info["video"], "nframes": int(info["num_frames"])}],
            "images": images, "data_source": f"videostar/{info['dataset']}", "sample_id": info["sample_id"],
            "label": info["ground_truth"]["label"], "agent_name": AGENT_NAME}


def sft_rows(env: Any, teacher: Any, judge: OpenAIChat | None, indices: Iterable[int],
             seed: int = 0) -> tuple[list[dict[str, Any]], SFTReport]:
    """Teacher chains for the given dataset indices, assessed; the kept rows and the report."""
    rows, report = [], SFTReport()
    for i, index in enumerate(indices):
        observation, info = env.reset(seed=seed + i, options={"index": int(index)})
        end = play(env, teacher, observation, info, seed + i)
        info, final = end.info, end.last_action
        sample = info["sample_id"]
        if info.get("answer") is None:
            report.reject(sample, "no_answer", f"no final answer within {info['max_turns']} turns")
            continue
        if info["reward"]["accuracy"] <= 0:
            report.reject(sample, "wrong_answer", f"answered {info['answer']!r}, the video shows {info['ground_truth']['label']!r}")
            continue
        problem = stage_problem(final, info["answer"])
        if problem:
            report.reject(sample, *problem)
            continue
        if judge is not None:
            consistent, reason = judge_chain(judge, final)
            if consistent is None:
                report.reject(sample, "judge_unreadable", reason)
                continue
            if not consistent:
                report.reject(sample, "judge_inconsistent", reason)
                continue
        rows.append(sft_row(info))
        report.kept += 1
    return rows, report
