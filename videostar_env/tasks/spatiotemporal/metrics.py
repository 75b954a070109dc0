"""What `videostar bench` measures for spatio-temporal questions: a score per question type and the graph terms.

Per type, the mean answer score: accuracy for multiple choice and counts, Mean Relative Accuracy
for numbers (VSI-Bench's metric). The overall score averages the types (each type weighs the
same, as VSI-Bench averages its tasks).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ...datasets.stibench.scoring import sti_aggregate
from ...datasets.vsibench.aggregate import vsi_aggregate

METRIC = {"choice": "accuracy", "count": "accuracy", "number": "mean_relative_accuracy"}


def _written(graph: dict[str, Any] | None) -> bool:
    """Whether a row's predicted graph has at least one node."""
    return bool(graph) and any(frame.get("nodes") for frame in graph.get("frames", ()))


def graph_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The spatio-temporal sections of metrics.json."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_type[row["question_type"]].append(row)
    per_type = {kind: {"episodes": len(rs), "metric": METRIC[rs[0]["kind"]],
                       "score": float(np.mean([r["score"] for r in rs]))} for kind, rs in sorted(by_type.items())}
    terms = ("node", "edge", "consistency", "format", "length")
    by_scene: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.get("scene") is not None:
            by_scene[str(row["scene"])].append(row["score"])
    official = {}
    benchmarks = {row.get("benchmark", "scenes") for row in rows}
    if benchmarks == {"vsi-bench"}:  # the benchmark's own averaging, beside ours
        official = {"official": vsi_aggregate([{"question_type": r["question_type"], "score": r["score"]} for r in rows])}
    elif benchmarks == {"sti-bench"}:
        official = {"official": sti_aggregate([{"question_type": r["question_type"], "scene": r.get("scene"),
                                                 "score": r["score"]} for r in rows])}
    return {
        **official,
        "per_scene": {scene: {"episodes": len(s), "score": float(np.mean(s))} for scene, s in sorted(by_scene.items())},
        "question_types": per_type,
        "mean_over_types": float(np.mean([m["score"] for m in per_type.values()])) if per_type else None,
        "graph": {term: float(np.mean([r["reward"].get(term, 0.0) for r in rows])) if rows else None for term in terms},
        "graphs_written": float(np.mean([_written(r.get("graph")) for r in rows])) if rows else None,
    }
