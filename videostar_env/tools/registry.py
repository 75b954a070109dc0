"""The tool registry: built-ins, tools registered in code, and tools other packages declare.

Another package adds tools with an entry point in the group "videostar_env.tools" whose
object is a Tool instance or a zero-argument factory returning one.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Union

from ..registry import Registry
from .base import Tool

ENTRY_POINT_GROUP = "videostar_env.tools"

ToolFactory = Callable[[], Tool]


def _is_instance(obj: Any) -> bool:
    # A class also looks like a Tool to isinstance (it has the attributes and is callable).
    return isinstance(obj, Tool) and not isinstance(obj, type)


def _as_factory(obj: Union[Tool, ToolFactory]) -> ToolFactory:
    return (lambda: obj) if _is_instance(obj) else obj


TOOLS: Registry[Tool] = Registry("tool", ENTRY_POINT_GROUP, as_factory=_as_factory)


def register_tool(tool: Union[Tool, ToolFactory], name: str | None = None, overwrite: bool = False) -> None:
    """Make a tool (or a factory of tools) available by name to gym.make(..., tools=[...])."""
    key = name or getattr(tool, "name", None) or _as_factory(tool)().name
    TOOLS.register(key, tool, overwrite=overwrite)


def registered_tools() -> list[str]:
    """Names of every tool that can be chosen."""
    return TOOLS.names()


def make_tools(names: Iterable[Union[str, Tool]]) -> list[Tool]:
    """Tool instances for these names (Tool objects pass through); KeyError lists what exists."""
    if isinstance(names, str):
        raise TypeError(f"tools must be a list of tool names, got the string {names!r}; write [{names!r}]")
    tools = [item if _is_instance(item) else TOOLS.make(item) for item in names]
    duplicates = {t.name for t in tools if sum(u.name == t.name for u in tools) > 1}
    if duplicates:
        raise ValueError(f"tools chosen twice: {sorted(duplicates)}")
    return tools
