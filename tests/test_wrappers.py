"""Wrappers for classic RL: Discrete actions that become the canonical text, feature vectors with masks."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import videostar_env  # noqa: F401
from videostar_env import WRAPPED_ENV_IDS, parse, parse_answer, vector_kwargs
from videostar_env.actions import Answer, ToolCall
from videostar_env.perception.kinematics import LIMB_JOINTS, analyze
from videostar_env.wrappers import (DiscreteToolActions, FeatureObservation, discrete_feature_env, hashed_embedding,
                                    max_candidates, motion_grid)
from videostar_env.wrappers.feature_observation import POSE_FEATURES

DATA = {"dataset_kwargs": {"split": "base", "per_class": 2}}


def make(**overrides):
    return FeatureObservation(DiscreteToolActions(gym.make("VideoSTAR-v0", **{**DATA, **overrides})))


@pytest.mark.parametrize("env_id", sorted(WRAPPED_ENV_IDS))
def test_check_env_passes_for_every_wrapped_id(env_id):
    # Without the tool cache: the checker steps twice from one seed, and the second tool call would be
    # reported as a cache hit (info["tool_results"][i]["cached"]), the one honest difference between them.
    env = gym.make(env_id, tool_cache=None, **DATA)
    check_env(env, skip_render_check=True)
    assert isinstance(env.action_space, gym.spaces.Discrete) and isinstance(env.observation_space, gym.spaces.Box)


def test_check_env_passes_for_each_wrapper_alone():
    check_env(DiscreteToolActions(gym.make("VideoSTAR-v0", tool_cache=None, **DATA)), skip_render_check=True)
    check_env(make(tool_cache=None), skip_render_check=True)


def test_action_space_is_one_action_per_tool_then_one_per_candidate():
    env = DiscreteToolActions(gym.make("VideoSTAR-v0", **DATA))
    assert env.tool_names == ("human_detection", "pose_estimation", "action_explanation", "video_description")
    assert env.action_space.n == 4 + 7 == 4 + max_candidates(env.unwrapped.dataset)


@pytest.mark.parametrize("action_format", ["hermes", "videostar"])
def test_every_action_round_trips_through_its_text(action_format):
    env = DiscreteToolActions(gym.make("VideoSTAR-v0", action_format=action_format, **DATA))
    _, info = env.reset(seed=3)
    for action in range(env.action_space.n):
        text = env.action_text(action)
        parsed = parse(text, action_format)
        assert isinstance(parsed, ToolCall if action < 4 else Answer)
        assert env.action_index(text) == action
    assert env.action_index("I do not know") is None


def test_answers_carry_the_pose_evidence_ranked_by_the_explained_definition():
    env = DiscreteToolActions(gym.make("VideoSTAR-v0", **DATA))
    _, info = env.reset(seed=0)
    truth = env.unwrapped.dataset.knowledge.names(info["ground_truth"]["label"])[0]
    k = list(info["candidates"]).index(info["ground_truth"]["label"])
    bare = parse_answer(parse(env.action_text(4 + k), "hermes"))
    assert bare.submotions == (("Body", "no distinct movement observed"),)  # nothing observed, nothing claimed
    env.step(1)  # pose_estimation
    _, _, _, _, info = env.step(2)  # action_explanation
    assert info["action_text"].startswith("<tool_call>") and truth
    _, reward, terminated, _, info = env.step(4 + k)
    assert terminated and info["reward"]["accuracy"] == 1.0 and info["reward"]["submotion"] > 0
    assert info["reward"]["total"] == pytest.approx(reward)


def test_discrete_steps_score_exactly_like_their_text():
    wrapped, plain = DiscreteToolActions(gym.make("VideoSTAR-v0", **DATA)), gym.make("VideoSTAR-v0", **DATA)
    wrapped.reset(seed=5)
    plain.reset(seed=5)
    for action in (1, 6):
        text = wrapped.action_text(action)
        a = wrapped.step(action)
        b = plain.step(text)
        assert a[1] == b[1] and a[2] == b[2] and a[4]["reward" if a[2] else "turn"] == b[4]["reward" if b[2] else "turn"]


def test_out_of_range_actions_and_unreset_envs_are_clear_errors():
    env = DiscreteToolActions(gym.make("VideoSTAR-v0", **DATA))
    with pytest.raises(RuntimeError, match="reset"):
        env.action_text(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.action_text(99)


def test_feature_vector_shape_names_and_masks_follow_the_tools_called():
    env = make()
    obs, info = env.reset(seed=1)
    names = env.feature_names
    assert obs.shape == env.observation_space.shape == (len(names),) and obs.dtype == np.float32
    at = {n: i for i, n in enumerate(names)}
    masks = [at[f"known:{g}"] for g in ("pose", "detection", "description", "explanation")]
    assert obs[masks].tolist() == [0, 0, 0, 0] and obs[at["turn"]] == 0
    assert not obs[at["pose:wrist_motion"]: at["detection:frames_with_people"] + 1].any()  # unknown is 0
    assert obs[at["motion:0"]:].any()  # the frames are known from the start
    obs, *_ = env.step(1)  # pose_estimation
    assert obs[at["known:pose"]] == 1 and obs[at["called:pose_estimation"]] == 1 and obs[at["turn"]] > 0
    assert obs[at["pose:wrist_motion"]] > 0 and obs[at["known:detection"]] == 0
    obs, *_ = env.step(0)  # human_detection
    assert obs[at["known:detection"]] == 1 and obs[at["detection:frames_with_people"]] == 1.0
    obs, *_ = env.step(3)  # video_description
    description = obs[at["description:0"]: at["description:0"] + env.embed_dim]
    assert obs[at["known:description"]] == 1 and np.linalg.norm(description) == pytest.approx(1.0, abs=1e-5)


def test_pose_feature_names_are_the_kinematics_features():
    keypoints = np.random.default_rng(0).random((8, 17, 3)).astype(np.float32)
    keypoints[..., 2] = 1.0
    assert set(POSE_FEATURES) == set(analyze(keypoints).features)
    assert set(analyze(keypoints).joint_motion) >= set(LIMB_JOINTS)


def test_features_are_reproducible_from_the_seed():
    a, b = make(), make()
    assert np.array_equal(a.reset(seed=9)[0], b.reset(seed=9)[0])
    assert np.array_equal(a.step(1)[0], b.step(1)[0])


def test_hashed_embedding_is_deterministic_unit_length_and_word_based():
    v = hashed_embedding("The arms swing up and down", 16)
    assert v.shape == (16,) and np.linalg.norm(v) == pytest.approx(1.0)
    assert np.array_equal(v, hashed_embedding("the ARMS swing, up and down!", 16))
    assert not hashed_embedding("", 16).any()


def test_motion_grid_is_zero_for_still_frames_and_marks_where_things_move():
    still = np.full((4, 32, 32, 3), 100, np.uint8)
    assert not motion_grid(still).any()
    moving = still.copy()
    moving[1::2, :8, :8] = 200  # the top-left cell flickers
    grid = motion_grid(moving)
    assert grid.shape == (16,) and grid[0] > 0 and not grid[1:].any()


def test_a_local_embedding_model_can_replace_the_hashing():
    env = FeatureObservation(DiscreteToolActions(gym.make("VideoSTAR-v0", **DATA)), embed=lambda text: np.ones(4),
                             embed_dim=4)
    env.reset(seed=0)
    obs, *_ = env.step(3)
    start = env.feature_names.index("description:0")
    assert obs[start:start + 4].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_wrapped_envs_vectorise_and_keep_the_reward_breakdown(mode):
    envs = gym.make_vec("VideoSTAR-Discrete-v0", num_envs=2, vectorization_mode=mode, vector_kwargs=vector_kwargs(mode),
                        **DATA)
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (2, envs.single_observation_space.shape[0])
        obs, reward, terminated, _, info = envs.step(np.array([4, 5]))  # both answer at once
        assert terminated.all() and "reward" in info and np.allclose(info["reward"]["total"], reward)
    finally:
        envs.close()


def test_the_registered_factory_accepts_env_config():
    env = discrete_feature_env(max_turns=2, **DATA)
    assert env.unwrapped.config.max_turns == 2
