"""The env server's HTTP app: sessions of one env id, each with OpenEnv's reset/step/state over JSON bodies.

    POST   /sessions               {"env_kwargs": {...}, "image_encoding": "png"|"raw"} -> id, spaces, tools
    POST   /sessions/{id}/reset    {"seed": 0, "options": {"index": 3}}  -> observation, reward, done, ..., info
    POST   /sessions/{id}/step     {"action": "<tool_call>...</tool_call>"} -> the same
    GET    /sessions/{id}/state    -> episodes, steps, done
    DELETE /sessions/{id}          -> closed
    GET    /health
Every error is a JSON {"detail": "<one line>"}: 4xx for what the request got wrong, 500 for the server's bugs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from typing import Any, AsyncIterator, Optional

import gymnasium as gym
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from .config import ServerConfig
from .encoding import describe_space, encode_observation, json_safe, to_json
from .security import Guard, Refused, check_no_paths, client_env_kwargs
from .sessions import LOG, Session, SessionStore

# Errors an env raises for what it was asked (bad options, an index out of range): the client's to fix.
CLIENT_ERRORS = (ValueError, TypeError, KeyError, IndexError)
_ERRORS = itertools.count(1)


class Strict(BaseModel):
    """A request body: an unknown field is an error (422 naming it), never ignored."""

    model_config = ConfigDict(extra="forbid")


class CreateRequest(Strict):
    """POST /sessions: the served env id (optional), the client's env options, the image encoding."""

    env_id: Optional[str] = Field(None, max_length=200)
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    image_encoding: str = Field("png", max_length=8)


class ResetOptions(Strict):
    """reset's options: a dataset index (else a sample drawn with the seed) and a token budget."""

    index: Optional[int] = Field(None, ge=0)
    token_budget: Optional[int] = Field(None, ge=1)


class ResetRequest(Strict):
    """POST /sessions/ID/reset."""

    seed: Optional[int] = Field(None, ge=0, lt=2**63)
    options: ResetOptions = Field(default_factory=ResetOptions)


class StepRequest(Strict):
    """POST /sessions/ID/step: the policy's text turn."""

    action: str


