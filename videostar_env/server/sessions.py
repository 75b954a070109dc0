"""The env server's sessions: one env each, made, stepped and closed on a thread pool (env steps block), found by
an unguessable id, closed when idle too long."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import gymnasium as gym

from .encoding import ENCODINGS
from .security import Refused

LOG = logging.getLogger("videostar_env.server")
T = TypeVar("T")


@dataclass
class Session:
    """One client's env; `number` names it in the server's log (the id is a secret: whoever holds it may step)."""

    id: str
    number: int
    env: gym.Env
    encoding: str
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request at a time per env
    memo: dict[str, dict] = field(default_factory=dict)  # the last PNGs per observation key and slot
    steps: int = 0
    episodes: int = 0
    done: bool = True


class SessionStore:
    """Every open session of one server, its thread pool, and the idle expiry."""

    def __init__(self, make_env: Callable[[dict[str, Any]], gym.Env], max_sessions: int, idle_timeout: float,
                 threads: int):
        self.make_env, self.max_sessions, self.idle_timeout = make_env, max_sessions, idle_timeout
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="videostar-env")
        self.sessions: dict[str, Session] = {}
        self._pending = 0  # sessions being made: counted against max_sessions before they exist
        self._count = itertools.count(1)
        self._guard = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on the pool, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def create(self, env_kwargs: dict[str, Any], encoding: str) -> Session:
        """A new session with its env made from env_kwargs; Refused (429) when the server is full."""
        if encoding not in ENCODINGS:
            raise Refused(400, f"image_encoding must be one of {list(ENCODINGS)}, got {encoding!r}")
        with self._guard:
            if len(self.sessions) + self._pending >= self.max_sessions:
                raise Refused(429, f"the server holds its maximum of {self.max_sessions} sessions (--max-sessions); "
                                   "close one (DELETE /sessions/ID) or wait for idle ones to expire")
            self._pending += 1
        try:
            env = await self.run(self.make_env, env_kwargs)
        finally:
            with self._guard:
                self._pending -= 1
        session = Session(secrets.token_urlsafe(32), next(self._count), env, encoding, time.monotonic())
        with self._guard:
            self.sessions[session.id] = session
        LOG.info("session %d opened (%d open)", session.number, len(self.sessions))
        return session

    def get(self, session_id: str) -> Session:
        """The open session with this id; Refused (404) for an id never given out, closed or expired."""
        session = self.sessions.get(session_id)
        if session is None:
            raise Refused(404, "unknown session: it was never opened, was closed, or expired after "
                               f"{self.idle_timeout:g} s idle; open one with POST /sessions")
        session.last_used = time.monotonic()
        return session

    async def close(self, session_id: str, why: str = "closed") -> None:
        """Close one session's env and forget it (404 when there is none)."""
        with self._guard:
            session = self.sessions.pop(session_id, None)
        if session is None:
            raise Refused(404, "unknown session: it was never opened, was closed, or has expired")
        async with session.lock:  # a step in flight finishes first
            await self.run(session.env.close)
        LOG.info("session %d %s after %d steps (%d open)", session.number, why, session.steps, len(self.sessions))

    async def expire(self) -> int:
        """Close every session idle for longer than idle_timeout; how many were closed."""
        now = time.monotonic()
        idle = [s.id for s in list(self.sessions.values())
                if now - s.last_used > self.idle_timeout and not s.lock.locked()]
        for session_id in idle:
            await self._close_quietly(session_id, f"expired ({self.idle_timeout:g} s idle)")
        return len(idle)

    async def _close_quietly(self, session_id: str, why: str) -> None:
        """close(), where no client waits for the answer: an env whose close fails is logged, the rest go on."""
        try:
            await self.close(session_id, why)
        except Refused:  # closed by its client meanwhile
            pass
        except Exception:  # noqa: BLE001  (the expiry task and the shutdown must outlive one broken env)
            LOG.exception("closing a session (%s) failed; it is forgotten", why)

    async def expire_forever(self) -> None:
        """expire() every quarter of the idle timeout (at most every 30 s), until cancelled."""
        while True:
            await asyncio.sleep(min(max(self.idle_timeout / 4, 0.05), 30.0))
            try:
                await self.expire()
            except Exception:  # noqa: BLE001  (a dead expiry task would leave every session open for good)
                LOG.exception("expiring idle sessions failed; trying again at the next tick")

    async def close_all(self) -> None:
        """Close every session and the pool (the server is stopping)."""
        for session_id in list(self.sessions):
            await self._close_quietly(session_id, "closed (server stopping)")
        self.pool.shutdown(wait=False, cancel_futures=True)
