"""Running one tool call: look it up, check its arguments, use the cache, turn failures into a record.

A ToolCallRecord is the one record of a call. The episode keeps a list of them; the chat
messages, the dialogue, the tool images, the reward's tool log and info["tool_results"] are
all derived from that list.

Identical calls running at once in one process (the rollouts of a GRPO group, stepped in
executor threads on different envs) run once: the others wait and share the outcome.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..video.memo import InFlight
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
    cached: bool = False  # a result this call did not compute: from the cache, or shared (failures never are)
    shared: bool = False  # the outcome of an identical call that was running at the same time in this process

    @property
    def key(self) -> str:
        """Tool and canonical arguments: two calls with the same key are redundant."""
        return self.name + json.dumps(self.arguments, sort_keys=True, separators=(",", ":"), default=str)

    def as_dict(self) -> dict[str, Any]:
        """The record as info["tool_results"] shows it (images are in the messages and the observation)."""
        return {"name": self.name, "arguments": self.arguments, "ok": self.ok, "text": self.text,
                "data": self.data, "cached": self.cached, "shared": self.shared}


_FLIGHTS: InFlight[ToolCallRecord] = InFlight()  # the cacheable tool calls running in this process, by cache key


def run_tool(tools: Mapping[str, Tool], name: str, arguments: dict[str, Any], ctx: ToolContext,
             cache: ToolCache | None = None) -> ToolCallRecord:
    """Run a tool by name; never raises for a bad call or a failing tool, the record says what went wrong.

    Calls of a cacheable tool with the same cache key (and cache folder, or none) that run at the
    same time in this process run once, with or without a cache; the others wait and share its
    outcome, a failure too (each gets its own record, marked `shared`). A tool that sets
    `cacheable = False` runs for every call.
    """
    tool = tools.get(name)
    try:
        if tool is None:
            raise ToolError(f"unknown tool {name!r}; available tools: {sorted(tools)}")
        args = validate_arguments(tool, arguments)
        if not cacheable(tool):
            return _run(tool, name, arguments, args, ctx)
        key = tool_key(tool, args, ctx)
        flight = (cache.directory if cache is not None else None, ToolCache.hash(key))
        record, shared = _FLIGHTS.run(flight, lambda: _run(tool, name, arguments, args, ctx, cache, key))
    except Exception as exc:  # a bad call, or a key that cannot be made (an unreadable video)
        return _failure(name, arguments, exc)
    if not shared:
        return record
    return dataclasses.replace(record, arguments=arguments, images=list(record.images), cached=record.ok, shared=True)


def _run(tool: Tool, name: str, arguments: dict[str, Any], args: dict[str, Any], ctx: ToolContext,
         cache: ToolCache | None = None, key: dict[str, Any] | None = None) -> ToolCallRecord:
    """The record of one call: from the cache when it holds the key, else from running the tool (then stored)."""
    try:
        result = cache.get(key) if cache is not None else None
        cached = result is not None
        if not cached:
            result = tool(ctx, **args)
            for image in result.images:  # identical calls in flight share these arrays
                image.setflags(write=False)
            if cache is not None:
                cache.put(key, result)  # only successes: a failed call (a remote outage) is tried again next time
        return ToolCallRecord(name, arguments, True, result.text, list(result.images), result.data, cached)
    except Exception as exc:  # a broken tool must not end the episode; report it instead
        return _failure(name, arguments, exc)


def _failure(name: str, arguments: dict[str, Any], exc: Exception) -> ToolCallRecord:
    if isinstance(exc, ToolError):
        return ToolCallRecord(name, arguments, False, f"Error: {exc}")
    return ToolCallRecord(name, arguments, False, f"Error: tool {name!r} failed with {type(exc).__name__}: {exc}")
