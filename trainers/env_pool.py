"""EnvPool: the envs of one configuration, shared by many episodes of one asyncio loop, their work kept off the loop.

verl's agent-loop worker plays every rollout of its batch as a coroutine of one event loop. Everything CPU-bound
here (building envs, reset, step, an optional converter of the env's messages such as
`videostar_agents.messages.qwen_chat`) runs on the pool's own bounded threads, which run NICE steps below the loop's
thread; envs are built one at a time, and a full pool freezes the garbage collector's view of what is alive. Plain
asyncio and Gymnasium: any trainer with an event loop can use it. The process-wide settings (GIL switch interval,
malloc) are the worker's, not the pool's: videostar_trainers.process.tune_worker_process. Why each choice, with
its measurements: docs/process-tuning.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator, Callable, ClassVar

import gymnasium as gym


THREADS_PER_CORE = 4  # most env threads wait on a shared tool call or a model copy (docs/process-tuning.md)
NICE = 10  # how far below the loop's thread the pool's threads run in CPU priority (docs/process-tuning.md)

# What the built-in backends and decoders import on first use. Importing an extension module holds the GIL, so an
# env built off the loop still stalls it: torch's import did for up to 229 ms, ultralytics' first prediction (which
# imports torch._dynamo and triton) for 128 ms. Imported before the loop serves (preload_libraries), they cost it
# nothing.
HEAVY_LIBRARIES = ("torch", "torch._dynamo", "torchvision", "cv2", "PIL.Image", "ultralytics", "ultralytics.models.yolo",
                   "ultralytics.engine.predictor", "ultralytics.nn.autobackend", "ultralytics.nn.backends.litert",
                   "ai_edge_litert.interpreter", "decord", "av")


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota when one is set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = Path("/sys/fs/cgroup/cpu.max")
    if quota.exists():  # containers (Kubernetes, Ray on k8s) see the host's cores but may use only their quota
        limit, period = (quota.read_text().split() + ["100000"])[:2]
        if limit != "max":
            cores = min(cores, max(1, math.ceil(int(limit) / int(period))))
    return cores


def default_threads() -> int:
    """The pool's threads unless told: THREADS_PER_CORE per available core."""
    return THREADS_PER_CORE * available_cores()


def lower_priority(nice: int) -> bool:
    """Lower the calling thread's CPU priority by `nice` steps (capped at 19); False, changing nothing, off Linux."""
    if not nice or not sys.platform.startswith("linux"):  # elsewhere a thread id is not a process id to setpriority
        return False
    thread = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))
    return True


def preload_libraries(modules: tuple[str, ...] = HEAVY_LIBRARIES) -> list[str]:
    """Import the libraries envs load on first use before an event loop depends on this process; the modules
    imported (those not installed are skipped). For verl's agent-loop workers, Ray runs it as each worker process
    starts: ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=<this function's path> (train_grpo.sh sets
    it)."""
    imported = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional library (PyAV, LiteRT) the configured envs then do not use either
            continue
        imported.append(name)
    return imported


def load_models(env: gym.Env) -> None:
    """A warm-up for `EnvPool.start`: load the models the env's tools call (shared by the process's envs) while the
    pool fills, not during the first episodes' tool calls."""
    env.unwrapped.toolbox.load_models()


def pool_key(env_id: str, env_kwargs: dict[str, Any] | None = None) -> str:
    """The identity of a configuration: the env id and its gym.make keyword arguments, canonically ordered."""
    return f"{env_id}:{json.dumps(env_kwargs or {}, sort_keys=True, default=str)}"


@dataclass
class Transition:
    """What reset or step returned, plus the converter's output of the env's messages (None without one)."""

    observation: Any
    info: dict[str, Any]
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    converted: Any = None

    @property
    def done(self) -> bool:
        """Whether the episode ended (terminated or truncated)."""
        return self.terminated or self.truncated


