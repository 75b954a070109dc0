"""Policies for the VideoSTAR environments, chosen by name or import path ("package.module:Class")."""

from __future__ import annotations

from typing import Any

from videostar_env.jobs.agents import AGENTS, make_agent

from .base import Agent, BatchAgent
from .clip_reader import ClipReaderAgent
from .scripted import HeuristicAgent, NoToolAgent, OracleAgent, RandomAgent
from .spatial import GraphReaderAgent, GuessAgent


def qwen_vl_agent(**kwargs: Any) -> Agent:
    """A QwenVLAgent; transformers and torch load only when one is asked for."""
    from .qwen_vl import QwenVLAgent

    return QwenVLAgent(**kwargs)


def openai_agent(**kwargs: Any) -> Agent:
    """An OpenAIChatAgent; the openai client loads only when one is asked for."""
    from .openai_chat import OpenAIChatAgent

    return OpenAIChatAgent(**kwargs)


# AGENTS lives in videostar_env (jobs/agents.py); this package's agents reach it through the entry points of the
# group "videostar_env.agents" in setup.cfg, as any other package's do: random, no-tool, heuristic, oracle,
# clip-reader (pose, then a dense video_clip whose frames it reads), graph-reader and guess (spatio-temporal
# questions), qwen-vl (model=<folder or hub id>), openai (base_url, model).


__all__ = ["AGENTS", "Agent", "BatchAgent", "ClipReaderAgent", "GraphReaderAgent", "GuessAgent", "HeuristicAgent",
           "NoToolAgent", "OracleAgent", "RandomAgent", "make_agent", "openai_agent", "qwen_vl_agent"]
