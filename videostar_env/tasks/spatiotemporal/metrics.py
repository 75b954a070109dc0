"""What `videostar bench` measures for spatio-temporal questions: a score per question type and the graph terms.

Per type, the mean answer score: accuracy for multiple choice and counts, Mean Relative Accuracy
for numbers (VSI-Bench's metric). The overall score averages the types (each type weighs the
same, as VSI-Bench averages its tasks).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

METRIC = {"choice": "accuracy", "count": "accuracy", "number": "mean_relative_accuracy"}


def graph_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The spatio-temporal sections of metrics.json."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_type[row["question_type"]].append(row)
    per_type = {kind: {"episodes": len(rs), "metric": METRIC[rs[0]["kind"]],
                       "score": float(np.mean([r["score"] for r in rs]))} for kind, rs in sorted(by_type.items())}
    terms = ("node", "edge", "consistency", "format", "length")
    return {
        "question_types": per_type,
        "mean_over_types": float(np.mean([m["score"] for m in per_type.values()])) if per_type else None,
        "graph": {term: float(np.mean([r["reward"].get(term, 0.0) for r in rows])) if rows else None for term in terms},
        "graphs_written": float(np.mean([r.get("graph") is not None for r in rows])) if rows else None,
    }
