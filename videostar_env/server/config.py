"""ServerConfig: every setting of the env server (`videostar serve` sets each from its command line)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServerConfig:
    """What the server serves and who may use it; each default keeps it on this machine only."""

    env_id: str = "VideoSTAR-v0"  # the one env id sessions play
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # the server's env options: dataset, backends, cache
    host: str = "127.0.0.1"  # another address exposes the server to that network: then a token is required
    port: int = 8765
    token_env: str | None = None  # name of the environment variable holding the token every request must carry
    max_sessions: int = 64  # sessions open at once; one more is refused with 429
    idle_timeout: float = 600.0  # seconds a session may go unused before it is closed
    max_body_bytes: int = 1 << 20  # a request body over this is refused with 413 (an action is at most 1 MiB)
    threads: int | None = None  # the pool that steps the envs; None: 4 per core this process may use

    def __post_init__(self) -> None:
        for name, low in (("port", 0), ("max_sessions", 1), ("max_body_bytes", 1024)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ServerConfig.{name} must be an integer of at least {low}, got {value!r}")
        if self.port > 65535:
            raise ValueError(f"ServerConfig.port must be at most 65535, got {self.port}")
        if not isinstance(self.idle_timeout, (int, float)) or self.idle_timeout <= 0:
            raise ValueError(f"ServerConfig.idle_timeout must be a positive number of seconds, got {self.idle_timeout!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"ServerConfig.threads must be a positive integer or None, got {self.threads!r}")
        if not is_loopback(self.host) and self.token_env is None:
            raise ValueError(f"--host {self.host} lets other machines reach the server: give it a token too "
                             "(--token-env VAR, the name of an environment variable holding the token)")

    def token(self) -> str | None:
        """The token from the environment variable token_env (None when there is none to check)."""
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env, "")
        if not value.strip():
            raise ValueError(f"--token-env names {self.token_env}, which is not set or empty: export the token in it")
        if len(value.strip()) < 16:
            raise ValueError(f"the token in {self.token_env} is shorter than 16 characters: use a random one, e.g. "
                             "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return value.strip()

    def pool_threads(self) -> int:
        """The pool's size: threads, or 4 per core this process may use (env threads mostly wait on tools)."""
        if self.threads is not None:
            return self.threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return 4 * cores


def is_loopback(host: str) -> bool:
    """Whether host is this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
