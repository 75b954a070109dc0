"""The reward and accuracy curve of a CPU training run."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from videostar_trainers.cpu.trainer import StepReport


def plot_curve(reports: Sequence[StepReport], path: str | Path) -> Path:
    """Reward (mean ± std) and accuracy per step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r.step for r in reports]
    reward = [r.metrics["reward/mean"] for r in reports]
    spread = [r.metrics["reward/std"] for r in reports]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(steps, reward, marker="o")
    left.fill_between(steps, [m - s for m, s in zip(reward, spread)], [m + s for m, s in zip(reward, spread)],
                      alpha=0.2)
    left.set(xlabel="step", ylabel="reward", title="reward per step")
    right.plot(steps, [r.metrics["reward/accuracy"] for r in reports], marker="o", color="tab:green")
    right.set(xlabel="step", ylabel="accuracy", ylim=(-0.05, 1.05), title="accuracy per step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
