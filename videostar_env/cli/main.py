"""The `videostar` command."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shlex
import sys
import warnings
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import gymnasium as gym
from PIL import Image
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .. import ENV_IDS
from .options import add_env_args, env_spec, json_option
from .serve import add_serve_command
from ..core.config import EnvConfig
from ..errors import MissingDependency, plain
from ..jobs.precompute import precompute
from ..jobs.rollout import run_episode, summarize
from ..video.decode import VideoDecodeError

if TYPE_CHECKING:
    from ..jobs.bench import BenchConfig


# Errors that mean the command line asked for something that cannot be (the messages say what to fix).
USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, NotADirectoryError, PermissionError,
               MissingDependency, VideoDecodeError)


def _demo(args: argparse.Namespace) -> int:
    console = Console(width=120)
    out = Path(args.out)  # made once the first episode is played: a demo that fails to start leaves no folder
    env_kwargs = env_spec(args)
    split = env_kwargs["dataset_kwargs"].get("split", "all")
    summary = {"env_id": args.env_id, "split": split, "seed": args.seed, "agents": {}}
    title = f"{args.env_id}: {args.episodes} {args.dataset} episodes per agent (split '{split}')"
    summary["agents"] = _demo_table(console, title, args.env_id, env_kwargs, args.agents, args, out / "episode.png")
    if args.str_agents:  # the second task: spatio-temporal questions on synthetic scenes, with the object tools
        summary["spatiotemporal"] = {"env_id": args.str_env_id, "agents": _demo_table(
            console, f"{args.str_env_id}: {args.episodes} scene questions per agent", args.str_env_id, {},
            args.str_agents, args, out / "episode_str.png")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"Wrote {out / 'summary.json'} and rendered episodes to {out / 'episode.png'}"
                  + (f" and {out / 'episode_str.png'}" if args.str_agents else ""))
    return 0


def _demo_table(console: Console, title: str, env_id: str, env_kwargs: dict[str, Any], agents: str,
                args: argparse.Namespace, picture: Path) -> dict[str, Any]:
    """Play each agent on env_id, print one table row per agent (reward columns from the task), return the stats."""
    from ..jobs.agents import agent_caveat, make_agent

    stats_by_agent: dict[str, Any] = {}
    for k, name in enumerate(agents.split(",")):
        agent = make_agent(name.strip(), seed=args.seed)
        env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
        results = []
        for i in range(args.episodes):
            results.append(run_episode(env, agent, seed=args.seed + i))
            if k == 0 and i == 0:
                picture.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(env.render()).save(picture)
        env.close()
        stats_by_agent[agent.name] = summarize(results)
    terms = [key[len("reward_"):] for key in next(iter(stats_by_agent.values())) if key.startswith("reward_")]
    terms = [t for t in terms if any(s[f"reward_{t}"] for s in stats_by_agent.values())]  # all-zero terms say nothing
    table = Table(title=title)
    for column in ("agent", "accuracy", "mean reward", *(f"R_{t}" for t in terms), "tool calls/ep", "turns/ep"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name, stats in stats_by_agent.items():
        table.add_row(name, f"{stats['accuracy']:.3f}", f"{stats['mean_reward']:.3f}",
                      *(f"{stats['reward_' + t]:.3f}" for t in terms),
                      f"{stats['tool_calls_per_episode']:.2f}", f"{stats['turns_per_episode']:.2f}")
    console.print(table)
    for name in agents.split(","):
        if caveat := agent_caveat(name.strip(), env_kwargs.get("dataset", "synthetic")):
            console.print(f"[yellow]Note:[/yellow] {escape(caveat)}.", markup=True)
    return stats_by_agent


def _precompute(args: argparse.Namespace) -> int:
    from ..video.frame_store import FrameStore

    console = Console(width=120)
    config = EnvConfig(**{**gym.spec(args.env_id).kwargs, **env_spec(args)})
    frames = None if args.frames is None else FrameStore(args.frames or None)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("precompute", total=args.limit)
        indices = None if args.limit is None else range(args.limit)
        report = precompute(config, None, indices, on_sample=lambda _: progress.advance(task), frames=frames,
                            ray=args.ray, ray_workers=args.ray_workers)
    summary = report.as_dict()
    table = Table(title=f"{summary['samples']} samples in {summary['seconds']:.1f}s; cache {summary['cache']}")
    for column in ("tool", "computed", "reused", "failed"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for tool, counts in summary["tools"].items():
        table.add_row(tool, *(str(counts[c]) for c in ("computed", "reused", "failed")))
    if summary["frames"]:
        table.add_row("decoded frames", *(str(summary["frames"][c]) for c in ("computed", "reused", "failed")))
    console.print(table)
    if report.resumed:
        console.print(f"{report.resumed} of {report.samples} samples were finished by an earlier run (not decoded "
                      "again)" + ("; nothing left to compute" if report.resumed == report.samples else ""))
    if summary["frames"]:
        console.print(f"Decoded frames in {summary['frames']['directory']}")
    for failure in report.failures[:5]:
        console.print(f"[red]failed[/red] {failure['tool']} on {failure['sample']}: {failure['message']}", markup=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2))
        console.print(f"Wrote {args.out}")
    worked = report.computed or report.reused or report.frames["computed"] or report.frames["reused"]
    return 1 if report.failures and not worked else 0


def bench_config(args: argparse.Namespace) -> "BenchConfig":
    """The BenchConfig a `videostar bench` command line describes."""
    from ..jobs.bench import BenchConfig

    env_kwargs = env_spec(args)
    dataset, dataset_kwargs = env_kwargs.pop("dataset"), env_kwargs.pop("dataset_kwargs")
    dataset_kwargs.pop("split", None)  # the bench runs each split on its own
    splits = tuple(s.strip() for s in args.split.split(",")) if args.split else (None,)
    agent_kwargs = json_option(args.agent_options, "--agent-options")
    for key in ("model", "base_url"):
        if getattr(args, key):
            agent_kwargs[key] = getattr(args, key)
    return BenchConfig(agent=args.agent, agent_kwargs=agent_kwargs,
                       env_id=args.env_id, env_kwargs=env_kwargs, dataset=dataset, dataset_kwargs=dataset_kwargs,
                       splits=splits, episodes=args.episodes, seed=args.seed, shuffle=not args.in_order,
                       num_envs=args.num_envs, vectorization=args.vectorization, ray=args.ray,
                       ray_workers=args.ray_workers)


def _bench(args: argparse.Namespace) -> int:
    import shutil

    from ..jobs.bench import BenchError, load_references, run_bench, write_outputs

    console = Console(width=120)
    config = bench_config(args)
    out = Path(args.out)
    if args.overwrite and out.exists():
        shutil.rmtree(out)
    references = load_references(args.reference)
    score = {"done": 0, "correct": 0}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(f"{config.agent} on {config.dataset}", total=None)

        def on_start(total: int, done: int) -> None:
            progress.update(task, total=total, completed=done)
            if done:
                progress.console.print(f"resuming: {done} of {total} episodes are already in {out / 'results.jsonl'}")

        def on_episode(row: dict[str, Any]) -> None:
            score["done"] += 1
            score["correct"] += bool(row["correct"])
            progress.update(task, advance=1, description=f"{config.agent} on {config.dataset}: "
                            f"top-1 {score['correct'] / score['done']:.3f} over {score['done']} new")

        try:
            parts, log = run_bench(config, out, on_episode, on_start)
        except BenchError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
    metrics = write_outputs(config, parts, log, references, args.report_episodes)
    overall = metrics["overall"]
    table = Table(title=f"{config.agent} on {metrics['run']['dataset_label']}: {overall.get('episodes', 0)} episodes")
    table.add_column("metric")
    table.add_column("value", justify="right")
    spatial = "question_types" in metrics  # a spatio-temporal run: a score per question type
    table.add_row("answers fully right" if spatial else "top-1 accuracy", f"{overall.get('accuracy', 0):.3f}")
    for kind, m in metrics.get("question_types", {}).items():
        table.add_row(f"  {kind} ({m['metric'].replace('_', ' ')})", f"{m['score']:.3f}")
    if spatial and metrics["mean_over_types"] is not None:
        table.add_row("mean over question types", f"{metrics['mean_over_types']:.3f}")
        table.add_row("graph node / edge", f"{metrics['graph']['node']:.3f} / {metrics['graph']['edge']:.3f}")
    for split, m in metrics["splits"].items():
        if len(metrics["splits"]) > 1 and m["episodes"]:
            table.add_row(f"  split {split}", f"{m['accuracy']:.3f}")
    if "over_splits" in metrics:
        table.add_row("mean ± std over splits", f"{metrics['over_splits']['mean']:.3f} ± {metrics['over_splits']['std']:.3f}")
    if "base_novel" in metrics:
        bn = metrics["base_novel"]
        for key in ("base", "novel", "harmonic_mean"):
            table.add_row(key.replace("_", " "), "–" if bn[key] is None else f"{bn[key]:.3f}")
    table.add_row("mean reward", f"{overall.get('reward', {}).get('total', 0):.3f}")
    table.add_row("tool calls / episode", f"{overall.get('tool_calls_per_episode', 0):.2f}")
    if overall.get("tool_calls"):
        table.add_row("tool calls served from the cache", f"{overall['tool_calls_cached']} of {overall['tool_calls']}")
    for name, tool in overall.get("tools", {}).items():
        if tool["errors"]:
            calls = round(tool["calls_per_episode"] * overall["episodes"])
            table.add_row(f"[red]{name} errors[/red]", f"{tool['errors']} of {calls} calls")
    table.add_row("invalid-action rate", f"{overall.get('invalid_action_rate', 0):.3f}")
    if metrics["missing_videos"]:
        missing = metrics["missing_videos"]
        table.add_row("[red]videos missing on disk (not played)[/red]",
                      f"{missing['count']} of {missing['total']}, e.g. {missing['examples'][0]}")
    if metrics["failed"]["episodes"]:
        example = ": ".join(metrics["failed"]["examples"][0]["error"].split(": ")[:2])  # the error and its video
        table.add_row("[red]unreadable videos (not played)[/red]", f"{metrics['failed']['episodes']}, e.g. {example}")
    console.print(table)
    if metrics["run"]["caveat"]:
        console.print(f"[yellow]Note:[/yellow] {escape(metrics['run']['caveat'])}.", markup=True)
    console.print(f"Wrote {out / 'results.jsonl'}, {out / 'metrics.json'}, the plots and {out / 'report.html'}")
    return 0


def add_plugin_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The commands other packages own (entry-point group "videostar_env.commands"; videostar_trainers: verl-data,
    sft-data, train), each added by its function(sub, common)."""
    for ep in entry_points(group="videostar_env.commands"):
        try:
            add = ep.load()
        except ImportError as exc:  # a broken plugin must not take the other commands down with it
            broken = sub.add_parser(ep.name, parents=[common], help=f"unavailable: {exc}")
            broken.set_defaults(func=partial(_unavailable, ep.name, exc))
            continue
        add(sub, common)


