"""Cold-start SFT data: a teacher model plays env episodes, a judge assesses the chains, survivors become verl rows.

The teacher (any OpenAI-compatible endpoint: vLLM, DashScope compatible mode) plays through the
env like any agent, so its chains hold real tool calls and real tool outputs. Data assessment
then rejects, with the reason counted: episodes without an answer, wrong final answers (as the
task's bench measures them), chains that break the task's reasoning format, and chains the judge
model finds inconsistent (or whose judgement cannot be read). The format rules are the task's:

- action_recognition: the paper's three stages ([1] sub-motion decomposition, [2] candidate
  selection, [3] matching scores) before <answer>, in order, the answer the best-scored candidate.
- spatiotemporal (the graph prompt): a relation graph that parses inside the reasoning, the whole
  turn in the task's format, and an answer that does not contradict what the chain's own graph
  implies (for question types a graph can decide). The official (benchmark) prompt asks no graph:
  a correct answer is enough.
- any other task: no format rule beyond a correct answer.

Kept episodes are written as verl multi-turn SFT rows: messages with <video>/<image>
placeholders, `videos` in placeholder order (the prompt's: the absolute video path, its frame count
and, for an episode about a time window, video_start/video_end; each clip a tool returned: its
frames, crop included, as PNG data URLs with sample_fps and raw_fps giving their spacing), the tool
images as PNG bytes, the task and its ground truth (JSON; action-recognition rows also carry the label).
verl 0.9.1's SFT dataset reads every entry with qwen-vl-utils and hands the processor the frames
without their metadata, so the videos' timing does not reach SFT training (RL's loop keeps it), and
it samples the prompt's video itself (linspace over the frames, an even count) where the env took the
centres of equal segments: the same span and count, frames up to half a segment apart.
"""

from __future__ import annotations

import base64
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
from videostar_env.perception.relation_graph import RelationGraph
from videostar_env.jobs.rollout import play
from videostar_env.tasks.spatiotemporal.reward import consistency, graph_answer

from .data import ACTION_RECOGNITION, AGENT_NAME, SPATIOTEMPORAL, absolute_path

STAGES = ("[1]", "[2]", "[3]")
JUDGE_SYSTEM = ("You assess reasoning chains written for video action recognition. A chain is consistent when its "
                "observed movements [1] support the candidates it selects [2], its scores [3] follow from that "
                "comparison, and the final answer is the best-scored candidate. Reply with one JSON object: "
                '{"consistent": true or false, "reason": "one sentence"}.')
JUDGE_SYSTEMS = {
    ACTION_RECOGNITION: JUDGE_SYSTEM,
    SPATIOTEMPORAL: ("You assess reasoning chains written for spatio-temporal questions about videos of objects on a "
                     "ground plane. A chain is consistent when its relation graph is coherent (each edge's distance "
                     "and angle agree with the positions of its nodes), its reasoning follows from the graph and the "
                     "question, and the final answer is what that reasoning concludes. Reply with one JSON object: "
                     '{"consistent": true or false, "reason": "one sentence"}.'),
}
GENERIC_JUDGE_SYSTEM = ("You assess reasoning chains written for questions about videos. A chain is consistent when "
                        "its reasoning follows from what it observes and the question, and the final answer is what "
                        'that reasoning concludes. Reply with one JSON object: {"consistent": true or false, '
                        '"reason": "one sentence"}.')


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


def graph_problem(answer: dict[str, Any] | None, reward: dict[str, float],
                  question: dict[str, Any]) -> tuple[str, str] | None:
    """(reason, detail) when a spatio-temporal final turn has no readable graph, breaks the format, or answers
    against its own graph (only question types the graph decides: object size and appearance order are not checked)."""
    answer = answer or {}
    if answer.get("graph") is None:
        return "no_graph", answer.get("graph_error") or "no relation graph in the reasoning"
    if reward.get("format", 0.0) < 1.0:
        return "format", "the final turn is not one <think> block (with the graph) followed by one <answer>"
    implied = graph_answer(RelationGraph.from_json(answer["graph"]), question)
    if implied is not None and consistency(answer.get("text"), implied, question) < 1.0:
        shown = round(implied, 2) if isinstance(implied, float) else implied
        return "answer_contradicts_graph", f"answers {answer.get('text')!r} but its own graph implies {shown!r}"
    return None


def chain_problem(task: Any, final: str, info: dict[str, Any], meta: dict[str, Any]) -> tuple[str, str] | None:
    """(reason, detail) when a correct chain breaks its task's reasoning format (None: it follows it)."""
    if task.name == ACTION_RECOGNITION:
        return stage_problem(final, info["answer"])
    if task.name == SPATIOTEMPORAL and getattr(task, "prompt", "graph") == "graph":  # official prompts ask no graph
        return graph_problem(info["answer"], info["reward"], meta["question"])
    return None


