"""Scripted baselines: random, no-tool (chance), tool-using heuristic, and a ground-truth oracle."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from videostar_env import answer, tool_call, tool_decisions
from videostar_env.perception.kinematics import observed_submotions


def _tool_names(info: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in info["tools"]]


def _episode_rng(seed: int, info: dict[str, Any]) -> np.random.Generator:
    """An RNG fixed by the agent seed and the video, so runs are reproducible whatever the order."""
    return np.random.default_rng([seed, zlib.crc32(info["sample_id"].encode())])


class RandomAgent:
    """Random turns: tool calls with random (sometimes invalid) arguments, garbage text, or a random answer."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed from (agent seed, episode seed) when the episode has a seed, so runs match in any order."""
        if seed is not None:
            self._rng = np.random.default_rng([self.seed, seed])

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """One random turn."""
        choice = self._rng.integers(4)
        tools = _tool_names(info)
        if choice == 0 and tools:
            args = {} if self._rng.random() < 0.7 else {"max_images": int(self._rng.integers(-2, 12))}
            return tool_call(str(self._rng.choice(tools)), **args)
        if choice == 1:
            return "".join(chr(int(c)) for c in self._rng.integers(32, 127, int(self._rng.integers(0, 80))))
        label = str(self._rng.choice(info["candidates"]))
        return answer(label, [("Body", "moves")])


class NoToolAgent:
    """Answers at once without tools or perception: a uniformly random candidate (the chance baseline)."""

    name = "no-tool"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: choices depend on the agent seed and the video only."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """A well-formed answer naming a random candidate."""
        label = str(_episode_rng(self.seed, info).choice(info["candidates"]))
        return answer(label, [("Body", "moves in the frames")], [(label, 0.5, "no tool evidence")])


def signature_match(features: dict[str, float], signature: dict[str, list[float]]) -> float:
    """How well measured features fit a class signature, 0..1 (1: every feature inside its range)."""
    if not signature:
        return 0.0
    total = 0.0
    for name, (low, high) in signature.items():
        value = features.get(name)
        if value is None:
            continue
        width = max(high - low, 1e-3)
        outside = max(low - value, value - high, 0.0) / width
        total += math.exp(-3.0 * outside)
    return total / len(signature)


class HeuristicAgent:
    """Calls pose estimation and action explanation, then matches the kinematics to each candidate's signature."""

    name = "heuristic"
    TOOLS = ("pose_estimation", "action_explanation")
    meaningful_on = ("synthetic",)  # it knows the synthetic classes' motion signatures; elsewhere it is chance

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the plan follows from info["tool_results"]."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Next tool to call, or the answer once the evidence is in."""
        available = [t for t in self.TOOLS if t in _tool_names(info)]
        called = {r["name"] for r in info["tool_results"]}
        if info["action_format"] == "videostar":
            if info["turn"] == 0 and available:
                return tool_decisions(available, "Joint movements and the action definitions will separate similar actions.")
        else:
            for name in available:
                if name not in called:
                    return tool_call(name)
        return self._answer(info)

    def _answer(self, info: dict[str, Any]) -> str:
        ok = {r["name"]: r["data"] for r in info["tool_results"] if r["ok"]}
        pose = ok.get("pose_estimation", {})
        knowledge = ok.get("action_explanation", {})
        features, signatures = pose.get("features", {}), knowledge.get("signatures", {})
        candidates = info["candidates"]
        if features and any(signatures.get(c) for c in candidates):
            scores = {c: signature_match(features, signatures.get(c, {})) for c in candidates}
        else:  # no usable evidence: fall back to a reproducible guess
            rng = _episode_rng(self.seed, info)
            scores = {c: float(v) for c, v in zip(candidates, rng.random(len(candidates)))}
        ranked = sorted(candidates, key=lambda c: -scores[c])[:3]
        best = ranked[0]
        reasons = [(c, scores[c], "kinematic signature fit") for c in ranked]
        return answer(best, observed_submotions(pose, knowledge.get("submotions", {}).get(best, [])), reasons)


class OracleAgent:
    """Reads the ground truth from info and answers it with the knowledge base's sub-motions: the reward's upper bound."""

    name = "oracle"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: choices depend on the agent seed and the video only."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Ask for the true label's explanation (one tool call), then answer with its sub-motions."""
        label = info["ground_truth"]["label"]
        explained = [r for r in info["tool_results"] if r["name"] == "action_explanation" and r["ok"]]
        if "action_explanation" in _tool_names(info) and not explained:
            if info["action_format"] == "videostar":
                return tool_decisions(["action_explanation"])
            return tool_call("action_explanation", labels=[label])
        parts = explained[0]["data"].get("submotions", {}).get(label, []) if explained else []
        sub = [(p, m) for p, m in parts] or [("Body", "moves")]
        return answer(label, sub, [(label, 1.0, "ground truth")])
