"""Knowledge explanations: action definitions from the dataset's own knowledge base, offline."""

from __future__ import annotations

from typing import Any, Sequence

from ..knowledge import KnowledgeBase

HOW_TO_EXPLAIN = ("give the dataset label explanations (FolderDataset/ManifestDataset explanations=FILE in the "
                  "paper's format; on the command line --dataset-options '{\"explanations\": \"FILE\"}'), or "
                  "choose an explanation backend that writes them: replay (the paper's released ones), dashscope "
                  "or openai")


class KnowledgeExplainer:
    """Explains each label from the knowledge base (phases, sub-motions); labels it does not define get None."""

    id = "knowledge-v1"

    def check(self, dataset: Any) -> None:
        """Refuse a dataset whose knowledge base defines none of its labels: every call would carry nothing."""
        if not dataset.knowledge.defined_labels():
            raise ValueError(f"the 'knowledge' explanation backend has nothing to say about dataset "
                             f"{getattr(dataset, 'name', dataset)!r}: its knowledge base defines none of its labels; "
                             f"{HOW_TO_EXPLAIN}, or leave action_explanation out of the tools")

    def explain(self, labels: Sequence[str], knowledge: KnowledgeBase) -> dict[str, str | None]:
        """label -> one-paragraph definition, or None where the knowledge base has none."""
        out: dict[str, str | None] = {}
        for label in labels:
            entry = knowledge.get(label)
            out[label] = entry.explanation() if entry is not None and entry.defined else None
        return out
