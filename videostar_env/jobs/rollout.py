"""Running an agent through whole episodes and summarising what happened."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np


@dataclass
class EpisodeResult:
    """One finished episode, as benchmarks and the demo report it."""

    sample_id: str
    truth: dict[str, Any]  # the task's ground truth (info["ground_truth"])
    answer: Any  # the task's answer value (info["answer"]), None when truncated
    reward: dict[str, float]  # the breakdown (zeros when truncated)
    turns: int
    correct: bool  # as the task's bench measures it
    tool_calls: dict[str, int] = field(default_factory=dict)
    invalid_turns: int = 0
    truncated: bool = False


@dataclass
class Playthrough:
    """How an episode ended: its last info, the agent's last turn, invalid turns, and whether it was truncated."""

    info: dict[str, Any]
    last_action: str
    invalid_turns: int
    truncated: bool


def play(env: Any, agent: Any, observation: Any, info: dict[str, Any], seed: int | None = None) -> Playthrough:
    """Play an episode the env has just reset to its end, the agent seeded with the episode seed."""
    agent.reset(seed=seed)
    invalid = 0
    while True:
        action = agent.act(observation, info)
        observation, _, terminated, truncated, info = env.step(action)
        invalid += info["action"] == "Invalid"
        if terminated or truncated:
            return Playthrough(info, action, invalid, bool(truncated))


def run_episode(env: Any, agent: Any, seed: int | None = None, options: dict | None = None) -> EpisodeResult:
    """Play one episode to its end (the env is left there, ready to render)."""
    observation, info = env.reset(seed=seed, options=options)
    end = play(env, agent, observation, info, seed)
    info = end.info
    calls = Counter(r["name"] for r in info["tool_results"])
    correct = bool(env.unwrapped.task.bench_fields(info)["correct"])
    return EpisodeResult(info["sample_id"], info["ground_truth"], info.get("answer"), info["reward"], info["turn"],
                         correct, dict(calls), end.invalid_turns, end.truncated)


def summarize(results: Iterable[EpisodeResult]) -> dict[str, float]:
    """Accuracy, mean reward and each component, tool calls and turns per episode."""
    results = list(results)
    if not results:
        return {"episodes": 0}
    keys = results[0].reward.keys()
    out: dict[str, float] = {
        "episodes": len(results),
        "accuracy": float(np.mean([r.correct for r in results])),
        "mean_reward": float(np.mean([r.reward["total"] for r in results])),
        "tool_calls_per_episode": float(np.mean([sum(r.tool_calls.values()) for r in results])),
        "turns_per_episode": float(np.mean([r.turns for r in results])),
        "invalid_rate": float(sum(r.invalid_turns for r in results) / max(sum(r.turns for r in results), 1)),
        "truncated_rate": float(np.mean([r.truncated for r in results])),
    }
    for key in keys:
        if key != "total":
            out[f"reward_{key}"] = float(np.mean([r.reward[key] for r in results]))
    return out
