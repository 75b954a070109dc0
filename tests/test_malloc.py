"""Large blocks go back to the OS when freed: glibc's mmap threshold is fixed instead of rising."""

import ctypes
import platform
import subprocess
import sys

import pytest

from videostar_env.malloc import return_large_blocks

GLIBC = platform.libc_ver()[0] == "glibc"

# Frees a 4 MiB block (glibc then raises its threshold to 4 MiB unless it was fixed), then allocates 1 MiB and prints
# how many more blocks are mapped on their own (mallinfo2's hblks): 1 when the 1 MiB block is mapped, 0 from the heap.
PROBE = """
import ctypes, sys
import numpy as np
from videostar_env.malloc import return_large_blocks
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                               "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "fixed":
    assert return_large_blocks()
big = np.ones(4 << 20, np.uint8)
del big
before = libc.mallinfo2().hblks
block = np.ones(1 << 20, np.uint8)
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(not GLIBC, reason="the mmap threshold is glibc's")
def test_a_fixed_threshold_maps_large_blocks_even_after_a_larger_one_was_freed():
    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("glibc older than 2.33 has no mallinfo2 to count mapped blocks")

    def mapped(mode: str) -> int:
        return int(subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                                  check=True).stdout)

    assert mapped("dynamic") == 0  # glibc's default: the freed 4 MiB raised the threshold, 1 MiB came from the heap
    assert mapped("fixed") == 1


@pytest.mark.parametrize("threshold", [0, -1, 64 << 20, 1.5, True, "128k"])
def test_a_threshold_outside_what_glibc_takes_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold must be a number of bytes"):
        return_large_blocks(threshold)


@pytest.mark.skipif(not GLIBC, reason="the mmap threshold is glibc's")
def test_the_threshold_is_set_on_glibc():
    assert return_large_blocks() is True
