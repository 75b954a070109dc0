"""Tools the agent can call: the protocol, the registry, and the built-ins."""

from .base import Tool, ToolContext, ToolError, ToolResult, schema, validate_arguments
from .people import BUILTIN_TOOLS, ActionExplanation, HumanDetection, PoseEstimation, VideoDescription
from .objects import OBJECT_TOOLS, ObjectDetection, ObjectTracking, RelationGraphTool
from .registry import ENTRY_POINT_GROUP, TOOLS, make_tools, register_tool, registered_tools
from .runner import ToolCallRecord, run_tool
from .toolbox import Toolbox

for _cls in (*BUILTIN_TOOLS, *OBJECT_TOOLS):
    register_tool(_cls, name=_cls.name, overwrite=True)

DEFAULT_TOOLS: tuple[str, ...] = tuple(cls.name for cls in BUILTIN_TOOLS)

__all__ = ["ActionExplanation", "BUILTIN_TOOLS", "DEFAULT_TOOLS", "ENTRY_POINT_GROUP", "HumanDetection", "OBJECT_TOOLS",
           "ObjectDetection", "ObjectTracking", "RelationGraphTool",
           "PoseEstimation", "TOOLS", "Tool", "ToolCallRecord", "ToolContext", "ToolError", "ToolResult", "Toolbox",
           "VideoDescription", "make_tools", "register_tool", "registered_tools", "run_tool", "schema", "validate_arguments"]
