"""The one builder from command-line options to an environment config, shared by every `videostar` command.

`add_env_args` declares the options; `env_spec` turns them into (env id, gym.make keyword
arguments): the dataset, the frames, the tools and backends, the cache, the token budget, and
any other EnvConfig field through --env-options JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
from typing import Any, Callable

import gymnasium as gym

from .. import ENV_IDS, WRAPPED_ENV_IDS
from ..backends import BACKENDS, KINDS
from ..core.config import EnvConfig
from ..tools.cache import CacheConfig


class OptionError(ValueError):
    """A command-line option that cannot be used as given; the message says which and how to fix it."""


VIDEOSTAR_DATASETS = ("hmdb51", "ucf101", "kinetics400", "kinetics600", "ssv2")
BACKEND_DEFAULTS = {"vision": "oracle", "explanation": "knowledge", "description": "kinematic", "objects": "oracle"}


def json_option(text: str | None, what: str) -> dict[str, Any]:
    """A command-line JSON object ({} when not given); anything else exits with a message naming the option."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OptionError(f"{what} must be a JSON object, e.g. '{{\"imgsz\": 320}}': {exc}") from exc
    if not isinstance(value, dict):
        raise OptionError(f"{what} must be a JSON object, got {text!r}")
    return value


def frame_size(text: str) -> tuple[int, int]:
    """'224' (square) or '224x320' (height x width) as (height, width)."""
    try:
        parts = [int(v) for v in text.lower().replace(",", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH in pixels (at least 8), e.g. 224 or "
                                         f"224x320, got {text!r}")
    return parts[0], parts[1]


def env_id_type(env_ids: list[str]) -> Callable[[str], str]:
    """The --env-id check: a wrapped id (classic RL) is refused saying why, a misspelt one with the nearest id."""
    def check(text: str) -> str:
        if text in env_ids:
            return text
        if text in WRAPPED_ENV_IDS:
            raise argparse.ArgumentTypeError(
                f"{text} takes Discrete actions and feature-vector observations, for classic RL agents (Gymnasium "
                "code, e.g. stable-baselines3), not the text agents this command plays; choose from "
                + ", ".join(env_ids))
        close = difflib.get_close_matches(text, env_ids, n=1)
        raise argparse.ArgumentTypeError(f"unknown env id {text!r}" + (f"; did you mean {close[0]}?" if close else "")
                                         + f" (choose from {', '.join(env_ids)})")
    return check


def add_env_args(parser: argparse.ArgumentParser, env_ids: list[str], split_help: str,
                 default_env_id: str = "VideoSTAR-v0") -> None:
    """The environment options: env id, dataset, frames, tools, backends, cache, token budget and --env-options."""
    parser.add_argument("--env-id", default=default_env_id, choices=env_ids, type=env_id_type(env_ids),
                        help=f"environment id (default {default_env_id})")
    parser.add_argument("--dataset", default="synthetic",
                        help=f"synthetic, folder, manifest, questions (spatial questions about your videos: "
                             f"--annotations FILE.jsonl), scenes, sti-bench, vsi-bench, or a Video-STAR dataset: "
                             f"{', '.join(VIDEOSTAR_DATASETS)}")
    parser.add_argument("--protocol", default="base2novel", choices=("base2novel", "cross"),
                        help="Video-STAR protocol (default base2novel)")
    parser.add_argument("--split", help=split_help)
    parser.add_argument("--video-root", help="the videos: a folder of class folders (folder), the mmaction2 layout "
                                             "(Video-STAR datasets), where a questions file's relative paths start "
                                             "(questions; default its folder)")
    parser.add_argument("--annotations", help="Video-STAR annotation folder (default $VIDEOSTAR_ANNOTATIONS), the "
                                              "JSONL file of a manifest or questions dataset, or a benchmark's "
                                              "parquet/JSON file "
                                              "(sti-bench, vsi-bench)")
    parser.add_argument("--dataset-options", metavar="JSON", help='more dataset arguments, e.g. {"per_class": 4}')
    parser.add_argument("--num-frames", type=int, help="frames sampled per video (default 16)")
    parser.add_argument("--frame-size", type=frame_size, metavar="SIZE",
                        help="frame size in pixels, SIZE or HEIGHTxWIDTH (default 128); real videos want 224 or more")
    parser.add_argument("--tools", help="comma-separated tool names the env offers (default: the task's tools)")
    for kind in KINDS:
        names = "|".join(BACKENDS[kind].names())
        parser.add_argument(f"--{kind}", default=BACKEND_DEFAULTS[kind],
                            help=f"{kind} backend ({names}; default {BACKEND_DEFAULTS[kind]})")
        parser.add_argument(f"--{kind}-options", metavar="JSON",
                            help=f"options of the {kind} backend as a JSON object (API keys: use the environment)")
    parser.add_argument("--cache-dir", help="tool cache folder (default: $VIDEOSTAR_CACHE_DIR/tools)")
    parser.add_argument("--cache-store", default="diskcache",
                        help="tool cache store: diskcache (one machine; default), directory (a folder shared by "
                             "nodes, e.g. over NFS), fsspec (--cache-dir is then a URL such as s3://bucket/tools)")
    parser.add_argument("--cache-size-gb", type=float, default=4.0,
                        help="tool cache size bound in GB (default 4; the fsspec store has none)")
    parser.add_argument("--cache-lock-wait", type=float, default=300.0,
                        help="seconds a process waits for another computing the same tool result before computing "
                             "it too (default 300; 0: never waits)")
    parser.add_argument("--no-cache", action="store_true", help="run every tool call afresh")
    parser.add_argument("--token-budget", type=int, metavar="N",
                        help="the policy's response tokens per episode, as verl's response_length (default: "
                             "unbounded); a tool reply that would not fit is shortened or refused")
    parser.add_argument("--env-options", metavar="JSON",
                        help='any other EnvConfig field, e.g. {"max_turns": 4, "decoder": "pyav"}')


def dataset_spec(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(registered dataset name, dataset kwargs) from the dataset options; a Video-STAR name means the annotations."""
    dataset, kwargs = args.dataset, json_option(args.dataset_options, "--dataset-options")
    if dataset in VIDEOSTAR_DATASETS:
        kwargs = {"dataset": dataset, "protocol": args.protocol, **kwargs}
        dataset = "videostar"
    # One spelling for every dataset: --video-root names the videos, --annotations the labels file or folder.
    roots = {"folder": ("root", None), "manifest": (None, "path"), "vsi-bench": ("video_root", "path"),
             "sti-bench": ("video_root", "path"), "questions": ("video_root", "path")}.get(dataset,
                                                                                         ("video_root", "annotations"))
    for option, key in zip(("video_root", "annotations"), roots):
        value = getattr(args, option)
        if value and key is None:
            flag = "--" + option.replace("_", "-")
            raise OptionError(f"{flag} does not apply to --dataset {dataset}: "
                             + ("a folder dataset is found with --video-root DIR (one sub-folder per class)"
                                if dataset == "folder" else "a manifest is given with --annotations FILE.jsonl, its "
                                "video paths relative to the file"))
        if value:
            kwargs[key] = value
    if args.split:
        kwargs["split"] = args.split
    return dataset, kwargs


def env_spec(args: argparse.Namespace, with_dataset: bool = True) -> dict[str, Any]:
    """gym.make keyword arguments (EnvConfig fields) that the command line sets."""
    fields = {f.name for f in dataclasses.fields(EnvConfig)}
    kwargs = json_option(getattr(args, "env_options", None), "--env-options")
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise OptionError(f"--env-options has unknown fields {unknown}; valid: {sorted(fields)}")
    for kind in KINDS:
        name = getattr(args, kind)
        if name not in BACKENDS[kind]:
            raise OptionError(f"--{kind} {name!r} is not a {kind} backend; choose one of {BACKENDS[kind].names()}")
        options = getattr(args, f"{kind}_options")
        kwargs[kind] = (name, json_option(options, f"--{kind}-options")) if options else name
    for name in ("num_frames", "frame_size", "token_budget"):
        if getattr(args, name, None) is not None:
            kwargs[name] = getattr(args, name)
    if getattr(args, "tools", None):
        kwargs["tools"] = [t.strip() for t in args.tools.split(",") if t.strip()]
    if args.no_cache:
        kwargs["tool_cache"] = None
    elif args.cache_dir or args.cache_store != "diskcache" or args.cache_size_gb != 4.0 or args.cache_lock_wait != 300:
        kwargs["tool_cache"] = CacheConfig(args.cache_dir, args.cache_size_gb, args.cache_store, args.cache_lock_wait)
    if with_dataset:
        kwargs["dataset"], kwargs["dataset_kwargs"] = dataset_spec(args)
    return kwargs


def add_rows_args(parser: argparse.ArgumentParser, split_help: str) -> None:
    """--out, the env options, --limit and --seed of the commands that write one row per sample."""
    parser.add_argument("--out", required=True, help="parquet file to write")
    add_env_args(parser, sorted(ENV_IDS), split_help)
    parser.add_argument("--limit", type=int, help="only the first N samples")
    parser.add_argument("--seed", type=int, default=0, help="sample i's episode seed is seed+i (default 0)")


def rows_env(args: argparse.Namespace) -> tuple[gym.Env, int]:
    """The env over the chosen dataset split, and how many of its samples to write."""
    env = gym.make(args.env_id, **env_spec(args))
    size = len(env.unwrapped.dataset)
    return env, size if args.limit is None else min(args.limit, size)
