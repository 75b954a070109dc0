"""Video decoding: uniform frame sampling (or a benchmark's own, by name) with decord (default) or PyAV (fallback)."""

from __future__ import annotations

import math
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterator, Sequence

import numpy as np

from ..errors import warn

BACKENDS = ("decord", "pyav")
# A benchmark's own choice of frames, from what only the opened video tells: (total_frames, fps, num_frames) -> the
# indices to read, at most num_frames of them, over the whole video. Named in SAMPLERS so that the name (a sample's
# meta, a memo or frame store key) says which frames a clip holds.
FrameSampler = Callable[[int, float, int], Sequence[int]]
SAMPLERS: dict[str, FrameSampler] = {}


class VideoDecodeError(RuntimeError):
    """A video file could not be read; the message names the file and the decoders tried."""


@dataclass(frozen=True)
class Clip:
    """Frames sampled from one video, with what a VLM needs to place them in time."""

    frames: np.ndarray  # (num_frames, H, W, 3) uint8, read-only
    indices: tuple[int, ...]  # frame indices in the source video
    fps: float  # source frame rate
    total_frames: int
    path: str  # the video file
    window: tuple[float, float] | None = None  # (start, end) seconds the frames were drawn from; None: all of it
    sampler: str | None = None  # the SAMPLERS name that chose the frames; None: uniform_indices

    def __post_init__(self) -> None:
        # Read-only: the chat messages hold these frames, and with EnvConfig.clip_memo so do later episodes.
        self.frames.setflags(write=False)

    @cached_property
    def source_size(self) -> tuple[int, int]:
        """(height, width) of the source video, read from its header on first use (reset does not need it)."""
        return probe_size(self.path)

    @property
    def span_frames(self) -> int:
        """How many source frames the samples were drawn from: the window's (window_span), else the whole video's."""
        if self.window is None:
            return self.total_frames
        first, last = window_span(self.total_frames, self.fps, self.window)
        return last - first + 1

    @property
    def timestamps(self) -> tuple[float, ...]:
        """Seconds from the start of the video of each sampled frame."""
        return tuple(i / self.fps for i in self.indices)

    def subset(self, positions: Sequence[int]) -> "Clip":
        """The clip of the frames at these positions (in order), with their own source indices and timestamps."""
        positions = [int(p) for p in positions]
        if not positions or not all(0 <= p < len(self.indices) for p in positions):
            raise ValueError(f"positions must name 1 to {len(self.indices)} of the clip's frames, got {positions}")
        return Clip(self.frames[positions], tuple(self.indices[p] for p in positions), self.fps, self.total_frames,
                    self.path, self.window, self.sampler)


def uniform_indices(total_frames: int, num_frames: int) -> list[int]:
    """Centres of num_frames equal segments (TSN-style sampling); repeats frames of short videos."""
    if total_frames <= 0:
        raise ValueError("a video needs at least one frame")
    step = total_frames / num_frames
    return [min(int(step * (i + 0.5)), total_frames - 1) for i in range(num_frames)]


def window_indices(total_frames: int, fps: float, num_frames: int,
                   window: tuple[float, float] | None = None) -> list[int]:
    """uniform_indices over the whole video, or over the frames inside window=(start, end) seconds."""
    if window is None:
        return uniform_indices(total_frames, num_frames)
    first, last = window_span(total_frames, fps, window)
    return [first + i for i in uniform_indices(last - first + 1, num_frames)]


def window_span(total_frames: int, fps: float, window: tuple[float, float]) -> tuple[int, int]:
    """The first and last source frames shown during window=(start, end) seconds (frame i is shown from i / fps
    to (i + 1) / fps), at least one."""
    start, end = (float(t) for t in window)
    if not 0 <= start < end:
        raise ValueError(f"a time window must be 0 <= start < end seconds, got {window}")
    if start * fps >= total_frames:
        raise VideoDecodeError(f"the time window {start:.2f}-{end:.2f}s starts after the video ends "
                               f"({total_frames / fps:.2f}s)")
    first = min(int(math.floor(start * fps)), total_frames - 1)
    return first, min(max(int(math.ceil(end * fps)) - 1, first), total_frames - 1)


