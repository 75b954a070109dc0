"""Large blocks go back to the OS when freed: glibc's mmap threshold is fixed instead of rising."""

import ctypes
import platform
import subprocess
import sys

import pytest

from videostar_trainers.process import return_large_blocks

GLIBC = platform.libc_ver()[0] == "glibc"

# Frees an 8 MiB block (glibc then raises its threshold to 8 MiB unless it was fixed), then allocates 2 MiB and 256 KiB
# and prints how many more blocks each maps on its own (mallinfo2's hblks): 1 when mapped, 0 when from the heap.
PROBE = """
import ctypes, sys
import numpy as np
from videostar_trainers.process import return_large_blocks
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                               "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "fixed":
    assert return_large_blocks()
if sys.argv[1] == "tuned":
    from videostar_trainers.process import tune_worker_process
    assert tune_worker_process()["mmap_threshold"] == 1 << 20
big = np.ones(8 << 20, np.uint8)
del big
before = libc.mallinfo2().hblks
large = np.ones(2 << 20, np.uint8)
middle = libc.mallinfo2().hblks
small = np.ones(256 << 10, np.uint8)
print(middle - before, libc.mallinfo2().hblks - middle)
"""


@pytest.mark.skipif(not GLIBC, reason="the mmap threshold is glibc's")
def test_a_fixed_threshold_maps_large_blocks_even_after_a_larger_one_was_freed_and_recycles_small_ones():
    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("glibc older than 2.33 has no mallinfo2 to count mapped blocks")

    def mapped(mode: str) -> list[int]:
        return [int(n) for n in subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                                               check=True).stdout.split()]

    assert mapped("dynamic") == [0, 0]  # glibc's default: the freed 8 MiB raised the threshold; both from the heap
    assert mapped("fixed") == [1, 0]  # 2 MiB mapped on its own (freed at once), 256 KiB from the heap
    assert mapped("tuned") == [1, 0]  # what a worker's set-up does (tune_worker_process)


@pytest.mark.parametrize("threshold", [0, -1, 64 << 20, 1.5, True, "128k"])
def test_a_threshold_outside_what_glibc_takes_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold must be a number of bytes"):
        return_large_blocks(threshold)


@pytest.mark.skipif(not GLIBC, reason="the mmap threshold is glibc's")
def test_the_threshold_is_set_on_glibc():
    assert return_large_blocks() is True
