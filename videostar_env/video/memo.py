"""Work shared by the threads of one process: one computation per key at a time, and decoded clips.

verl's agent loop runs many episodes of a process in one asyncio loop and calls reset/step in
executor threads; the rollouts of a GRPO group ask for the same video and the same tool calls
at the same moment, on different envs. `InFlight` makes identical requests running at once
compute once; `CLIPS` (a `ClipMemo`) lets every env of the process share decoded clips, and an
`ArrayMemo` keeps what is derived from a read-only array (its digest, a converted copy) as long
as the array lives.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Hashable, TypeVar

import numpy as np

from .decode import Clip, decode

V = TypeVar("V")


@dataclass
class _Flight:
    leader: int  # thread id of the caller that computes
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class InFlight(Generic[V]):
    """Identical computations (same key) asked for at once run once; the other callers wait for its outcome.

    Nothing is kept once a computation ends: a later call computes again (a cache, if any, sits
    inside `compute`). A computation that raises hands the same exception to every waiter, so no
    waiter hangs and a failing service is not called once per waiter.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def run(self, key: Hashable, compute: Callable[[], V]) -> tuple[V, bool]:
        """(compute()'s value, False) for the caller that runs it; (that value, True) for callers that waited on it."""
        with self._lock:
            flight = self._flights.get(key)
            leading = flight is None
            if leading:
                flight = self._flights[key] = _Flight(threading.get_ident())
        if not leading:
            if flight.leader == threading.get_ident():
                raise RuntimeError(f"computing {key!r} asked for {key!r} again in the same thread: it would wait on "
                                   "itself forever")
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value, True
        try:
            flight.value = compute()
        except BaseException as exc:  # waiters get any failure, even KeyboardInterrupt, rather than hang
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.value, False

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)


class KeptResults(Generic[V]):
    """Values by key, the `size` most recently used kept (0: none); identical computations asked for at once run
    once (InFlight: a failure reaches every waiter and is not kept, so the next call tries again)."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, V] = OrderedDict()
        self._flights: InFlight[V] = InFlight()

    def get(self, key: Hashable, compute: Callable[[], V]) -> tuple[V, str]:
        """compute()'s value for key, and how it came: "kept", "computed" here, or "merged" (another caller's)."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key], "kept"

        def compute_and_keep() -> V:
            value = compute()
            with self._lock:
                if self.size:
                    self._kept[key] = value
                    while len(self._kept) > self.size:
                        self._kept.popitem(last=False)
            return value

        value, merged = self._flights.run(key, compute_and_keep)
        return value, "merged" if merged else "computed"

    def clear(self) -> None:
        """Drop every kept value."""
        with self._lock:
            self._kept.clear()


class ClipMemo:
    """Decoded clips of one process, least recently used first out; one decode per clip at a time.

    Keyed by (path, mtime, size, window, sampler, num_frames, frame_size, decoder): a rewritten file is
    decoded again. Frames are read-only (`Clip`), so envs share them safely. `max_bytes` (None:
    no bound) caps the frames kept, besides the count each call gives. Besides the clips it keeps,
    a clip that any episode still holds is handed out again (a weak reference, so it costs no
    memory): a GRPO group's rollouts of one video share one copy of its frames even when they
    reset at different moments, with no memo kept.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0  # bytes of the frames kept
        self._lock = threading.Lock()
        self._clips: OrderedDict[tuple, Clip] = OrderedDict()
        self._live: weakref.WeakValueDictionary[tuple, Clip] = weakref.WeakValueDictionary()  # clips held anywhere
        self._flights: InFlight[Clip] = InFlight()

    def clip(self, path: str, num_frames: int, frame_size: tuple[int, int], decoder: str = "auto",
             window: tuple[float, float] | None = None, keep: int = 0, read: Callable[..., Clip] | None = None,
             sampler: str | None = None) -> Clip:
        """read(path, ...) (default decode; or a frame store's load), from the memo when it holds it; keep > 0 keeps it.

        keep=0 keeps nothing (a reset decodes unless the clip is still held, or another thread is
        decoding it right now: both are shared). A caller with keep > 0 trims the memo to
        its own `keep`, so envs with different counts in one process follow the latest caller.
        """
        read = read or decode
        try:
            stat = os.stat(path)
        except OSError:  # decode() says what is wrong with the path
            return read(path, num_frames, frame_size, decoder, window, sampler=sampler)
        window = None if window is None else (float(window[0]), float(window[1]))
        key = (path, stat.st_mtime_ns, stat.st_size, window, sampler, int(num_frames), tuple(frame_size), decoder)
        with self._lock:
            if keep > 0 and key in self._clips:
                self._clips.move_to_end(key)
                return self._clips[key]
            held = self._live.get(key)
        if held is not None:
            self._keep(key, held, keep)
            return held

        def load() -> Clip:
            clip = read(path, num_frames, frame_size, decoder, window, sampler=sampler)
            with self._lock:
                self._live[key] = clip
            self._keep(key, clip, keep)  # before the flight ends, so a caller arriving after it finds the clip
            return clip

        clip, shared = self._flights.run(key, load)
        if shared:
            self._keep(key, clip, keep)  # the decoding caller may have kept none
        return clip

    def _keep(self, key: tuple, clip: Clip, keep: int) -> None:
        if keep <= 0:
            return
        with self._lock:
            if key not in self._clips:
                self._clips[key] = clip
                self.nbytes += clip.frames.nbytes
            self._clips.move_to_end(key)
            while self._clips and (len(self._clips) > keep
                                   or (self.max_bytes is not None and self.nbytes > self.max_bytes)):
                self.nbytes -= self._clips.popitem(last=False)[1].frames.nbytes

    def __len__(self) -> int:
        return len(self._clips)

    def clear(self) -> None:
        """Forget every clip (those still held elsewhere included: the next call decodes)."""
        with self._lock:
            self._clips.clear()
            self._live.clear()
            self.nbytes = 0


CLIPS = ClipMemo()  # the process's memo: every env of a process reads and fills this one


def is_fixed(array: Any) -> bool:
    """Whether nothing can change this array's content: read-only, and holding its own data or viewing what cannot
    change either (bytes, as np.asarray of a PIL image; a fixed array). A read-only view of a writable base may."""
    if not isinstance(array, np.ndarray) or array.flags.writeable:
        return False
    base = array.base
    return array.flags.owndata or isinstance(base, bytes) or is_fixed(base)


class ArrayMemo(Generic[V]):
    """One derived value per fixed array (`is_fixed`: a Clip's frames, a tool image), kept while the array lives.

    Any other input is derived afresh on every call, since its content may change. The value must not
    hold the array (a view, a PIL image sharing its memory): the entry would keep it alive for good.
    """

    def __init__(self, derive: Callable[[Any], V]) -> None:
        self._derive = derive
        self._lock = threading.Lock()
        self._values: dict[int, V] = {}  # id(array) -> its value; the entry goes when the array does

    def __call__(self, array: Any) -> V:
        """derive(array), computed once per fixed array."""
        if not is_fixed(array):
            return self._derive(array)
        key = id(array)
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = self._derive(array)
        with self._lock:
            if key not in self._values:
                self._values[key] = value
                weakref.finalize(array, self._values.pop, key, None)  # runs before the id can be reused
            return self._values[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
