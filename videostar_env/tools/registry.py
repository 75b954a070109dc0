"""The tool registry: built-ins, tools registered in code, and tools other packages declare.

Another package adds tools with an entry point in the group "videostar_env.tools" whose
object is a Tool instance or a zero-argument factory returning one.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, Iterable, Union

from .base import Tool

ENTRY_POINT_GROUP = "videostar_env.tools"

ToolFactory = Callable[[], Tool]
_REGISTRY: dict[str, ToolFactory] = {}
_entry_points_loaded = False


def register_tool(tool: Union[Tool, ToolFactory], name: str | None = None, overwrite: bool = False) -> None:
    """Make a tool (or a factory of tools) available by name to gym.make(..., tools=[...])."""
    # A class also looks like a Tool to isinstance (it has the attributes and is callable).
    is_instance = isinstance(tool, Tool) and not isinstance(tool, type)
    factory = (lambda: tool) if is_instance else tool
    key = name or getattr(tool, "name", None) or factory().name
    if key in _REGISTRY and not overwrite:
        raise ValueError(f"a tool named {key!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[key] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            register_tool(ep.load(), name=ep.name)


def registered_tools() -> list[str]:
    """Names of every tool that can be chosen."""
    _load_entry_points()
    return sorted(_REGISTRY)


def make_tools(names: Iterable[Union[str, Tool]]) -> list[Tool]:
    """Tool instances for these names (Tool objects pass through); KeyError lists what exists."""
    _load_entry_points()
    tools = []
    for item in names:
        if isinstance(item, Tool) and not isinstance(item, type):
            tools.append(item)
            continue
        if item not in _REGISTRY:
            raise KeyError(f"unknown tool {item!r}; registered tools: {sorted(_REGISTRY)}")
        tools.append(_REGISTRY[item]())
    duplicates = {t.name for t in tools if sum(u.name == t.name for u in tools) > 1}
    if duplicates:
        raise ValueError(f"tools chosen twice: {sorted(duplicates)}")
    return tools
