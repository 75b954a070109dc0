"""Knowledge explanations: action definitions from the dataset's own knowledge base, offline."""

from __future__ import annotations

from typing import Sequence

from ..tools.base import ToolContext


class KnowledgeExplainer:
    """Explains each label from `ctx.knowledge` (phases, sub-motions); unknown labels say so."""

    id = "knowledge-v1"

    def explain(self, labels: Sequence[str], ctx: ToolContext) -> dict[str, str]:
        """label -> one-paragraph definition."""
        out = {}
        for label in labels:
            entry = ctx.knowledge.get(label)
            out[label] = entry.explanation() if entry else f"{label}: no definition is available for this label."
        return out
