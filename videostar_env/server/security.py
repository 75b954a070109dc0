"""Who may use the env server and what a request may ask: the token, path-like values, the env options a client
may set, and the bound on request bodies.

A client never names a file on the server: datasets, caches, backends and tasks are the server's, set when it
starts; a client picks samples by dataset index and sets only the episode's shape (frames, turns, tools by their
registered names, reward weights).
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import re
from typing import Any, Awaitable, Callable

from ..core.config import EnvConfig
from ..tools import registered_tools

SHAPE = ("num_frames", "max_tool_frames", "frame_size")
# The EnvConfig fields a client may set, with the largest value of each numeric one (bounds on memory per session).
CLIENT_FIELDS = {"task_options": None, "num_frames": 256, "frame_size": 1024, "action_format": None, "tools": None,
                 "max_turns": 64, "max_tool_frames": 64, "max_dialogue_chars": 1 << 20, "max_action_chars": 1 << 17,
                 "reward": None, "token_budget": 1 << 20, "answer_reserve": 1 << 20, "max_reply_chars": 1 << 17}
# The largest observation a session may ask for, its frames and tool frames together (each reply carries it): 64
# frames at 448 px fit; the default 16 + 8 at 128 px are 1.2 MB.
MAX_OBSERVATION_BYTES = 64 << 20
# Looks like a path: a `..` component, an absolute POSIX or Windows path, a home folder or a file URL.
PATH_LIKE = re.compile(r"(^|[\\/])\.\.([\\/]|$)|^\s*[\\/]|^\s*~|^[A-Za-z]:[\\/]|^\s*file:", re.IGNORECASE)


class Refused(Exception):
    """A request the server will not serve; `status` is its HTTP code and the message says why, in one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_token(expected: str | None, header: str | None) -> None:
    """Refuse (401) a request without `Authorization: Bearer <expected>`; nothing to check when no token is set."""
    if expected is None:
        return
    if not header:
        raise Refused(401, "this server needs a token: send the header 'Authorization: Bearer <token>'")
    scheme, _, given = header.partition(" ")
    # compare_digest: the time taken says nothing about how much of the token matched.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Refused(401, "wrong token in the Authorization header")


def check_no_paths(value: Any, where: str) -> None:
    """Refuse (400) any string in `value`, at any depth, that looks like a file path (`..` or absolute)."""
    if isinstance(value, str):
        if PATH_LIKE.search(value):
            raise Refused(400, f"{where} looks like a file path ({value[:80]!r}); a client never names files on the "
                               "server: choose samples by dataset index")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_no_paths(key, where)
            check_no_paths(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            check_no_paths(item, f"{where}[{k}]")


def client_env_kwargs(kwargs: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The env options a client asked for, checked: only CLIENT_FIELDS, numbers within their bounds, tools by
    registered name, observations within MAX_OBSERVATION_BYTES (with the server's options `base`), no path-like
    values; Refused (400) naming the first problem otherwise."""
    check_no_paths(kwargs, "env_kwargs")
    server_only = sorted(set(kwargs) - set(CLIENT_FIELDS))
    if server_only:
        raise Refused(400, f"env_kwargs {server_only} are set by the server (datasets, backends, caches, tasks are "
                           f"the server's, chosen at `videostar serve`); a client may set {sorted(CLIENT_FIELDS)}")
    for name, bound in CLIENT_FIELDS.items():
        value = kwargs.get(name)
        numbers = value if name == "frame_size" and isinstance(value, (list, tuple)) else [value]
        if bound is not None and any(isinstance(v, int) and v > bound for v in numbers):
            raise Refused(400, f"env_kwargs.{name} is at most {bound} on this server, got {value!r}")
    tools = kwargs.get("tools")
    if tools is not None:
        known = set(registered_tools())
        if not isinstance(tools, list) or not all(isinstance(t, str) and t in known for t in tools):
            raise Refused(400, f"env_kwargs.tools must be a list of registered tool names {sorted(known)}, got "
                               f"{json.dumps(tools)[:200]}")
    shape = {**{f.name: f.default for f in dataclasses.fields(EnvConfig) if f.name in SHAPE}, **base, **kwargs}
    size = shape["frame_size"]
    # Ill-typed values are left to EnvConfig, whose message names them.
    if (all(isinstance(shape[k], int) for k in ("num_frames", "max_tool_frames"))
            and isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        (height, width), count = size, shape["num_frames"] + shape["max_tool_frames"]
        if count * height * width * 3 > MAX_OBSERVATION_BYTES:
            raise Refused(400, f"env_kwargs ask for observations of {count} images of {height}x{width} "
                               f"({count * height * width * 3 >> 20} MiB), over this server's bound of "
                               f"{MAX_OBSERVATION_BYTES >> 20} MiB: fewer frames or smaller ones")
    if "frame_size" in kwargs and isinstance(kwargs["frame_size"], list):
        kwargs = {**kwargs, "frame_size": tuple(kwargs["frame_size"])}
    return kwargs


ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class Guard:
    """ASGI middleware in front of every route: the token first (401), then the body's bound (413), by its
    Content-Length before anything is read or, sent in chunks, as soon as the bytes read pass the bound."""

    def __init__(self, app: ASGIApp, token: str | None, max_bytes: int):
        self.app, self.token, self.max_bytes = app, token, max_bytes

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        try:
            check_token(self.token, headers.get(b"authorization", b"").decode("latin-1") or None)
        except Refused as exc:
            await refuse(send, exc.status, str(exc))
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        # Read the body here, at most max_bytes of it (a chunked body has no Content-Length to check first), and
        # hand it on whole: the app never sees a body over the bound.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return await receive()  # after the body: the disconnect message, when it comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Callable[[dict], Awaitable[None]]) -> None:
        await refuse(send, 413, f"request body over the server's bound of {self.max_bytes} bytes (--max-body-bytes)")


async def refuse(send: Callable[[dict], Awaitable[None]], status: int, message: str) -> None:
    """Send the JSON error reply {"detail": message} and close the connection (its body may be left unread)."""
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