def judge_request(task: str, final: str, meta: dict[str, Any]) -> tuple[str, str]:
    """(system prompt, user message) asking the judge about a chain of the task."""
    if task == ACTION_RECOGNITION:
        return JUDGE_SYSTEM, final
    question = meta.get("question")
    text = question.get("text") if isinstance(question, dict) else None
    chain = f"Question:\n{text}\n\nReasoning chain:\n{final}" if text else final
    return JUDGE_SYSTEMS.get(task, GENERIC_JUDGE_SYSTEM), chain


def wrong_answer(task: str, fields: dict[str, Any], info: dict[str, Any]) -> str:
    """Why a finished episode's answer is wrong, for the report."""
    if task == ACTION_RECOGNITION:
        return f"answered {info['answer']!r}, the video shows {info['ground_truth']['label']!r}"
    return f"answered {fields.get('answer')!r}, the truth is {fields.get('truth', fields.get('label'))!r}"


def judge_chain(judge: OpenAIChat, chain: str, system: str = JUDGE_SYSTEM) -> tuple[bool | None, str]:
    """(consistent, reason) from the judge model; (None, why) when its reply cannot be read."""
    reply = judge.converse([{"role": "system", "content": system}, {"role": "user", "content": chain}])
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


def _data_url(frame: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(_png(frame)["bytes"]).decode()


def video_entry(part: dict[str, Any], info: dict[str, Any], prompt: bool) -> dict[str, Any]:
    """A video part as a qwen-vl-utils video: the prompt's by path (its window too), a returned clip by its frames."""
    if prompt:
        entry = {"video": absolute_path(info["video"]), "nframes": int(info["num_frames"])}
        if info.get("window"):
            entry["video_start"], entry["video_end"] = (float(t) for t in info["window"])
        return entry
    seconds = part["span_frames"] / part["fps"]  # the clip's frames are spread over its window's source frames
    return {"video": [_data_url(f) for f in part["video"]], "sample_fps": len(part["video"]) / seconds,
            "raw_fps": float(part["fps"])}


def sft_row(info: dict[str, Any]) -> dict[str, Any]:
    """A finished episode as a verl multi-turn SFT row: the policy's chat (videostar_agents.messages.chat_turns) with
    <video>/<image> placeholders for its media."""
    messages, images, videos = [], [], []
    for role, parts in chat_turns(info["messages"]):
        text = []
        for part in parts:
            if part["type"] == "video":
                videos.append(video_entry(part, info, prompt=not videos))
                text.append("<video>")
            elif part["type"] == "image":
                images.append(_png(part["image"]))
                text.append("<image>")
            else:
                text.append(part["text"])
        messages.append({"role": role, "content": "".join(text)})
    truth = info["ground_truth"]
    row = {"messages": messages, "videos": videos,
           "images": images, "data_source": f"videostar/{info['dataset']}", "sample_id": info["sample_id"],
           "task": info["task"], "ground_truth": json.dumps(truth, default=str), "agent_name": AGENT_NAME}
    if "label" in truth:  # action recognition
        row["label"] = truth["label"]
    return row


def sft_rows(env: Any, teacher: Any, judge: OpenAIChat | None, indices: Iterable[int],
             seed: int = 0) -> tuple[list[dict[str, Any]], SFTReport]:
    """Teacher chains for the given dataset indices, assessed by the env's task; the kept rows and the report."""
    rows, report = [], SFTReport()
    base = env.unwrapped
    for i, index in enumerate(indices):
        observation, info = env.reset(seed=seed + i, options={"index": int(index)})
        end = play(env, teacher, observation, info, seed + i)
        info, final = end.info, end.last_action
        sample, task, meta = info["sample_id"], info["task"], base.dataset[int(index)].meta
        if info.get("answer") is None:
            report.reject(sample, "no_answer", f"no final answer within {info['max_turns']} turns")
            continue
        fields = base.task.bench_fields(info)
        if not fields["correct"]:
            report.reject(sample, "wrong_answer", wrong_answer(task, fields, info))
            continue
        problem = chain_problem(base.task, final, info, meta)
        if problem:
            report.reject(sample, *problem)
            continue
        if judge is not None:
            system, chain = judge_request(task, final, meta)
            consistent, reason = judge_chain(judge, chain, system)
            if consistent is None:
                report.reject(sample, "judge_unreadable", reason)
                continue
            if not consistent:
                report.reject(sample, "judge_inconsistent", reason)
                continue
        rows.append(sft_row(info))
        report.kept += 1
    return rows, report
