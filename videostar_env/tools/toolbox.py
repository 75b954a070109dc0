"""The toolbox: an env's tools with their backends and cache, the one object that runs tool calls.

The env runs every call through it; precompute, the bench, the verl data writer and the
benchmarks use it directly, without reaching into an env. A call is looked up, its arguments
checked, its result taken from the cache or computed, and any failure turned into the record's
error text. Identical calls running at once in one process (the rollouts of a GRPO group, stepped
in executor threads on different envs) run once: the others wait and share the outcome. Every
reply is bounded: longer than `max_reply_chars`, or than the room left in a token budget, it is
shortened by its tool or refused with the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from ..backends import KINDS, Backends, make_backends
from ..clients.tokens import ReplyRoom
from ..video.decode import Clip, uniform_indices
from ..datasets.sample import VideoSample
from ..knowledge import KnowledgeBase
from ..video.memo import InFlight
from .base import Tool, ToolCallRecord, ToolContext, ToolError, option, schema, validate_arguments
from .cache import CacheConfig, ToolCache, cacheable, tool_key
from .registry import make_tools

# The default bound of one reply, about 16k tokens: above every built-in tool's longest reply (all 160 Kinetics-600
# explanations, about 20k characters), far below what a runaway server sends (millions).
MAX_REPLY_CHARS = 65536
_FLIGHTS: InFlight[ToolCallRecord] = InFlight()  # the cacheable tool calls running in this process, by cache key


@dataclass
class Toolbox:
    """Tools by name, the backends they call, and the cache their results go through (None: no cache)."""

    tools: dict[str, Tool]
    backends: Backends
    cache: ToolCache | None = None
    max_reply_chars: int = MAX_REPLY_CHARS  # a longer reply is shortened by its tool or refused

    @classmethod
    def build(cls, tools: Sequence[Any], vision: Any = "oracle", explanation: Any = "knowledge",
              description: Any = "kinematic", objects: Any = "oracle",
              tool_cache: CacheConfig | None = CacheConfig(), max_reply_chars: int = MAX_REPLY_CHARS) -> "Toolbox":
        """A toolbox from tool names (or Tool objects), backend specs, a cache config and the reply bound."""
        box = cls({t.name: t for t in make_tools(tools)}, make_backends(vision, explanation, description, objects),
                  max_reply_chars=max_reply_chars)
        prepare = getattr(box.backends.vision, "prepare", None)
        if prepare is not None:  # load only the vision models the chosen tools need
            prepare(box.model_tasks("vision"))
        box.cache = ToolCache(tool_cache) if tool_cache is not None else None
        return box

    def check(self, dataset: Any) -> None:
        """ValueError, saying what to use instead, when a backend the tools call cannot serve this dataset."""
        kinds = {kind for tool in self.tools.values() for kind in option(tool, "uses") or ()}  # declared use only
        for kind in KINDS:
            check = getattr(getattr(self.backends, kind), "check", None)
            if kind in kinds and check is not None:
                check(dataset)

    def model_tasks(self, kind: str) -> list[str]:
        """The models of the `kind` backend the tools call, sorted: what their `<kind>_tasks` declare (vision: "detect",
        "pose"; objects: "detect", "track")."""
        return sorted({task for t in self.tools.values() for task in option(t, f"{kind}_tasks")})

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
        """Run one call through the cache; never raises for a bad call or a failing tool, the record says what went
        wrong. The reply is bounded by max_reply_chars and, with `room`, by a token budget (see `fit_reply`).

        Calls of a cacheable tool with the same cache key (and cache folder, or none) that run at the same time in
        this process run once, with or without a cache; the others share its outcome, a failure too (each gets its
        own record, marked `shared`). Across processes sharing a cache folder, one computes a missing key while the
        others wait for it and read it stored (ToolCache.computing). A tool that sets `cacheable = False` runs for
        every call.
        """
        tool = self.tools.get(name)
        try:
            if tool is None:
                raise ToolError(f"unknown tool {name!r}; available tools: {sorted(self.tools)}")
            args = validate_arguments(tool, arguments)
            if not cacheable(tool):
                record = self._compute(tool, name, arguments, args, ctx)
            else:
                key = tool_key(tool, args, ctx)
                flight = (self.cache.directory if self.cache is not None else None, ToolCache.hash(key))
                record, shared = _FLIGHTS.run(flight, lambda: self._compute(tool, name, arguments, args, ctx, key))
                if shared:
                    record = replace(record, arguments=arguments, images=list(record.images),
                                     videos=list(record.videos), cached=record.ok, shared=True)
        except Exception as exc:  # a bad call, or a key that cannot be made (an unreadable video)
            return _failure(name, arguments, exc)
        if not record.ok:
            return record
        record = fit_reply(tool, record, lambda text, images=(), videos=(): len(text) <= self.max_reply_chars,
                           self._too_long)
        return fit_reply(tool, record, room.fits, room.refusal) if room is not None and record.ok else record

    def _compute(self, tool: Tool, name: str, arguments: dict[str, Any], args: dict[str, Any], ctx: ToolContext,
                 key: dict[str, Any] | None = None) -> ToolCallRecord:
        """The record of one call: from the cache when it holds the key, else from running the tool (then stored)."""
        cache = self.cache if key is not None else None
        try:
            result = cache.get(key) if cache is not None else None
            cached = result is not None
            if cache is None:
                result = tool(ctx, **args)
            elif not cached:
                with cache.computing(key) as locked:  # other processes missing this key wait here, then read it
                    result = cache.stored_meanwhile(key) if locked else None
                    cached = result is not None
                    if not cached:
                        result = tool(ctx, **args)
                        cache.put(key, result)  # only successes: a failed call is tried again next time
            for array in [*result.images, *(video.frames for video in result.videos)]:
                array.setflags(write=False)  # identical calls in flight share these arrays (unpickled ones too)
            return ToolCallRecord(name, arguments, True, result.text, list(result.images), result.data,
                                  list(result.videos), cached=cached)
        except Exception as exc:  # a broken tool must not end the episode; report it instead
            return _failure(name, arguments, exc)

    def _too_long(self, record: ToolCallRecord) -> str:
        return (f"Error: the {record.name} reply is {len(record.text)} characters, more than the "
                f"{self.max_reply_chars} a reply may have. Ask for less (fewer labels, frames or keyframes).")

    def close(self) -> None:
        """Release the cache's database handle."""
        if self.cache is not None:
            self.cache.close()


