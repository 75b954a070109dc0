"""Precompute: run chosen tools over a whole dataset into the tool cache, ahead of training.

Resumable by construction: results already in the cache are reused, not recomputed, so a
stopped run started again picks up where it was.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .data import decode, make_dataset
from .env import EnvConfig, frame_window, make_toolbox
from .tasks import make_task

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
    cache_directory: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        tools = sorted(set(self.computed) | set(self.reused) | set(self.failed))
        return {"samples": self.samples, "seconds": round(self.seconds, 2), "cache": self.cache_directory,
                "tools": {t: {"computed": self.computed[t], "reused": self.reused[t], "failed": self.failed[t]}
                          for t in tools},
                "failures": self.failures}

    def _fail(self, sample: str, tool: str, message: str) -> None:
        self.failed[tool] += 1
        if len(self.failures) < MAX_EXAMPLES:
            self.failures.append({"sample": sample, "tool": tool, "message": message})


def precompute(config: EnvConfig, tools: Sequence[str] | None = None, indices: Iterable[int] | None = None,
               on_sample: Callable[[int], None] | None = None) -> PrecomputeReport:
    """Run each tool (default arguments) on each sample of the config's dataset into its tool cache.

    tools: names among the config's tools (None: all of them). The frames are decoded as the env
    decodes them, so the env's later calls find the same cache keys.
    """
    if config.tool_cache is None:
        raise ValueError("precompute fills the tool cache, but this config has tool_cache=None; give it a CacheConfig")
    task = make_task(config.task, **config.task_options)
    dataset = make_dataset(config.dataset, **config.dataset_kwargs)
    toolbox = make_toolbox(config, task)
    try:
        toolbox.check(dataset)
        tools = list(toolbox.tools) if tools is None else list(tools)
        unknown = [t for t in tools if t not in toolbox.tools]
        if unknown:
            raise KeyError(f"tools {unknown} are not in this env; its tools are {sorted(toolbox.tools)}")
        report = PrecomputeReport()
        start = time.perf_counter()
        for index in range(len(dataset)) if indices is None else indices:
            report.samples += 1
            sample = dataset[index]
            try:
                clip = decode(sample.video, config.num_frames, config.frame_size, config.decoder,
                              frame_window(task, sample))
            except Exception as exc:  # a corrupt or missing video fails its tools, not the run
                for tool in tools:
                    report._fail(sample.id, tool, f"{type(exc).__name__}: {exc}")
            else:
                ctx = toolbox.context(sample, clip, task.candidates(sample), dataset.knowledge)
                for tool in tools:
                    record = toolbox.run(tool, {}, ctx)
                    if not record.ok:
                        report._fail(sample.id, tool, record.text)
                    elif record.cached:
                        report.reused[tool] += 1
                    else:
                        report.computed[tool] += 1
            if on_sample is not None:
                on_sample(index)
        report.seconds = time.perf_counter() - start
        report.cache_directory = toolbox.cache.directory
    finally:
        toolbox.close()
    return report
