"""Tools the agent can call: the protocol, the registry, and the built-ins."""

from .base import Tool, ToolContext, ToolError, ToolResult, schema, validate_arguments
from .builtin import BUILTIN_TOOLS, ActionExplanation, HumanDetection, PoseEstimation, VideoDescription
from .registry import ENTRY_POINT_GROUP, make_tools, register_tool, registered_tools

for _cls in BUILTIN_TOOLS:
    register_tool(_cls, name=_cls.name, overwrite=True)

DEFAULT_TOOLS: tuple[str, ...] = tuple(cls.name for cls in BUILTIN_TOOLS)

__all__ = ["ActionExplanation", "BUILTIN_TOOLS", "DEFAULT_TOOLS", "ENTRY_POINT_GROUP", "HumanDetection",
           "PoseEstimation", "Tool", "ToolContext", "ToolError", "ToolResult", "VideoDescription", "make_tools",
           "register_tool", "registered_tools", "schema", "validate_arguments"]
