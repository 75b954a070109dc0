"""The `videostar` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import ENV_IDS
from .backends import BACKENDS
from .precompute import precompute
from .rollout import run_episode, summarize
from .tools.cache import CacheConfig


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


def backend_spec(name: str, options: str | None) -> Any:
    """A backend name, or (name, options) from a JSON object string."""
    if not options:
        return name
    try:
        parsed = json.loads(options)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"backend options must be a JSON object, e.g. '{{\"imgsz\": 320}}': {exc}") from exc
    if not isinstance(parsed, dict):
        raise SystemExit(f"backend options must be a JSON object, got {options!r}")
    return (name, parsed)


def add_backend_args(parser: argparse.ArgumentParser) -> None:
    """--vision/--explanation/--description NAME and their --*-options JSON, plus --cache-dir."""
    for kind, default in (("vision", "oracle"), ("explanation", "knowledge"), ("description", "kinematic")):
        names = "|".join(BACKENDS[kind])
        parser.add_argument(f"--{kind}", default=default, choices=sorted(BACKENDS[kind]),
                            help=f"{kind} backend ({names}; default {default})")
        parser.add_argument(f"--{kind}-options", metavar="JSON",
                            help=f"options of the {kind} backend as a JSON object (API keys: use the environment)")
    parser.add_argument("--cache-dir", help="tool cache folder (default: $VIDEOSTAR_CACHE_DIR/tools)")


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """gym.make keyword arguments for the backends and cache chosen on the command line."""
    kwargs: dict[str, Any] = {kind: backend_spec(getattr(args, kind), getattr(args, f"{kind}_options"))
                              for kind in ("vision", "explanation", "description")}
    if args.cache_dir:
        kwargs["tool_cache"] = CacheConfig(args.cache_dir)
    return kwargs


def _precompute(args: argparse.Namespace) -> int:
    console = Console(width=120)
    kwargs = env_kwargs(args)
    kwargs["dataset_kwargs"] = {"split": args.split}
    env = gym.make(args.env_id, **kwargs).unwrapped
    tools = [t.strip() for t in args.tools.split(",")] if args.tools else list(env.tools)
    count = len(env.dataset) if args.limit is None else min(args.limit, len(env.dataset))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        task = progress.add_task(f"precompute {', '.join(tools)}", total=count)
        report = precompute(env, tools, range(count), on_sample=lambda _: progress.advance(task))
    env.close()
    summary = report.as_dict()
    table = Table(title=f"{summary['samples']} samples in {summary['seconds']:.1f}s; cache {env.tool_cache.directory}")
    for column in ("tool", "computed", "reused", "failed"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for tool, counts in summary["tools"].items():
        table.add_row(tool, *(str(counts[c]) for c in ("computed", "reused", "failed")))
    console.print(table)
    for failure in report.failures[:5]:
        console.print(f"[red]failed[/red] {failure['tool']} on {failure['sample']}: {failure['message']}", markup=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2))
        console.print(f"Wrote {args.out}")
    return 1 if sum(report.failed.values()) and not sum(report.computed.values()) + sum(report.reused.values()) else 0


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

    pre = sub.add_parser("precompute", help="run tools over a whole dataset into the tool cache (resumable)")
    pre.add_argument("--tools", help="comma-separated tool names (default: every tool of the env)")
    pre.add_argument("--env-id", default="VideoSTAR-v0", choices=sorted(ENV_IDS), help="environment id")
    pre.add_argument("--split", default="all", choices=("all", "base", "novel"), help="synthetic class split")
    pre.add_argument("--limit", type=int, help="only the first N samples")
    pre.add_argument("--out", help="write the summary as JSON to this file")
    add_backend_args(pre)
    pre.set_defaults(func=_precompute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `videostar` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
