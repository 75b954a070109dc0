"""The spatio-temporal answer: the text in <answer>, and the relation graph written in the reasoning."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ...actions import Answer, ReasoningTags
from ...perception.relation_graph import RelationGraph


@dataclass(frozen=True)
class GraphAnswer:
    """A final turn: the answer text, the parsed graph (or why there is none), and the reasoning."""

    labels: tuple[str, ...]  # every distinct <answer> block; a valid answer has exactly one
    text: str
    reasoning: str | None  # inside the reasoning tags (<think>...</think>, or as configured), None when missing
    graph: RelationGraph | None
    graph_error: str | None  # why no graph could be read, for the breakdown and the logs

    @property
    def value(self) -> str | None:
        """The answer text, or None when the turn gave several."""
        return self.labels[0] if len(self.labels) == 1 else None


def parse_answer(answer: Answer, reasoning: ReasoningTags = ReasoningTags(), graph: str = "graph") -> GraphAnswer:
    """Read the reasoning block, the graph block inside it (or anywhere) and the answer of a final turn."""
    text = answer.text
    inside = reasoning.reasoning(text)
    block = re.search(rf"<{re.escape(graph)}>(.*?)</{re.escape(graph)}>", inside or text, re.DOTALL)
    parsed, error = None, None
    if block is None:
        error = f"no <{graph}>...</{graph}> block"
    else:
        try:
            parsed = RelationGraph.from_json(json.loads(block.group(1)))
        except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
            error = f"the graph is not valid: {exc}"
    return GraphAnswer(answer.labels, text, inside, parsed, error)
