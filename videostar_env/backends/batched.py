"""One batched model per process for every backend that asks for the same model: shared weights,
micro-batched calls, and results kept per clip (in this process: no service, no other process).

Envs build their backends from (name, options), one set per env, so K envs in one process (verl's
agent loop) would each load the same weights. Backends ask `shared(key, make)` for a `BatchedModel`
instead: backends made with the same key get the same model, alive while one of them is.

A batched model (its `BatchOptions`) holds up to `replicas` copies of the model, each used by one
thread at a time (ultralytics models are not thread-safe). `run(frames)` queues a request; a
waiting caller with a free copy runs the frames of every request queued with the same frame
shape, up to `batch_size` frames, after waiting up to `max_wait_ms` for more, so concurrent
episodes share model calls. `remember(key, compute)` keeps up to `memory` results (per clip),
least recently used dropped, and computes a key once even when episodes ask for it at once.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable

import numpy as np

from ..video.memo import ArrayMemo, KeptResults


@dataclass(frozen=True)
class BatchOptions:
    """How a batched model is shared: frames per call, the batching window, model copies, results kept."""

    batch_size: int | None = 64  # frames per model call, from any episodes (None: every frame waiting)
    max_wait_ms: float = 0.0  # how long a call waits for more frames (0: the frames already waiting)
    replicas: int = 1  # model copies that run at once (a CPU runtime that uses one core per call gains from more)
    memory: int = 256  # clips whose results `remember` keeps, least recently used dropped (0: none)

    def __post_init__(self) -> None:
        for name, low, none in (("batch_size", 1, True), ("replicas", 1, False), ("memory", 0, False)):
            value = getattr(self, name)
            if (value is not None or not none) and (isinstance(value, bool) or not isinstance(value, int)
                                                    or value < low):
                raise ValueError(f"{name} must be an integer of at least {low}{' or None' if none else ''}, "
                                 f"got {value!r}")
        if isinstance(self.max_wait_ms, bool) or not isinstance(self.max_wait_ms, (int, float)) \
                or not 0 <= self.max_wait_ms <= 1000:
            raise ValueError(f"max_wait_ms must be a number of milliseconds in [0, 1000], got {self.max_wait_ms!r}")


class _Request:
    """One caller's frames, filled in as model calls finish."""

    def __init__(self, frames: list[np.ndarray]):
        self.frames = frames
        self.shape = frames[0].shape
        self.outputs: list[Any] = [None] * len(frames)
        self.taken = 0  # frames handed to model calls
        self.filled = 0  # frames whose outputs are in
        self.error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.error is not None or self.filled == len(self.frames)


