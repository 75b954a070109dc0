"""Precompute: run chosen tools over a whole dataset into the tool cache, and optionally its decoded frames
into a frame store, ahead of training; in this process or sharded over Ray actors.

Resumable: a finished sample leaves a mark (under $VIDEOSTAR_CACHE_DIR/precompute) naming its video's
file state, the run's settings and the cache keys it filled. A later run skips a marked sample without
decoding it once those keys are found in the cache, so a stopped run picks up where it was and a
second run computes nothing (and starts no Ray). The driver writes the marks, so they sit where it checks
them. Whatever runs where, each result lands under the same cache key, so a sharded run fills the cache
exactly as one process does.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..datasets import Clip, decode
from ..video.frame_store import FrameStore
from .cluster import connect_ray, ray_module
from ..core.config import EnvConfig, EnvParts
from ..tasks.base import frame_sampler, frame_window
from ..paths import cache_dir, write_atomic
from ..tools.base import option, validate_arguments
from ..backends import KINDS
from ..tools.cache import cacheable, tool_key

MAX_EXAMPLES = 20  # failure messages kept in the report
STATUSES = ("computed", "reused", "failed")


@dataclass
class SampleOutcome:
    """What precompute did for one sample: each tool's status and the frames', and the cache keys it filled."""

    sample: str
    tools: dict[str, str] = field(default_factory=dict)  # tool -> one of STATUSES
    frames: str | None = None  # the frame store's status (one of STATUSES); None: no frame store
    errors: dict[str, str] = field(default_factory=dict)  # tool (or "frames") -> what went wrong
    keys: list[dict[str, Any]] = field(default_factory=list)  # tool-cache keys of the successful calls
    frames_file: str | None = None  # the frame store entry
    resumed: bool = False  # finished by an earlier run: verified in the cache, not decoded


@dataclass
class PrecomputeReport:
    """What a precompute run did, per tool and for the frames."""

    samples: int = 0
    resumed: int = 0  # samples an earlier run finished (skipped without decoding)
    computed: Counter = field(default_factory=Counter)
    reused: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    frames: Counter = field(default_factory=Counter)  # status -> samples, when there is a frame store
    failures: list[dict[str, str]] = field(default_factory=list)  # the first MAX_EXAMPLES: sample, tool, message
    seconds: float = 0.0
    cache_directory: str = ""
    frames_directory: str = ""

    def add(self, outcome: SampleOutcome) -> None:
        """Count one sample's outcome."""
        self.samples += 1
        self.resumed += outcome.resumed
        counters = dict(zip(STATUSES, (self.computed, self.reused, self.failed)))
        for tool, status in outcome.tools.items():
            counters[status][tool] += 1
        if outcome.frames is not None:
            self.frames[outcome.frames] += 1
        for tool, message in outcome.errors.items():
            if len(self.failures) < MAX_EXAMPLES:
                self.failures.append({"sample": outcome.sample, "tool": tool, "message": message})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        tools = sorted(set(self.computed) | set(self.reused) | set(self.failed))
        frames = {"directory": self.frames_directory, **{s: self.frames[s] for s in STATUSES}}
        return {"samples": self.samples, "resumed": self.resumed, "seconds": round(self.seconds, 2),
                "cache": self.cache_directory,
                "tools": {t: {"computed": self.computed[t], "reused": self.reused[t], "failed": self.failed[t]}
                          for t in tools},
                "frames": frames if self.frames_directory else None, "failures": self.failures}


