"""The agent loop's pattern before EnvPool, with EnvPool's methods: the concurrency benchmark's comparison."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, AsyncIterator

import gymnasium as gym

from videostar_trainers.env_pool import Transition


class EnvsBefore:
    """The agent loop's pattern before EnvPool: verl's default executor (min(32, cores + 4) threads), envs made on
    the loop, messages converted on the loop, no gc.freeze. The same methods as EnvPool, for comparison."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]):
        self.env_id, self.kwargs, self.idle = env_id, kwargs, []
        self.threads = min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's default, which verl's loop uses

    async def start(self, envs: int, warm: Any = None) -> None:
        """Make envs on the loop, as the first batch did; warm them there too."""
        for _ in range(envs):
            self.idle.append(gym.make(self.env_id, **self.kwargs))
            if warm is not None:
                warm(self.idle[-1])

    @contextlib.asynccontextmanager
    async def env(self) -> AsyncIterator[gym.Env]:
        """An idle env (made on the loop when none is), given back afterwards."""
        env = self.idle.pop() if self.idle else gym.make(self.env_id, **self.kwargs)
        try:
            yield env
        finally:
            self.idle.append(env)

    async def reset(self, env: gym.Env, *, seed: int, options: dict, convert: Any, observe: bool = True) -> Transition:
        """reset on the default executor, messages converted on the loop."""
        obs, info = await asyncio.get_running_loop().run_in_executor(None, lambda: env.reset(seed=seed, options=options))
        return Transition(obs if observe else None, info, converted=convert(info["messages"]))

    async def step(self, env: gym.Env, action: str, convert: Any, observe: bool = True) -> Transition:
        """step on the default executor, messages converted on the loop while the episode goes on."""
        obs, reward, term, trunc, info = await asyncio.get_running_loop().run_in_executor(None, lambda: env.step(action))
        return Transition(obs if observe else None, info, float(reward), term, trunc, None if term or trunc else convert(info["messages"]))

    def close(self) -> None:
        """Close every env."""
        for env in self.idle:
            env.close()
