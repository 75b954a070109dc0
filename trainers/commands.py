"""The `videostar` commands this package owns (verl-data, sft-data, train), declared in the entry-point group
"videostar_env.commands": each function adds its subparser to `videostar`'s."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from videostar_env.cli.options import add_rows_args, rows_env


def verl_data_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`videostar verl-data`: verl RL parquet, one row per sample."""
    data = sub.add_parser("verl-data", parents=[common], help="write verl RL parquet (one row per sample) for the agent loop")
    add_rows_args(data, "the split to write (dataset default if omitted)")
    data.set_defaults(func=_verl_data, interrupted="{out} was not written; run it again to start over")


def sft_data_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`videostar sft-data`: cold-start SFT parquet from a teacher's chains."""
    sft = sub.add_parser("sft-data", parents=[common], help="cold-start SFT parquet: teacher chains through the env, judged and filtered")
    add_rows_args(sft, "the split to draw samples from (dataset default if omitted); the report goes to OUT.report.json")
    sft.add_argument("--teacher-url", required=True, help="OpenAI-compatible endpoint of the teacher, e.g. vLLM's /v1")
    sft.add_argument("--teacher-model", default="Qwen/Qwen2.5-VL-72B-Instruct", help="the teacher's served name")
    sft.add_argument("--judge-url", help="the judge's endpoint (default: the teacher's)")
    sft.add_argument("--judge-model", help="the judge's served name (default: the teacher)")
    sft.add_argument("--no-judge", action="store_true", help="keep rule-checked chains without asking a judge")
    sft.add_argument("--key-env", default="OPENAI_API_KEY", help="variable holding the API key (DASHSCOPE_API_KEY...)")
    sft.add_argument("--temperature", type=float, default=0.7, help="teacher sampling temperature (default 0.7)")
    sft.set_defaults(func=_sft_data, interrupted="{out} was not written; run it again to start over")


def train_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`videostar train --cpu`: GRPO through verl's classes in this process."""
    from .cpu.command import add_arguments, run

    train = sub.add_parser("train", parents=[common], help="GRPO through verl's classes in this process (--cpu)")
    add_arguments(train)
    train.set_defaults(func=run)


def _verl_data(args: argparse.Namespace) -> int:
    from .data import verl_rows, write_parquet

    console = Console(width=120)
    env, count = rows_env(args)
    failures: list[dict[str, str]] = []
    rows = verl_rows(env, range(count), args.seed, failures=failures)
    env.close()
    path = write_parquet(rows, args.out)
    console.print(f"Wrote {len(rows)} rows to {path} (agent_name videostar_agent, env {args.env_id})")
    if failures:
        console.print(f"[red]{len(failures)} unreadable video(s) left out[/red], e.g. {failures[0]['sample_id']}: "
                      f"{failures[0]['error']}", markup=True)
    # Only action-recognition rows carry a definition (their R_sub needs one).
    undefined = sum(not row["extra_info"]["definition"] for row in rows if "definition" in row["extra_info"])
    if undefined:
        console.print(f"[yellow]{undefined} of {len(rows)} rows have no class definition[/yellow]: their R_sub is "
                      "always 0. Give the dataset label explanations (--dataset-options '{\"explanations\": \"FILE\"}').",
                      markup=True)
    return 0 if rows else 1


def _sft_data(args: argparse.Namespace) -> int:
    from videostar_agents import make_agent
    from videostar_env.clients.chat import OpenAIChat

    from .data import write_parquet
    from .sft import sft_rows

    console = Console(width=120)
    env, count = rows_env(args)
    teacher = make_agent("openai", base_url=args.teacher_url, model=args.teacher_model, api_key_env=args.key_env,
                         temperature=args.temperature)
    judge = None if args.no_judge else OpenAIChat(model=args.judge_model or args.teacher_model,
                                                  base_url=args.judge_url or args.teacher_url,
                                                  api_key_env=args.key_env, temperature=0.0)
    rows, report = sft_rows(env, teacher, judge, range(count), args.seed)
    env.close()
    path = write_parquet(rows, args.out)
    summary = report.as_dict()
    Path(f"{args.out}.report.json").write_text(json.dumps(summary, indent=2))
    table = Table(title=f"{report.kept} of {count} teacher chains kept -> {path}")
    table.add_column("rejected because")
    table.add_column("chains", justify="right")
    for reason, n in sorted(report.rejected.items(), key=lambda kv: -kv[1]):
        table.add_row(reason, str(n))
    console.print(table)
    for example in report.examples[:5]:
        console.print(f"  {example['sample_id']}: {example['reason']}: {example['detail']}", markup=False)
    console.print(f"Wrote {path} and {args.out}.report.json")
    return 0
