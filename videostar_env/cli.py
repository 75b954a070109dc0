"""The `videostar` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import gymnasium as gym
from PIL import Image
from rich.console import Console
from rich.table import Table

from . import ENV_IDS
from .rollout import run_episode, summarize


def _demo(args: argparse.Namespace) -> int:
    from agents import make_agent  # the agents package sits beside the env package

    console = Console(width=120)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env_kwargs = {"dataset_kwargs": {"split": args.split}}
    summary = {"env_id": args.env_id, "split": args.split, "seed": args.seed, "agents": {}}
    table = Table(title=f"{args.env_id}: {args.episodes} synthetic episodes per agent (split '{args.split}')")
    for column in ("agent", "accuracy", "mean reward", "R_acc", "R_format", "R_tool", "R_sub", "tool calls/ep", "turns/ep"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for k, name in enumerate(args.agents.split(",")):
        agent = make_agent(name.strip(), seed=args.seed)
        env = gym.make(args.env_id, render_mode="rgb_array", **env_kwargs)
        results = []
        for i in range(args.episodes):
            results.append(run_episode(env, agent, seed=args.seed + i))
            if k == 0 and i == 0:
                Image.fromarray(env.render()).save(out / "episode.png")
        env.close()
        stats = summarize(results)
        summary["agents"][agent.name] = stats
        table.add_row(agent.name, f"{stats['accuracy']:.3f}", f"{stats['mean_reward']:.3f}",
                      *(f"{stats['reward_' + c]:.3f}" for c in ("accuracy", "format", "tool", "submotion")),
                      f"{stats['tool_calls_per_episode']:.2f}", f"{stats['turns_per_episode']:.2f}")
    console.print(table)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"Wrote {out / 'summary.json'} and a rendered episode to {out / 'episode.png'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `videostar`."""
    parser = argparse.ArgumentParser(prog="videostar", description="Video-STAR action-recognition environments.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run scripted agents on the synthetic dataset and compare them")
    demo.add_argument("--episodes", type=int, default=40, help="episodes per agent (default 40)")
    demo.add_argument("--agents", default="heuristic,no-tool", help="comma-separated agent names or import paths")
    demo.add_argument("--env-id", default="VideoSTAR-v0", choices=sorted(ENV_IDS), help="environment id")
    demo.add_argument("--split", default="all", choices=("all", "base", "novel"), help="synthetic class split")
    demo.add_argument("--seed", type=int, default=0, help="seed of the first episode (episode i uses seed+i)")
    demo.add_argument("--out", default="runs/demo", help="folder for summary.json and episode.png")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `videostar` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
