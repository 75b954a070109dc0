"""DiscreteToolActions: the text action space as Discrete(tools + candidates), for classic RL agents."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces

from ..actions import Answer, ToolCall, parse, tool_call, tool_decisions
from ..tasks.action_recognition import answer
from ..perception.kinematics import observed_submotions


def max_candidates(dataset: Any) -> int:
    """The most candidate labels an episode of this dataset can have (its label space)."""
    label_space = getattr(dataset, "label_space", None) or dataset[0].label_space
    return len(label_space)


class DiscreteToolActions(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Action i < T calls the env's i-th tool with default arguments; action T + k answers the k-th candidate.

    Each choice becomes the canonical text turn an LLM policy would write, so the env parses and
    rewards it on the same path. An answer lists the sub-motions the pose tool showed, if it was
    called, ranked by the chosen label's definition, if action_explanation was called: the
    evidence the agent gathered, nothing it did not. info gains "action_text".
    """

    def __init__(self, env: gym.Env, num_candidates: int | None = None):
        gym.utils.RecordConstructorArgs.__init__(self, num_candidates=num_candidates)  # so gym.make(env.spec) rebuilds it
        gym.Wrapper.__init__(self, env)
        base = env.unwrapped
        self.tool_names: tuple[str, ...] = tuple(base.toolbox.names)
        self.num_candidates = num_candidates or max_candidates(base.dataset)  # default: the dataset's label space
        self.action_space = spaces.Discrete(len(self.tool_names) + self.num_candidates)
        self._info: dict[str, Any] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Reset the env and remember the episode's candidates."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._info = info
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Translate the choice into its text turn and step the env with it."""
        text = self.action_text(int(action))
        obs, reward, terminated, truncated, info = self.env.step(text)
        info["action_text"] = text
        self._info = info
        return obs, reward, terminated, truncated, info

    def action_text(self, action: int) -> str:
        """The text turn for a discrete action in the current episode."""
        if self._info is None:
            raise RuntimeError("call reset() before choosing actions")
        if not 0 <= action < self.action_space.n:
            raise ValueError(f"action {action} is outside Discrete({self.action_space.n})")
        if action < len(self.tool_names):
            name = self.tool_names[action]
            return tool_decisions([name]) if self._info["action_format"] == "videostar" else tool_call(name)
        k = action - len(self.tool_names)
        candidates = self._info["candidates"]
        if k >= len(candidates):  # a shorter label space this episode: a well-formed answer naming no candidate
            return answer(f"no candidate {k + 1}")
        label = candidates[k]
        ok = {r["name"]: r["data"] for r in self._info["tool_results"] if r["ok"]}
        expected = ok.get("action_explanation", {}).get("submotions", {}).get(label, [])
        return answer(label, observed_submotions(ok.get("pose_estimation", {}), expected))

    def action_index(self, text: str) -> int | None:
        """The discrete action a text turn amounts to (one tool call or one candidate answer), else None."""
        if self._info is None:
            raise RuntimeError("call reset() before mapping text to actions")
        parsed = parse(text, self._info["action_format"])
        if isinstance(parsed, ToolCall) and len(parsed.calls) == 1 and parsed.calls[0].name in self.tool_names:
            return self.tool_names.index(parsed.calls[0].name)
        if isinstance(parsed, Answer) and parsed.label in self._info["candidates"]:
            return len(self.tool_names) + list(self._info["candidates"]).index(parsed.label)
        return None