def fit_reply(tool: Tool, record: ToolCallRecord, fits: Callable[..., bool],
              refusal: Callable[[ToolCallRecord], str]) -> ToolCallRecord:
    """The record as the policy may read it where `fits(text, images, videos)` says what fits: as is, shortened, or
    refused; its data stays whole.

    A reply with videos is shortened first by showing fewer of each video's frames (spread evenly,
    each keeping its source index and timestamp; the text says so). A tool that can say less
    meaningfully has `shorten(data, fits) -> str | None`: the longest text built from its data that
    `fits`, or None. Any other reply that does not fit becomes a failed call whose text is
    `refusal(record)` (how much it needed, how much there is), never text cut off mid-way. A
    shortened text reply is text only.
    """
    if fits(record.text, record.images, record.videos):
        return record
    fewer = _fewer_frames(record, fits) if record.videos else None
    if fewer is not None:
        return fewer
    shorten = option(tool, "shorten")
    text = shorten(record.data, fits) if shorten is not None else None
    if text is not None and fits(text, [], []):
        return replace(record, text=text, images=[], videos=[])
    return replace(record, ok=False, images=[], videos=[], text=refusal(record))


def _fewer_frames(record: ToolCallRecord, fits: Callable[..., bool]) -> ToolCallRecord | None:
    """The record with its videos cut to the most frames (1 or more, spread evenly) that fit, or None if none do."""
    most = max(len(video.indices) for video in record.videos)
    for count in range(most - 1, 0, -1):
        videos = [v.subset(uniform_indices(len(v.indices), count)) if len(v.indices) > count else v
                  for v in record.videos]
        shown = ", ".join(f"{len(v.indices)} of {len(w.indices)} frames (source frames {list(v.indices)})"
                          for v, w in zip(videos, record.videos))
        text = f"{record.text}\n(Shortened to fit your token budget: the video shows {shown}.)"
        if fits(text, record.images, videos):
            return replace(record, text=text, videos=videos)
    return None


def _failure(name: str, arguments: dict[str, Any], exc: Exception) -> ToolCallRecord:
    if isinstance(exc, ToolError):
        return ToolCallRecord(name, arguments, False, f"Error: {exc}")
    return ToolCallRecord(name, arguments, False, f"Error: tool {name!r} failed with {type(exc).__name__}: {exc}")
