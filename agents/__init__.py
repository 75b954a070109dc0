"""Policies for the VideoSTAR environments, chosen by name or import path ("package.module:Class")."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .base import Agent
from .scripted import HeuristicAgent, NoToolAgent, OracleAgent, RandomAgent

AGENTS: dict[str, Callable[..., Agent]] = {
    "random": RandomAgent,
    "no-tool": NoToolAgent,
    "heuristic": HeuristicAgent,
    "oracle": OracleAgent,
}


def make_agent(spec: str, **kwargs: Any) -> Agent:
    """An agent from a registered name or a "module:attribute" import path, built with kwargs."""
    if spec in AGENTS:
        return AGENTS[spec](**kwargs)
    if ":" not in spec:
        raise KeyError(f"unknown agent {spec!r}; registered: {sorted(AGENTS)}, or give an import path 'module:Class'")
    module, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise KeyError(f"cannot import agent {spec!r}: {exc}") from exc
    return factory(**kwargs)


__all__ = ["AGENTS", "Agent", "HeuristicAgent", "NoToolAgent", "OracleAgent", "RandomAgent", "make_agent"]