def make_app(config: ServerConfig) -> Guard:
    """The server's ASGI app for `config` (the token is read from its environment variable here, once); the
    FastAPI app inside is its `.app`, the sessions `.app.state.store`."""
    token = config.token()
    base = {**gym.spec(config.env_id).kwargs, **config.env_kwargs}

    def make_env(kwargs: dict[str, Any]) -> gym.Env:
        return gym.make(config.env_id, **{**base, **kwargs})

    store = SessionStore(make_env, config.max_sessions, config.idle_timeout, config.pool_threads())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        expiry = asyncio.create_task(store.expire_forever())
        try:
            yield
        finally:
            expiry.cancel()
            await store.close_all()

    app = FastAPI(title="videostar env server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.store = store

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:  # outside an env call (Starlette logs it again)
        return JSONResponse({"detail": internal_error(exc)}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """The served env id and how full the server is."""
        return {"status": "healthy", "env_id": config.env_id, "sessions": len(store.sessions),
                "max_sessions": config.max_sessions}

    @app.post("/sessions")
    async def create(body: CreateRequest) -> dict[str, Any]:
        """Open a session: its id, the env's spaces as JSON, the tools' schemas."""
        if body.env_id not in (None, config.env_id):
            check_no_paths(body.env_id, "env_id")
            raise Refused(400, f"this server serves {config.env_id}, not {body.env_id!r} (videostar serve --env-id)")
        kwargs = client_env_kwargs(body.env_kwargs, base)
        session = await env_call(store.create(kwargs, body.image_encoding))
        try:
            env = session.env.unwrapped
            return {"session_id": session.id, "env_id": config.env_id,
                    "observation_space": describe_space(session.env.observation_space),
                    "action_space": describe_space(session.env.action_space),
                    "tools": json_safe(getattr(env, "tool_schemas", [])), "dataset_size": len(env.dataset),
                    "idle_timeout": config.idle_timeout}
        except BaseException:  # the client never learns the id: the session must not hold a place until it expires
            await store.close(session.id, "closed (its creation failed)")
            raise

    @app.post("/sessions/{session_id}/reset")
    async def reset(session_id: str, body: ResetRequest) -> Response:
        """Start an episode: the first observation and info."""
        session = store.get(session_id)
        options = body.options.model_dump(exclude_none=True)
        async with session.lock:
            store.get(session_id)  # closed while this request waited for the lock: 404, not a closed env's error
            session.done = True  # until the reset succeeds: a half-reset env is not stepped
            try:
                obs, info = await env_call(store.run(lambda: session.env.reset(seed=body.seed, options=options)))
                session.episodes, session.done = session.episodes + 1, False
                return await encoded(store.run(reply, session, obs, None, False, False, info))
            finally:
                session.last_used = time.monotonic()  # idle from the reply on, however long the reset took

    @app.post("/sessions/{session_id}/step")
    async def step(session_id: str, body: StepRequest) -> Response:
        """Play one text turn: observation, reward, done, terminated, truncated, info."""
        session = store.get(session_id)
        async with session.lock:
            store.get(session_id)
            if session.done:
                raise Refused(409, "the episode is over (or never started): reset the session before stepping")
            try:
                obs, reward, terminated, truncated, info = await env_call(store.run(session.env.step, body.action))
                session.steps += 1
                session.done = terminated or truncated
                return await encoded(store.run(reply, session, obs, float(reward), terminated, truncated, info))
            finally:
                session.last_used = time.monotonic()  # idle from the reply on, however long the step took

    @app.get("/sessions/{session_id}/state")
    async def state(session_id: str) -> dict[str, Any]:
        """Episodes and steps so far, and whether the episode is over."""
        session = store.get(session_id)
        return {"env_id": config.env_id, "episodes": session.episodes, "step_count": session.steps,
                "done": session.done}

    @app.delete("/sessions/{session_id}")
    async def close(session_id: str) -> dict[str, Any]:
        """Close the session and its env."""
        await store.close(session_id)
        return {"closed": True}

    return Guard(app, token, config.max_body_bytes)


def reply(session: Session, obs: dict, reward: float | None, terminated: bool, truncated: bool,
          info: dict) -> Response:
    """A reset's or step's reply: OpenEnv's observation/reward/done, plus Gymnasium's terminated/truncated/info;
    encoded here, on the pool, not on the event loop."""
    body = {"observation": encode_observation(obs, session.encoding, session.memo), "reward": reward,
            "done": bool(terminated or truncated), "terminated": bool(terminated), "truncated": bool(truncated),
            "info": info}
    return Response(to_json(body), media_type="application/json")


async def env_call(awaitable: Any) -> Any:
    """Await an env's call; what the env refuses (a bad option, an index out of range) becomes a 400 with its
    message."""
    try:
        return await awaitable
    except Refused:
        raise
    except CLIENT_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        # Gymnasium appends the env's kwargs to a TypeError from its constructor: they are the server's, not shown.
        message = re.sub(r"\s*was raised from the environment creator for .*", "", str(message), flags=re.DOTALL)
        raise Refused(400, " ".join(message.split())) from exc
    except Exception as exc:  # a bug: its traceback goes to the server's log, the client gets a number only
        raise Refused(500, internal_error(exc)) from exc


async def encoded(awaitable: Any) -> Response:
    """Await a reply's encoding: any error there is the server's (500), whatever its class."""
    try:
        return await awaitable
    except Exception as exc:
        raise Refused(500, internal_error(exc)) from exc


def internal_error(exc: Exception) -> str:
    """Log a server bug with its traceback under a number; the one line the client gets, which names only that."""
    number = next(_ERRORS)
    LOG.error("internal error #%d: %s", number, type(exc).__name__, exc_info=exc)
    return f"internal error #{number} in the server (its log has the traceback)"


def validation_message(exc: RequestValidationError) -> str:
    """The first problem of a request body as one line: where, and what was wrong."""
    errors = exc.errors()
    if not errors:
        return "the request body is not valid"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


def serve(config: ServerConfig) -> None:
    """Run the server until interrupted (uvicorn, one process; the envs step on its thread pool)."""
    import uvicorn

    app = make_app(config)
    # One env made and closed first: a wrong dataset or backend option fails here, in one line, not per session.
    gym.make(config.env_id, **{**gym.spec(config.env_id).kwargs, **config.env_kwargs}).close()
    LOG.info("serving %s on http://%s:%d (%s)", config.env_id, config.host, config.port,
             "token required" if config.token_env else "no token: this machine only")
    # No access log: its lines would show the session ids, which are what lets a client into a session.
    uvicorn.run(app, host=config.host, port=config.port, access_log=False, log_level="info")
