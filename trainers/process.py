"""Large allocations given back to the OS when freed: how a process running many episodes keeps its peak memory.

An episode allocates large, short-lived blocks: decoded frames (2.4 MB at 16 frames of 224 px),
observation copies, tool images, and the YOLO service's letterboxed batches (about 5 MB a frame
at 640 px in float32). glibc serves a block from its heap arenas unless it is at least the mmap
threshold, and it raises that threshold to the size of any mmap'd block freed (up to 32 MiB on
64-bit), so after the first frames are freed every later one comes from the arenas, one per
thread, which give little back. Measured on the real clips, 64 episodes at once in one event
loop (`benchmarks/perf/concurrency.py`): the peak RSS went from 2.03 to 1.52 GB with the
threshold fixed, the RSS of 64 idle warmed envs from 1.40 to 1.03 GB. Fixing it costs an mmap,
page faults and a munmap per large block. Fixed at 1 MiB (measured at K = 64, CPU per frame the
models ran and peak RSS): 128 KiB cost 34.3-36.6 ms and 1.06-1.09 GB, 1 MiB 32.7-33.4 ms and
1.09-1.11 GB, 4 MiB 30.8-32.1 ms and 1.17-1.20 GB, glibc's rising threshold 31.1-32.2 ms and
1.40-1.46 GB. Blocks under 1 MiB (a 224 px frame, a pose output) are recycled by the arenas.
A bound on the number of arenas (M_ARENA_MAX) would save more, but glibc reads it only until a
process has made 8 arenas, and a Ray worker has made 16 before any of our code runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
MMAP_THRESHOLD = 1024 * 1024  # bytes: blocks from 1 MiB up (frames, letterboxed batches) are mapped on their own


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
