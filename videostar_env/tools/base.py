"""The Tool protocol: what a tool is, what it gets, what it returns, and how its arguments are checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import jsonschema
import numpy as np

from ..backends import Backends
from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..errors import ToolError
from ..knowledge import KnowledgeBase


@dataclass
class ToolResult:
    """What a tool returns: text for the model, images to show it, and structured data for programs."""

    text: str
    images: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8, the episode's frame size
    data: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable


@dataclass(frozen=True)
class ToolContext:
    """What a tool may look at: the episode's video, its candidates, knowledge and model backends."""

    sample: VideoSample
    clip: Clip
    candidates: tuple[str, ...]
    knowledge: KnowledgeBase
    backends: Backends


@runtime_checkable
class Tool(Protocol):
    """A callable the agent can invoke by name with JSON arguments.

    Optional attributes the tool cache reads (tools/cache.py): `uses`, what the result depends
    on among "video", the backend kinds and "knowledge" (default: the video and all backends); `version`, bumped when the output changes (default "0");
    `cacheable = False` for a tool whose result must not be reused.
    """

    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments (an "object" schema)

    def __call__(self, ctx: ToolContext, **arguments: Any) -> ToolResult: ...


def schema(tool: Tool) -> dict[str, Any]:
    """The tool in OpenAI function format, as Qwen's chat template and verl expect it."""
    return {"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}


def validate_arguments(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments checked against the tool's schema, with schema defaults filled in; ToolError if invalid."""
    validator = jsonschema.Draft202012Validator(tool.parameters)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            (f"'{'.'.join(str(p) for p in e.absolute_path)}': " if e.absolute_path else "") + e.message for e in errors[:3])
        raise ToolError(f"invalid arguments for {tool.name}: {details}. Expected schema: {tool.parameters}")
    filled = dict(arguments)
    for key, spec in tool.parameters.get("properties", {}).items():
        if key not in filled and "default" in spec:
            filled[key] = spec["default"]
    return filled
