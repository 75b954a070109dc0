"""videostar-env: video reasoning with tools, as Gymnasium environments.

    import gymnasium as gym
    import videostar_env  # registers the VideoSTAR-* ids
    env = gym.make("VideoSTAR-v0")
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from .actions import Action, Answer, Call, Invalid, ToolCall, parse, tool_call, tool_decisions
from .core.config import EnvConfig
from .core.env import VideoToolEnv
from .jobs.vector import vector_kwargs
from .jobs.vector import make_vec
from .core.info import EpisodeInfo
from .knowledge import ActionEntry, KnowledgeBase
from .registry import Registry
from .tasks import TASKS, ActionRecognition, Task, make_task, register_task
from .tasks.action_recognition import (ABLATIONS, ActionAnswer, RewardBreakdown, RewardConfig, answer, parse_answer,
                                       score)
from .perception.graph_score import graph_score
from .perception.relation_graph import RelationGraph, build_graph
from .datasets.vsibench.scoring import mean_relative_accuracy
from .tools import Tool, ToolCallRecord, ToolContext, Toolbox, ToolError, ToolResult, register_tool, registered_tools

__version__ = "0.1.0"

ENV_ENTRY_POINT = "videostar_env.core.env:VideoToolEnv"
# id -> keyword arguments of VideoToolEnv (fields of EnvConfig).
ENV_IDS: dict[str, dict[str, Any]] = {}
# For classic RL agents: Discrete(tools + candidates) actions, feature-vector observations (see wrappers/).
WRAPPED_ENV_IDS: dict[str, str] = {}


def register_env(env_id: str, entry_point: str = ENV_ENTRY_POINT, **kwargs: Any) -> None:
    """Register a Gymnasium id: the core env with these EnvConfig fields, or another entry point (a wrapped env)."""
    if entry_point == ENV_ENTRY_POINT:
        ENV_IDS[env_id] = kwargs
    else:
        WRAPPED_ENV_IDS[env_id] = entry_point
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs)


register_env("VideoSTAR-v0")  # hermes tool calls, all four tools, multi-turn
register_env("VideoSTAR-TwoTurn-v0", action_format="videostar", max_turns=3)  # the official two-turn protocol
register_env("VideoSTAR-NoTools-v0", tools=())  # the paper's "w/o tools" setting: answer from the frames alone
register_env("VideoSTAR-Discrete-v0", entry_point="videostar_env.wrappers:discrete_feature_env")
# Video-STR: the paper's protocol (no tools, one answer turn with the graph in the reasoning; a turn that cannot
# be read at all gets one retry), and the same questions with the object tools, multi-turn.
STR = {"task": "spatiotemporal", "dataset": "scenes", "frame_size": (192, 256)}
register_env("VideoSTR-v0", **STR, tools=(), max_turns=2)
register_env("VideoSTR-Tools-v0", **STR)
# A benchmark's own protocol (STI-Bench, VSI-Bench): its prompt text, a bare letter or number as the answer.
register_env("VideoSTR-Official-v0", **STR, tools=(), max_turns=2, task_options={"prompt": "official"})
# A session of an env server (`videostar serve`), over HTTP: gym.make("videostar/Remote-v0", url=...).
if "videostar/Remote-v0" not in gym.registry:
    gym.register(id="videostar/Remote-v0", entry_point="videostar_env.server.client:RemoteVideoEnv")

__all__ = ["ABLATIONS", "Action", "ActionAnswer", "ActionEntry", "ActionRecognition", "Answer", "Call", "ENV_IDS",
           "EnvConfig", "EpisodeInfo", "RelationGraph", "build_graph", "graph_score", "mean_relative_accuracy", "Invalid", "KnowledgeBase", "Registry", "RewardBreakdown",
           "RewardConfig", "TASKS", "Task", "Tool", "ToolCall", "ToolCallRecord", "ToolContext", "ToolError",
           "ToolResult", "Toolbox", "VideoToolEnv", "WRAPPED_ENV_IDS", "answer", "make_task", "parse", "parse_answer",
           "make_vec", "register_env", "register_task", "register_tool", "registered_tools", "score", "tool_call",
           "tool_decisions", "vector_kwargs"]
