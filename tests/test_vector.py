"""videostar_env.make_vec: the async vector env gives what Gymnasium's does, sending each frame once per episode."""

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from videostar_env import answer, tool_call
from videostar_env.jobs.vector import SendNewMessages, make_vec

DATA = {"dataset_kwargs": {"per_class": 1}, "tool_cache": None}  # no cache: both runs run the tools


def same(a, b) -> bool:
    """Deep equality of nested infos and messages, arrays (object arrays included) compared element by element."""
    if isinstance(a, np.ndarray) and a.dtype == object:
        return isinstance(b, np.ndarray) and a.shape == b.shape and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def play(envs, steps=5):
    """Seeded episodes: a pose call then the right answer, in every sub-env; every (obs, info) seen."""
    obs, infos = envs.reset(seed=3)
    seen = [(obs, infos)]
    for _ in range(steps):
        actions = [tool_call("pose_estimation") if infos["turn"][i] == 0 else answer(infos["ground_truth"]["label"][i])
                   for i in range(envs.num_envs)]
        obs, _, _, _, infos = envs.step(actions)
        seen.append((obs, infos))
    envs.close()
    return seen


@pytest.mark.parametrize("autoreset", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_async_gives_what_the_sync_vector_env_gives(autoreset):
    kwargs = {"vector_kwargs": {"autoreset_mode": autoreset}, **DATA}
    sync = play(make_vec("VideoSTAR-v0", 2, "sync", **kwargs))
    chat = play(make_vec("VideoSTAR-v0", 2, "async", **kwargs))
    for (sync_obs, sync_info), (obs, info) in zip(sync, chat):
        assert all(np.array_equal(sync_obs[k], obs[k]) for k in ("frames", "tool_frames", "num_tool_frames"))
        assert tuple(sync_obs["dialogue"]) == tuple(obs["dialogue"])  # current, not the first step's (Gymnasium #1164)
        for i in range(2):
            assert same(list(sync_info["messages"][i]), list(info["messages"][i]))
        assert same(sync_info, info)


def test_a_step_sends_only_the_new_messages():
    env = SendNewMessages(gym.make("VideoSTAR-v0", **DATA))
    obs, info = env.reset(seed=0)
    full = len(info["messages"])
    assert [p["type"] for p in info["messages"][1]["content"]][0] == "video"  # the video goes once, at reset
    _, _, _, _, info = env.step(tool_call("pose_estimation"))
    assert info["_messages_from"] == full and [m["role"] for m in info["messages"]] == ["assistant", "tool"]
    assert not any(p["type"] == "video" for m in info["messages"] for p in m["content"])
    assert info["_dialogue"] == env.unwrapped._observation()["dialogue"]
    # what crosses the pipe per step: this step's tool images and text, not the video again
    images = sum(p["image"].nbytes for m in info["messages"] for p in m["content"] if p["type"] == "image")
    video = env.unwrapped._episode.clip.frames.nbytes
    assert images > 0 and len(pickle.dumps(info)) < images + 20_000
    assert len(pickle.dumps(env.unwrapped._info())) > video + images


def test_make_vec_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="'sync' or 'async'"):
        make_vec("VideoSTAR-v0", 2, "threads")
