"""VSI-Bench scoring: Mean Relative Accuracy for numeric answers, exact letter match for multiple choice.

Same results as the official evaluation, repository vision-x-nyu/thinking-in-space, file
lmms_eval/tasks/vsibench/utils.py (read at commit 51e089c3ae69b9435e9489058610f5b3964c56a8; its functions
`fuzzy_matching`, `exact_match`, `abs_dist_norm`, `mean_relative_accuracy`, `to_float` and
`vsibench_process_results` are unchanged since the release commit dc9075b9441cc9daeda16e914fcfa2e60d97992f).
Written anew here, not copied; every quirk of the official code is kept on purpose, because published
VSI-Bench numbers come from it:

- The official thresholds are `np.linspace(.5, .95, int((.95 - .5) / .05 + 2))`. In floating point that count is
  int(10.999999999999998) == 10, so there are 10 confidence levels .5, .55, ..., .95, and the tolerances
  1 - level are not the round decimals: 0.19999999999999996 (< 0.2), 0.44999999999999996 (< 0.45),
  0.30000000000000004, 0.15000000000000002, 0.10000000000000009, 0.050000000000000044 (> the decimals).
  Hence pred=12, target=10 (relative error 0.2) scores 0.6, not 0.7, while pred=11 (0.1) scores 0.9.
- The relative error is abs(pred - target) / target with a signed target and `<=`: a negative target makes the
  error negative, so any pred that is not NaN scores 1.0; a NaN error (pred "nan") scores 0.0; target 0 raises
  ZeroDivisionError, which the official process_results does not catch (it only catches TypeError).
- The answer text is reduced to everything before its first ' ' (a space only, not other whitespace), then
  trailing '.' are removed, then surrounding whitespace: "A." -> "A", "A\\n" -> "A", but "A.\\n" -> "A." and
  " A" -> "" (leading space). Numbers go through Python's float(): "1_000", "1e3", "nan", "inf" parse; "3,5",
  "3.5m", "The answer is 3" do not, and an unparsable prediction scores 0.
"""

from __future__ import annotations

from .rows import MCA_QUESTION_TYPES, NA_QUESTION_TYPES

# 1 - np.linspace(.5, .95, 10), element by element, as the exact doubles numpy produces (repr round-trips).
# Written out rather than recomputed so the boundary behaviour is visible and does not depend on numpy.
MRA_TOLERANCES: tuple[float, ...] = (
    0.5, 0.44999999999999996, 0.4, 0.35, 0.30000000000000004,
    0.25, 0.19999999999999996, 0.15000000000000002, 0.10000000000000009, 0.050000000000000044,
)


def relative_error(pred: float, target: float) -> float:
    """abs(pred - target) / target, signed target; ZeroDivisionError for target 0 as in the official code."""
    return abs(float(pred) - float(target)) / float(target)


def mean_relative_accuracy(pred: float, target: float) -> float:
    """Fraction of the 10 official tolerances that the relative error is <= to (a multiple of 0.1)."""
    err = relative_error(pred, target)
    return sum(err <= tol for tol in MRA_TOLERANCES) / len(MRA_TOLERANCES)


def fuzzy_matching(text: str) -> str:
    """The official reduction of an answer: text before the first space, trailing dots then whitespace removed."""
    # split(' ') and not split(): a leading space yields "" and tabs/newlines do not separate words.
    return text.split(" ")[0].rstrip(".").strip()


def _to_float(text: str) -> float | None:
    # The official to_float: Python float(), None on failure.
    try:
        return float(text)
    except (ValueError, TypeError):
        return None


def parse_number(text: str) -> float | None:
    """The number the official scoring reads from an answer text, or None when it reads none."""
    return _to_float(fuzzy_matching(text))


def numeric_score(prediction_text: str, target: float | str) -> float:
    """MRA of the parsed prediction; 0.0 when prediction (or a string target) does not parse, as official."""
    pred = parse_number(prediction_text)
    # The official ground truth is a string passed through to_float (no fuzzy matching); None scores 0 there too.
    tgt = _to_float(target) if isinstance(target, str) else float(target)
    if pred is None or tgt is None:
        return 0.0
    return mean_relative_accuracy(pred, tgt)


def exact_match(pred: str, target: str) -> float:
    """1.0 when equal ignoring case (str.lower), else 0.0."""
    return 1.0 if pred.lower() == target.lower() else 0.0


def choice_score(prediction_text: str, answer_letter: str) -> float:
    """1.0/0.0: the fuzzy-matched prediction against the answer letter, case-insensitive."""
    return exact_match(fuzzy_matching(prediction_text), answer_letter)


def vsibench_score(question_type: str, prediction_text: str, ground_truth: str | float) -> float:
    """The official per-question score: accuracy for multiple choice, MRA for numeric question types."""
    if question_type in MCA_QUESTION_TYPES:
        return choice_score(prediction_text, str(ground_truth))
    if question_type in NA_QUESTION_TYPES:
        return numeric_score(prediction_text, ground_truth)
    raise ValueError(f"Unknown question type: {question_type}")


__all__ = ["MCA_QUESTION_TYPES", "MRA_TOLERANCES", "NA_QUESTION_TYPES", "choice_score", "exact_match",
           "fuzzy_matching", "mean_relative_accuracy", "numeric_score", "parse_number", "relative_error",
           "vsibench_score"]
