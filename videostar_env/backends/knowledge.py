"""Knowledge explanations: action definitions from the dataset's own knowledge base, offline."""

from __future__ import annotations

from typing import Sequence

from ..knowledge import KnowledgeBase


class KnowledgeExplainer:
    """Explains each label from the knowledge base (phases, sub-motions); unknown labels say so."""

    id = "knowledge-v1"

    def explain(self, labels: Sequence[str], knowledge: KnowledgeBase) -> dict[str, str]:
        """label -> one-paragraph definition."""
        out = {}
        for label in labels:
            entry = knowledge.get(label)
            out[label] = entry.explanation() if entry else f"{label}: no definition is available for this label."
        return out
