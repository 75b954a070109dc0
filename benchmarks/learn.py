"""Learnability: Stable-Baselines3 agents learn when to call tools, under the hierarchical reward and its ablations.

    python -m videostar_benchmarks.learn --out DIR [--timesteps N] [--quick]

Trains PPO under each reward of ABLATIONS_RUN (full; accuracy + format only; without the tool
term; without the sub-motion term; with a per-call tool cost) and A2C under the full reward, on
the synthetic base classes through gym.make("VideoSTAR-Discrete-v0"): Discrete(tools +
candidates) actions and feature observations (videostar_env/wrappers). Each trained policy is
evaluated greedily on held-out videos (another render seed) and held-out episode seeds, beside
the random and no-tool agents on the same episodes. Writes DIR/learn.json and DIR/learn_curves.png.
Needs the `learn` extra (stable-baselines3).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.tasks.action_recognition.reward import ABLATIONS
from videostar_env.jobs.rollout import run_episode, summarize

ABLATIONS_RUN = ("full", "acc_format", "no_tool", "no_sub", "tool_cost")
# The 7 base classes, 4 videos each; every decoded clip stays in memory (training revisits them).
TRAIN = {"dataset_kwargs": {"split": "base", "per_class": 4, "seed": 0}, "clip_memo": 64, "max_turns": 4}
HELD_OUT = {"dataset_kwargs": {"split": "base", "per_class": 4, "seed": 1}, "clip_memo": 64, "max_turns": 4}
EVAL_SEED = 100_000  # held-out episode seeds start here; training episodes use seeds below it


class EpisodeLog:
    """Per finished training episode: timestep, accuracy, tool calls and each reward component."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def callback(self) -> Any:
        """An SB3 callback that appends a row whenever an episode ends."""
        from stable_baselines3.common.callbacks import BaseCallback

        log = self

        class _Callback(BaseCallback):
            def _on_step(self) -> bool:
                for done, info in zip(self.locals["dones"], self.locals["infos"]):
                    if done and "reward" in info:
                        log.rows.append({"timestep": float(self.num_timesteps), "tool_calls": float(len(info["tool_results"])),
                                         **{k: float(v) for k, v in info["reward"].items()}})
                return True

        return _Callback()


class PolicyAgent:
    """A trained SB3 policy as an agent of the wrapped env (greedy)."""

    def __init__(self, model: Any):
        self.model = model

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the policy is a function of the features."""

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        """The policy's most likely action."""
        return int(self.model.predict(observation, deterministic=True)[0])


class UniformDiscreteAgent:
    """Uniformly random discrete actions (the wrapped env's random baseline)."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed = n, seed
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed from the episode seed."""
        self._rng = np.random.default_rng([self.seed, seed or 0])

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        """A random action."""
        return int(self._rng.integers(self.n))


def evaluate(env: gym.Env, agent: Any, episodes: int) -> dict[str, float]:
    """Accuracy, reward components, tool calls and the share of episodes with a tool call, over held-out episodes."""
    results = [run_episode(env, agent, seed=EVAL_SEED + k) for k in range(episodes)]
    return {**summarize(results), "tool_use_rate": float(np.mean([sum(r.tool_calls.values()) > 0 for r in results]))}


def train(algorithm: str, ablation: str, timesteps: int, seed: int = 0) -> tuple[Any, EpisodeLog]:
    """Train one SB3 agent under one reward; returns the model and its episode log."""
    from stable_baselines3 import A2C, PPO

    env = gym.make("VideoSTAR-Discrete-v0", reward=ABLATIONS[ablation], **TRAIN)
    log = EpisodeLog()
    if algorithm == "PPO":
        model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, learning_rate=1e-3, ent_coef=0.01, gamma=0.99,
                    seed=seed, device="cpu", verbose=0)
    elif algorithm == "A2C":
        model = A2C("MlpPolicy", env, n_steps=16, learning_rate=1e-3, ent_coef=0.01, seed=seed, device="cpu", verbose=0)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose PPO or A2C")
    model.learn(total_timesteps=timesteps, callback=log.callback())
    env.close()
    return model, log


def baselines(episodes: int) -> dict[str, dict[str, float]]:
    """The random and no-tool agents (text env) and uniform random discrete actions, on the held-out episodes."""
    from videostar_agents import NoToolAgent, RandomAgent

    text_env = gym.make("VideoSTAR-v0", **HELD_OUT)
    wrapped = gym.make("VideoSTAR-Discrete-v0", **HELD_OUT)
    out = {"random": evaluate(text_env, RandomAgent(seed=0), episodes),
           "no-tool": evaluate(text_env, NoToolAgent(seed=0), episodes),
           "uniform-discrete": evaluate(wrapped, UniformDiscreteAgent(wrapped.action_space.n), episodes)}
    text_env.close()
    wrapped.close()
    return out