def register_sampler(name: str, sampler: FrameSampler) -> None:
    """Name a frame sampler for decode(sampler=name) (a benchmark module registers its own when imported)."""
    SAMPLERS[name] = sampler


def _check_sampler(sampler: str | None, window: tuple[float, float] | None) -> None:
    if sampler is None:
        return
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown frame sampler {sampler!r}; registered: {sorted(SAMPLERS)}")
    if window is not None:
        raise ValueError(f"the frame sampler {sampler!r} chooses frames over the whole video; give no window "
                         f"(got {window})")


def frame_indices(total_frames: int, fps: float, num_frames: int, window: tuple[float, float] | None = None,
                  sampler: str | None = None) -> list[int]:
    """The frames to read: the named sampler's (1 to num_frames of them), else window_indices."""
    if sampler is None:
        return window_indices(total_frames, fps, num_frames, window)
    _check_sampler(sampler, window)
    indices = [int(i) for i in SAMPLERS[sampler](total_frames, fps, num_frames)]
    if not 1 <= len(indices) <= num_frames or not all(0 <= i < total_frames for i in indices):
        raise ValueError(f"the frame sampler {sampler!r} gave {len(indices)} frames {indices[:8]}... for a video of "
                         f"{total_frames}; it must give 1 to {num_frames} indices in [0, {total_frames})")
    return indices


def probe_size(path: str) -> tuple[int, int]:
    """(height, width) of a video's first stream, from its header (PyAV; no frame is decoded)."""
    import av

    with av.open(path) as container:
        codec = container.streams.video[0].codec_context
        return int(codec.height), int(codec.width)


_muted = {"depth": 0, "saved": -1}
_muted_lock = threading.Lock()


@contextmanager
def native_stderr_muted() -> Iterator[None]:
    """The process's stderr (fd 2, where native libraries print) to /dev/null for the block: for every thread, so
    nested and concurrent blocks share one muting and the last one out restores it."""
    with _muted_lock:
        if _muted["depth"] == 0:
            sys.stderr.flush()
            _muted["saved"] = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
        _muted["depth"] += 1
    try:
        yield
    finally:
        with _muted_lock:
            _muted["depth"] -= 1
            if _muted["depth"] == 0:
                os.dup2(_muted["saved"], 2)
                os.close(_muted["saved"])


# What a decoder reads: (total_frames, fps) of the opened video -> the source frame indices, in order.
Chooser = Callable[[int, float], Sequence[int]]
# decode_indices reads the frames it is given in one forward pass over their span when it is at most this many frames:
# decord's get_batch seeks, and on some files (AVI: HMDB-51, UCF-101) a seek now and then returns another frame
# (dmlc/decord #195; seen here on apply_eye_makeup.avi's last frame); PyAV always reads forward. Wider spans are
# read by seeking.
EXACT_SPAN = 512


def _decode_decord(path: str, choose: Chooser, size: tuple[int, int], window: tuple[float, float] | None,
                   sampler: str | None, exact: bool = False) -> Clip:
    import decord

    height, width = size
    # One open: the decoder scales while converting to RGB, which is cheaper than converting at source
    # size (benchmarks/perf/decoding.py measures it against that floor).
    with native_stderr_muted():  # decord prints a failed open itself; the VideoDecodeError says it once
        reader = decord.VideoReader(path, width=width, height=height, num_threads=1)
    total, fps = len(reader), float(reader.get_avg_fps())
    indices = [int(i) for i in choose(total, fps)]
    low, high = min(indices), max(indices)
    if exact and high - low < EXACT_SPAN:  # one forward read: decord's seeks can return another frame (decord #195)
        frames = reader.get_batch(list(range(low, high + 1))).asnumpy()[[i - low for i in indices]]
    else:
        frames = reader.get_batch(indices).asnumpy()
    return Clip(frames, tuple(indices), fps, total, path, window, sampler)


def _decode_pyav(path: str, choose: Chooser, size: tuple[int, int], window: tuple[float, float] | None,
                 sampler: str | None, exact: bool = True) -> Clip:
    import av

    height, width = size
    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        total = sum(1 for packet in container.demux(stream) if packet.size)
    indices = [int(i) for i in choose(total, fps)]
    wanted = {i: [] for i in indices}
    with av.open(path) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                wanted[i] = frame.to_ndarray(format="rgb24", width=width, height=height)
            if i >= max(indices):
                break
    missing = [i for i in indices if not isinstance(wanted[i], np.ndarray)]
    if missing:
        raise VideoDecodeError(f"{path}: frames {missing} could not be decoded")
    frames = np.stack([wanted[i] for i in indices])
    return Clip(frames, tuple(indices), fps, total, path, window, sampler)


