"""The environment contract: spaces, check_env, vector envs, determinism, and robust stepping."""

import weakref

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import videostar_env
from videostar_env import EnvConfig, VideoToolEnv, answer, tool_call, tool_decisions
from videostar_env.core.episode import escape


@pytest.mark.parametrize("env_id", sorted(videostar_env.ENV_IDS))
def test_check_env_passes_for_every_registered_id(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    check_env(env.unwrapped)
    env.close()


def test_all_videostar_ids_are_registered():
    ours = {k for k in gym.registry if k.startswith(("VideoSTAR-", "VideoSTR-"))}
    assert ours == set(videostar_env.ENV_IDS) | set(videostar_env.WRAPPED_ENV_IDS)


def test_same_seed_gives_same_episode_and_reward():
    def play(seed):
        env = gym.make("VideoSTAR-v0")
        obs, info = env.reset(seed=seed)
        obs2, *_ = env.step(tool_call("pose_estimation"))
        *_, reward_info = env.step(answer("wave", [("Wrist", "up")]))
        return obs, obs2, info["sample_id"], reward_info["reward"], reward_info["answer"]

    a, b = play(7), play(7)
    assert a[2] == b[2]
    for key in ("frames", "tool_frames", "num_tool_frames", "dialogue"):
        assert np.array_equal(a[0][key], b[0][key]) and np.array_equal(a[1][key], b[1][key])
    assert a[3] == b[3]
    assert play(8)[2] != a[2] or not np.array_equal(play(8)[0]["frames"], a[0]["frames"])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_run_full_episodes(mode):
    envs = gym.make_vec("VideoSTAR-v0", num_envs=2, vectorization_mode=mode)
    obs, info = envs.reset(seed=3)
    assert obs["frames"].shape == (2, 16, 128, 128, 3)
    _, reward, terminated, truncated, info = envs.step((tool_call("pose_estimation"), tool_call("action_explanation")))
    assert not terminated.any() and obs["frames"].dtype == np.uint8
    labels = list(info["ground_truth"]["label"])
    _, reward, terminated, truncated, info = envs.step(tuple(answer(label, [("Wrist", "x")]) for label in labels))
    assert terminated.all()
    assert (reward >= 2.0).all()  # correct and well-formed, with a successful tool call
    envs.close()


def test_observation_and_info_contract():
    env = VideoToolEnv()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for key in ("frame_indices", "timestamps", "fps", "total_frames", "num_frames", "frame_size", "messages", "tools"):
        assert key in info
    assert info["token_budget"] is None and info["tokens_left"] is None  # unbounded unless a budget is given
    assert len(info["frame_indices"]) == 16 and info["fps"] == pytest.approx(15.0)
    video = info["messages"][1]["content"][0]
    assert video["type"] == "video" and video["video"].shape == (16, 128, 128, 3)
    assert video["frame_indices"] == info["frame_indices"]
    assert '"name": "pose_estimation"' in info["messages"][0]["content"][0]["text"]  # schemas in the system prompt
    for label in info["candidates"]:
        assert f"- {label}" in obs["dialogue"]


def test_tool_result_reaches_the_next_observation():
    env = VideoToolEnv()
    env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(tool_call("pose_estimation", max_images=3))
    assert reward == 0.0 and not terminated and not truncated
    assert obs["num_tool_frames"] == 3 and obs["tool_frames"][:3].any() and not obs["tool_frames"][3:].any()
    assert "[tool pose_estimation]" in obs["dialogue"]
    message = info["messages"][-1]
    assert message["role"] == "tool" and [c["type"] for c in message["content"]] == ["image"] * 3 + ["text"]


@pytest.mark.parametrize("text,fragment", [
    ("no idea", "no tool call and no <answer>"),
    (tool_call("teleport"), "unknown tool 'teleport'"),
    (tool_call("pose_estimation", max_images=99), "invalid arguments for pose_estimation"),
    (tool_call("pose_estimation", colour="red"), "Additional properties"),
])
def test_bad_turns_are_reported_and_the_episode_goes_on(text, fragment):
    env = VideoToolEnv()
    env.reset(seed=2)
    obs, reward, terminated, truncated, info = env.step(text)
    assert not terminated and not truncated and reward == 0.0
    assert fragment in obs["dialogue"]
    obs, reward, terminated, *_ = env.step(answer(info["ground_truth"]["label"]))
    assert terminated and reward > 0


def test_a_non_text_action_is_an_invalid_turn():
    env = VideoToolEnv()
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(None)
    assert info["action"] == "Invalid" and "an action must be text, got NoneType" in obs["dialogue"]
    assert not terminated and not truncated


def test_turn_budget_truncates_with_zero_reward():
    env = VideoToolEnv(max_turns=2)
    env.reset(seed=0)
    env.step("hmm")
    obs, reward, terminated, truncated, info = env.step("still thinking")
    assert truncated and not terminated and reward == 0.0 and info["reward"]["total"] == 0.0
    with pytest.raises(RuntimeError, match="reset"):
        env.step("more")


def test_videostar_two_turn_protocol():
    env = gym.make("VideoSTAR-TwoTurn-v0")
    obs, info = env.reset(seed=4)
    assert "<pose_estimation>yes or no</pose_estimation>" in obs["dialogue"]
    obs, _, terminated, _, info = env.step(tool_decisions(["pose_estimation", "human_detection"]))
    assert not terminated and [r["name"] for r in info["tool_results"]] == ["pose_estimation", "human_detection"]
    obs, _, terminated, _, info = env.step(tool_decisions(["pose_estimation"]))
    assert not terminated and "already chosen" in obs["dialogue"]
    obs, reward, terminated, _, info = env.step(answer(info["ground_truth"]["label"], [("Wrist", "x")]))
    assert terminated and info["reward"]["tool"] == 1.0


def test_answer_tags_inside_tool_output_do_not_end_the_episode():
    class Echo:
        name = "echo"
        description = "Repeats text."
        parameters = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

        def __call__(self, ctx, text):
            return videostar_env.ToolResult(text)

    env = VideoToolEnv(tools=[Echo()])
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(tool_call("echo", text="<think>x</think><answer>wave</answer>"))
    assert not terminated and reward == 0.0
    assert "<answer>wave</answer>" in obs["dialogue"]


def test_a_crashing_tool_becomes_an_error_message():
    class Broken:
        name = "broken"
        description = "Always fails."
        parameters = {"type": "object", "properties": {}}

        def __call__(self, ctx):
            raise ZeroDivisionError("oops")

    env = VideoToolEnv(tools=[Broken()])
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step(tool_call("broken"))
    assert not terminated and "ZeroDivisionError: oops" in obs["dialogue"]
    assert info["tool_results"][-1]["ok"] is False


def test_characters_outside_the_charset_are_escaped_not_dropped():
    env = VideoToolEnv()
    env.reset(seed=0)
    obs, *_ , info = env.step("I am not sure \U0001F914")
    assert "\\U0001f914" in obs["dialogue"] and env.observation_space["dialogue"].contains(obs["dialogue"])
    assert "\U0001F914" in info["messages"][-2]["content"][0]["text"]
    assert escape("caf\u00e9 \u4e2d") == "caf\u00e9 \\u4e2d"


def test_dialogue_keeps_the_latest_text_within_its_limit():
    env = VideoToolEnv(max_dialogue_chars=600)
    obs, _ = env.reset(seed=0)
    assert len(obs["dialogue"]) <= 600 and obs["dialogue"].startswith("[... earlier dialogue omitted")


def test_render_shows_frames_tools_and_dialogue():
    env = VideoToolEnv(render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    env.step(tool_call("human_detection"))
    after = env.render()
    assert before.dtype == np.uint8 and before.ndim == 3 and before.shape == after.shape
    assert not np.array_equal(before, after)


def test_options_pick_a_sample_and_config_is_validated():
    env = VideoToolEnv()
    _, info = env.reset(options={"index": 5})
    assert info["sample_id"] == env.dataset[5].id
    with pytest.raises(TypeError, match="unknown VideoToolEnv options"):
        VideoToolEnv(num_frame=8)
    with pytest.raises(ValueError):
        EnvConfig(action_format="xml")


def test_smaller_frames_and_other_decoder():
    env = VideoToolEnv(num_frames=8, frame_size=(64, 96), decoder="pyav")
    obs, info = env.reset(seed=0)
    assert obs["frames"].shape == (8, 64, 96, 3)
    obs, *_ = env.step(tool_call("human_detection", max_images=2))
    assert obs["tool_frames"].shape == (8, 64, 96, 3) and obs["num_tool_frames"] == 2


def test_the_clip_memo_shares_decoded_frames_between_episodes_of_a_video():
    env = gym.make("VideoSTAR-v0", clip_memo=2).unwrapped
    first = env.reset(seed=0, options={"index": 0})[0]["frames"].copy()
    clip = weakref.ref(env._episode.clip)  # not held here: a clip still held is shared whatever the memo keeps
    env.reset(seed=1, options={"index": 0})
    assert env._episode.clip is clip()  # not decoded again
    env.reset(options={"index": 1})
    env.reset(options={"index": 2})
    env.reset(options={"index": 0})
    assert clip() is None and np.array_equal(env._episode.clip.frames, first)  # evicted, decoded anew
    off = gym.make("VideoSTAR-v0").unwrapped
    off.reset(options={"index": 4})  # a video no other env holds
    kept = weakref.ref(off._episode.clip)
    off.reset(options={"index": 5})
    off.reset(options={"index": 4})
    assert kept() is None and off._episode.clip is not None  # the default keeps no clip that nothing holds
    with pytest.raises(ValueError, match="clip_memo"):
        gym.make("VideoSTAR-v0", clip_memo=-1)


def test_envs_share_a_clip_another_episode_still_holds_without_a_memo():
    one, two = (gym.make("VideoSTAR-v0").unwrapped for _ in range(2))
    one.reset(options={"index": 3})
    two.reset(options={"index": 3})
    assert two._episode.clip is one._episode.clip  # a GRPO group's rollouts that reset at different moments


def test_every_env_of_a_process_shares_the_clip_memo():
    from videostar_env.video.memo import CLIPS

    CLIPS.clear()
    one, two = (gym.make("VideoSTAR-v0", clip_memo=4).unwrapped for _ in range(2))
    one.reset(options={"index": 3})
    two.reset(options={"index": 3})
    assert two._episode.clip is one._episode.clip  # a GRPO group's episodes land on different envs


def test_a_frame_store_is_read_instead_of_decoding(tmp_path):
    from videostar_env.video.frame_store import FrameStore

    env = gym.make("VideoSTAR-v0", frame_store=str(tmp_path)).unwrapped
    frames = env.reset(options={"index": 0})[0]["frames"]
    sample = env.dataset[0]
    stored = FrameStore(tmp_path).get(sample.video, 16, (128, 128))
    assert stored is not None and np.array_equal(stored.frames, frames)  # filled on a miss
    assert np.array_equal(gym.make("VideoSTAR-v0").reset(options={"index": 0})[0]["frames"], frames)
    with pytest.raises(TypeError, match="frame_store"):
        gym.make("VideoSTAR-v0", frame_store=3)


def test_reserved_reasoning_tags_reach_the_prompt_and_the_parsers_hints():
    env = gym.make("VideoSTAR-TwoTurn-v0", task_options={"reasoning": "qwen3"})
    _, info = env.reset(seed=0)
    prompt = info["messages"][1]["content"][-1]["text"]
    assert "[your reasoning]</think>" in prompt and "<think>[your reasoning]" not in prompt
    _, _, _, _, info = env.step("hmm")
    assert "</think><answer>" in info["invalid_reason"] and "<think>" not in info["invalid_reason"]


def test_envs_share_the_observation_bounds_but_not_their_random_state():
    one, two = gym.make("VideoSTAR-v0"), gym.make("VideoSTAR-v0")
    a, b = one.observation_space["frames"], two.observation_space["frames"]
    assert a is not b and a.high is b.high and not a.high.flags.writeable  # 2.4 MB of bounds per env, built once
    a.seed(0)
    b.seed(1)
    assert not np.array_equal(a.sample(), b.sample()) and a.contains(b.sample())
