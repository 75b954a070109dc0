"""Prompt templates: the paper's reasoning format, in our own words, for both action formats."""

from __future__ import annotations

import json
from typing import Sequence

from .actions import DECISION_TAGS

QUESTION = "What kind of human action is shown in the video?"

REASONING_FORMAT = """Reason in three stages, then answer:
<think>step-by-step reasoning process:
[1] Observed body parts and movement characteristics:
- [Body part]: [direction of movement, contact with objects]
(list the body parts that move, the most distinctive first; at most 5)
[2] Matching candidate actions:
- [Candidate]: [which observed movements it explains]
(2-3 candidates)
[3] Pattern comparison for each candidate:
- [Candidate]: [score 0-1] - [how well its movement pattern matches the video]
</think>
<answer>exactly one candidate label</answer>"""

HERMES_TOOLS = """# Tools

You may call tools to inspect the video before answering. Their signatures, one JSON object per line:
<tools>
{schemas}
</tools>

To call a tool, write one JSON object per call inside <tool_call></tool_call> tags, and nothing after it:
<tool_call>
{{"name": "<tool name>", "arguments": {{<arguments>}}}}
</tool_call>
Tool results come back in the next message. Do not call the same tool with the same arguments twice."""

VIDEOSTAR_TOOLS = {
    "pose_estimation": "Pose estimation: skeleton keypoints and joint movements of each person",
    "person_detection": "Person detection: bounding boxes around the people in the video",
    "video_explanation": "Video explanation: a textual description of body movements and context",
    "noun_explanation": "Noun explanation: a definition of each candidate action by its phases and sub-motions",
}

VIDEOSTAR_TURN_1 = """Before recognising the action, decide which tools would help. For each tool, answer yes or no:
{tools}

Think step by step about what the video shows and what each tool would add, then write:
<think>[your reasoning]</think>
<pose_estimation>yes or no</pose_estimation>
<person_detection>yes or no</person_detection>
<video_explanation>yes or no</video_explanation>
<noun_explanation>yes or no</noun_explanation>"""

VIDEOSTAR_TURN_2 = """The tools you chose have run; their outputs are above. Now identify the action.
""" + REASONING_FORMAT


def candidates_block(labels: Sequence[str]) -> str:
    """The candidate labels, one per line."""
    return "\n".join(f"- {label}" for label in labels)


def system_prompt(fmt: str, tool_schemas: Sequence[dict]) -> str:
    """The system message: the role, and for hermes the tool signatures."""
    text = ("You are an expert in human action recognition. You watch a video, reason about the "
            "body movements you see, and name the action from a given list of candidates.")
    if fmt == "hermes" and tool_schemas:
        schemas = "\n".join(json.dumps(s, sort_keys=True) for s in tool_schemas)
        text += "\n\n" + HERMES_TOOLS.format(schemas=schemas)
    return text


def user_prompt(fmt: str, labels: Sequence[str], num_frames: int, tool_names: Sequence[str]) -> str:
    """The first user message, which follows the video."""
    head = (f"The video above is shown as {num_frames} frames sampled uniformly in time.\n"
            f"{QUESTION}\nCandidate actions:\n{candidates_block(labels)}\n\n")
    if fmt == "videostar" and tool_names:
        offered = [tag for tag, tool in DECISION_TAGS.items() if tool in tool_names]
        return head + VIDEOSTAR_TURN_1.format(tools="\n".join(f"- {VIDEOSTAR_TOOLS[t]}" for t in offered))
    if fmt == "hermes" and tool_names:
        head += "You may call the tools described in the system message first.\n"
    return head + REASONING_FORMAT


def invalid_turn(reason: str, turns_left: int) -> str:
    """What the environment tells the model after a turn it could not use."""
    return f"Your last turn could not be used: {reason}\n({turns_left} turn(s) left.)"
