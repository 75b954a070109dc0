"""The Tool protocol: what a tool is, what it gets, what it returns, and how its arguments are checked."""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import jsonschema
import numpy as np

from ..backends import KINDS, Backends
from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..errors import ToolError
from ..knowledge import KnowledgeBase


@dataclass
class ToolResult:
    """What a tool returns: text for the model, images and videos to show it, and structured data for programs."""

    text: str
    images: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8, the episode's frame size
    data: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable
    # Clips shown as videos, frames at the episode's frame size, each with its source frame indices and fps
    videos: list[Clip] = field(default_factory=list)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A result cached before a field existed (a disk cache outlives upgrades) reads back with its default.
        self.__dict__.update({f.name: f.default_factory() for f in fields(self)
                              if f.name not in state and f.default_factory is not MISSING}, **state)


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
    """A callable the agent can invoke by name with JSON arguments; its optional attributes are in OPTIONAL."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments (an "object" schema)

    def __call__(self, ctx: ToolContext, **arguments: Any) -> ToolResult: ...


# The optional attributes of a Tool and their defaults: the one place they are read with (`option`).
OPTIONAL: dict[str, Any] = {
    # what the result depends on among "video", the backend kinds and "knowledge"; None (undeclared): the cache keys
    # on the video and every backend, and the env checks no backend against the dataset for it
    "uses": None,
    "version": "0",  # part of the cache key besides the tool's code: bump it when an outside input changes the output
    "cacheable": True,  # False: every call runs afresh (a tool whose result must not be reused)
    "shorten": None,  # shorten(data, fits) -> str | None: the longest reply built from the data that fits a budget
    # <kind>_tasks: the models of that backend kind the tool calls (vision: "detect", "pose"; objects: "detect",
    # "track"), loaded when the env is made
    **{f"{kind}_tasks": () for kind in KINDS},
}


def option(tool: Tool, name: str) -> Any:
    """The tool's optional attribute `name`, or its default from OPTIONAL."""
    return getattr(tool, name, OPTIONAL[name])


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


@dataclass
class ToolCallRecord:
    """One tool call: what was asked and what came back (the text is an error message when not ok).

    The one record of a call: the episode keeps a list of them, and the chat messages, the dialogue,
    the tool images and videos, the reward's tool log and info["tool_results"] are all derived from that list.
    """

    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str = ""
    images: list[np.ndarray] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    videos: list[Clip] = field(default_factory=list)  # the clips the tool returned, shown after its images
    cached: bool = False  # a result this call did not compute: from the cache, or shared (failures never are)
    shared: bool = False  # the outcome of an identical call that was running at the same time in this process

    @property
    def key(self) -> str:
        """Tool and canonical arguments: two calls with the same key are redundant."""
        return self.name + json.dumps(self.arguments, sort_keys=True, separators=(",", ":"), default=str)

    def as_dict(self) -> dict[str, Any]:
        """The record as info["tool_results"] shows it (images and videos are in the messages and the observation)."""
        return {"name": self.name, "arguments": self.arguments, "ok": self.ok, "text": self.text,
                "data": self.data, "cached": self.cached, "shared": self.shared}
