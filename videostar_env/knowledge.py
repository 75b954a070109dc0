"""The action knowledge base: what each class is, as phases, ranked sub-motions and kinematic cues."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping


def normalize_label(text: str) -> str:
    """Canonical form for comparing labels: lower case, no spaces, underscores, hyphens or edge punctuation."""
    return re.sub(r"[\s_\-]+", "", text.strip().strip(".,;:!?\"'`").lower())


@dataclass(frozen=True)
class ActionEntry:
    """One action class: definition through transitional phases and ordered sub-motions.

    `signature` maps a kinematic feature (see perception/kinematics.py) to the (low, high) range it
    takes during this action; it is what a program can check tool evidence against.
    """

    label: str
    definition: str
    aliases: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    submotions: tuple[tuple[str, str], ...] = ()  # (body part, movement), most distinctive first
    signature: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def defined(self) -> bool:
        """Whether the entry says anything about the action (a folder class without explanations does not)."""
        return bool(self.definition.strip() or self.phases or self.submotions)

    def explanation(self) -> str:
        """The entry as one paragraph, the way the action-explanation tool states it."""
        text = f"{self.label}: {self.definition}"
        if self.phases:
            text += " Phases: " + "; ".join(f"({i}) {p}" for i, p in enumerate(self.phases, 1)) + "."
        if self.submotions:
            text += " Key sub-motions: " + "; ".join(f"{part}: {move}" for part, move in self.submotions) + "."
        return text


class KnowledgeBase:
    """Entries looked up by any normalised spelling of a label or alias."""

    def __init__(self, entries: Iterable[ActionEntry]):
        self.entries: dict[str, ActionEntry] = {}
        self._names: dict[str, str] = {}
        for entry in entries:
            self.entries[entry.label] = entry
            for name in (entry.label, *entry.aliases):
                self._names[normalize_label(name)] = entry.label

    def __contains__(self, label: str) -> bool:
        return normalize_label(label) in self._names

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, label: str) -> ActionEntry | None:
        """The entry for a label or alias, or None."""
        key = self._names.get(normalize_label(label))
        return self.entries[key] if key else None

    def names(self, label: str) -> tuple[str, ...]:
        """The label and its aliases (just the label if unknown)."""
        entry = self.get(label)
        return (entry.label, *entry.aliases) if entry else (label,)

    @cached_property
    def digest(self) -> str:
        """A hash of every entry, so caches of knowledge-based tool results notice edits."""
        return hashlib.sha256(repr(sorted(self.entries.items())).encode()).hexdigest()[:16]

    def defined_labels(self) -> list[str]:
        """The labels whose entries define them."""
        return [label for label, entry in self.entries.items() if entry.defined]

    def subset(self, labels: Iterable[str]) -> "KnowledgeBase":
        """A knowledge base of only these labels (those it knows)."""
        return KnowledgeBase(e for e in (self.get(label) for label in labels) if e is not None)
