"""Tools the agent can call: the protocol, the registry, the toolbox that runs them, and the built-ins (people, objects,
video_clip)."""

from .base import Tool, ToolCallRecord, ToolContext, ToolError, ToolResult, schema, validate_arguments
from .people import PEOPLE_TOOLS, ActionExplanation, HumanDetection, PoseEstimation, VideoDescription
from .objects import OBJECT_TOOLS, ObjectDetection, ObjectTracking, RelationGraphTool
from .clip import CLIP_TOOLS, VideoClip
from .registry import ENTRY_POINT_GROUP, TOOLS, make_tools, register_tool, registered_tools
from .toolbox import Toolbox

for _cls in (*PEOPLE_TOOLS, *OBJECT_TOOLS, *CLIP_TOOLS):
    register_tool(_cls, name=_cls.name, overwrite=True)

DEFAULT_TOOLS: tuple[str, ...] = tuple(cls.name for cls in PEOPLE_TOOLS)

__all__ = ["ActionExplanation", "CLIP_TOOLS", "DEFAULT_TOOLS", "ENTRY_POINT_GROUP", "HumanDetection", "OBJECT_TOOLS",
           "ObjectDetection", "ObjectTracking", "PEOPLE_TOOLS", "PoseEstimation", "RelationGraphTool", "TOOLS", "Tool",
           "ToolCallRecord", "ToolContext", "ToolError", "ToolResult", "Toolbox", "VideoClip", "VideoDescription",
           "make_tools", "register_tool", "registered_tools", "schema", "validate_arguments"]
