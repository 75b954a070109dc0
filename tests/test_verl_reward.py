"""trainers/reward.py: verl's compute_score pays exactly what the env pays."""

import json

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_agents import HeuristicAgent
from videostar_trainers.reward import compute_score, final_turn
from videostar_env import answer, tool_call


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


STR_OPTIONS = {"num_scenes": 2, "questions_per_scene": 3}


def graph_reader_final(env, index):
    """The graph-reader's final turn on one STR episode, and the episode's final info."""
    from videostar_agents import make_agent

    agent = make_agent("graph-reader")
    obs, info = env.reset(seed=index, options={"index": index})
    while True:
        text = agent.act(obs, info)
        obs, _, terminated, truncated, info = env.step(text)
        if terminated or truncated:
            return text, info


def test_compute_score_of_a_spatiotemporal_row_equals_the_env_reward():
    from videostar_trainers.data import verl_rows

    env = gym.make("VideoSTR-Tools-v0", dataset_kwargs=STR_OPTIONS)
    rows = verl_rows(env, range(6))
    for index in (1, 2, 4):  # a choice, a distance and a count
        text, info = graph_reader_final(env, index)
        row = rows[index]
        assert row["ability"] == row["extra_info"]["task"] == "spatiotemporal"
        assert row["extra_info"]["env_id"] == "VideoSTR-Tools-v0"
        # after the tool's response, as verl decodes a multi-turn rollout
        solution = tool_call("relation_graph") + "\n<tool_response>\n{...}\n</tool_response>\n" + text
        result = compute_score(row["data_source"], solution, row["reward_model"]["ground_truth"], row["extra_info"])
        terms = dict(info["reward"])
        assert result == {"score": terms.pop("total"), **terms}  # the task's terms, not action recognition's
        assert result["answer"] == 1.0 and result["node"] == 1.0


def test_spatiotemporal_rows_score_wrong_answers_non_answers_and_ablations():
    from videostar_trainers.data import verl_rows

    env = gym.make("VideoSTR-v0", dataset_kwargs=STR_OPTIONS)
    row = verl_rows(env, [1])[0]  # "which object is closest ...?", answer D
    truth = json.loads(row["reward_model"]["ground_truth"])
    graph = json.dumps(truth["graph"])

    def final(value):
        return f"<think>\n<graph>{graph}</graph>\nThe closest one.\n</think>\n<answer>{value}</answer>"

    def score(text, **extra):
        return compute_score(row["data_source"], text, row["reward_model"]["ground_truth"],
                             {**row["extra_info"], **extra})

    right, wrong = score(final(truth["answer"])), score(final(next(o for o in "ABCD" if o != truth["answer"])))
    assert right["answer"] == right["format"] == right["node"] == right["consistency"] == 1.0
    assert wrong["answer"] == wrong["consistency"] == 0.0 and wrong["node"] == 1.0
    assert wrong["score"] == right["score"] - 1.0 - 0.5 - 2.0  # answer, consistency, and the graph terms (gated)
    assert set(score("I am not sure.").values()) == {0.0}  # not an answer: every term 0, like a truncated episode
    no_graph = score(final(truth["answer"]), reward="no_graph")
    assert right["score"] - no_graph["score"] == 2.0  # w_node and w_edge off
    assert score(final(truth["answer"]), reward={"w_format": 0.0})["score"] == right["score"] - 1.0


def test_spatiotemporal_rows_keep_the_tasks_options_official_prompts_score_bare_answers():
    from videostar_trainers.data import verl_rows

    env = gym.make("VideoSTR-v0", dataset_kwargs=STR_OPTIONS, task_options={"prompt": "official"})
    rows = verl_rows(env, range(3))
    for index in (1, 2):  # a letter, a number
        row, truth = rows[index], json.loads(rows[index]["reward_model"]["ground_truth"])
        # the task's own options, defaults included, so the reward rebuilds the env's task exactly
        assert json.loads(row["extra_info"]["task_options"]) == env.unwrapped.task.options()
        assert json.loads(row["extra_info"]["task_options"])["prompt"] == "official"
        for text in (str(truth["answer"]), "B"):
            env.reset(seed=0, options={"index": index})
            _, reward, terminated, _, info = env.step(text)
            result = compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])
            assert terminated and result["score"] == reward and result["answer"] == info["reward"]["answer"]


def test_rows_of_a_task_compute_score_does_not_know_are_refused():
    with pytest.raises(ValueError, match="not task 'counting_sheep'"):
        compute_score("x", "<answer>3</answer>", "{}", {"task": "counting_sheep"})
