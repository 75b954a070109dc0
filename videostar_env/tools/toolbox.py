"""The toolbox: an env's tools with their backends and cache, the one object that runs tool calls.

The env runs every call through it; precompute, the bench, the verl data writer and the
benchmarks use it directly, without reaching into an env. Given room in a token budget, it fits
each reply to it: whole, shortened by the tool, or refused with the token counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

from ..backends import KINDS, Backends, make_backends
from ..clients.tokens import ReplyRoom
from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..knowledge import KnowledgeBase
from .base import Tool, ToolContext, schema
from .cache import CacheConfig, ToolCache
from .registry import make_tools
from .runner import ToolCallRecord, run_tool


@dataclass
class Toolbox:
    """Tools by name, the backends they call, and the cache their results go through (None: no cache)."""

    tools: dict[str, Tool]
    backends: Backends
    cache: ToolCache | None = None

    @classmethod
    def build(cls, tools: Sequence[Any], vision: Any = "oracle", explanation: Any = "knowledge",
              description: Any = "kinematic", objects: Any = "oracle",
              tool_cache: CacheConfig | None = CacheConfig()) -> "Toolbox":
        """A toolbox from tool names (or Tool objects), backend specs and a cache config."""
        box = cls({t.name: t for t in make_tools(tools)}, make_backends(vision, explanation, description, objects))
        prepare = getattr(box.backends.vision, "prepare", None)
        if prepare is not None:  # load only the vision models the chosen tools need
            prepare(box.model_tasks("vision"))
        box.cache = ToolCache(tool_cache) if tool_cache is not None else None
        return box

    def check(self, dataset: Any) -> None:
        """ValueError, saying what to use instead, when a backend the tools call cannot serve this dataset."""
        kinds = {kind for tool in self.tools.values() for kind in getattr(tool, "uses", ())}  # declared use only
        for kind in KINDS:
            check = getattr(getattr(self.backends, kind), "check", None)
            if kind in kinds and check is not None:
                check(dataset)

    def model_tasks(self, kind: str) -> list[str]:
        """The models of the `kind` backend the tools call, sorted: what their `<kind>_tasks` declare (vision: "detect",
        "pose"; objects: "detect", "track")."""
        return sorted({task for t in self.tools.values() for task in getattr(t, f"{kind}_tasks", ())})

    def load_models(self) -> None:
        """Load every copy of the models the tools call now, for each backend that loads them on first use."""
        for kind in KINDS:
            load, tasks = getattr(getattr(self.backends, kind), "load_models", None), self.model_tasks(kind)
            if load is not None and tasks:
                load(tasks)

    @property
    def names(self) -> list[str]:
        """The tool names, in the order they were given."""
        return list(self.tools)

    def schemas(self) -> list[dict[str, Any]]:
        """Every tool in OpenAI function format."""
        return [schema(t) for t in self.tools.values()]

    def context(self, sample: VideoSample, clip: Clip, candidates: Sequence[str],
                knowledge: KnowledgeBase) -> ToolContext:
        """What the tools see for one video."""
        return ToolContext(sample, clip, tuple(candidates), knowledge, self.backends)

    def run(self, name: str, arguments: dict[str, Any], ctx: ToolContext,
            room: ReplyRoom | None = None) -> ToolCallRecord:
        """Run one call through the cache; never raises for a bad call, the record says what went wrong.

        With `room`, a reply too long for it is shortened by its tool, or else refused (see `fit_reply`).
        """
        record = run_tool(self.tools, name, arguments, ctx, self.cache)
        return fit_reply(self.tools[name], record, room) if room is not None and record.ok else record

    def close(self) -> None:
        """Release the cache's database handle."""
        if self.cache is not None:
            self.cache.close()


def fit_reply(tool: Tool, record: ToolCallRecord, room: ReplyRoom) -> ToolCallRecord:
    """The record as the policy may read it within `room`: as is, shortened, or refused; its data stays whole.

    A tool that can say less meaningfully has `shorten(data, fits) -> str | None`: the longest text
    built from its data that `fits`, or None. Any other reply that does not fit becomes a failed call
    saying how many tokens it needed and how many are left, never text cut off mid-way. A shortened
    reply is text only.
    """
    if room.fits(record.text, record.images):
        return record
    shorten = getattr(tool, "shorten", None)
    text = shorten(record.data, room.fits) if shorten is not None else None
    if text is not None:
        return replace(record, text=text, images=[])
    return replace(record, ok=False, images=[], text=(
        f"Error: the {record.name} reply needs {room.cost(record.text, record.images)} tokens, but only "
        f"{max(room.tokens, 0)} of the {max(room.left, 0)} tokens left in your budget may go to tool replies (the "
        f"rest is kept for your answer). Ask for less (fewer labels or images) or give your answer now."))
