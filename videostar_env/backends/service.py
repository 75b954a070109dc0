"""The node vision service's body: the real vision and objects backends of a node, shared by its workers' episodes.

`NodeService` is a plain class; backends/remote.py runs it as a named Ray actor, one per node and
job, with many concurrent calls (a threaded actor), so that the batched models (backends/batched.py)
merge the frames of every worker's episodes into their model calls. Results are kept per (backend,
method, clip) key, and identical requests in flight, from any worker, run once. Nothing here imports
Ray: the frames come as an object reference inside a list (so Ray does not fetch them before the
method runs) and are fetched only when the result is not kept yet.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any, Callable

from ..datasets.sample import VideoSample
from ..video.decode import Clip
from ..video.memo import InFlight, KeptResults
from .batched import model_work

METHODS = {"vision": ("detect", "pose"), "objects": ("detect", "track")}


def spec_key(kind: str, backend: str, options: dict[str, Any]) -> str:
    """The one string naming a wrapped backend (kind, name and options) in the service."""
    return json.dumps([kind, backend, options], sort_keys=True, default=str)


class NodeService:
    """Backends by spec, made on first use; their results per clip kept and identical calls in flight merged."""

    def __init__(self, make: Callable[[str, Any], Any], memory: int = 1024):
        """make(kind, (name, options)): a backend (backends.make_backend); memory: results kept, oldest dropped."""
        self._make, self.memory = make, memory
        self._lock = threading.Lock()
        self._backends: dict[str, Any] = {}
        self._results: KeptResults[Any] = KeptResults(memory)
        self._flights: InFlight[Any] = InFlight()  # backends being made
        self.counts: Counter = Counter()  # requests, computed, merged, kept: what the benchmark and tests read

    def backend(self, kind: str, backend: str, options: dict[str, Any]) -> Any:
        """The wrapped backend of this spec, made once (its constructor's error reaches the caller)."""
        if kind not in METHODS:
            raise ValueError(f"the node service serves the kinds {sorted(METHODS)}, not {kind!r}")
        key = spec_key(kind, backend, options)
        with self._lock:
            found = self._backends.get(key)
        if found is None:
            found = self._flights.run(("make", key), lambda: self._make(kind, (backend, options)))[0]
            with self._lock:
                found = self._backends.setdefault(key, found)
        return found

    def open(self, kind: str, backend: str, options: dict[str, Any]) -> str:
        """Make the backend now; its id (the client's id, so that tool caches stay shared with in-process runs)."""
        return str(self.backend(kind, backend, options).id)

    def prepare(self, kind: str, backend: str, options: dict[str, Any], tasks: list[str]) -> None:
        """The wrapped backend's prepare(tasks): missing weights fail at env creation, naming their option."""
        prepare = getattr(self.backend(kind, backend, options), "prepare", None)
        if prepare is not None:
            prepare(tasks)

    def load_models(self, kind: str, backend: str, options: dict[str, Any], tasks: list[str]) -> None:
        """Load the wrapped backend's model copies now, rather than on the first episode's call."""
        load = getattr(self.backend(kind, backend, options), "load_models", None)
        if load is not None:
            load(tasks)

    def forget(self) -> None:
        """Drop the results kept here and in the wrapped backends."""
        self._results.clear()
        with self._lock:
            backends = list(self._backends.values())
        for found in backends:
            getattr(found, "forget", lambda: None)()

    def call(self, kind: str, backend: str, options: dict[str, Any], method: str, digest: bytes,
             frames: list[Any], clip: dict[str, Any], sample: VideoSample) -> Any:
        """method(clip, sample) of the wrapped backend, kept per key; frames: [the frames' object reference]."""
        if method not in METHODS.get(kind, ()):
            raise ValueError(f"a {kind} backend has no method {method!r}; it has {METHODS.get(kind)}")
        key = (spec_key(kind, backend, options), method, digest, clip["indices"], clip["path"], sample.id)

        def compute() -> Any:
            import ray  # the actor runs in a Ray worker; fetched only here, when the result is not kept

            whole = Clip(ray.get(frames[0]), **clip)
            return getattr(self.backend(kind, backend, options), method)(whole, sample)

        with self._lock:
            self.counts["requests"] += 1
        value, how = self._results.get(key, compute)  # how: kept, computed or merged
        with self._lock:
            self.counts[how] += 1
        return value

    def stats(self) -> dict[str, Any]:
        """Counts of requests, computed, merged and kept; the model calls and frames the backends' batched models ran;
        the backends served; this process's id and peak RSS (MB)."""
        import os

        with open("/proc/self/status") as status:  # VmHWM: this program's own peak (Linux)
            peak = next((int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")), None)
        with self._lock:
            backends = list(self._backends.values())
            counts = dict(self.counts)
        # Backends of other options may share a model (the same pose weights): model_work counts each model once.
        work = model_work(m for found in backends for m in getattr(found, "batched_models", tuple)())
        return {**counts, **work, "backends": len(backends), "pid": os.getpid(),
                "peak_rss_mb": None if peak is None else round(peak, 1)}
