"""The tool cache: every tool result stored, content-addressed, shared by processes (and nodes).

A GRPO group revisits one video n times and training revisits it every epoch; a tool
should run once per (video content, sampled frames, tool, its code, canonical arguments,
candidates, backend ids). Backend ids name the model and its weights digest, so new weights
miss; the code digest is of the tool's class (or function) source, so an edited tool misses.
The entries live in a store (stores.py): diskcache by default (SQLite + files: safe across the
processes of one machine and restarts, size-bounded), or one file per entry in a folder that
the nodes of a multi-node job share ("directory"), or an object store ("fsspec").
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import pickle
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

try:
    import fcntl
except ImportError:  # not on Windows: no cross-process wait there, each process computes its own misses
    fcntl = None  # type: ignore[assignment]

from ..errors import warn
from ..video.digest import file_digest
from ..backends import KINDS
from ..paths import cache_dir
from .base import Tool, ToolResult, option
from .stores import STORES

if TYPE_CHECKING:
    from .base import ToolContext



@dataclass(frozen=True)
class CacheConfig:
    """Where and how big the tool cache is."""

    directory: str | None = None  # None: the tools/ folder of paths.cache_dir() ($VIDEOSTAR_CACHE_DIR); a URL for "fsspec"
    size_limit_gb: float = 4.0  # least recently stored entries are evicted beyond this size ("fsspec": not bounded)
    store: str = "diskcache"  # "diskcache" (one machine), "directory" (a folder many nodes share, NFS too), "fsspec"
    lock_wait_s: float = 300.0  # how long a process waits for another computing the same result (0: never waits)

    def __post_init__(self) -> None:
        if not isinstance(self.store, str):  # a name travels to worker processes; a store object may not
            raise TypeError(f"CacheConfig.store must be a registered store name or an import path 'module:attribute' "
                            f"of a factory(directory, size_limit), got {self.store!r}")
        if isinstance(self.lock_wait_s, bool) or not isinstance(self.lock_wait_s, (int, float)) or self.lock_wait_s < 0:
            raise ValueError(f"CacheConfig.lock_wait_s must be a number of seconds >= 0, got {self.lock_wait_s!r}")


def tool_key(tool: Tool, arguments: dict[str, Any], ctx: "ToolContext") -> dict[str, Any]:
    """Everything a tool's result depends on, as canonical JSON-ready data.

    A tool may declare `uses`: what it reads among "video" (the sampled frames), the backend
    kinds, and "knowledge" (default: the video and every backend); and `version`, bumped when
    its output changes for a reason its own source does not show (a helper it calls, a data
    file). A tool that does not read the video is cached once for all videos.
    """
    uses = option(tool, "uses") or ("video", *KINDS)  # undeclared: everything it could read
    key: dict[str, Any] = {
        "tool": tool.name, "version": str(option(tool, "version")), "code": code_digest(tool),
        "arguments": arguments, "candidates": list(ctx.candidates),
        "backends": {kind: getattr(ctx.backends, kind).id for kind in uses if kind in KINDS},
    }
    if "video" in uses:
        key["video"] = file_digest(ctx.sample.video)
        key["frames"] = {"indices": [int(i) for i in ctx.clip.indices], "size": list(ctx.clip.frames.shape[1:3])}
    if "knowledge" in uses:
        key["knowledge"] = ctx.knowledge.digest
    return key


_CODE_DIGESTS: "weakref.WeakKeyDictionary[Any, str | None]" = weakref.WeakKeyDictionary()


def code_digest(tool: Tool) -> str | None:
    """A digest of the source of the tool's class (a function tool: the function), or None where none can be read.

    Read once per class in a process, so a process keys on the code it loaded. Without source
    (a class typed at the interpreter prompt) the key holds None and only `version` tells versions apart.
    """
    definition = tool if inspect.isfunction(tool) or inspect.ismethod(tool) else type(tool)
    definition = inspect.unwrap(getattr(definition, "__func__", definition))
    try:
        return _CODE_DIGESTS[definition]
    except (KeyError, TypeError):
        pass
    try:
        digest: str | None = hashlib.sha256(inspect.getsource(definition).encode()).hexdigest()[:16]
    except (OSError, TypeError):  # built in, or defined where no file holds it
        digest = None
        warn(f"tool {getattr(tool, 'name', definition)!r}: its source cannot be read, so its cached results "
             f"are keyed on its `version` only; bump `version` when you change it", stacklevel=3)
    try:
        _CODE_DIGESTS[definition] = digest
    except TypeError:  # not weakly referenceable: read again next time
        pass
    return digest


def cacheable(tool: Tool) -> bool:
    """Whether a tool's results may be cached (tools set `cacheable = False` if they are not deterministic)."""
    return bool(option(tool, "cacheable"))


