"""RemoteVideoEnv: a Gymnasium env that plays one session of an env server, with the server env's spaces.

    env = gym.make("videostar/Remote-v0", url="http://127.0.0.1:8765", token_env="VIDEOSTAR_TOKEN")
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import gymnasium as gym

from ..errors import MissingDependency
from .encoding import ENCODINGS, build_space, decode_observation


_SESSION_PATH = re.compile(r"/sessions/[^/\s\"']+")


class HideSessionIds(logging.Filter):
    """httpx logs every request's URL at INFO; a session id grants its session to whoever reads the log, so the
    client's log lines show /sessions/<id> instead (the server keeps ids out of its own log too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _SESSION_PATH.sub("/sessions/<id>", record.getMessage()), ()
        return True


def _hide_session_ids() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, HideSessionIds) for f in logger.filters):
        logger.addFilter(HideSessionIds())


class RemoteVideoEnv(gym.Env[dict, str]):
    """One session of the server at `url`: reset, step and close go over HTTP; spaces come from the server."""

    metadata = {"render_modes": []}

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str | None = None, token_env: str | None = None,
                 env_kwargs: dict[str, Any] | None = None, image_encoding: str = "png", timeout: float = 300.0):
        try:
            import httpx
        except ImportError as exc:
            raise MissingDependency("RemoteVideoEnv needs httpx: pip install -e '.[serve]'") from exc
        if image_encoding not in ENCODINGS:
            raise ValueError(f"image_encoding must be one of {ENCODINGS}, got {image_encoding!r}")
        if token is None and token_env is not None:
            token = (os.environ.get(token_env) or "").strip() or None
            if token is None:
                raise ValueError(f"token_env names {token_env}, which is not set or empty")
        token = token.strip() if token else token  # as the server reads it: a token file's newline is not the token
        _hide_session_ids()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Certificates are checked on https; a plain-http URL has no TLS, so loading them (50 ms) is skipped.
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout,
                                  verify=url.lower().startswith("https://"))
        self._transport_errors = httpx.TransportError
        self._session: str | None = None
        self._memo: dict[str, dict] = {}  # the last decoded image per key and slot
        try:
            made = self._call("POST", "/sessions", {"env_kwargs": env_kwargs or {}, "image_encoding": image_encoding})
            self._session = made["session_id"]
            self.env_id: str = made["env_id"]
            self.tool_schemas: list[dict[str, Any]] = made["tools"]
            self.dataset_size: int = made["dataset_size"]
            self.observation_space = build_space(made["observation_space"])
            self.action_space = build_space(made["action_space"])
        except BaseException:
            self.close()  # the server's session (if one was opened) and the connection
            raise

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start an episode on the server: seed and options ({"index", "token_budget"}) as the server env takes them."""
        super().reset(seed=seed)
        got = self._call("POST", f"/sessions/{self._session}/reset", {"seed": seed, "options": options or {}})
        return decode_observation(got["observation"], self._memo), got["info"]

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        """One policy turn, played by the server's env."""
        if not isinstance(action, str):
            raise TypeError(f"the action is the policy's text, a str; got {type(action).__name__}")
        got = self._call("POST", f"/sessions/{self._session}/step", {"action": action})
        obs = decode_observation(got["observation"], self._memo)
        return obs, float(got["reward"]), got["terminated"], got["truncated"], got["info"]

    def close(self) -> None:
        """Close the server's session (once) and the connection."""
        try:
            if self._session is not None:
                session, self._session = self._session, None
                try:
                    self._call("DELETE", f"/sessions/{session}")
                except (RuntimeError, ConnectionError):  # expired there, or no server left: nothing to close
                    pass
        finally:
            self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The server's JSON reply; its error as ValueError (the request: 400, 413, 422), PermissionError (401) or
        RuntimeError (an unknown session, a full server, a server fault), with the server's message; no server at
        all is a ConnectionError."""
        if self._http.is_closed:
            raise RuntimeError("the remote env is closed")
        try:
            reply = self._http.request(method, path, json=body)
        except self._transport_errors as exc:
            raise ConnectionError(f"the env server at {self._http.base_url} cannot be reached ({exc}); is "
                                  "`videostar serve` running there?") from exc
        if reply.status_code < 400:
            return reply.json()
        try:
            detail = reply.json().get("detail", reply.text)
        except ValueError:
            detail = reply.text[:300]
        message = f"env server ({reply.status_code}): {detail}"
        if reply.status_code in (400, 413, 422):
            raise ValueError(message)
        if reply.status_code == 401:
            raise PermissionError(message)
        raise RuntimeError(message)
