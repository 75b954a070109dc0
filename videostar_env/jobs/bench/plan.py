"""Which sample and seed each benchmark episode uses, fixed by the run seed alone.

Gymnasium's vector envs pass one `options` dict to every sub-env but a seed per sub-env, so
the episode travels as its seed: `PlannedEpisodes` maps reset(seed=plan.seed_of(k)) to the
sample of episode k. The same episode gets the same sample, seed and agent seed in one
process, in a vector env or on a Ray worker, which is what makes their metrics identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import gymnasium as gym
import numpy as np

from ...video.decode import VideoDecodeError
from ...core.episode import escape


@dataclass(frozen=True)
class EpisodePlan:
    """Episode k of a split runs sample order[k % size] with seed `seed + k`."""

    seed: int  # the run seed; episode k's env and agent seed is seed + k
    size: int  # number of samples in the split's dataset
    shuffle: bool = True  # a seeded permutation of the samples (False: dataset order)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("an episode plan needs a dataset with at least one sample")

    @cached_property
    def _order(self) -> np.ndarray:
        order = (np.random.default_rng([self.seed, self.size]).permutation(self.size) if self.shuffle
                 else np.arange(self.size))
        order.flags.writeable = False  # computed once per plan and shared
        return order

    def order(self) -> np.ndarray:
        """Sample indices in the order episodes visit them."""
        return self._order

    def seed_of(self, episode: int) -> int:
        """The env and agent seed of an episode."""
        return self.seed + episode

    def episode_of(self, seed: int) -> int:
        """The episode a seed belongs to (inverse of seed_of)."""
        return seed - self.seed

    def index_of(self, episode: int) -> int:
        """The dataset index an episode runs."""
        if episode < 0:
            raise ValueError(f"episode numbers start at 0, got {episode}")
        return int(self._order[episode % self.size])


class PlannedEpisodes(gym.Wrapper):
    """reset(seed=plan.seed_of(k)) starts episode k's sample; reset(seed=None) a random one (an idle vector slot).

    A video that cannot be read does not stop the run (an exception would kill an async vector
    worker): the reset returns a blank observation with info["error"] naming the failure, and a
    step in that state only ends the episode, so the runner records episode k as failed.
    """

    def __init__(self, env: gym.Env, seed: int, shuffle: bool = True):
        super().__init__(env)
        self.plan = EpisodePlan(seed, len(env.unwrapped.dataset), shuffle)
        self._error: str | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Reset onto the planned sample of the episode this seed names."""
        options = dict(options or {})
        episode = None if seed is None else self.plan.episode_of(seed)
        if episode is not None:
            options["index"] = int(self.plan.order()[episode % self.plan.size])
        try:
            obs, info = self.env.reset(seed=seed, options=options)
            self._error = None
        except (VideoDecodeError, FileNotFoundError) as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            obs, info = self._blank(), {"error": self._error}
        if episode is not None:  # absent rather than None: a vector env batches ints into an int array
            info["episode"] = episode
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """A normal step, or, after a failed reset, the end of the unplayable episode."""
        if self._error is not None:
            return self._blank(), 0.0, False, True, {"error": self._error, "action": "Invalid"}
        return self.env.step(action)

    def _blank(self) -> dict[str, Any]:
        """An observation of zeros whose dialogue says what failed."""
        space = self.observation_space
        text = escape(f"[error] {self._error}")[: space["dialogue"].max_length]
        return {"frames": np.zeros(space["frames"].shape, np.uint8),
                "tool_frames": np.zeros(space["tool_frames"].shape, np.uint8),
                "num_tool_frames": 0, "dialogue": text}
