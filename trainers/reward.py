"""verl's custom reward function: the env's hierarchical reward on a response string.

Point verl at it with `custom_reward_function.path=<this file>` and `custom_reward_function.name=
compute_score`. It scores the final turn of `solution_str` with videostar_env.reward.score, the
same code the env pays, for single-turn training and as a fallback when the agent loop's own
`reward_score` is absent. The tool term needs the episode's tool calls: pass them as
`extra_info["tool_log"]` (a list of {"name", "arguments", "ok"}); without them R_tool is 0.
"""

from __future__ import annotations

from typing import Any

from videostar_env.tasks.action_recognition.reward import RewardConfig, score
from videostar_env.tools.runner import ToolCallRecord

TOOL_RESPONSE_END = "</tool_response>"


def final_turn(solution_str: str) -> str:
    """The text after the last tool response (the whole string for a single-turn response)."""
    return solution_str.rsplit(TOOL_RESPONSE_END, 1)[-1].strip()


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict[str, Any] | None = None,
                  **kwargs: Any) -> dict[str, float]:
    """{"score": the total reward, and each term}: accuracy, format, tool, submotion, tool_cost.

    extra_info may hold "aliases" (other names of the label), "definition" (the label's
    knowledge-base text, for R_sub), "tool_log" and "reward" (RewardConfig fields, e.g. an ablation).
    """
    extra_info = extra_info or {}
    tool_log = [ToolCallRecord(t["name"], dict(t.get("arguments") or {}), bool(t.get("ok", True)))
                for t in extra_info.get("tool_log") or ()]
    breakdown = score(final_turn(solution_str), ground_truth, aliases=tuple(extra_info.get("aliases") or ()),
                      definition=extra_info.get("definition") or "", tool_log=tool_log,
                      config=RewardConfig(**(extra_info.get("reward") or {})))
    terms = breakdown.as_dict()
    return {"score": terms.pop("total"), **terms}
