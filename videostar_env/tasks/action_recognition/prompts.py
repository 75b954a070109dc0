"""Action-recognition prompts: the paper's reasoning format, in our own words."""

from __future__ import annotations

from typing import Sequence

from ...actions import ReasoningTags

ROLE = ("You are an expert in human action recognition. You watch a video, reason about the "
        "body movements you see, and name the action from a given list of candidates.")

QUESTION = "What kind of human action is shown in the video?"

STAGES = """step-by-step reasoning process:
[1] Observed body parts and movement characteristics:
- [Body part]: [direction of movement, contact with objects]
(list the body parts that move, the most distinctive first; at most 5)
[2] Matching candidate actions:
- [Candidate]: [which observed movements it explains]
(2-3 candidates)
[3] Pattern comparison for each candidate:
- [Candidate]: [score 0-1] - [how well its movement pattern matches the video]
"""

AFTER_TOOLS = "The tools you chose have run; their outputs are above. Now identify the action.\n"


def reasoning_format(reasoning: ReasoningTags = ReasoningTags()) -> str:
    """How to write the final turn: the three stages inside the reasoning tags, then the answer."""
    return ("Reason in three stages, then answer:\n" + reasoning.prompt_note() + reasoning.block(STAGES)
            + "\n<answer>exactly one candidate label</answer>")


def after_tools(reasoning: ReasoningTags = ReasoningTags()) -> str:
    """The videostar format's second turn."""
    return AFTER_TOOLS + reasoning_format(reasoning)


def candidates_block(labels: Sequence[str]) -> str:
    """The candidate labels, one per line."""
    return "\n".join(f"- {label}" for label in labels)


def question(labels: Sequence[str], num_frames: int) -> str:
    """The question after the video: how it is shown, what to recognise, the candidates."""
    return (f"The video above is shown as {num_frames} frames sampled uniformly in time.\n"
            f"{QUESTION}\nCandidate actions:\n{candidates_block(labels)}\n\n")
