"""The env server's cost against in-process envs: per-step overhead on a cached tool step, reset, and sessions
and episodes per second with many clients at once, each as a ratio to the in-process env on the same machine.

    python -m videostar_benchmarks.perf.server [--repeats 100] [--clients 32] [--out runs/perf]

The server runs as `videostar serve` in its own process (as it is deployed); the clients are RemoteVideoEnvs in
this process. Both read one fresh tool cache, warmed first, so every timed tool call is a cache hit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import gymnasium as gym
import httpx

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env import answer, tool_call

from .stepping import warm_pose_cache
from .timing import interleaved_ms, summary

TOKEN_ENV = "VIDEOSTAR_BENCH_SERVER_TOKEN"
VIDEOS = 4


@contextlib.contextmanager
def server_process(token: str, cache: str, threads: int | None = None) -> Iterator[str]:
    """`videostar serve` on a free localhost port, the tool cache in `cache`; its URL while it runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "videostar_env.cli", "serve", "--port", str(port), "--token-env", TOKEN_ENV,
               "--cache-dir", cache, "--max-sessions", "256", *(["--threads", str(threads)] if threads else [])]
    os.environ[TOKEN_ENV] = token  # the clients read it there too (token_env), so it stays out of their env specs
    env = {**os.environ}
    # Its log goes to a file: a pipe nobody reads fills after some thousand sessions and stalls the server.
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"videostar serve exited: {log.read()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("videostar serve did not answer in 120 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def step_overhead(url: str, token: str, cache: str, repeats: int) -> dict[str, Any]:
    """Median ms of a cached pose_estimation step and of a reset: in-process, and through the server in each image
    encoding; the reset before each timed step is not timed."""
    from videostar_env.tools.cache import CacheConfig

    envs = {"in_process": gym.make("VideoSTAR-v0", tool_cache=CacheConfig(cache)),
            **{f"server_{e}": gym.make("videostar/Remote-v0", url=url, token_env=TOKEN_ENV, image_encoding=e)
               for e in ("png", "raw")}}
    warm_pose_cache(envs["in_process"].unwrapped, VIDEOS)
    count = {"k": 0}

    def reset(env: gym.Env) -> Callable[[], Any]:
        def run() -> Any:
            count["k"] += 1
            return env.reset(seed=count["k"], options={"index": count["k"] % VIDEOS})
        return run

    steps = interleaved_ms({name: (lambda e=env: e.step(tool_call("pose_estimation"))) for name, env in envs.items()},
                           repeats, before={name: reset(env) for name, env in envs.items()})
    resets = interleaved_ms({name: reset(env) for name, env in envs.items()}, repeats)
    for env in envs.values():
        env.close()
    result: dict[str, Any] = {"cached_tool_step": {n: summary(t) for n, t in steps.items()},
                              "reset": {n: summary(t) for n, t in resets.items()}}
    for kind in ("cached_tool_step", "reset"):
        base = result[kind]["in_process"]["median_ms"]
        for name in ("server_png", "server_raw"):
            row = result[kind][name]
            row["overhead_ms"] = round(row["median_ms"] - base, 3)
            row["ratio"] = round(row["median_ms"] / base, 2)
    return result


def episode(make: Callable[[], gym.Env], seed: int, play: bool) -> None:
    """Open an env, reset it, (play: a cached tool step and an answer), close it."""
    env = make()
    try:
        _, info = env.reset(seed=seed, options={"index": seed % VIDEOS})
        if play:
            env.step(tool_call("pose_estimation"))
            env.step(answer(info["candidates"][0]))
    finally:
        env.close()


def throughput(url: str, token: str, cache: str, clients: int, rounds: int) -> dict[str, Any]:
    """Sessions/s (open, reset, close) and episodes/s (the same with a cached tool step and an answer): `clients`
    RemoteVideoEnvs at once against one in-process env made per episode in this process's one thread."""
    from videostar_env.tools.cache import CacheConfig

    local = lambda: gym.make("VideoSTAR-v0", tool_cache=CacheConfig(cache))  # noqa: E731
    out: dict[str, Any] = {"clients": clients, "rounds": rounds}
    total = clients * rounds
    for kind, play in (("sessions_per_s", False), ("episodes_per_s", True)):
        start = time.perf_counter()
        for seed in range(total):
            episode(local, seed, play)
        row = {"in_process": round(total / (time.perf_counter() - start), 2)}
        for encoding in ("png", "raw"):
            def remote(e: str = encoding) -> gym.Env:
                return gym.make("videostar/Remote-v0", url=url, token_env=TOKEN_ENV, image_encoding=e)

            with ThreadPoolExecutor(clients) as pool:
                start = time.perf_counter()
                list(pool.map(lambda s: episode(remote, s, play), range(total)))
                row[f"server_{encoding}"] = round(total / (time.perf_counter() - start), 2)
            row[f"ratio_{encoding}"] = round(row[f"server_{encoding}"] / row["in_process"], 2)
        out[kind] = row
    return out


def server_benchmark(repeats: int = 100, clients: int = 32, rounds: int = 2) -> dict[str, Any]:
    """Every measurement of this module, against one server process."""
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="videostar-perf-server-") as cache:
        with server_process(token, cache) as url:
            return {"step": step_overhead(url, token, cache, repeats),
                    "throughput": throughput(url, token, cache, clients, rounds)}


def table(report: dict[str, Any]) -> str:
    """The markdown table of docs/scaling-out.md."""
    lines = ["| measure | in-process | server, PNG | server, raw | server ÷ in-process (PNG / raw) |",
             "|---|---|---|---|---|"]
    for kind, label in (("cached_tool_step", "cached tool step, median ms"), ("reset", "reset, median ms")):
        row = report["step"][kind]
        lines.append(f"| {label} | {row['in_process']['median_ms']:.2f} | {row['server_png']['median_ms']:.2f} | "
                     f"{row['server_raw']['median_ms']:.2f} | {row['server_png']['ratio']:.1f}× / "
                     f"{row['server_raw']['ratio']:.1f}× |")
    t = report["throughput"]
    for kind, label in (("sessions_per_s", "sessions/s (open, reset, close)"),
                        ("episodes_per_s", "episodes/s (+ cached tool step, answer)")):
        row = t[kind]
        lines.append(f"| {label}, {t['clients']} clients | {row['in_process']:.1f} | {row['server_png']:.1f} | "
                     f"{row['server_raw']:.1f} | {row['ratio_png']:.2f}× / {row['ratio_raw']:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from . import machine

    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.perf.server",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/perf", help="output folder (default runs/perf)")
    parser.add_argument("--repeats", type=int, default=100, help="timed steps and resets per contender (default 100)")
    parser.add_argument("--clients", type=int, default=32, help="clients at once for sessions/s (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="sessions per client (default 2)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = {"machine": machine(), "server": server_benchmark(args.repeats, args.clients, args.rounds)}
    report["seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "server.json").write_text(json.dumps(report, indent=2))
    text = table(report["server"])
    (out / "server.md").write_text(text)
    print(text)
    print(f"Wrote {out / 'server.json'} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