class EnvPool:
    """Idle envs of one (env_id, kwargs) configuration and the threads that run them; one episode per env at a time."""

    _shared: ClassVar[dict[str, EnvPool]] = {}

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None, threads: int | None = None,
                 nice: int = NICE):
        """threads: env calls that may run at once (None: default_threads(), 4 per core); nice: CPU priority steps the
        pool's threads run below the calling thread (0: equal)."""
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None (default_threads()), got {threads!r}")
        if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
            raise ValueError(f"nice must be an integer from 0 (equal priority) to 19, got {nice!r}")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.key = pool_key(env_id, self.env_kwargs)
        self.threads = threads or default_threads()
        self.nice = nice
        self.executor = ThreadPoolExecutor(self.threads, thread_name_prefix="env-pool",
                                           initializer=partial(lower_priority, nice))
        self.size = 0  # envs built, idle or in use
        self._made = 0  # gym.make calls so far
        self._lock = threading.Lock()
        self._idle: list[gym.Env] = []
        self._filling = asyncio.Lock()

    @classmethod
    def shared(cls, env_id: str, env_kwargs: dict[str, Any] | None = None, threads: int | None = None,
               nice: int = NICE) -> EnvPool:
        """This process's pool for a configuration, made on first use (the other arguments count only then)."""
        key = pool_key(env_id, env_kwargs)
        if key not in cls._shared:
            cls._shared[key] = cls(env_id, env_kwargs, threads, nice)
        return cls._shared[key]

    @property
    def idle(self) -> int:
        """Envs waiting for an episode."""
        return len(self._idle)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    def _make(self, warm: Callable[[gym.Env], Any] | None = None) -> gym.Env:
        with self._lock:
            first, self._made = self._made == 0, self._made + 1
        # Gymnasium's passive checker on the first env only: the others are the same configuration, and checking
        # each one's image spaces and first observations cost CPU that stalled the loop while the pool filled.
        env = gym.make(self.env_id, **{**({} if first else {"disable_env_checker": True}), **self.env_kwargs})
        if warm is not None:
            try:
                warm(env)
            except BaseException:
                env.close()
                raise
        return env

    async def _build(self, warm: Callable[[gym.Env], Any] | None = None) -> gym.Env:
        env = await self._run(lambda: self._make(warm))
        self.size += 1
        return env

    async def start(self, envs: int, warm: Callable[[gym.Env], Any] | None = None, freeze_gc: bool = True) -> None:
        """Build envs off the loop, one at a time, until the pool holds `envs`, run `warm` on each new one there (e.g.
        `load_models`, so that the models' objects are frozen too), then collect the young objects and freeze the
        GC's view.

        Safe to await from every episode's first step: concurrent callers wait for one fill, later ones return at once.
        """
        if envs < 0:
            raise ValueError(f"envs must be at least 0, got {envs}")
        async with self._filling:
            if envs <= self.size:
                return
            # One at a time, on one of the pool's threads: building is Python work, which threads cannot run in
            # parallel (the GIL), and eight threads building at once starved the loop (30-40 ms stalls at 64 envs).
            # The first env imports and loads what the others then share; if it fails, so would they.
            first_error: Exception | None = None
            for _ in range(envs - self.size):
                try:
                    self._idle.append(await self._build(warm))
                except Exception as exc:  # the envs built are kept; the first failure is raised once all were tried
                    first_error = first_error or exc
                    if not self.size:
                        break
            if first_error is not None:
                raise first_error
            if freeze_gc:
                # The young generations only: their garbage would otherwise be frozen for good, while a full
                # collection held the loop for 130 ms to find ~70 objects (the old generation is what the freeze skips).
                gc.collect(1)
                gc.freeze()

    async def acquire(self) -> gym.Env:
        """An idle env, or a new one built off the loop when all are in use."""
        return self._idle.pop() if self._idle else await self._build()

    def release(self, env: gym.Env) -> None:
        """Give an env back for the next episode (its next reset starts afresh)."""
        self._idle.append(env)

    @contextlib.asynccontextmanager
    async def env(self) -> AsyncIterator[gym.Env]:
        """`async with pool.env() as env:` an env for one episode, given back however the episode ends."""
        env = await self.acquire()
        try:
            yield env
        finally:
            self.release(env)

    async def reset(self, env: gym.Env, *, seed: int | None = None, options: dict[str, Any] | None = None,
                    convert: Callable[[list[dict[str, Any]]], Any] | None = None, observe: bool = True) -> Transition:
        """env.reset on the pool's threads; `converted` is convert(info["messages"]) computed there too.

        observe=False drops the observation (None): a driver that reads only the chat does not keep a copy of
        the frames and tool-frame slots per live episode (3.6 MB at 16 + 8 frames of 224 px)."""

        def work() -> Transition:
            observation, info = env.reset(seed=seed, options=options)
            return Transition(observation if observe else None, info,
                              converted=None if convert is None else convert(info["messages"]))

        return await self._run(work)

    async def step(self, env: gym.Env, action: Any,
                   convert: Callable[[list[dict[str, Any]]], Any] | None = None, observe: bool = True) -> Transition:
        """env.step on the pool's threads; `converted` and `observe` as for reset (no conversion once it is over)."""

        def work() -> Transition:
            observation, reward, terminated, truncated, info = env.step(action)
            done = bool(terminated or truncated)
            return Transition(observation if observe else None, info, float(reward), bool(terminated), bool(truncated),
                              None if convert is None or done else convert(info["messages"]))

        return await self._run(work)

    def close(self) -> None:
        """Close every env and stop the threads; the pool must have no episode running."""
        if len(self._idle) != self.size:
            raise RuntimeError(f"{self.size - len(self._idle)} of the pool's {self.size} envs are still in use: "
                               f"close the pool after every episode has released its env")
        for env in self._idle:
            env.close()
        self._idle.clear()
        self.size = 0
        self.executor.shutdown(wait=True)
        if EnvPool._shared.get(self.key) is self:
            del EnvPool._shared[self.key]
