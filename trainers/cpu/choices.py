"""Constrained decoding for the CPU trainer's demos: which turns the policy may write.

A tiny random policy almost never writes a well-formed answer, so every reward is 0 and GRPO has nothing to
learn from. Restricting its turns to well-formed ones (drawn from its own distribution over them, see
replica.HFReplica) keeps the update exact while letting a small model learn in minutes. This is a property of
the demo configurations, said in the README and docs/training.md and printed at the start of a run; real policies sample freely.

"answers": the well-formed final answer for each candidate label named in the prompt.
"tools": on the first turn, also one call of each tool the system prompt offers (without arguments); after a
    tool's reply, the answers only.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Optional, Sequence

from videostar_env import answer, tool_call

MODES = ("answers", "tools")
SUBMOTIONS = (("Whole body", "moves as the action requires"),)  # one generic line: the format asks for one or more
_TOOL_NAME = re.compile(r'"name":\s*"([A-Za-z0-9_\-]+)",\s*"parameters"')


def constrained_turns(mode: str, labels: Iterable[str]) -> Callable[[str, str], Optional[Sequence[str]]]:
    """The replica's choices function for a mode over the dataset's candidate labels."""
    if mode not in MODES:
        raise ValueError(f"constrained decoding is one of {MODES} (or none), got {mode!r}")
    labels = list(dict.fromkeys(labels))
    if not labels:
        raise ValueError("constrained decoding needs the rows' candidate labels (extra_info.candidates): the rows "
                         "name none; write them with `videostar verl-data` for an action-recognition env")

    def choices(request_id: str, prompt: str) -> Sequence[str]:
        named = [label for label in labels if label in prompt]
        answers = [answer(label, list(SUBMOTIONS)) for label in named or labels]
        first = prompt.count("<|im_start|>assistant") <= 1  # the generation prompt only: no turn written yet
        if mode == "tools" and first:
            return [tool_call(name) for name in dict.fromkeys(_TOOL_NAME.findall(prompt))] + answers
        return answers

    return choices
