"""Gymnasium wrappers that give classic RL agents (Stable-Baselines3 and the like) fixed spaces.

    env = FeatureObservation(DiscreteToolActions(gym.make("VideoSTAR-v0")))
    env = gym.make("VideoSTAR-Discrete-v0")  # the same, registered
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from .discrete_actions import DiscreteToolActions, max_candidates
from .feature_observation import FeatureObservation, hashed_embedding, motion_grid


def discrete_feature_env(render_mode: str | None = None, **config: Any) -> gym.Env:
    """A VideoToolEnv (config: EnvConfig fields) with discrete actions and feature observations."""
    from ..core.env import VideoToolEnv

    return FeatureObservation(DiscreteToolActions(VideoToolEnv(render_mode=render_mode, **config)))


__all__ = ["DiscreteToolActions", "FeatureObservation", "discrete_feature_env", "hashed_embedding", "max_candidates",
           "motion_grid"]
