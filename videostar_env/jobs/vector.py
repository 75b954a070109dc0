"""Vector envs that move each frame across process boundaries once per episode.

Through Gymnasium's AsyncVectorEnv with pipes, every step pickled the episode's frames twice (the
observation and the video in info["messages"]) plus every tool image said so far: megabytes per
step. `make_vec(..., vectorization_mode="async")` gives `ChatAsyncVectorEnv` instead:

- observation arrays travel through shared memory (a copy into it, no pickling); the dialogue,
  which Gymnasium reads from shared memory only once (Gymnasium #1164), travels in the step's
  info and is put back into the observation;
- each sub-env sends only the messages added since its last reply (`SendNewMessages`), so the
  video is sent at reset and each tool image once; the parent rebuilds info["messages"] in full.

What a caller receives is what gym.make_vec would give; only the transport differs.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode

_FROM = "_messages_from"  # where a sub-env's new messages start in the episode's chat
_DIALOGUE = "_dialogue"


def vector_kwargs(mode: str, **extra: Any) -> dict[str, Any]:
    """`vector_kwargs` for Gymnasium's own gym.make_vec(mode) that keep the dialogue observation current.

    AsyncVectorEnv's shared memory (its default) reads non-array observations once, at creation
    (Gymnasium #1164): the Text dialogue would never change. Pipes carry it instead. (`make_vec` here
    needs none of this: it sends the dialogue in info.)
    """
    return {**({"shared_memory": False} if mode == "async" else {}), **extra}


class SendNewMessages(gym.Wrapper):
    """Inside a sub-env process: info["messages"] holds only the messages not sent before, and the dialogue rides in info."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._sent = 0

    def _slim(self, observation: dict[str, Any], info: dict[str, Any], start: int) -> dict[str, Any]:
        messages = info.get("messages")
        if messages is None:  # an info without a chat (e.g. a failed reset's stand-in) passes unchanged
            return info
        self._sent = len(messages)
        slim = {**info, "messages": messages[start:], _FROM: start}
        if isinstance(observation, dict) and "dialogue" in observation:
            slim[_DIALOGUE] = observation["dialogue"]
        return slim

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset; the whole opening chat (with the video) is new."""
        observation, info = self.env.reset(**kwargs)
        return observation, self._slim(observation, info, 0)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; only the assistant turn and the env's reply are new."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, self._slim(observation, info, self._sent)


class ChatAsyncVectorEnv(AsyncVectorEnv):
    """AsyncVectorEnv over sub-envs wrapped in SendNewMessages: rebuilds each sub-env's chat and dialogue."""

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], **kwargs: Any):
        kwargs.setdefault("shared_memory", True)
        super().__init__([_wrapped(fn) for fn in env_fns], **kwargs)
        self._chats: list[list[dict[str, Any]]] = [[] for _ in range(self.num_envs)]
        self._dialogues: list[str] = [""] * self.num_envs

    def _add_info(self, vector_infos: dict[str, Any], env_info: dict[str, Any], env_num: int) -> dict[str, Any]:
        # Called once per sub-env reply; SAME_STEP autoresets nest the ended episode's info under final_info,
        # which comes first in the dict, so rebuilding in key order replays the sub-env's own sequence.
        return super()._add_info(vector_infos, self._rebuild(env_info, env_num), env_num)

    def _rebuild(self, info: dict[str, Any], env_num: int) -> dict[str, Any]:
        out = {}
        for key, value in info.items():
            out[key] = self._rebuild(value, env_num) if key == "final_info" and isinstance(value, dict) else value
        if _FROM in out:
            start = out.pop(_FROM)
            self._chats[env_num] = self._chats[env_num][:start] + list(out["messages"])
            out["messages"] = list(self._chats[env_num])
        if _DIALOGUE in out:
            self._dialogues[env_num] = out.pop(_DIALOGUE)
        return out

    def _with_dialogue(self, observations: Any) -> Any:
        if not self.shared_memory or not isinstance(observations, dict) or "dialogue" not in observations:
            return observations
        observations = dict(observations)
        observations["dialogue"] = tuple(self._dialogues)
        return observations

    def reset_wait(self, timeout: float | None = None) -> tuple[Any, dict[str, Any]]:
        """Gymnasium's reset_wait with the rebuilt chats and current dialogues."""
        observations, infos = super().reset_wait(timeout)
        return self._with_dialogue(observations), infos

    def step_wait(self, timeout: float | None = None) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Gymnasium's step_wait with the rebuilt chats and current dialogues."""
        observations, rewards, terminations, truncations, infos = super().step_wait(timeout)
        return self._with_dialogue(observations), rewards, terminations, truncations, infos


def _wrapped(env_fn: Callable[[], gym.Env]) -> Callable[[], gym.Env]:
    return lambda: SendNewMessages(env_fn())


def make_vec(env_id: str, num_envs: int = 1, vectorization_mode: str = "sync",
             wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (), vector_kwargs: dict[str, Any] | None = None,
             **env_kwargs: Any) -> gym.vector.VectorEnv:
    """gym.make_vec for the video envs: "sync" is Gymnasium's; "async" sends frames and tool images once (ChatAsyncVectorEnv)."""
    if vectorization_mode not in ("sync", "async"):
        raise ValueError(f"vectorization_mode must be 'sync' or 'async', got {vectorization_mode!r}")
    vector_kwargs = dict(vector_kwargs or {})
    if vectorization_mode == "sync":
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", vector_kwargs=vector_kwargs,
                            wrappers=list(wrappers), **env_kwargs)

    def make_one() -> gym.Env:
        env = gym.make(env_id, **{"disable_env_checker": True, **env_kwargs})
        for wrapper in wrappers:
            env = wrapper(env)
        return env

    vector_kwargs.setdefault("autoreset_mode", AutoresetMode.NEXT_STEP)
    envs = ChatAsyncVectorEnv([make_one] * num_envs, **vector_kwargs)
    envs.spec = deepcopy(gym.spec(env_id))
    return envs
