"""`videostar serve`: the env server (videostar_env.server), its settings and the env options of every command."""

from __future__ import annotations

import argparse
import logging

from .. import ENV_IDS
from ..errors import MissingDependency
from .options import add_env_args, env_spec


def add_serve_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `videostar serve` to the command's subparsers."""
    from ..server.config import ServerConfig

    default = ServerConfig.__dataclass_fields__
    serve = sub.add_parser("serve", parents=[common], help="serve env sessions over HTTP (reset/step/close) for "
                                                           "trainers outside Python or Ray")
    serve.add_argument("--host", default=default["host"].default,
                       help="address to bind (default 127.0.0.1: this machine only; another needs --token-env)")
    serve.add_argument("--port", type=int, default=default["port"].default, help="port (default 8765)")
    serve.add_argument("--token-env", metavar="VAR",
                       help="environment variable holding the token every request must carry as "
                            "'Authorization: Bearer <token>' (the token itself never goes on the command line)")
    serve.add_argument("--max-sessions", type=int, default=default["max_sessions"].default,
                       help="sessions open at once (default 64); one more is refused with 429")
    serve.add_argument("--idle-timeout", type=float, default=default["idle_timeout"].default, metavar="SECONDS",
                       help="close a session unused this long (default 600)")
    serve.add_argument("--max-body-bytes", type=int, default=default["max_body_bytes"].default,
                       help="refuse request bodies over this with 413 (default 1 MiB)")
    serve.add_argument("--threads", type=int, help="threads stepping the envs (default 4 per core)")
    add_env_args(serve, sorted(ENV_IDS), "dataset split the sessions play (synthetic: all, base or novel)")
    serve.set_defaults(func=_serve, interrupted="the server stopped; its sessions are closed")


def _serve(args: argparse.Namespace) -> int:
    try:
        from ..server.app import serve
    except ImportError as exc:
        raise MissingDependency(f"`videostar serve` needs fastapi and uvicorn ({exc}): pip install -e '.[serve]'")
    from ..server.config import ServerConfig

    config = ServerConfig(env_id=args.env_id, env_kwargs=env_spec(args), host=args.host, port=args.port,
                          token_env=args.token_env, max_sessions=args.max_sessions, idle_timeout=args.idle_timeout,
                          max_body_bytes=args.max_body_bytes, threads=args.threads)
    logging.basicConfig(level=logging.INFO, format="videostar serve: %(message)s")
    serve(config)
    return 0