def curves(rows: list[dict[str, float]], window: int) -> dict[str, list[float]]:
    """Rolling means over `window` episodes, sampled every window // 2 episodes."""
    if not rows:
        return {}
    ends = range(min(window, len(rows)), len(rows) + 1, max(1, window // 2))
    out = {k: [round(float(np.mean([r[k] for r in rows[max(0, end - window):end]])), 4) for end in ends]
           for k in rows[0] if k != "timestep"}
    out["timestep"] = [rows[end - 1]["timestep"] for end in ends]  # the window's last episode
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    """Learning curves: accuracy, tool calls per episode and (full reward) the reward components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    for name, run in result["runs"].items():
        c = run["curves"]
        axes[0].plot(c["timestep"], c["accuracy"], label=name)
        axes[1].plot(c["timestep"], c["tool_calls"], label=name)
    for name, base in result["baselines"].items():
        axes[0].axhline(base["accuracy"], linestyle=":", color="grey")
        axes[0].annotate(name, (0, base["accuracy"]), fontsize=7, color="grey")
    full = result["runs"]["PPO full"]["curves"]
    for component in ("accuracy", "format", "tool", "submotion", "total"):
        axes[2].plot(full["timestep"], full[component], label=component)
    for ax, title, ylabel in zip(axes, ("accuracy (training episodes)", "tool calls per episode",
                                        "PPO, full reward: reward components"), ("top-1", "calls", "reward")):
        ax.set_title(title)
        ax.set_xlabel("timesteps")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(out: str | os.PathLike, timesteps: int = 12_000, eval_episodes: int = 140, window: int = 200) -> dict[str, Any]:
    """Train every configuration, evaluate on held-out episodes, write learn.json and learn_curves.png."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result: dict[str, Any] = {"timesteps": timesteps, "eval_episodes": eval_episodes, "train": TRAIN,
                              "held_out": HELD_OUT, "baselines": baselines(eval_episodes), "runs": {}}
    configs = [("PPO", a) for a in ABLATIONS_RUN] + [("A2C", "full")]
    for algorithm, ablation in configs:
        t0 = time.perf_counter()
        model, log = train(algorithm, ablation, timesteps)
        env = gym.make("VideoSTAR-Discrete-v0", reward=ABLATIONS[ablation], **HELD_OUT)
        held_out = evaluate(env, PolicyAgent(model), eval_episodes)
        env.close()
        name = f"{algorithm} {ablation}"
        result["runs"][name] = {"algorithm": algorithm, "reward": ablation, "episodes": len(log.rows),
                                "held_out": held_out, "curves": curves(log.rows, window),
                                "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{name}: top-1 {held_out['accuracy']:.3f}, tool calls/episode {held_out['tool_calls_per_episode']:.2f} (used in {held_out['tool_use_rate']:.0%}), "
              f"{result['runs'][name]['seconds']} s", flush=True)
    full, base = result["runs"]["PPO full"]["held_out"], result["baselines"]
    result["checks"] = {
        "full_beats_random_by": round(full["accuracy"] - base["random"]["accuracy"], 3),
        "full_beats_no_tool_by": round(full["accuracy"] - base["no-tool"]["accuracy"], 3),
        "full_tool_calls_per_episode": round(full["tool_calls_per_episode"], 3),
        "full_tool_use_rate": round(full["tool_use_rate"], 3),
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    (out / "learn.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "learn_curves.png")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.learn", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/learn", help="output folder (default runs/learn)")
    parser.add_argument("--timesteps", type=int, default=12_000, help="environment steps per training run (default 12000)")
    parser.add_argument("--eval-episodes", type=int, default=140, help="held-out episodes per evaluation (default 140)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1000 steps, 20 evaluation episodes")
    args = parser.parse_args(argv)
    steps, episodes = (1000, 20) if args.quick else (args.timesteps, args.eval_episodes)
    result = run(args.out, steps, episodes, window=50 if args.quick else 200)
    print(json.dumps({"baselines": {k: v["accuracy"] for k, v in result["baselines"].items()}, **result["checks"]}, indent=2))
    print(f"Wrote {Path(args.out) / 'learn.json'} and learn_curves.png in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
