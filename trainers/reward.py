"""verl's custom reward function: the env's reward on a response string, for each task.

Point verl at it with `custom_reward_function.path=<this file>` and `custom_reward_function.name=
compute_score`. It scores the final turn of `solution_str` with the same code the env pays, for
single-turn training and as a fallback when the agent loop's own `reward_score` is absent. The
row's task (extra_info["task"], written by `videostar verl-data`; rows without one are action
recognition) chooses the reward, and the task is built with the row's options (extra_info["task_options"],
JSON: the reasoning tags, and spatiotemporal's graph tag and prompt; rows without them get the defaults), so
R_format reads the same reasoning form as the env that wrote the row:

- action_recognition: videostar_env.tasks.action_recognition.reward.score against the label
  (ground_truth). The tool term needs the episode's tool calls: pass them as
  `extra_info["tool_log"]` (a list of {"name", "arguments", "ok"}); without them R_tool is 0.
- spatiotemporal: the task's own SpatioTemporal.score_question (what the env pays), against the question
  (extra_info["question"]) and the true relation graph (ground_truth: the task's ground truth as
  JSON, with "graph", None for a benchmark's real video, and "benchmark"). A final turn that is not an
  answer earns every term 0, as a truncated episode does.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from videostar_env.actions import Answer, parse
from videostar_env.perception.relation_graph import RelationGraph
from videostar_env.tasks import make_task
from videostar_env.tasks.action_recognition.reward import RewardConfig, score
from videostar_env.tools import ToolCallRecord

TOOL_RESPONSE_END = "</tool_response>"


def final_turn(solution_str: str) -> str:
    """The text after the last tool response (the whole string for a single-turn response)."""
    return solution_str.rsplit(TOOL_RESPONSE_END, 1)[-1].strip()


def _json(value: Any, what: str) -> Any:
    """A JSON field of a row (parquet keeps nested fields as JSON strings), or the value itself."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{what} must be JSON, got {value[:80]!r}: {exc}") from exc
    return value


def _terms(breakdown: Mapping[str, float]) -> dict[str, float]:
    """A breakdown dict ({"total", terms...}) as compute_score's {"score", terms...}."""
    terms = {k: float(v) for k, v in breakdown.items()}
    return {"score": terms.pop("total"), **terms}


def _task(name: str, extra_info: Mapping[str, Any]) -> Any:
    """The row's task built with its options (extra_info["task_options"], a dict or its JSON)."""
    options = _json(extra_info.get("task_options") or {}, "extra_info['task_options']") or {}
    if not isinstance(options, Mapping):
        raise ValueError(f"extra_info['task_options'] must be a JSON object of the task's options, got {options!r}")
    return make_task(name, **options)


def _action_recognition(solution_str: str, ground_truth: str, extra_info: Mapping[str, Any]) -> dict[str, float]:
    task = _task("action_recognition", extra_info)
    tool_log = [ToolCallRecord(t["name"], dict(t.get("arguments") or {}), bool(t.get("ok", True)))
                for t in extra_info.get("tool_log") or ()]
    breakdown = score(final_turn(solution_str), ground_truth, aliases=tuple(extra_info.get("aliases") or ()),
                      definition=extra_info.get("definition") or "", tool_log=tool_log,
                      config=RewardConfig(**(extra_info.get("reward") or {})), reasoning=task.reasoning)
    return _terms(breakdown.as_dict())


def _spatiotemporal(solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any]) -> dict[str, float]:
    truth = _json(ground_truth, "ground_truth")
    if not isinstance(truth, Mapping) or "answer" not in truth:
        raise ValueError("a spatiotemporal row's ground_truth is the task's ground truth as JSON (its answer, and the "
                         "true relation graph under 'graph'; videostar verl-data writes it); got "
                         f"{str(ground_truth)[:80]!r}")
    if not extra_info.get("question"):
        raise ValueError("a spatiotemporal row needs extra_info['question'] (the sample's question; videostar "
                         "verl-data writes it)")
    question = _json(extra_info["question"], "extra_info['question']")
    task = _task("spatiotemporal", extra_info)
    reward = extra_info.get("reward") or None  # fields (a dict or its JSON) or an ablation name
    if isinstance(reward, str) and reward.lstrip().startswith("{"):
        reward = _json(reward, "extra_info['reward']")
    action = parse(final_turn(solution_str), "hermes", bare_answers=task.bare_answers, reasoning=task.reasoning)
    if not isinstance(action, Answer):
        return _terms(task.zero_reward())
    graph = RelationGraph.from_json(truth["graph"]) if truth.get("graph") else None  # None: a real video's question
    breakdown = task.score_question(task.parse_answer(action), question, graph, task.reward_config(reward),
                                    truth.get("benchmark") or "scenes")
    return _terms(breakdown.as_dict())


SCORERS = {"action_recognition": _action_recognition, "spatiotemporal": _spatiotemporal}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None,
                  **kwargs: Any) -> dict[str, float]:
    """{"score": the total reward, and each term of the row's task}.

    action_recognition: accuracy, format, tool, submotion, tool_cost. extra_info may hold "aliases" (other
    names of the label), "definition" (the label's knowledge-base text, for R_sub), "tool_log" and "reward"
    (RewardConfig fields, e.g. an ablation).
    spatiotemporal: format, answer, node, edge, length, consistency. extra_info holds "question" and may hold
    "reward" (GraphRewardConfig fields or an ablation name).
    Both: extra_info may hold "task_options" (the task's options, e.g. {"reasoning": "qwen3"}).
    """
    extra_info = extra_info or {}
    task = extra_info.get("task") or "action_recognition"
    if task not in SCORERS:
        raise ValueError(f"compute_score scores {sorted(SCORERS)} rows, not task {task!r} ({data_source}); "
                         "train that task with the agent loop, whose env pays the reward")
    return SCORERS[task](solution_str, ground_truth, extra_info)
