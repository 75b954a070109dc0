"""PNG plots of a benchmark: tool usage; per-class accuracy and the most-confused classes (action recognition);
the score per question type and the graph terms (spatio-temporal questions)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MissingDependency


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependency("plots need matplotlib: pip install 'videostar-env[bench]'") from exc
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def per_class_accuracy(metrics: dict[str, Any], path: Path, references: list[dict[str, Any]] = ()) -> Path:
    """Horizontal bars of accuracy per class, worst first, with the run's mean and any paper rows as lines."""
    plt = _pyplot()
    classes = sorted(metrics["per_class"].items(), key=lambda kv: (kv[1]["accuracy"], kv[0]))
    height = max(3.0, 0.22 * len(classes) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    ax.barh([c for c, _ in classes], [m["accuracy"] for _, m in classes], color="#4c78a8")
    ax.axvline(metrics["overall"]["accuracy"], color="black", linestyle="--", label="this run (top-1)")
    for ref, colour in zip(references, ("#e45756", "#f58518", "#54a24b", "#b279a2")):
        ax.axvline(ref["value"] / 100, color=colour, linestyle=":",
                   label=f"{ref['method']} {ref['metric']} ({ref['dataset']}, {ref['protocol']})")
    ax.set_xlim(0, 1)
    ax.set_xlabel("top-1 accuracy")
    ax.set_title("Accuracy per class")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def confusion_matrix(rows: list[dict[str, Any]], path: Path, classes: int = 12) -> Path:
    """Counts of (true label, answer) over the classes involved in the most mistakes."""
    plt = _pyplot()
    mistakes: dict[str, int] = {}
    for r in rows:
        if not r["correct"]:
            for name in (r["label"], r["answer"] or "(no answer)"):
                mistakes[name] = mistakes.get(name, 0) + 1
    chosen = sorted(mistakes, key=lambda c: (-mistakes[c], c))[:classes] or sorted({r["label"] for r in rows})[:classes]
    position = {c: i for i, c in enumerate(chosen)}
    matrix = np.zeros((len(chosen), len(chosen)), int)
    for r in rows:
        answer = r["answer"] or "(no answer)"
        if r["label"] in position and answer in position:
            matrix[position[r["label"]], position[answer]] += 1
    side = max(4.0, 0.45 * len(chosen) + 2)
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(chosen)), chosen, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(chosen)), chosen, fontsize=7)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_xlabel("answer")
    ax.set_ylabel("true label")
    ax.set_title("Most-confused classes")
    return _save(fig, path)


def question_types(metrics: dict[str, Any], path: Path) -> Path:
    """Bars of the score per question type (with their mean as a line) and of the graph terms."""
    plt = _pyplot()
    types = metrics["question_types"]
    terms = {**(metrics.get("graph") or {}), "graphs written": metrics.get("graphs_written")}
    terms = {name: value for name, value in terms.items() if value is not None}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [max(len(types), 1), 3]})
    names = list(types) or ["(no episodes)"]
    left.bar(names, [types.get(n, {}).get("score", 0.0) for n in names], color="#4c78a8")
    for k, name in enumerate(types):
        m = types[name]
        left.text(k, m["score"] + 0.02, f"{m['score']:.2f}\nn={m['episodes']}", ha="center", va="bottom", fontsize=7)
    if metrics.get("mean_over_types") is not None:
        left.axhline(metrics["mean_over_types"], color="black", linestyle="--",
                     label=f"mean over types ({metrics['mean_over_types']:.2f})")
        left.legend(loc="upper right", fontsize=7)
    left.set_ylim(0, 1.3)
    left.set_ylabel("score (accuracy or mean relative accuracy)")
    left.set_title("Score per question type")
    left.tick_params(axis="x", labelrotation=30, labelsize=7)
    for label in left.get_xticklabels():
        label.set_horizontalalignment("right")
    right.bar(list(terms) or ["(none)"], list(terms.values()) or [0.0], color="#f58518")
    for k, value in enumerate(terms.values()):
        right.text(k, value + 0.02, f"{value:.2f}", ha="center", va="bottom", fontsize=7)
    right.set_ylim(0, 1.3)
    right.set_title("Graph terms (mean)")
    right.tick_params(axis="x", labelrotation=30, labelsize=7)
    for label in right.get_xticklabels():
        label.set_horizontalalignment("right")
    return _save(fig, path)


def tool_usage(metrics: dict[str, Any], path: Path) -> Path:
    """Per tool: share of episodes that called it and calls per episode."""
    plt = _pyplot()
    tools = metrics["overall"].get("tools", {})
    names = list(tools) or ["(no tool calls)"]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(names) + 1), 3.5))
    ax.bar(x - 0.2, [tools.get(n, {}).get("rate", 0.0) for n in names], 0.4, label="episodes calling it", color="#4c78a8")
    ax.bar(x + 0.2, [tools.get(n, {}).get("calls_per_episode", 0.0) for n in names], 0.4, label="calls per episode",
           color="#f58518")
    ax.set_xticks(x, names, rotation=15, fontsize=8)
    ax.set_title("Tool usage")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def write_plots(metrics: dict[str, Any], rows: list[dict[str, Any]], folder: str | os.PathLike,
                references: list[dict[str, Any]] = ()) -> dict[str, Path]:
    """The plots whose data the metrics hold into folder; name -> file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    played = [r for r in rows if "error" not in r]
    plots: dict[str, Path] = {}
    if "per_class" in metrics:  # action recognition
        plots["per_class_accuracy"] = per_class_accuracy(metrics, folder / "per_class_accuracy.png", references)
        plots["confusion"] = confusion_matrix(played, folder / "confusion.png")
    if "question_types" in metrics:  # spatio-temporal questions
        plots["question_types"] = question_types(metrics, folder / "question_types.png")
    plots["tool_usage"] = tool_usage(metrics, folder / "tool_usage.png")
    return plots
