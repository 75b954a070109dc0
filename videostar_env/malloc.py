"""Large allocations given back to the OS when freed: how a process running many episodes keeps its peak memory.

An episode allocates large, short-lived blocks: decoded frames (2.4 MB at 16 frames of 224 px),
observation copies, tool images, and the YOLO service's letterboxed batches (about 5 MB a frame
at 640 px in float32). glibc serves a block from its heap arenas unless it is at least the mmap
threshold, and it raises that threshold to the size of any mmap'd block freed (up to 32 MiB on
64-bit), so after the first frames are freed every later one comes from the arenas, one per
thread, which give little back. Measured on the real clips, 64 episodes at once in one event
loop (`benchmarks/perf/concurrency.py`): the peak RSS went from 2.03 to 1.52 GB with the
threshold fixed at 128 KiB (glibc's initial value), the RSS of 64 idle warmed envs from 1.40 to
1.03 GB. Fixing it costs an mmap and munmap per large block, microseconds beside the work that
fills it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's own initial threshold, kept fixed


def return_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Make glibc map blocks of at least `threshold` bytes on their own (freed at once) and stop raising that bound;
    False, changing nothing, where the C library is not glibc."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= 32 * 1024 * 1024:
        raise ValueError(f"threshold must be a number of bytes in (0, 32 MiB], got {threshold!r}")
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl and macOS have no such threshold to fix
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1
