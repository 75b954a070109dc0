"""Where the package keeps files it makes: rendered videos and tool results."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The package's cache folder: $VIDEOSTAR_CACHE_DIR, else ~/.cache/videostar_env."""
    return Path(os.environ.get("VIDEOSTAR_CACHE_DIR") or Path.home() / ".cache" / "videostar_env")
