"""Benchmark metrics from results rows: accuracy, mean ± std over splits, tools, turns, reward, and the task's own
(for action recognition: base/novel/HM, per class, confusions).

Accuracy counts every played episode (a truncated one is wrong); episodes whose video could not
be read are not played: they are counted under "failed" with examples and left out of accuracy.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ...tasks import Task


def episode_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, reward terms, turns, tool use and invalid turns of played episodes."""
    if not rows:
        return {"episodes": 0}
    n = len(rows)
    turns = sum(r["turns"] for r in rows)
    tools = sorted({name for r in rows for name in r["tool_calls"]})
    components = sorted({k for r in rows for k in r["reward"]})
    return {
        "episodes": n,
        "accuracy": float(np.mean([r["correct"] for r in rows])),
        "reward": {k: float(np.mean([r["reward"].get(k, 0.0) for r in rows])) for k in components},
        "turns_per_episode": turns / n,
        "tool_calls_per_episode": sum(sum(r["tool_calls"].values()) for r in rows) / n,
        "tool_calls": sum(sum(r["tool_calls"].values()) for r in rows),
        "tool_calls_cached": sum(r.get("tool_cached", 0) for r in rows),  # served from the tool cache
        "tools": {name: {
            "rate": float(np.mean([name in r["tool_calls"] for r in rows])),  # episodes that called it
            "calls_per_episode": sum(r["tool_calls"].get(name, 0) for r in rows) / n,
            "errors": sum(r["tool_errors"].get(name, 0) for r in rows),
        } for name in tools},
        "no_tool_rate": float(np.mean([not r["tool_calls"] for r in rows])),
        "invalid_action_rate": sum(r["invalid_turns"] for r in rows) / max(turns, 1),  # of all turns
        "episodes_with_invalid_action": float(np.mean([r["invalid_turns"] > 0 for r in rows])),
        "truncated_rate": float(np.mean([r["truncated"] for r in rows])),
        "seconds_per_episode": float(np.mean([r["seconds"] for r in rows])),
    }


def mean_std(values: Iterable[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value), as papers report over splits."""
    values = list(values)
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values)}


def compute_metrics(rows: list[dict[str, Any]], parts: list[str] | None = None, task: Task | None = None) -> dict[str, Any]:
    """Everything metrics.json holds, from the rows of one run (`parts`: split names in run order; `task`: its sections)."""
    played = [r for r in rows if "error" not in r]
    failed = [r for r in rows if "error" in r]
    parts = parts or sorted({r["part"] for r in rows})
    out: dict[str, Any] = {"overall": episode_metrics(played)}
    out["splits"] = {p: episode_metrics([r for r in played if r["part"] == p]) for p in parts}
    split_acc = [m["accuracy"] for m in out["splits"].values() if m["episodes"]]
    if len(split_acc) > 1:
        out["over_splits"] = mean_std(split_acc)
    if task is not None:
        out.update(task.bench_metrics(played))
    out["failed"] = {"episodes": len(failed), "examples": [{"key": r["key"], "error": r["error"]} for r in failed[:5]]}
    return out
