"""STI-Bench scoring: the letter read from a reply, its accuracy, and the per-task / per-scene report.

Same results as the official evaluation, repository MINT-SJTU/STI-Bench, file opensource_test.py (read at
commit 43ddebea5e386072cc9f95f4b3cdbe81fbc390a3; the file last changed in
082810f37933d07b7d80f33aa1c2e4424903ed50): its `ANSWER_PATTERNS` / `extract_answer`, the `correct` column
of its analysis stage and the accuracies of its text report. (openai_test.py, the API script, only stores the
raw reply and scores nothing.) Written anew here, not copied; every quirk is kept on purpose:

- The reply is searched with six patterns, case-insensitive and multi-line, in this order; the FIRST PATTERN
  that matches anywhere wins (not the earliest position), and its letter is upper-cased:
  "(X)"; "Ans = X" (optionally quoted); "Answer: X" / "Answer=X"; "Option X"; "X is correct" / "X was
  correct"; and X followed by "." or ")" at the end of a line. X is one of A-E only, whatever the options.
  Case-insensitive means "(b)" -> B, "answer: d" -> D, but also "option a..." -> A.
- With no match, the stripped reply itself is kept and only its LAST CHARACTER is compared: "B" -> B and
  "The answer is C" -> C, "A and B" -> B, but "b" (lower case, no pattern) -> no letter, "C. The car" -> no
  letter ("r"), "B. 3 m" -> no letter.
- The result is correct when that character is one of "ABCDE" and equals the Answer column exactly.
- An empty (or all-blank) reply raises IndexError in the official analysis; here it reads no letter, score 0.
- Accuracy is the plain mean over the answered rows: overall (every question weighs the same, not every
  task), per Task and per scene. A row without a scene takes the official fallback from its video name
  (data.stibench.scene_type); a row without a Task counts overall only (pandas groupby drops it).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any, Iterable, Mapping

from .rows import LETTERS, scene_type

# The official ANSWER_PATTERNS, in their order (flags IGNORECASE | MULTILINE).
_PATTERNS = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in (
    r"\(([A-E])\)",                       # (B)
    r"Ans\s*=\s*['\"]?([A-E])['\"]?",     # Ans='B'
    r"Answer\s*[:=]\s*([A-E])",           # Answer: B
    r"Option\s+([A-E])",                  # Option B
    r"\b([A-E])\s*(?:is|was)\s*correct",  # B is correct
    r"\b([A-E])[\.\)]\s*$",               # B.  /  B)  at a line's end
))


def sti_pattern_letter(reply: str) -> str | None:
    """The official extract_answer: the letter of the first pattern that matches, upper-cased, or None."""
    for pattern in _PATTERNS:
        match = pattern.search(reply)
        if match:
            return match.group(1).upper()
    return None


def sti_extract_letter(reply: str | None, options: Any = None) -> str | None:
    """The letter the official evaluation compares with the answer, or None when it reads none.

    A pattern's letter, else the last character of the stripped reply when it is one of A-E (case-sensitive).
    options is accepted for symmetry with other benchmarks and not consulted: the official code reads A-E
    whatever the question offers (a letter outside the options simply never equals the answer).
    """
    if not reply:
        return None
    letter = sti_pattern_letter(reply)
    if letter is not None:
        return letter
    kept = reply.strip()
    if not kept:  # the official analysis raises IndexError on model_out[-1] here
        return None
    return kept[-1] if kept[-1] in LETTERS else None


def sti_choice_score(reply: str | None, answer_letter: str) -> float:
    """1.0 when the letter read from the reply equals the answer letter exactly (no case folding), else 0.0."""
    letter = sti_extract_letter(reply)
    return 1.0 if letter is not None and letter == answer_letter else 0.0


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _group(pairs: Iterable[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for key, score in pairs:
        groups[key].append(score)
    return {key: {"episodes": len(s), "correct": sum(s), "accuracy": sum(s) / len(s)}
            for key, s in sorted(groups.items())}


def sti_aggregate(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The official report: overall, per Task and per scene accuracy (fractions in [0, 1]).

    rows: dicts with "question_type" (the Task), "scene" and "score" (1.0/0.0, e.g. sti_choice_score), and
    optionally "video" (the Video value, used for the official scene fallback when "scene" is missing).
    Returns {"overall": mean score or None without rows, "episodes", "correct",
    "per_task": {task: {"episodes", "correct", "accuracy"}}, "per_scene": {scene: {...}}}, keys sorted.
    """
    rows = list(rows)
    scores = [float(r["score"]) for r in rows]
    scenes = [scene_type(str(r.get("video") or "")) if _missing(r.get("scene")) else str(r["scene"]) for r in rows]
    return {
        "overall": sum(scores) / len(scores) if scores else None,
        "episodes": len(scores),
        "correct": sum(scores),
        "per_task": _group((str(r["question_type"]), s) for r, s in zip(rows, scores)
                           if not _missing(r.get("question_type"))),
        "per_scene": _group(zip(scenes, scores)),
    }


__all__ = ["LETTERS", "sti_aggregate", "sti_choice_score", "sti_extract_letter", "sti_pattern_letter"]
