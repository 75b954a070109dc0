"""videostar-env: open-vocabulary video action recognition with tools, as Gymnasium environments.

    import gymnasium as gym
    import videostar_env  # registers the VideoSTAR-* ids
    env = gym.make("VideoSTAR-v0")
"""

from __future__ import annotations

import gymnasium as gym

from .actions import Action, Answer, Call, Invalid, ToolCall, answer, parse, tool_call, tool_decisions
from .env import EnvConfig, OVAREnv, vector_kwargs
from .knowledge import ActionEntry, KnowledgeBase
from .reward import ABLATIONS, RewardBreakdown, RewardConfig, score
from .tools import Tool, ToolContext, ToolError, ToolResult, register_tool, registered_tools

__version__ = "0.1.0"

# id -> keyword arguments of OVAREnv (fields of EnvConfig).
ENV_IDS: dict[str, dict] = {
    "VideoSTAR-v0": {},  # hermes tool calls, all four tools, multi-turn
    "VideoSTAR-TwoTurn-v0": {"action_format": "videostar", "max_turns": 3},  # the official two-turn protocol
    "VideoSTAR-NoTools-v0": {"tools": ()},  # the paper's "w/o tools" setting: answer from the frames alone
}

for _id, _kwargs in ENV_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point="videostar_env.env:OVAREnv", kwargs=_kwargs)

# For classic RL agents: Discrete(tools + candidates) actions, feature-vector observations (see wrappers/).
WRAPPED_ENV_IDS: dict[str, str] = {"VideoSTAR-Discrete-v0": "videostar_env.wrappers:discrete_feature_env"}
for _id, _entry in WRAPPED_ENV_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)

__all__ = ["ABLATIONS", "Action", "ActionEntry", "Answer", "Call", "ENV_IDS", "EnvConfig", "Invalid", "KnowledgeBase",
           "OVAREnv", "RewardBreakdown", "RewardConfig", "Tool", "ToolCall", "ToolContext", "ToolError", "ToolResult",
           "WRAPPED_ENV_IDS", "answer", "parse", "register_tool", "registered_tools", "score", "tool_call", "tool_decisions",
           "vector_kwargs"]
