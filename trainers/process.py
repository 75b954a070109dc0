"""The settings of a process that plays many episodes at once: its GIL switch interval and glibc's mmap threshold.

`tune_worker_process` sets both, once per worker process: Ray's worker set-up hook (verl_fixes.setup_worker) and
the CPU trainer call it. What each value was measured against: docs/process-tuning.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
MMAP_THRESHOLD = 1024 * 1024  # bytes: blocks from 1 MiB up (frames, letterboxed batches) are mapped on their own
SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL while others wait for it (Python's own: 0.005)

_TUNED: dict[str, Any] = {}  # what tune_worker_process set in this process


def _checked_threshold(threshold: Any) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= 32 * 1024 * 1024:
        raise ValueError(f"threshold must be a number of bytes in (0, 32 MiB], got {threshold!r}")
    return threshold


def _checked_interval(interval: Any) -> float:
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval <= 1:
        raise ValueError(f"switch_interval must be a number of seconds in (0, 1] or None, got {interval!r}")
    return float(interval)


def return_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Make glibc map blocks of at least `threshold` bytes on their own (freed at once) and stop raising that bound;
    False, changing nothing, where the C library is not glibc."""
    _checked_threshold(threshold)
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl and macOS have no such threshold to fix
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1


def tune_worker_process(switch_interval: float | None = SWITCH_INTERVAL,
                        mmap_threshold: int | None = MMAP_THRESHOLD) -> dict[str, Any]:
    """Set this process's GIL switch interval and glibc mmap threshold (None: leave that one); what is now set
    (mmap_threshold None where it was left or the C library is not glibc). Both are checked before either is set."""
    interval = None if switch_interval is None else _checked_interval(switch_interval)
    threshold = None if mmap_threshold is None else _checked_threshold(mmap_threshold)
    if interval is not None:
        sys.setswitchinterval(interval)
    mapped = threshold is not None and return_large_blocks(threshold)
    _TUNED.update(switch_interval=sys.getswitchinterval(), mmap_threshold=threshold if mapped else None)
    return dict(_TUNED)


def tuned() -> dict[str, Any] | None:
    """What tune_worker_process set in this process, or None if it has not run here."""
    return dict(_TUNED) if _TUNED else None
