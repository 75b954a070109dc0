"""Shared test set-up: rendered synthetic videos go to a temporary cache for the whole session."""

import os
import tempfile

# Set before any env is made so async vector-env workers (subprocesses) inherit it too.
os.environ.setdefault("VIDEOSTAR_CACHE_DIR", tempfile.mkdtemp(prefix="videostar-test-cache-"))