# Processes computing the same key wait for one another through a lock file; keys share LOCK_STRIPES files (made as
# keys need them), so the folder stays bounded and two keys of one stripe computed at once wait too, rarely.
LOCK_STRIPES = 65536


class ToolCache:
    """Tool results in a store under a hash of their key; `hits` and `misses` count lookups in this process."""

    def __init__(self, config: CacheConfig = CacheConfig()):
        self.config = config
        self.directory = config.directory or str(cache_dir() / "tools")
        self._store = STORES.make(config.store, directory=self.directory, size_limit=int(config.size_limit_gb * 2**30))
        self.hits = 0
        self.misses = 0

    @staticmethod
    def hash(key: dict[str, Any]) -> str:
        """The content address of a key."""
        canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def get(self, key: dict[str, Any], counted: bool = True) -> ToolResult | None:
        """The stored result for this key, or None (counted: add the lookup to hits or misses)."""
        value = self._store.get(self.hash(key))
        if value is None:
            self.misses += counted
            return None
        self.hits += counted
        return pickle.loads(value)

    @contextmanager
    def computing(self, key: dict[str, Any]) -> Iterator[bool]:
        """Hold this key's lock across processes while its result is computed and stored; yields whether it holds
        it. Another process that misses the same key waits (at most CacheConfig.lock_wait_s), then finds the result
        stored. No lock, with a warning, where one cannot be taken (a folder without locks, an NFS mount without
        lockd), and none for a store that is not a local folder: each process then computes its own misses."""
        if fcntl is None or "://" in self.directory or self.config.lock_wait_s <= 0:
            yield False
            return
        stripe = f"{int(self.hash(key)[:8], 16) % LOCK_STRIPES:04x}"
        path = os.path.join(self.directory, "locks", stripe[:2], f"{stripe}.lock")
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            handle = open(path, "a+b")
        except OSError as exc:
            warn(f"the tool cache cannot make lock files under {self.directory}/locks ({exc.strerror}): processes "
                 "sharing it may compute the same result at once")
            yield False
            return
        with handle:
            locked = self._lock(handle)
            try:
                yield locked
            finally:
                if locked:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _lock(self, handle: Any) -> bool:
        """Take the lock file's exclusive lock, polling until lock_wait_s has passed; whether it was taken."""
        deadline, pause = time.monotonic() + self.config.lock_wait_s, 0.01
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    warn(f"waited {self.config.lock_wait_s:g} s (CacheConfig.lock_wait_s) for another process "
                         "computing a tool result; computing it here too")
                    return False
                time.sleep(pause)
                pause = min(2 * pause, 0.25)
            except OSError as exc:  # ENOLCK: a file system without locks
                warn(f"the tool cache cannot lock files under {self.directory}/locks ({exc.strerror}): processes "
                     "sharing it may compute the same result at once")
                return False

    def stored_meanwhile(self, key: dict[str, Any]) -> ToolResult | None:
        """The result another process stored after this one's miss (then counted as a hit, not a miss), or None."""
        result = self.get(key, counted=False)
        if result is not None:
            self.misses -= 1
            self.hits += 1
        return result

    def put(self, key: dict[str, Any], result: ToolResult) -> None:
        """Store a result under this key."""
        self._store.put(self.hash(key), pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> None:
        """Remove every entry."""
        self._store.clear()

    def close(self) -> None:
        """Release the store's handles (the entries stay)."""
        self._store.close()

    def __getstate__(self) -> dict[str, Any]:
        # A SQLite handle cannot cross a process boundary; the copy reopens the same folder.
        return {"config": dataclasses.replace(self.config, directory=self.directory)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])
