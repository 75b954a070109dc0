"""Content digests of files: the identity of a video or of model weights, for caches and backend ids."""

from __future__ import annotations

import hashlib
import os

_DIGESTS: dict[tuple[str, int, int], str] = {}  # (real path, size, mtime_ns) -> digest, per process


def file_digest(path: str | os.PathLike) -> str:
    """BLAKE2b of a file's bytes, remembered per (path, size, mtime) within the process."""
    real = os.path.realpath(path)
    stat = os.stat(real)
    memo = (real, stat.st_size, stat.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.blake2b(digest_size=20)
        with open(real, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]