class PrecomputeWorker:
    """Precomputes single samples of one config: the unit the driver runs here, or each Ray actor runs."""

    def __init__(self, config: EnvConfig, tools: Sequence[str] | None = None, frames: FrameStore | None = None):
        if config.tool_cache is None and (frames is None or tools):
            raise ValueError("precompute fills the tool cache, but this config has tool_cache=None; give it a "
                             "CacheConfig, or a frame store and no tools to store the decoded frames alone (--frames)")
        self.config, self.store = config, frames
        parts = EnvParts.build(config)
        self.task, self.dataset, self.toolbox = parts.task, parts.dataset, parts.toolbox
        try:
            self.tools = self._tools(tools)
        except Exception:
            self.toolbox.close()
            raise

    def _tools(self, tools: Sequence[str] | None) -> list[str]:
        box = self.toolbox
        if box.cache is None:
            return []
        if tools is None:  # a tool never cached, or only run with the policy's arguments, has nothing to precompute
            tools = [name for name, tool in box.tools.items() if cacheable(tool) and not _required(tool)]
        unknown = [t for t in tools if t not in box.tools]
        if unknown:
            raise KeyError(f"tools {unknown} are not in this env; its tools are {sorted(box.tools)}")
        uncached = [t for t in tools if not cacheable(box.tools[t])]
        if uncached:
            raise ValueError(f"tools {uncached} set cacheable = False: precomputing them would store nothing")
        asking = {t: _required(box.tools[t]) for t in tools if _required(box.tools[t])}
        if asking:
            raise ValueError(f"tools {sorted(asking)} need arguments only the policy gives ({asking}): precompute "
                             f"runs each tool with its default arguments")
        if tools:
            box.check(self.dataset)
        return list(tools)

    def run(self, index: int) -> SampleOutcome:
        """Decode sample `index` (or read its frames from the store) and run each tool on it through the cache."""
        sample = self.dataset[index]
        outcome = SampleOutcome(sample.id)
        try:
            clip = self._clip(sample, outcome)
        except Exception as exc:  # a corrupt or missing video fails this sample, not the run
            message = f"{type(exc).__name__}: {exc}"
            outcome.tools, outcome.errors = dict.fromkeys(self.tools, "failed"), dict.fromkeys(self.tools, message)
            if self.store is not None:
                outcome.frames, outcome.errors["frames"] = "failed", message
            return outcome
        ctx = self.toolbox.context(sample, clip, self.task.candidates(sample), self.dataset.knowledge)
        for name in self.tools:
            record = self.toolbox.run(name, {}, ctx)
            if not record.ok:
                outcome.tools[name], outcome.errors[name] = "failed", record.text
                continue
            outcome.tools[name] = "reused" if record.cached else "computed"
            tool = self.toolbox.tools[name]
            outcome.keys.append(tool_key(tool, validate_arguments(tool, {}), ctx))
        return outcome

    def _clip(self, sample: Any, outcome: SampleOutcome) -> Clip:
        """The sample's frames as the env decodes them: from the store when it holds them, else decoded (and stored)."""
        cfg = self.config
        args = (sample.video, cfg.num_frames, cfg.frame_size, cfg.decoder, frame_window(self.task, sample),
                frame_sampler(self.task, sample))
        if self.store is None:
            return decode(*args)
        clip = self.store.get(*args)
        if clip is None:
            clip = decode(*args)
            outcome.frames, outcome.frames_file = "computed", str(self.store.put(clip, cfg.decoder, cfg.num_frames))
        else:
            outcome.frames, outcome.frames_file = "reused", str(self.store.entry(*args))
        return clip

    def mark(self, index: int) -> Path | None:
        """The file that marks sample `index` finished under these settings (None: its video is missing)."""
        sample = self.dataset[index]
        try:
            stat = os.stat(sample.video)
        except OSError:
            return None
        box, cfg = self.toolbox, self.config
        identity = {
            "sample": sample.id, "video": [os.path.realpath(sample.video), stat.st_size, stat.st_mtime_ns],
            "window": frame_window(self.task, sample), "candidates": list(self.task.candidates(sample)),
            "task": self.task.name, "task_options": cfg.task_options, "num_frames": cfg.num_frames,
            "frame_size": cfg.frame_size, "decoder": cfg.decoder, "knowledge": self.dataset.knowledge.digest,
            "tools": {name: str(option(box.tools[name], "version")) for name in self.tools},
            "backends": {kind: getattr(box.backends, kind).id for kind in KINDS},
            "cache": os.path.realpath(box.cache.directory) if box.cache is not None else None,
            "frames": os.path.realpath(self.store.directory) if self.store is not None else None,
        }
        name = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
        return cache_dir() / "precompute" / name[:2] / f"{name}.json"

    def resumed(self, mark: Path | None) -> SampleOutcome | None:
        """The outcome a marked sample left, when everything it filled is still there; else None (run it)."""
        try:
            done = json.loads(mark.read_text()) if mark is not None else None
        except (OSError, ValueError):
            return None
        if done is None or (done["frames_file"] and not os.path.isfile(done["frames_file"])):
            return None
        if self.toolbox.cache is not None and any(self.toolbox.cache.get(key) is None for key in done["keys"]):
            return None  # evicted or cleared since: run it again
        return SampleOutcome(done["sample"], dict.fromkeys(self.tools, "reused"),
                             "reused" if self.store is not None else None, resumed=True)

    def close(self) -> None:
        """Release the tool cache's database handle."""
        self.toolbox.close()


