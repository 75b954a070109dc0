"""VSI-Bench's official aggregation: a mean per question type, relative direction merged, the unweighted mean of those.

Same results as `vsibench_aggregate_results` of the official evaluation, repository vision-x-nyu/thinking-in-space,
file lmms_eval/tasks/vsibench/utils.py, read at commit 51e089c3ae69b9435e9489058610f5b3964c56a8 (the rule is
unchanged since the release commit dc9075b; commit c26ba54 added the per-type table and made the merge conditional).
Written anew, without pandas; the official steps, kept in their order so that even the last bit agrees:

1. Rows are grouped by question_type, the groups in sorted order (pandas groupby). Each group's score is the mean
   of its scores (pandas skips missing/NaN scores), named "<type>_accuracy" for the multiple-choice types and
   "<type>_MRA:.5:.95:.05" for the numeric ones; an unknown type raises ValueError.
2. If object_rel_direction_easy is present, it and the medium and hard subtypes are replaced by
   "object_rel_direction_accuracy" = (easy + medium + hard) / 3, the mean of the three subtype means (not of
   their questions), appended last. Official quirks kept: easy without medium or hard raises KeyError; medium or
   hard without easy stay unmerged under their own names and count in the overall mean, though the official
   table omits them.
3. overall = the plain mean of the remaining entries (8 with the full benchmark: each task weighs the same,
   whatever its number of questions), summed left to right in that order.
4. The returned table is in percent: "overall", then the types in the paper's order (counting, absolute distance,
   object size, room size, relative distance, relative direction, route planning, appearance order), then
   "tabulated_keys" / "tabulated_results" (the same numbers as comma-separated text, 3 decimals).

The official code reports no breakdown by scene source (arkitscenes, scannet, scannetpp); `by_source` below
applies the same rule within each source, as an extra clearly outside the official numbers.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from .scoring import MCA_QUESTION_TYPES, NA_QUESTION_TYPES, vsibench_score

MCA_METRIC = "accuracy"
NA_METRIC = "MRA:.5:.95:.05"
REL_DIRECTION_SUBTYPES = ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard")
REL_DIRECTION = "object_rel_direction"
# The official table's order of tasks (the paper's column order).
TABLE_ORDER = ("object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation",
               "object_rel_distance", "object_rel_direction", "route_planning", "obj_appearance_order")


def metric_of(question_type: str) -> str:
    """The official metric name of a question type."""
    if question_type in MCA_QUESTION_TYPES:
        return MCA_METRIC
    if question_type in NA_QUESTION_TYPES:
        return NA_METRIC
    raise ValueError(f"Unknown question type: {question_type}")


def _score(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _mean(scores: list[float]) -> float:
    """pandas Series.mean: NaN skipped, float64 sum (numpy's pairwise summation) divided by the count."""
    kept = np.asarray([s for s in scores if not math.isnan(s)], dtype=np.float64)
    return float(kept.sum() / kept.size) if kept.size else float("nan")


def _type_means(rows: Iterable[Mapping[str, Any]], strict: bool = True) -> tuple[dict[str, float], dict[str, int]]:
    """Steps 1 and 2: official key -> fraction (insertion order as official), and question counts by the same keys.

    strict (the official rule): merge the relative-direction subtypes only when easy is present, and then all three
    must be; strict=False merges whichever subtypes are present."""
    groups: dict[str, list[float]] = {}
    for row in rows:
        question_type = row.get("question_type")
        if question_type is None:
            raise ValueError(f"row without question_type: {dict(row)}")
        groups.setdefault(str(question_type), []).append(_score(row.get("score")))
    if not groups:
        raise ValueError("no rows to aggregate")
    output: dict[str, float] = {}
    counts: dict[str, int] = {}
    for question_type in sorted(groups):
        key = f"{question_type}_{metric_of(question_type)}"
        output[key] = _mean(groups[question_type])
        counts[key] = len(groups[question_type])
    subtypes = [f"{subtype}_{MCA_METRIC}" for subtype in REL_DIRECTION_SUBTYPES]
    if strict and subtypes[0] in output:
        for key in subtypes[1:]:
            if key not in output:
                raise KeyError(f"{key}: the official aggregation merges the three relative-direction subtypes and "
                               f"fails when object_rel_direction_easy is present without the others")
    present = [key for key in subtypes if key in output]
    if present and (not strict or subtypes[0] in output):
        parts = [output.pop(key) for key in present]
        output[f"{REL_DIRECTION}_{MCA_METRIC}"] = sum(parts) / float(len(parts))  # official: the 3 of them / 3.
        counts[f"{REL_DIRECTION}_{MCA_METRIC}"] = sum(counts.pop(key) for key in present)
    return output, counts


def official_results(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Exactly what vsibench_aggregate_results returns (as a plain dict, same key order): percentages and text."""
    output, _ = _type_means(rows)
    results: dict[str, Any] = {"overall": sum(output.values()) / len(output) * 100.0}
    for question_type in TABLE_ORDER:
        for metric in (MCA_METRIC, NA_METRIC):
            key = f"{question_type}_{metric}"
            if key in output:
                results[key] = output[key] * 100.0
    keys, values = list(results), list(results.values())
    results["tabulated_keys"] = ", ".join(keys)
    results["tabulated_results"] = ", ".join(f"{v:.3f}" for v in values)
    return results


def _strip_metric(key: str) -> str:
    for metric in (MCA_METRIC, NA_METRIC):
        if key.endswith("_" + metric):
            return key[: -len(metric) - 1]
    return key


def vsi_aggregate(rows: Iterable[Mapping[str, Any]], by_source: bool = False) -> dict[str, Any]:
    """The official VSI-Bench numbers of scored rows ({"question_type", "score"} each, score in [0, 1]).

    Returns, in percent: "overall" (official); "per_type": task -> score for every entry the overall mean averages
    (the eight tasks, relative direction merged; in the official table's order, then any unmerged leftovers);
    "metric": task -> "accuracy" or "MRA:.5:.95:.05"; "questions": task -> rows counted; "official": the
    official return value itself (official_results). by_source=True adds "by_source": the same for the rows of
    each scene source (the rows' "source" or "dataset" key), which the official code does not report.
    """
    rows = list(rows)
    output, counts = _type_means(rows)
    official = official_results(rows)
    ordered = [f"{t}_{m}" for t in TABLE_ORDER for m in (MCA_METRIC, NA_METRIC) if f"{t}_{m}" in output]
    ordered += [key for key in output if key not in ordered]
    result: dict[str, Any] = {
        "overall": official["overall"],
        "per_type": {_strip_metric(key): output[key] * 100.0 for key in ordered},
        "metric": {_strip_metric(key): key[len(_strip_metric(key)) + 1:] for key in ordered},
        "questions": {_strip_metric(key): counts[key] for key in ordered},
        "official": official,
    }
    if by_source:
        sources: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            source = row.get("source", row.get("dataset"))
            if source is None:
                raise ValueError("by_source needs a 'source' or 'dataset' key in every row")
            sources.setdefault(str(source), []).append(row)
        result["by_source"] = {source: _source_summary(group) for source, group in sorted(sources.items())}
    return result


def _source_summary(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """vsi_aggregate's overall, per_type and questions for one source's rows; the relative-direction merge
    averages the subtypes the source has (where the official code, given only some, would fail or not merge)."""
    output, counts = _type_means(rows, strict=False)
    ordered = [f"{t}_{m}" for t in TABLE_ORDER for m in (MCA_METRIC, NA_METRIC) if f"{t}_{m}" in output]
    return {"overall": sum(output.values()) / len(output) * 100.0,
            "per_type": {_strip_metric(key): output[key] * 100.0 for key in ordered},
            "questions": {_strip_metric(key): counts[key] for key in ordered}}


def vsi_row(sample: Any, prediction_text: str) -> dict[str, Any]:
    """A scored row for vsi_aggregate from a VSIBenchDataset sample and a model's answer text (official scoring)."""
    question = sample.meta["question"]
    return {"id": sample.id, "question_type": question["type"], "source": sample.meta.get("source"),
            "prediction": prediction_text, "ground_truth": sample.label,
            "score": vsibench_score(question["type"], prediction_text, sample.label)}


__all__ = ["MCA_METRIC", "NA_METRIC", "REL_DIRECTION_SUBTYPES", "TABLE_ORDER", "metric_of", "official_results",
           "vsi_aggregate", "vsi_row"]
