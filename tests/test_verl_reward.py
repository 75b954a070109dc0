"""trainers/reward.py: verl's compute_score pays exactly what the env pays."""

import gymnasium as gym

import videostar_env  # noqa: F401
from videostar_agents import HeuristicAgent
from videostar_trainers.reward import compute_score, final_turn
from videostar_env import answer


def test_compute_score_equals_the_env_reward_of_the_same_episode():
    env = gym.make("VideoSTAR-v0")
    agent = HeuristicAgent()
    obs, info = env.reset(seed=4)
    while True:
        text = agent.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(text)
        if terminated or truncated:
            break
    entry = env.unwrapped.dataset.knowledge.get(info["ground_truth"]["label"])
    tool_log = [{"name": r["name"], "arguments": r["arguments"], "ok": r["ok"]} for r in info["tool_results"]]
    result = compute_score("synthetic", text, info["ground_truth"]["label"],
                           {"definition": entry.explanation(), "tool_log": tool_log})
    assert result["score"] == reward == info["reward"]["total"]
    assert {k: result[k] for k in ("accuracy", "format", "tool", "submotion")} == \
        {k: info["reward"][k] for k in ("accuracy", "format", "tool", "submotion")}


def test_single_turn_use_without_a_tool_log_earns_no_tool_term():
    text = answer("wave", [("Right arm", "swings side to side")])
    result = compute_score("synthetic", text, "wave")
    assert result["accuracy"] == 1.0 and result["format"] == 1.0 and result["tool"] == 0.0
    assert compute_score("synthetic", text, "clap")["score"] == result["format"]  # wrong: format only


def test_the_final_turn_follows_the_last_tool_response_and_ablations_apply():
    text = '<tool_call>{"name": "pose_estimation", "arguments": {}}</tool_call>\n<tool_response>\nknees bend\n' \
           '</tool_response>\n' + answer("squat", [("Knees", "bend")])
    assert final_turn(text).startswith("<think>")
    log = [{"name": "pose_estimation", "arguments": {}, "ok": True}]
    full = compute_score("synthetic", text, "squat", {"tool_log": log})
    no_tool = compute_score("synthetic", text, "squat", {"tool_log": log, "reward": {"w_tool": 0.0}})
    assert full["tool"] == 1.0 and full["score"] - no_tool["score"] == 1.0
