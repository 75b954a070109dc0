"""What `videostar bench` measures for action recognition beyond accuracy: base/novel/HM, classes, confusions."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np


def harmonic_mean(a: float, b: float) -> float:
    """2ab / (a + b), 0 when both are 0: the base-to-novel summary."""
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def base_novel(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Accuracy on base and novel classes and their harmonic mean; None when no row is marked base or novel."""
    groups = {g: [r for r in rows if r.get("group") == g] for g in ("base", "novel")}
    if not any(groups.values()):
        return None
    out: dict[str, Any] = {g: (float(np.mean([r["correct"] for r in rs])) if rs else None) for g, rs in groups.items()}
    out["episodes"] = {g: len(rs) for g, rs in groups.items()}
    out["harmonic_mean"] = harmonic_mean(out["base"], out["novel"]) if groups["base"] and groups["novel"] else None
    return out


def per_class(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """label -> episodes, correct and accuracy."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        counts[r["label"]][0] += 1
        counts[r["label"]][1] += bool(r["correct"])
    return {label: {"episodes": n, "correct": c, "accuracy": c / n} for label, (n, c) in sorted(counts.items())}


def confusions(rows: list[dict[str, Any]], limit: int = 20) -> list[dict[str, Any]]:
    """The most frequent (true label, answer) mistakes; answer None when the episode ended without one."""
    pairs = Counter((r["label"], r["answer"]) for r in rows if not r["correct"])
    return [{"label": t, "answer": a, "count": c} for (t, a), c in pairs.most_common(limit)]


def action_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The action-recognition sections of metrics.json."""
    out: dict[str, Any] = {}
    bn = base_novel(rows)
    if bn is not None:
        out["base_novel"] = bn
    out["per_class"] = per_class(rows)
    out["confusions"] = confusions(rows)
    return out
