"""The agent registry: policies that play the envs, registered by other packages through entry points.

The env package never imports an agents package: videostar_agents (and any other package) declares its
agents in the entry-point group "videostar_env.agents"; an import path "module:Class" works too.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

AGENTS: Registry[Any] = Registry("agent", "videostar_env.agents")


def make_agent(spec: str, **kwargs: Any) -> Any:
    """An agent from a registered name or a "module:attribute" import path, built with kwargs."""
    return AGENTS.make(spec, **kwargs)


__all__ = ["AGENTS", "make_agent"]
