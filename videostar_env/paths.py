"""Where the package finds the files users give it and keeps the files it makes."""

from __future__ import annotations

import os
from pathlib import Path


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
