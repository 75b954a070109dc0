"""Policies for the VideoSTAR environments, chosen by name or import path ("package.module:Class")."""

from __future__ import annotations

from typing import Any

from videostar_env.registry import Registry

from .base import Agent, BatchAgent
from .scripted import HeuristicAgent, NoToolAgent, OracleAgent, RandomAgent
from .spatial import GraphReaderAgent, GuessAgent



def _qwen_vl(**kwargs: Any) -> Agent:
    from .qwen_vl import QwenVLAgent  # transformers and torch load only when asked for

    return QwenVLAgent(**kwargs)


def _openai(**kwargs: Any) -> Agent:
    from .openai_chat import OpenAIChatAgent

    return OpenAIChatAgent(**kwargs)


# Other packages add agents with entry points in the group "videostar_env.agents".
AGENTS: Registry[Agent] = Registry("agent", "videostar_env.agents")
for _name, _factory in {
    "random": RandomAgent,
    "no-tool": NoToolAgent,
    "heuristic": HeuristicAgent,
    "oracle": OracleAgent,
    "graph-reader": GraphReaderAgent,  # spatio-temporal questions: reads the relation_graph tool
    "guess": GuessAgent,  # spatio-temporal questions: answers without tools (chance)
    "qwen-vl": _qwen_vl,  # model=<folder or hub id>: Qwen2.5-VL, Qwen3-VL or any image-text-to-text chat model
    "openai": _openai,  # base_url=..., model=...
}.items():
    AGENTS.register(_name, _factory)


def make_agent(spec: str, **kwargs: Any) -> Agent:
    """An agent from a registered name or a "module:attribute" import path, built with kwargs."""
    return AGENTS.make(spec, **kwargs)


__all__ = ["AGENTS", "Agent", "BatchAgent", "GraphReaderAgent", "GuessAgent", "HeuristicAgent", "NoToolAgent", "OracleAgent", "RandomAgent", "make_agent"]
