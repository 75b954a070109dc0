"""`videostar train --cpu`: compose the GRPO config as train_grpo.sh does, then train in this process."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from videostar_trainers.cpu.choices import MODES
from videostar_trainers.tiny_models import TINY_MODELS

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
# Config values that name files of this package as paths from the checkout's root (as train_grpo.sh runs them).
PACKAGE_PATHS = ("actor_rollout_ref.rollout.agent.agent_loop_config_path", "reward.custom_reward_function.path")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `videostar train`."""
    parser.add_argument("--cpu", action="store_true", required=True,
                        help="train in this process on the CPU with verl's classes (GPU runs: trainers/scripts/"
                             "train_grpo.sh)")
    parser.add_argument("--config-name", default="videostar_grpo",
                        help="config in trainers/config (default videostar_grpo); the demo adds the override +preset=cpu_demo")
    parser.add_argument("--tiny", choices=tuple(TINY_MODELS),
                        help="build a tiny random policy of this family in OUT/tiny-model and train it")
    parser.add_argument("--constrained", choices=MODES,
                        help="decode only well-formed turns (answers; tools: also one call of each tool first)")
    parser.add_argument("--out", default="runs/train-cpu", help="metrics, plot and checkpoints (default runs/train-cpu)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="Hydra overrides, as for train_grpo.sh (e.g. actor_rollout_ref.actor.optim.lr=0)")


def compose_config(name: str, overrides: list[str]):
    """Our Hydra config `name` composed on verl's with the overrides (a bad key is Hydra's own error)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=name, overrides=overrides)


def package_paths(config) -> None:
    """Paths into trainers/ that do not exist from here point at this package's files: the command runs anywhere."""
    from omegaconf import OmegaConf, open_dict

    for key in PACKAGE_PATHS:
        value = OmegaConf.select(config, key)
        if isinstance(value, str) and value.startswith("trainers/") and not Path(value).exists():
            with open_dict(config):
                OmegaConf.update(config, key, str(CONFIG_DIR.parent / value.removeprefix("trainers/")))


def run(args: argparse.Namespace) -> int:
    """Train, print a line per step, and write metrics.jsonl, curve.png, summary.json and checkpoints in OUT."""
    from videostar_trainers.cpu import shims  # noqa: F401  (before any verl model: keeps the original forwards)
    from videostar_trainers.cpu.plot import plot_curve
    from videostar_trainers.cpu.trainer import CPUTrainer

    out = Path(args.out)
    overrides = list(args.overrides)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"{item!r} is not a Hydra override: write KEY=VALUE, e.g. trainer.total_training_steps=5")
    if args.tiny:
        overrides.append(f"actor_rollout_ref.model.path={TINY_MODELS[args.tiny](out / 'tiny-model')}")
    config = compose_config(args.config_name, overrides)
    package_paths(config)
    trainer = CPUTrainer(config, out, constrained=args.constrained)
    try:
        reports = trainer.fit()
    finally:
        trainer.close()
    plot_curve(reports, out / "curve.png")
    summary = {"steps": [{"step": r.step, "reward": r.metrics["reward/mean"], "accuracy": r.metrics["reward/accuracy"],
                          "tool_calls": r.metrics["rollout/tool_calls"]} for r in reports],
               "constrained": args.constrained, "config": args.config_name, "overrides": overrides}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"Wrote {out / 'metrics.jsonl'}, {out / 'curve.png'} and {out / 'summary.json'}")
    return 0
