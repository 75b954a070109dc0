"""The agent registry: policies that play the envs, registered by other packages through entry points.

The env package never imports an agents package: videostar_agents (and any other package) declares its
agents in the entry-point group "videostar_env.agents"; an import path "module:Class" works too.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

AGENTS: Registry[Any] = Registry("agent", "videostar_env.agents")


def agent_caveat(agent: str, dataset: str) -> str | None:
    """A plain sentence when the agent means nothing on this dataset: an agent class may name the datasets its
    answers mean something on (`meaningful_on`, e.g. the heuristic agent: the synthetic one)."""
    try:
        only = getattr(AGENTS.factory(agent), "meaningful_on", None)
    except KeyError:
        return None
    if not only or dataset in only:
        return None
    return (f"the {agent} agent is only meaningful on the {' and '.join(only)} dataset: on {dataset} its answers do "
            "not follow what the videos show (about chance), so these scores say nothing about the videos; "
            "evaluate them with a model agent (--agent qwen-vl or openai)")


def make_agent(spec: str, **kwargs: Any) -> Any:
    """An agent from a registered name or a "module:attribute" import path, built with kwargs."""
    return AGENTS.make(spec, **kwargs)


__all__ = ["AGENTS", "agent_caveat", "make_agent"]
