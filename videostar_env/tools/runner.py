"""Running one tool call: look it up, check its arguments, use the cache, turn failures into a record.

A ToolCallRecord is the one record of a call. The episode keeps a list of them; the chat
messages, the dialogue, the tool images, the reward's tool log and info["tool_results"] are
all derived from that list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .base import Tool, ToolContext, ToolError, validate_arguments
from .cache import ToolCache, cacheable, tool_key


@dataclass
class ToolCallRecord:
    """One tool call: what was asked and what came back (the text is an error message when not ok)."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str = ""
    images: list[np.ndarray] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    cached: bool = False  # served from the cache without running the tool

    @property
    def key(self) -> str:
        """Tool and canonical arguments: two calls with the same key are redundant."""
        return self.name + json.dumps(self.arguments, sort_keys=True, separators=(",", ":"), default=str)

    def as_dict(self) -> dict[str, Any]:
        """The record as info["tool_results"] shows it (images are in the messages and the observation)."""
        return {"name": self.name, "arguments": self.arguments, "ok": self.ok, "text": self.text,
                "data": self.data, "cached": self.cached}


def run_tool(tools: Mapping[str, Tool], name: str, arguments: dict[str, Any], ctx: ToolContext,
             cache: ToolCache | None = None) -> ToolCallRecord:
    """Run a tool by name; never raises for a bad call or a failing tool, the record says what went wrong."""
    tool = tools.get(name)
    try:
        if tool is None:
            raise ToolError(f"unknown tool {name!r}; available tools: {sorted(tools)}")
        args = validate_arguments(tool, arguments)
        key = tool_key(tool, args, ctx) if cache is not None and cacheable(tool) else None
        result = cache.get(key) if key is not None else None
        cached = result is not None
        if not cached:
            result = tool(ctx, **args)
            if key is not None:
                cache.put(key, result)  # only successes: a failed call (a remote outage) is tried again next time
        return ToolCallRecord(name, arguments, True, result.text, list(result.images), result.data, cached)
    except ToolError as exc:
        return ToolCallRecord(name, arguments, False, f"Error: {exc}")
    except Exception as exc:  # a broken tool must not end the episode; report it instead
        return ToolCallRecord(name, arguments, False, f"Error: tool {name!r} failed with {type(exc).__name__}: {exc}")
