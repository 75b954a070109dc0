"""Where the tool cache keeps its entries: bytes under content-address names.

Three stores, chosen by `CacheConfig.store`:
- "diskcache" (default): SQLite and files in one folder; safe across the processes of one machine,
  bounded by evicting the least recently stored entries. SQLite's locking is unsafe on NFS.
- "directory": one file per entry, written to a temporary file and renamed into place, so many
  writers (on many nodes, over NFS too) are safe and readers never see a partial entry.
- "fsspec": one object per entry under any fsspec URL (s3://, gs://, memory://); a put is one
  object write. No size bound: use the object store's lifecycle rules. (For a folder, local or
  NFS, use "directory": fsspec writes files in place.)
Or a name registered in the entry-point group "videostar_env.cache_stores", or an import path
"module:attribute" of a factory(directory, size_limit) -> Store.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import time
from contextlib import suppress
from typing import Protocol

import diskcache

from ..errors import MissingDependency, warn
from ..paths import write_atomic
from ..registry import Registry

MAGIC = b"VSTC1\n"  # the first bytes of a framed entry; then a 32-byte BLAKE2b of the payload, then the payload
STALE_TEMP_SECONDS = 3600  # temporary files this old were left by a writer that died; pruning removes them


class Store(Protocol):
    """Bytes under names (hex digests); a put replaces the value as a whole, a get never sees half of one."""

    def get(self, name: str) -> bytes | None: ...

    def put(self, name: str, value: bytes) -> None: ...

    def __len__(self) -> int: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


def frame(payload: bytes) -> bytes:
    """The payload with a header that lets a reader detect a damaged entry."""
    return MAGIC + hashlib.blake2b(payload, digest_size=32).digest() + payload


def unframe(data: bytes, where: str) -> bytes | None:
    """The payload of a framed entry; None, with a warning naming `where`, when it is damaged."""
    head = len(MAGIC) + 32
    payload = data[head:]
    if data[:len(MAGIC)] == MAGIC and hashlib.blake2b(payload, digest_size=32).digest() == data[len(MAGIC):head]:
        return payload
    warn(f"tool cache entry {where} is damaged (written by a writer that died, or not a cache entry); "
         "it counts as a miss and the next result replaces it", stacklevel=3, category=RuntimeWarning)
    return None


class DiskcacheStore:
    """diskcache in one folder: processes of one machine share it; least recently stored entries go beyond size_limit."""

    def __init__(self, directory: str, size_limit: int):
        self.directory = directory
        self._cache = diskcache.Cache(directory, size_limit=size_limit)

    def get(self, name: str) -> bytes | None:
        """The bytes stored under name, or None."""
        value = self._cache.get(name)
        if value is not None and not isinstance(value, bytes):
            return pickle.dumps(value)  # an entry of a cache written before stores held bytes: the object itself
        return value

    def put(self, name: str, value: bytes) -> None:
        """Store value under name."""
        self._cache.set(name, value)

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        """Remove every entry."""
        self._cache.clear()

    def close(self) -> None:
        """Release the SQLite handle (the entries stay)."""
        self._cache.close()


class DirectoryStore:
    """One file per entry, `<directory>/<name[:2]>/<name>.entry`, each written whole by a rename.

    Safe for many writers on many machines sharing the folder (NFS included): a writer writes a
    temporary file beside the entry and renames it over the entry, which is atomic, so a reader
    sees the old entry, the new one or none. Same-name writers write the same value (names are
    content addresses), so the last rename wins harmlessly. Entries carry a checksum: a damaged
    one (a node that crashed mid-write) is a miss. Size: each writer, after writing a tenth of
    size_limit, deletes the least recently stored entries beyond size_limit; between prunes the
    folder may exceed the limit by up to a tenth of it per writer.
    """

    SUFFIX = ".entry"

    def __init__(self, directory: str, size_limit: int):
        if size_limit <= 0:
            raise ValueError(f"a directory store needs a positive size limit in bytes, got {size_limit}")
        self.directory = directory
        self.size_limit = size_limit
        self._written = 0  # bytes this process wrote since its last prune
        os.makedirs(directory, exist_ok=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name[:2], name + self.SUFFIX)

    def get(self, name: str) -> bytes | None:
        """The bytes stored under name, or None (missing or damaged)."""
        path = self._path(name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ESTALE:  # NFS: another node replaced the entry while this one opened it
                return None
            raise
        return unframe(data, path)

    def put(self, name: str, value: bytes) -> None:
        """Store value under name: write a temporary file, then rename it into place."""
        path = self._path(name)
        data = frame(value)
        write_atomic(path, data)
        self._written += len(data)
        if self._written > self.size_limit // 10:
            self._written = 0
            self.prune(keep=path)

    def _files(self) -> list[os.DirEntry]:
        found = []
        with suppress(FileNotFoundError), os.scandir(self.directory) as folders:
            for folder in folders:
                if folder.is_dir() and len(folder.name) == 2:
                    with suppress(FileNotFoundError), os.scandir(folder.path) as entries:
                        found.extend(e for e in entries if e.name.endswith((self.SUFFIX, ".tmp")))
        return found

    def prune(self, keep: str | None = None) -> None:
        """Delete the least recently stored entries beyond size_limit (never `keep`), and stale temporary files."""
        entries, now = [], time.time()
        for entry in self._files():
            with suppress(FileNotFoundError):  # another writer's prune may delete it meanwhile
                stat = entry.stat()
                if entry.name.endswith(".tmp"):
                    if now - stat.st_mtime > STALE_TEMP_SECONDS:
                        os.unlink(entry.path)
                else:
                    entries.append((stat.st_mtime_ns, stat.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.size_limit:
                break
            if path != keep:
                with suppress(FileNotFoundError):
                    os.unlink(path)
                total -= size

    def __len__(self) -> int:
        return sum(e.name.endswith(self.SUFFIX) for e in self._files())

    def clear(self) -> None:
        """Remove every entry (and temporary file) of this store; other files in the folder stay."""
        for entry in self._files():
            with suppress(FileNotFoundError):
                os.unlink(entry.path)

    def close(self) -> None:
        """Nothing to release: every get and put opens and closes its own file."""


class FsspecStore:
    """One object per entry under an fsspec URL (`s3://bucket/prefix` with s3fs installed, `memory://...`)."""

    def __init__(self, directory: str, size_limit: int):
        try:
            import fsspec  # optional: only this store needs it
        except ImportError as exc:
            raise MissingDependency("the 'fsspec' cache store needs fsspec: pip install fsspec (and s3fs for s3://, "
                              "gcsfs for gs://)") from exc

        self.directory = directory
        self.size_limit = size_limit  # not enforced: object stores expire entries by their own lifecycle rules
        self._fs, self._root = fsspec.core.url_to_fs(directory)

    def _path(self, name: str) -> str:
        return f"{self._root.rstrip('/')}/{name[:2]}/{name}.entry"

    def get(self, name: str) -> bytes | None:
        """The bytes stored under name, or None (missing or damaged)."""
        path = self._path(name)
        try:
            data = self._fs.cat_file(path)
        except FileNotFoundError:
            return None
        return unframe(data, f"{self.directory} {path}")

    def put(self, name: str, value: bytes) -> None:
        """Store value under name, in one object write."""
        self._fs.pipe_file(self._path(name), frame(value))

    def __len__(self) -> int:
        return sum(p.endswith(".entry") for p in self._fs.find(self._root))

    def clear(self) -> None:
        """Remove every entry under the URL."""
        paths = [p for p in self._fs.find(self._root) if p.endswith(".entry")]
        if paths:
            self._fs.rm(paths)

    def close(self) -> None:
        """Nothing to release."""


# name -> factory(directory, size_limit) -> Store; other packages add stores in the entry-point group below.
STORES: Registry[Store] = Registry("cache store", "videostar_env.cache_stores")
for _name, _factory in {"diskcache": DiskcacheStore, "directory": DirectoryStore, "fsspec": FsspecStore}.items():
    STORES.register(_name, _factory)
