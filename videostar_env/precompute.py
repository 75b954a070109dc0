"""Precompute: run chosen tools over a whole dataset into the tool cache, ahead of training.

Resumable by construction: results already in the cache are reused, not recomputed, so a
stopped run started again picks up where it was.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .env import OVAREnv
from .tools.runner import run_tool

MAX_EXAMPLES = 20  # failure messages kept in the report


@dataclass
class PrecomputeReport:
    """What a precompute run did, per tool."""

    samples: int = 0
    computed: Counter = field(default_factory=Counter)
    reused: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)  # the first MAX_EXAMPLES: sample, tool, message
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        tools = sorted(set(self.computed) | set(self.reused) | set(self.failed))
        return {"samples": self.samples, "seconds": round(self.seconds, 2),
                "tools": {t: {"computed": self.computed[t], "reused": self.reused[t], "failed": self.failed[t]}
                          for t in tools},
                "failures": self.failures}

    def _fail(self, sample: str, tool: str, message: str) -> None:
        self.failed[tool] += 1
        if len(self.failures) < MAX_EXAMPLES:
            self.failures.append({"sample": sample, "tool": tool, "message": message})


def precompute(env: OVAREnv, tools: Sequence[str], indices: Iterable[int] | None = None,
               on_sample: Callable[[int], None] | None = None) -> PrecomputeReport:
    """Run each tool (default arguments) on each sample of env's dataset into env's tool cache."""
    if env.tool_cache is None:
        raise ValueError("precompute fills the tool cache, but this env has tool_cache=None; give it a CacheConfig")
    unknown = [t for t in tools if t not in env.tools]
    if unknown:
        raise KeyError(f"tools {unknown} are not in this env; its tools are {sorted(env.tools)}")
    report = PrecomputeReport()
    start = time.perf_counter()
    for index in range(len(env.dataset)) if indices is None else indices:
        report.samples += 1
        try:
            env.reset(options={"index": index})
        except Exception as exc:  # a corrupt or missing video fails its tools, not the run
            sample_id = getattr(env.dataset[index], "id", str(index))
            for tool in tools:
                report._fail(sample_id, tool, f"{type(exc).__name__}: {exc}")
        else:
            ctx = env.tool_context()
            for tool in tools:
                out = run_tool(env.tools, tool, {}, ctx, env.tool_cache)
                if not out.ok:
                    report._fail(ctx.sample.id, tool, out.text)
                elif out.cached:
                    report.reused[tool] += 1
                else:
                    report.computed[tool] += 1
        if on_sample is not None:
            on_sample(index)
    report.seconds = time.perf_counter() - start
    return report