_DECODERS = {"decord": _decode_decord, "pyav": _decode_pyav}
_shape_checked: list[bool] = []  # the first decoded video's shape is compared with the frame size, once a process


def _say_once_if_stretched(path: str, size: tuple[int, int]) -> None:
    """Warn, once, when the frames stretch the video to another shape (16:9 to a square): they are resized whole,
    neither cropped nor padded, and a HEIGHTxWIDTH frame size of the video's shape keeps it."""
    if _shape_checked:
        return
    _shape_checked.append(True)
    try:
        height, width = probe_size(path)
    except Exception:  # noqa: BLE001 (a header PyAV cannot read: the frames came anyway, nothing to say)
        return
    if abs(width / height - size[1] / size[0]) <= 0.02 * width / height:
        return
    kept = f"{size[0]}x{2 * round(size[0] * width / height / 2)}"
    warn(f"frames are {size[0]}x{size[1]} (height x width) but {os.path.basename(path)} is {height}x{width}: the "
         f"frames stretch it to that shape (resized whole, not cropped or padded); to keep its shape use a frame "
         f"size of {kept} (--frame-size {kept})")


def decode(path: str, num_frames: int, size: tuple[int, int], backend: str = "auto",
           window: tuple[float, float] | None = None, sampler: str | None = None) -> Clip:
    """Sample num_frames uniformly from a video (or from its window=(start, end) seconds), resized to size=(H, W).

    sampler: a SAMPLERS name whose frames are read instead (at most num_frames, over the whole video).
    backend "auto" tries decord, then PyAV; a named backend is used alone.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: {path}")
    if window is not None and not 0 <= float(window[0]) < float(window[1]):
        raise ValueError(f"a time window must be 0 <= start < end seconds, got {window}")
    _check_sampler(sampler, window)
    return _read(path, lambda total, fps: frame_indices(total, fps, num_frames, window, sampler), size, backend,
                 window, sampler)


def decode_indices(path: str, indices: Sequence[int], size: tuple[int, int], backend: str = "auto",
                   window: tuple[float, float] | None = None) -> Clip:
    """The source frames at these indices (in the order given), resized to size=(H, W); nothing is resampled.

    window: the (start, end) seconds the indices were chosen in, kept on the clip. VideoDecodeError when an
    index is outside the video. Read in one forward pass over their span (up to EXACT_SPAN frames), not by seeking.
    """
    wanted = [int(i) for i in indices]
    if not wanted or min(wanted) < 0:
        raise ValueError(f"decode_indices needs one or more frame indices >= 0, got {list(indices)[:8]}")

    def choose(total: int, fps: float) -> list[int]:
        if max(wanted) >= total:
            raise VideoDecodeError(f"{path}: frame {max(wanted)} asked for, but the video has {total} frames")
        return wanted

    return _read(path, choose, size, backend, window, None, exact=True)


def _read(path: str, choose: Chooser, size: tuple[int, int], backend: str, window: tuple[float, float] | None,
          sampler: str | None, exact: bool = False) -> Clip:
    """The frames `choose` names, by the first decoder of `backend` ("auto": decord, then PyAV) that reads them."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: {path}")
    if backend == "auto":
        order = list(BACKENDS)
    elif backend in _DECODERS:
        order = [backend]
    else:
        raise ValueError(f"unknown decoder {backend!r}; choose one of {('auto',) + BACKENDS}")
    errors = []
    for name in order:
        try:
            clip = _DECODERS[name](path, choose, size, window, sampler, exact)
            _say_once_if_stretched(path, size)
            return clip
        except ImportError as exc:
            errors.append(f"{name}: not installed ({exc})")
        except VideoDecodeError:
            raise
        except Exception as exc:  # decoders raise many unrelated types on corrupt input
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    raise VideoDecodeError(f"cannot decode {path}: " + "; ".join(errors))