def _required(tool: Any) -> list[str]:
    """The arguments a tool's schema requires (a call with default arguments cannot run it)."""
    return list(tool.parameters.get("required", ()))


def precompute(config: EnvConfig, tools: Sequence[str] | None = None, indices: Iterable[int] | None = None,
               on_sample: Callable[[int], None] | None = None, *, frames: FrameStore | None = None,
               ray: str | None = None, ray_workers: int = 2) -> PrecomputeReport:
    """Run each tool (default arguments) on each sample of the config's dataset into its tool cache.

    tools: names among the config's tools (None: every cacheable one that needs no argument). frames: also store each
    sample's decoded frames there (default: the config's frame_store, the one its envs read). ray: shard the samples over `ray_workers` Ray actors ("local":
    start Ray here; else a cluster address). The frames are decoded as the env decodes them, so
    the env's later calls find the same cache keys. Samples finished by an earlier run are skipped.
    """
    if ray_workers < 1:
        raise ValueError(f"ray_workers must be at least 1, got {ray_workers}")
    if ray:
        ray_module(ray)  # a missing Ray or a wrong address fails now, not after the samples are checked
    if frames is None and config.frame_store is not None:
        frames = FrameStore(config.frame_store)
    worker = PrecomputeWorker(config, tools, frames)
    cache = worker.toolbox.cache
    report = PrecomputeReport(cache_directory=cache.directory if cache is not None else "",
                              frames_directory=str(frames.directory) if frames is not None else "")
    start = time.perf_counter()

    def land(index: int, mark: Path | None, outcome: SampleOutcome) -> None:
        report.add(outcome)
        if mark is not None and not outcome.errors and not outcome.resumed:
            done = {"sample": outcome.sample, "keys": outcome.keys, "frames_file": outcome.frames_file}
            write_atomic(mark, json.dumps(done).encode())
        if on_sample is not None:
            on_sample(index)

    try:
        todo = []
        for index in range(len(worker.dataset)) if indices is None else indices:
            mark = worker.mark(index)
            outcome = worker.resumed(mark)
            if outcome is None:
                todo.append((index, mark))
            else:
                land(index, mark, outcome)
        if ray and todo:
            _run_on_ray(ray, ray_workers, (config, worker.tools, frames), todo, land)
        else:
            for index, mark in todo:
                land(index, mark, worker.run(index))
    finally:
        worker.close()
        report.seconds = time.perf_counter() - start
    return report


def _run_on_ray(address: str, workers: int, worker_args: tuple, todo: list[tuple[int, Path | None]],
                land: Callable[[int, Path | None, SampleOutcome], None]) -> None:
    """Run the todo samples on Ray actors, two in flight per actor, landing each outcome as it arrives."""
    import ray

    started = connect_ray(address)
    queue = deque(todo)
    remote = ray.remote(PrecomputeWorker)
    actors = [remote.remote(*worker_args) for _ in range(min(workers, len(queue)))]
    running: dict[Any, tuple[Any, int, Path | None]] = {}

    def submit(actor: Any) -> None:
        if queue:
            index, mark = queue.popleft()
            running[actor.run.remote(index)] = (actor, index, mark)

    try:
        for actor in actors:
            submit(actor)
            submit(actor)
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, index, mark = running.pop(ref)
            land(index, mark, ray.get(ref))
            submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


__all__ = ["PrecomputeReport", "PrecomputeWorker", "SampleOutcome", "precompute"]
