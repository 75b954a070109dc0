"""The action-recognition answer: the label in <answer> and the ranked sub-motions of the reasoning.

The reasoning follows the paper's format: sub-motions are the "- Body part: movement" lines
under "[1] Observed body parts and movement characteristics:", most distinctive first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ...actions import Answer, ReasoningTags

_SECTION_1 = r"\[1\][^\n:]*:(.*?)(?=\[\d+\]|{close}|<answer>|$)"  # ends at the next section or the reasoning's end
_SUBMOTION = re.compile(r"^\s*[-*\u2022]\s*\[?([A-Za-z][A-Za-z \-]{0,40}?)\]?\s*:\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class ActionAnswer:
    """A final turn of action recognition: every <answer> block and the ranked sub-motions."""

    labels: tuple[str, ...]
    submotions: tuple[tuple[str, str], ...]
    text: str

    @property
    def label(self) -> str | None:
        """The answered label, or None when the turn gave several."""
        return self.labels[0] if len(self.labels) == 1 else None


def parse_submotions(text: str, reasoning: ReasoningTags = ReasoningTags()) -> tuple[tuple[str, str], ...]:
    """Ranked (body part, movement) pairs from the reasoning's [1] section, in order."""
    section = re.search(_SECTION_1.format(close=re.escape(reasoning.close)), text, re.DOTALL)
    if not section:
        return ()
    return tuple((m.group(1).strip(), m.group(2).strip()) for m in _SUBMOTION.finditer(section.group(1)))


def parse_answer(answer: Answer, reasoning: ReasoningTags = ReasoningTags()) -> ActionAnswer:
    """The action-recognition reading of a final turn the core parser found."""
    return ActionAnswer(answer.labels, parse_submotions(answer.text, reasoning), answer.text)


def answer(label: str, submotions: Sequence[tuple[str, str]] = (),
           candidates: Sequence[tuple[str, float, str]] = ()) -> str:
    """A final turn in the paper's reasoning format: ranked sub-motions, candidates with scores, answer."""
    lines = ["<think>step-by-step reasoning process:", "[1] Observed body parts and movement characteristics:"]
    lines += [f"- {part}: {move}" for part, move in submotions] or ["- Body: no distinct movement observed"]
    ranked = list(candidates) or [(label, 1.0, "best match")]
    lines.append("[2] Matching candidate actions:")
    lines += [f"- {name}: {why}" for name, _, why in ranked]
    lines.append("[3] Pattern comparison for each candidate:")
    lines += [f"- {name}: {score:.2f} - {why}" for name, score, why in ranked]
    lines.append("</think>")
    lines.append(f"<answer>{label}</answer>")
    return "\n".join(lines)
