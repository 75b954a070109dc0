"""Running one tool call: look it up, check its arguments, use the cache, turn failures into messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .base import Tool, ToolContext, ToolError, validate_arguments
from .cache import ToolCache, cacheable, tool_key


@dataclass
class ToolOutcome:
    """What one call produced: the message text (an error message if not ok), images and data."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str
    images: list[np.ndarray] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    cached: bool = False  # served from the cache without running the tool


def run_tool(tools: Mapping[str, Tool], name: str, arguments: dict[str, Any], ctx: ToolContext,
             cache: ToolCache | None = None) -> ToolOutcome:
    """Run a tool by name; never raises for a bad call or a failing tool, the outcome says what went wrong."""
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
        return ToolOutcome(name, arguments, True, result.text, list(result.images), result.data, cached)
    except ToolError as exc:
        return ToolOutcome(name, arguments, False, f"Error: {exc}")
    except Exception as exc:  # a broken tool must not end the episode; report it instead
        return ToolOutcome(name, arguments, False, f"Error: tool {name!r} failed with {type(exc).__name__}: {exc}")
