"""Prompt pieces every task shares: the tool signatures (hermes), the tool decisions (videostar), errors.

What differs per task (the role, the question, the answer format) comes from the task (tasks/);
system_prompt and user_prompt put the pieces together.
"""

from __future__ import annotations

import json
from typing import Sequence

from ..actions import DECISION_TAGS, ReasoningTags

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

HERMES_TOOLS_HINT = "You may call the tools described in the system message first.\n"

VIDEOSTAR_TOOLS = {
    "pose_estimation": "Pose estimation: skeleton keypoints and joint movements of each person",
    "person_detection": "Person detection: bounding boxes around the people in the video",
    "video_explanation": "Video explanation: a textual description of body movements and context",
    "noun_explanation": "Noun explanation: a definition of each candidate action by its phases and sub-motions",
}

VIDEOSTAR_TURN_1 = """Before recognising the action, decide which tools would help. For each tool, answer yes or no:
{tools}

Think step by step about what the video shows and what each tool would add, then write:
{reasoning}
<pose_estimation>yes or no</pose_estimation>
<person_detection>yes or no</person_detection>
<video_explanation>yes or no</video_explanation>
<noun_explanation>yes or no</noun_explanation>"""


def system_prompt(role: str, fmt: str, tool_schemas: Sequence[dict]) -> str:
    """The system message: the task's role, and for hermes the tool signatures."""
    if fmt == "hermes" and tool_schemas:
        schemas = "\n".join(json.dumps(s, sort_keys=True) for s in tool_schemas)
        return role + "\n\n" + HERMES_TOOLS.format(schemas=schemas)
    return role


def user_prompt(question: str, answer_format: str, fmt: str, tool_names: Sequence[str],
                reasoning: ReasoningTags = ReasoningTags()) -> str:
    """The first user message, which follows the video: the task's question, then tools or the answer format.

    reasoning: the tags the videostar format's first turn shows (the task's answer_format shows its own).
    """
    if fmt == "videostar" and tool_names:
        offered = "\n".join(f"- {VIDEOSTAR_TOOLS[tag]}" for tag, tool in DECISION_TAGS.items() if tool in tool_names)
        written = reasoning.prompt_note() + reasoning.block("[your reasoning]")
        return question + VIDEOSTAR_TURN_1.format(tools=offered, reasoning=written)
    if fmt == "hermes" and tool_names:
        question += HERMES_TOOLS_HINT
    return question + answer_format


def invalid_turn(reason: str, turns_left: int) -> str:
    """What the environment tells the model after a turn it could not use."""
    return f"Your last turn could not be used: {reason}\n({turns_left} turn(s) left.)"
