"""Connecting the drivers (bench, precompute) to Ray: a local instance or a cluster, with one-line errors."""

from __future__ import annotations

import os
import socket
from typing import Any


class RayUnavailable(ValueError):
    """Ray cannot be used as asked (not installed, or no cluster at the address); the message says what to do."""


def ray_module(address: str) -> Any:
    """The ray module, once a cluster answers at `address`; else a RayUnavailable saying what to do."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("Ray is not installed: pip install 'videostar-env[ray]' (or run without --ray)") from exc
    if address in ("local", "auto") or ray.is_initialized():
        return ray
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ValueError:
        raise RayUnavailable(f"a Ray address is HOST:PORT (e.g. 10.0.0.5:6379, or ray://HOST:10001 for Ray Client), "
                             f"got {address!r}") from None
    except OSError as exc:
        raise RayUnavailable(f"no Ray cluster answers at {address} ({exc}); start one with `ray start --head` and "
                             "give the address it prints, or give --ray alone to start Ray on this machine") from exc
    return ray


def connect_ray(address: str) -> bool:
    """Connect to Ray at `address` ("local": start it here); True when this call started it (then shut it down)."""
    ray = ray_module(address)
    if ray.is_initialized():
        return False
    # Local workers see this process's settings (cache and data folders); cluster nodes need their own.
    env_vars = {k: v for k, v in os.environ.items() if k.startswith(("VIDEOSTAR_", "YOLO_"))}
    try:
        ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env_vars})
    except (ConnectionError, ValueError) as exc:
        raise RayUnavailable(f"cannot connect to Ray at {address!r}: {exc}") from exc
    return True
