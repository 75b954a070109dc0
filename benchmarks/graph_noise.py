"""How the graph reader's accuracy falls as the oracle objects backend gets noisier.

    python -m videostar_benchmarks.graph_noise --out DIR [--scenes N]

Plays the `graph-reader` agent on VideoSTR-Tools-v0 (every question of the scenes dataset) with
the oracle objects backend at rising noise: position noise (metres), a miss rate and an
id-switch rate. Writes DIR/graph_noise.json and prints the table docs/video-str.md shows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents import make_agent
from videostar_env.jobs.rollout import run_episode

LEVELS: tuple[dict[str, float], ...] = (
    {"position_noise": 0.0},
    {"position_noise": 0.1},
    {"position_noise": 0.3},
    {"position_noise": 1.0},
    {"position_noise": 0.1, "miss_rate": 0.3, "id_switch_rate": 0.1},
)


def noise_level(noise: dict[str, float], scenes: int = 24, seed: int = 0) -> dict[str, Any]:
    """Mean answer score (accuracy / MRA per question) and graph terms of the graph reader at one noise level."""
    env = gym.make("VideoSTR-Tools-v0", objects=("oracle", {**noise, "seed": seed}), tool_cache=None,
                   dataset_kwargs={"num_scenes": scenes})
    agent = make_agent("graph-reader")
    results = [run_episode(env, agent, options={"index": i}) for i in range(len(env.unwrapped.dataset))]
    env.close()
    return {"noise": noise, "questions": len(results),
            "answer": float(np.mean([r.reward["answer"] for r in results])),
            "exact": float(np.mean([r.correct for r in results])),
            "node": float(np.mean([r.reward["node"] for r in results])),
            "edge": float(np.mean([r.reward["edge"] for r in results]))}


def table(rows: list[dict[str, Any]]) -> str:
    """The table of docs/video-str.md (Noise)."""
    lines = ["| oracle noise | questions | answer score | exactly right | node | edge |", "|---|---|---|---|---|---|"]
    for row in rows:
        noise = ", ".join(f"{k} {v}" for k, v in row["noise"].items())
        lines.append(f"| {noise} | {row['questions']} | {row['answer']:.3f} | {row['exact']:.3f} | "
                     f"{row['node']:.3f} | {row['edge']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.graph_noise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/graph-noise", help="output folder (default runs/graph-noise)")
    parser.add_argument("--scenes", type=int, default=24, help="scenes (about 10 questions each; default 24)")
    args = parser.parse_args(argv)
    rows = [noise_level(level, args.scenes) for level in LEVELS]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph_noise.json").write_text(json.dumps(rows, indent=2))
    print(table(rows))
    print(f"Wrote {out / 'graph_noise.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