class BatchedModel:
    """A model loaded once, its calls shared by every thread that runs frames through it."""

    def __init__(self, load: Callable[[], Any], predict: Callable[[Any, list[np.ndarray]], list[Any]],
                 options: BatchOptions = BatchOptions()):
        """load: makes one model copy; predict(model, frames): one output per frame."""
        self._load, self._predict, self.options = load, predict, options
        self._cond = threading.Condition()
        self._queue: deque[_Request] = deque()
        self._free: list[Any] = []  # loaded copies not in use
        self._claimed = 0  # copies loaded or being loaded
        self._results: KeptResults[Any] = KeptResults(options.memory)  # per-clip results
        self.models: list[Any] = []  # the copies loaded so far
        self.calls = 0  # model calls made
        self.frames = 0  # frames those calls ran

    def _claim(self) -> tuple[Any, bool]:
        """(a free copy, False), or (None, True): the slot of a copy to load, taken. Called with the lock held,
        once _can_claim() is true."""
        if self._free:
            return self._free.pop(), False
        self._claimed += 1
        return None, True

    def _loaded(self) -> Any:
        """A new copy, in the slot the caller claimed; the slot is given back if loading fails."""
        try:
            model = self._load()
        except BaseException:
            with self._cond:
                self._claimed -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self.models.append(model)
        return model

    def _release(self, model: Any) -> None:
        with self._cond:
            self._free.append(model)
            self._cond.notify_all()

    def _can_claim(self) -> bool:
        return bool(self._free) or self._claimed < self.options.replicas

    def load_copies(self) -> int:
        """Load now every copy not loaded yet (up to `replicas`), rather than when calls first need them: loading
        holds the GIL (LiteRT's allocate_tensors for 30-100 ms), so an event loop in this process would stall then.
        Returns how many copies it loaded."""
        loaded = 0
        while True:
            with self._cond:
                if self._claimed >= self.options.replicas:
                    return loaded
                self._claimed += 1
            self._release(self._loaded())
            loaded += 1

    def exclusive(self, frames: list[np.ndarray]) -> list[Any]:
        """predict's output for each frame from one model call on a copy no other call uses meanwhile: for a
        stateful run, such as a tracker reading a clip in order, that must not mix with other frames."""
        with self._cond:
            while not self._can_claim():
                self._cond.wait()
            model, new = self._claim()
            self.calls += 1
            self.frames += len(frames)
        model = self._loaded() if new else model
        try:
            return self._predict(model, list(frames))
        finally:
            self._release(model)

    def run(self, frames: list[np.ndarray]) -> list[Any]:
        """predict's output for each frame, from model calls shared with other threads' frames."""
        if not frames:
            return []
        request = _Request(list(frames))
        with self._cond:
            self._queue.append(request)
            self._cond.notify_all()  # a call filling its batch takes these frames too
        while True:
            with self._cond:
                while not request.finished and not (self._queue and self._can_claim()):
                    self._cond.wait()
                if request.finished:
                    break
                model, new = self._claim()
            if new:
                try:
                    model = self._loaded()
                except BaseException:
                    with self._cond:
                        if request.taken == 0 and request in self._queue:
                            self._queue.remove(request)
                            raise
                    continue  # a copy that did load is running this request's frames
            try:
                self._call(model)
            finally:
                self._release(model)
        if request.error is not None:
            raise request.error
        return request.outputs

    def _call(self, model: Any) -> None:
        """One model call on the frames waiting (after the batching window), outputs handed to their requests."""
        limit = self.options.batch_size or float("inf")
        with self._cond:
            deadline = time.monotonic() + self.options.max_wait_ms / 1000
            while self._queue and self._waiting() < limit and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            parts = self._take(limit)
        if not parts:
            return
        if not self._run_parts(model, parts, last=len(parts) == 1):
            # One episode's frames may be what fails: run each alone so that the others still get their outputs.
            for part in parts:
                self._run_parts(model, [part], last=True)

    def _run_parts(self, model: Any, parts: list[tuple[_Request, int, int]], last: bool) -> bool:
        """Run the parts' frames in one call; False on failure, unless last: then the failure is their outcome."""
        frames = [f for r, a, b in parts for f in r.frames[a:b]]
        with self._cond:
            self.calls += 1
            self.frames += len(frames)
        try:
            outputs = self._predict(model, frames)
            if len(outputs) != len(frames):
                raise RuntimeError(f"the model gave {len(outputs)} outputs for {len(frames)} frames")
        except Exception as exc:
            if last:
                self._finish(parts, None, exc)
            return False
        except BaseException as exc:  # an interrupt: the waiting requests must not wait forever
            self._finish(parts, None, exc)
            raise
        self._finish(parts, outputs, None)
        return True

    def _waiting(self) -> int:
        shape = self._queue[0].shape
        return sum(len(r.frames) - r.taken for r in self._queue if r.shape == shape)

    def _take(self, limit: float) -> list[tuple[_Request, int, int]]:
        """Frames for one call: queued requests of the first one's frame shape (ultralytics pads a batch of mixed
        shapes differently from each alone), in arrival order."""
        parts: list[tuple[_Request, int, int]] = []
        if not self._queue:
            return parts
        shape, total = self._queue[0].shape, 0
        for request in list(self._queue):
            if total >= limit:
                break
            if request.shape != shape:
                continue
            n = int(min(len(request.frames) - request.taken, limit - total))
            parts.append((request, request.taken, request.taken + n))
            request.taken += n
            total += n
            if request.taken == len(request.frames):
                self._queue.remove(request)
        return parts

    def _finish(self, parts: list[tuple[_Request, int, int]], outputs: list[Any] | None,
                error: BaseException | None) -> None:
        with self._cond:
            k = 0
            for request, a, b in parts:
                if error is not None:
                    request.error = error
                    if request in self._queue:
                        self._queue.remove(request)
                else:
                    request.outputs[a:b] = outputs[k:k + b - a]
                    request.filled += b - a
                    k += b - a
            self._cond.notify_all()

    def remember(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """compute()'s value for key, kept for later calls; concurrent calls with one key compute it once
        (InFlight: a failure reaches every waiter and is not remembered, the next call tries again)."""
        if self.options.memory == 0:
            return compute()
        return self._results.get(key, compute)[0]

    def forget(self) -> None:
        """Drop every remembered result."""
        self._results.clear()


_SHARED: weakref.WeakValueDictionary[Hashable, BatchedModel] = weakref.WeakValueDictionary()
_SERVICES_LOCK = threading.Lock()


def _forget_in_child() -> None:
    # A forked process (a vector env's worker) makes its own batched models: the parent's locks may be held by threads
    # the child does not have, and a GPU model does not survive a fork.
    global _SHARED, _SERVICES_LOCK
    _SHARED = weakref.WeakValueDictionary()
    _SERVICES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


def shared(key: Hashable, make: Callable[[], BatchedModel]) -> BatchedModel:
    """The process's batched model for key, made by make() when no live backend holds one."""
    with _SERVICES_LOCK:
        model = _SHARED.get(key)
        if model is None:
            model = _SHARED[key] = make()
        return model


def _digest(frames: np.ndarray) -> bytes:
    h = hashlib.blake2b(str((frames.shape, frames.dtype.str)).encode(), digest_size=16)
    h.update(np.ascontiguousarray(frames).data)
    return h.digest()


# A digest of an array's shape and content; remembered while the array is fixed (read-only with its own data: a
# Clip's frames), which nothing then changes.
frames_digest: ArrayMemo[bytes] = ArrayMemo(_digest)


def model_work(models: Iterable[BatchedModel]) -> dict[str, int]:
    """Model calls and frames these batched models have run so far (each model counted once)."""
    unique = {id(m): m for m in models}.values()
    return {"model_calls": sum(m.calls for m in unique), "model_frames": sum(m.frames for m in unique)}