def _unavailable(name: str, exc: ImportError, args: argparse.Namespace) -> int:
    raise MissingDependency(f"`videostar {name}` cannot load ({exc}); reinstall the package that provides it, "
                            "e.g. pip install -e .")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `videostar`."""
    parser = argparse.ArgumentParser(prog="videostar", description="Video-STAR action-recognition environments.")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    demo = sub.add_parser("demo", parents=[common], help="run scripted agents on the synthetic dataset and compare them")
    demo.add_argument("--episodes", type=int, default=40, help="episodes per agent (default 40)")
    demo.add_argument("--agents", default="heuristic,no-tool", help="comma-separated agent names or import paths")
    add_env_args(demo, sorted(ENV_IDS), "dataset split (synthetic: all, base or novel; default all)")
    demo.add_argument("--str-agents", default="graph-reader,guess",
                      help="agents for the spatio-temporal demo ('' to skip it; default graph-reader,guess)")
    demo.add_argument("--str-env-id", default="VideoSTR-Tools-v0", choices=sorted(ENV_IDS),
                      help="env id of the spatio-temporal demo (default VideoSTR-Tools-v0)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the first episode (episode i uses seed+i)")
    demo.add_argument("--out", default="runs/demo", help="folder for summary.json and episode.png")
    demo.set_defaults(func=_demo, interrupted="{out}/summary.json was not written; run it again to start over")

    pre = sub.add_parser("precompute", parents=[common], help="run tools over a whole dataset into the tool cache (resumable)")
    add_env_args(pre, sorted(ENV_IDS), "the split to precompute (dataset default if omitted)")
    pre.add_argument("--limit", type=int, help="only the first N samples")
    pre.add_argument("--out", help="write the summary as JSON to this file")
    pre.add_argument("--frames", nargs="?", const="", metavar="DIR",
                     help="also store the decoded frames in DIR (default $VIDEOSTAR_CACHE_DIR/frames) for envs to "
                          "read instead of decoding; with --no-cache, only the frames")
    pre.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                     help="shard the samples over Ray actors: a cluster address, or none to start Ray locally")
    pre.add_argument("--ray-workers", type=int, default=2, help="Ray actors (default 2)")
    pre.set_defaults(func=_precompute, resumable="the finished samples are kept in the tool cache")

    bench = sub.add_parser("bench", parents=[common], help="evaluate an agent on a dataset and protocol: results, metrics, plots, report")
    bench.add_argument("--agent", default="heuristic", help="agent name or import path 'module:Class' (default heuristic)")
    bench.add_argument("--agent-options", metavar="JSON", help="keyword arguments of the agent as a JSON object")
    bench.add_argument("--model", help="the agent's model: an image-text-to-text chat model folder or hub id "
                                       "(qwen-vl: Qwen2.5-VL, Qwen3-VL, ...), a served name (openai)")
    bench.add_argument("--base-url", help="the openai agent's endpoint, e.g. http://127.0.0.1:8000/v1 (vLLM)")
    add_env_args(bench, sorted(ENV_IDS), "comma-separated splits, each evaluated on its own (e.g. val,test or 1,2,3)")
    bench.add_argument("--episodes", "--limit", dest="episodes", type=int,
                       help="episodes per split (default: every sample once)")
    bench.add_argument("--seed", type=int, default=0, help="run seed: episode k uses seed+k (default 0)")
    bench.add_argument("--in-order", action="store_true", help="visit samples in dataset order, not a seeded shuffle")
    bench.add_argument("--num-envs", type=int, default=1, help="sub-envs of the Gymnasium vector env (default 1)")
    bench.add_argument("--vectorization", default="sync", choices=("sync", "async"), help="vector env kind")
    bench.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="shard episodes over Ray actors: a cluster address, or none to start Ray locally")
    bench.add_argument("--ray-workers", type=int, default=2, help="Ray actors per split (default 2)")
    bench.add_argument("--out", default="runs/bench", help="output folder; a run there is resumed (default runs/bench)")
    bench.add_argument("--overwrite", action="store_true", help="delete the output folder first instead of resuming")
    bench.add_argument("--reference", help="JSON list of extra published rows for the report")
    bench.add_argument("--report-episodes", type=int, default=100, help="trajectories in the report (default 100)")
    bench.set_defaults(func=_bench, resumable="the finished episodes are kept in {out}/results.jsonl")

    add_serve_command(sub, common)
    add_plugin_commands(sub, common)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The parsed command line; an unknown option is the subcommand's error (its usage), naming the nearest option."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
        options = [o for action in command._actions for o in action.option_strings]
        unknown = [a.split("=")[0] for a in extra if a.startswith("--")]
        close = difflib.get_close_matches(unknown[0], options, n=1, cutoff=0.75) if unknown else []  # "--" is shared
        command.error(f"unrecognized arguments: {' '.join(extra)}" + (f"; did you mean {close[0]}?" if close else ""))
    return args


def warning_line(command: str, message: Warning | str, *_: Any, **__: Any) -> str:
    """A warning as one plain line (no colour codes, no source line): `videostar bench: warning: ...`."""
    return f"videostar {command}: warning: {plain(str(message)).removeprefix('WARN: ')}\n"


def interrupted_line(args: argparse.Namespace, argv: list[str]) -> str:
    """The one line a Ctrl-C prints: the command that resumes the run where it can, else what was lost."""
    if getattr(args, "resumable", None):
        again = shlex.join(["videostar", *(a for a in argv if a != "--overwrite")])  # --overwrite would start afresh
        return f"videostar {args.command}: interrupted; {args.resumable.format(**vars(args))}; resume with: {again}"
    lost = getattr(args, "interrupted", None) or "run it again to start over"
    return f"videostar {args.command}: interrupted; {lost.format(**vars(args))}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `videostar` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(build_parser(), argv)
    formatwarning, warnings.formatwarning = warnings.formatwarning, partial(warning_line, args.command)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(interrupted_line(args, argv), file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if args.debug:
            raise
        # A user's mistake (a path, a name, an option, a dataset the backends cannot serve): one line, no traceback.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        # Gymnasium appends the env kwargs to a TypeError from the env's constructor; they may hold API keys.
        message = re.sub(r"\s*was raised from the environment creator for .*", "", str(message), flags=re.DOTALL)
        print(f"videostar {args.command}: error: {' '.join(str(message).split())} (--debug shows the traceback)",
              file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = formatwarning


if __name__ == "__main__":
    sys.exit(main())
