"""Where the package finds the files users give it and keeps the files it makes."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def cache_dir() -> Path:
    """The package's cache folder: $VIDEOSTAR_CACHE_DIR, else ~/.cache/videostar_env."""
    return Path(os.environ.get("VIDEOSTAR_CACHE_DIR") or Path.home() / ".cache" / "videostar_env")


ANNOTATIONS_ENV = "VIDEOSTAR_ANNOTATIONS"


def annotations_root(root: str | os.PathLike | None = None) -> Path:
    """The Video-STAR annotation folder: `root`, else $VIDEOSTAR_ANNOTATIONS; FileNotFoundError if neither exists."""
    value = root or os.environ.get(ANNOTATIONS_ENV)
    if not value:
        raise FileNotFoundError(f"the Video-STAR annotation folder is needed (the AFile/ folder of the paper's "
                                f"repository, with json/ and json_split/): pass its path or set {ANNOTATIONS_ENV}")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"the Video-STAR annotation folder {path} does not exist")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file beside `path` to write, renamed over `path` when the block ends (removed if it raises): readers
    see the old file or the new one, never a part, whatever writers race.

    The temporary file (`.<name>.<random>.tmp`, beside the target) is renamed over the target, which is
    atomic within one folder on local and network file systems.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the other workers of a cluster read it
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write a whole file or nothing (see atomic_path)."""
    with atomic_path(path) as temporary:
        Path(temporary).write_bytes(data)
