"""Agents: chosen by name or import path, and the scripted baselines behave as documented."""

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents import AGENTS, Agent, HeuristicAgent, make_agent
from videostar_agents.scripted import signature_match
from videostar_env.jobs.rollout import run_episode, summarize


def test_agents_by_name_and_import_path():
    for name in ("random", "no-tool", "heuristic", "oracle"):
        assert isinstance(make_agent(name), Agent)
    assert {"qwen-vl", "openai"} <= set(AGENTS.names())  # model policies: built in test_policies.py
    assert isinstance(make_agent("openai", base_url="http://127.0.0.1:9/v1"), Agent)
    assert isinstance(make_agent("videostar_agents.scripted:HeuristicAgent"), HeuristicAgent)
    with pytest.raises(KeyError, match="registered"):
        make_agent("gpt-7")
    with pytest.raises(KeyError, match="cannot import"):
        make_agent("videostar_agents.scripted:Nope")


@pytest.mark.parametrize("env_id", ["VideoSTAR-v0", "VideoSTAR-TwoTurn-v0"])
def test_heuristic_agent_uses_pose_and_explanations_in_both_formats(env_id):
    env = gym.make(env_id)
    results = [run_episode(env, HeuristicAgent(), seed=s) for s in range(6)]
    assert all(r.tool_calls == {"pose_estimation": 1, "action_explanation": 1} for r in results)
    assert summarize(results)["accuracy"] >= 5 / 6


def test_heuristic_sub_motions_list_only_moving_body_parts():
    env = gym.make("VideoSTAR-v0")
    agent = HeuristicAgent()
    obs, info = env.reset(options={"index": 0})  # wave: one arm moves, the legs stand still
    while True:
        text = agent.act(obs, info)
        obs, _, terminated, _, info = env.step(text)
        if terminated:
            break
    parts = [p.lower() for p, _ in videostar_env.parse_answer(videostar_env.parse(text)).submotions]
    assert parts and not any("ankle" in p or "knee" in p for p in parts)


def test_oracle_reaches_the_maximum_reward():
    result = run_episode(gym.make("VideoSTAR-v0"), make_agent("oracle"), seed=0)
    assert result.reward["total"] == pytest.approx(4.0)


def test_no_tool_agent_calls_no_tool_and_is_reproducible():
    env = gym.make("VideoSTAR-v0")
    a = [run_episode(env, make_agent("no-tool", seed=1), seed=s).answer for s in range(5)]
    b = [run_episode(env, make_agent("no-tool", seed=1), seed=s).answer for s in range(5)]
    assert a == b


def test_random_agent_never_crashes_the_env():
    env = gym.make("VideoSTAR-v0")
    agent = make_agent("random", seed=3)
    results = [run_episode(env, agent, seed=s) for s in range(10)]
    assert summarize(results)["episodes"] == 10


def test_signature_match():
    assert signature_match({"a": 0.5}, {"a": [0.0, 1.0]}) == pytest.approx(1.0)
    assert signature_match({"a": 3.0}, {"a": [0.0, 1.0]}) < 0.01
    assert signature_match({}, {}) == 0.0


def test_play_reports_the_last_turn_invalid_turns_and_truncation():
    from videostar_env.jobs.rollout import play

    class Scripted:
        name = "scripted"

        def __init__(self, turns):
            self.turns, self.seeds = list(turns), []

        def reset(self, seed=None):
            self.seeds.append(seed)

        def act(self, observation, info):
            return self.turns.pop(0)

    env = gym.make("VideoSTAR-v0", max_turns=3)
    obs, info = env.reset(seed=0)
    final = videostar_env.answer(info["ground_truth"]["label"], [("Arm", "moves")])
    agent = Scripted(["not a valid turn", final])
    end = play(env, agent, obs, info, seed=0)
    assert end.last_action == final and end.invalid_turns == 1 and not end.truncated
    assert end.info["answer"] == info["ground_truth"]["label"] and agent.seeds == [0]
    obs, info = env.reset(seed=1)
    end = play(env, Scripted(["x", "y", "z"]), obs, info, seed=1)
    assert end.truncated and end.invalid_turns == 3 and end.last_action == "z"
