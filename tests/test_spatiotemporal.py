"""Video-STR, the second task: spatio-temporal questions on synthetic scenes, answered through a relation graph."""

import collections
import json

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from gymnasium.utils.env_checker import check_env

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents import make_agent
from videostar_env import graph_score, tool_call, vector_kwargs
from videostar_env.datasets import SceneConfig, SceneQuestionDataset
from videostar_env.datasets.scenes.questions import TYPES
from videostar_env.jobs.rollout import run_episode
from videostar_env.actions import parse
from videostar_env.tasks.spatiotemporal import ABLATIONS, SpatioTemporal, true_graph

SMALL = {"dataset_kwargs": {"num_scenes": 3, "questions_per_scene": 4}}
# Scenes where a wide pan brings objects into view: the appearance-order questions need them.
PANNING = SceneConfig(fov=40.0, pan_yaw=60.0, min_pan=30.0, panning_share=0.7)


def final(graph, value, think="think"):
    return f"<{think}>\n<graph>{json.dumps(graph)}</graph>\nfrom the graph\n</{think}>\n<answer>{value}</answer>"


@pytest.mark.parametrize("env_id", ["VideoSTR-v0", "VideoSTR-Tools-v0"])
def test_both_ids_pass_gymnasiums_checker(env_id):
    env = gym.make(env_id, render_mode="rgb_array", tool_cache=None, **SMALL)
    check_env(env.unwrapped)
    env.reset(seed=0)
    assert env.unwrapped.task.name == "spatiotemporal" and env.render().ndim == 3


def test_the_paper_protocol_offers_no_tools_and_asks_for_the_graph_first():
    env = gym.make("VideoSTR-v0", **SMALL)
    _, info = env.reset(seed=0)
    assert info["tools"] == [] and info["max_turns"] == 2
    prompt = info["messages"][1]["content"][1]["text"]
    assert "<graph>" in prompt and "relation graph" in prompt and "<answer>" in prompt


def test_seeds_make_episodes_reproducible():
    def play(seed):
        env = gym.make("VideoSTR-Tools-v0", **SMALL)
        _, info = env.reset(seed=seed)
        *_, info = env.step(tool_call("relation_graph"))
        return info["sample_id"], info["tool_results"][0]["data"], info["ground_truth"]

    assert play(3) == play(3)


def test_async_vector_envs_play_episodes():
    envs = gym.make_vec("VideoSTR-v0", num_envs=2, vectorization_mode="async", vector_kwargs=vector_kwargs("async"),
                        **SMALL)
    _, infos = envs.reset(seed=[0, 1])
    answers = [final({"frames": []}, "A" if infos["candidates"][i] else "1") for i in range(2)]
    _, rewards, terminated, _, infos = envs.step(answers)
    envs.close()
    assert terminated.all() and "answer" in infos["reward"] and rewards.shape == (2,)


def test_the_true_graph_scores_one_against_itself():
    dataset = SceneQuestionDataset(num_scenes=4, questions_per_scene=5)
    for sample in dataset.samples:
        graph = true_graph(sample)
        assert graph_score(graph, graph)["node"] == graph_score(graph, graph)["edge"] == 1.0


def test_the_graph_reader_answers_every_question_type_exactly_with_the_noise_free_oracle():
    agent = make_agent("graph-reader")
    scores: dict[str, list[float]] = collections.defaultdict(list)
    for dataset_kwargs in ({}, {"num_scenes": 12, "config": PANNING, "types": ("appearance_order",)}):
        env = gym.make("VideoSTR-Tools-v0", dataset_kwargs=dataset_kwargs)
        for i in range(len(env.unwrapped.dataset)):
            result = run_episode(env, agent, options={"index": i})
            scores[result.truth["type"]].append(result.reward["answer"])
    assert sum(len(v) for v in scores.values()) >= 200
    assert set(scores) == set(TYPES)
    assert {kind: min(values) for kind, values in scores.items()} == {kind: 1.0 for kind in TYPES}


def test_more_oracle_noise_lowers_the_graph_readers_accuracy():
    from videostar_benchmarks.graph_noise import noise_level

    levels = [noise_level({"position_noise": x}, scenes=6) for x in (0.0, 0.2, 1.0)]
    answers = [level["answer"] for level in levels]
    assert answers[0] == 1.0 and answers[0] > answers[1] > answers[2]
    assert levels[0]["node"] > levels[1]["node"] > levels[2]["node"]


def test_reward_terms_and_consistency():
    env = gym.make("VideoSTR-v0", dataset_kwargs={"num_scenes": 4, "questions_per_scene": 10, "types": ("absolute_distance",)})
    _, info = env.reset(seed=0)
    truth = info["ground_truth"]
    right = final(truth["graph"], truth["answer"])
    _, reward, terminated, _, info = env.step(right)
    assert terminated and info["reward"] == {"format": 1.0, "answer": 1.0, "node": 1.0, "edge": 1.0, "length": 1.0,
                                             "consistency": 1.0, "total": pytest.approx(reward)}
    # The stated answer disagrees with the model's own graph: no consistency, and a wrong answer gates the graph.
    env.reset(seed=0)
    *_, info = env.step(final(truth["graph"], truth["answer"] * 3))
    assert info["reward"]["consistency"] == 0.0 and info["reward"]["answer"] == 0.0 and info["reward"]["total"] == 1.5
    # Ungated, the same graph earns its terms; without graph weights they vanish.
    ungated = gym.make("VideoSTR-v0", reward="ungated", **{k: v for k, v in env.unwrapped.config.__dict__.items()
                                                            if k == "dataset_kwargs"})
    ungated.reset(seed=0)
    assert ungated.step(final(truth["graph"], truth["answer"] * 3))[1] == pytest.approx(3.5)
    no_graph = gym.make("VideoSTR-v0", reward={"w_node": 0.0, "w_edge": 0.0},
                        dataset_kwargs=env.unwrapped.config.dataset_kwargs)
    no_graph.reset(seed=0)
    assert no_graph.step(right)[1] == pytest.approx(reward - 2.0)


@pytest.fixture(scope="module")
def one_of_each_kind():
    """A question of each kind (choice, number, count) with its true graph."""
    dataset = SceneQuestionDataset(**SMALL["dataset_kwargs"], types=("relative_distance", "absolute_distance",
                                                                      "counting"))
    by_kind = {dataset[i].meta["question"]["kind"]: dataset[i] for i in range(len(dataset))}
    assert sorted(by_kind) == ["choice", "count", "number"]
    return [(sample.meta["question"], true_graph(sample)) for sample in by_kind.values()]


# What a policy could write inside <answer> to be paid without answering: nothing, blanks, punctuation.
BLANK = st.text(alphabet=" \t\n.,;:!?-_'\"()[]", max_size=12)


@settings(max_examples=200, deadline=None)
@given(reasoning=st.text(max_size=200).filter(lambda t: "<" not in t), blank=BLANK, with_graph=st.booleans(),
       in_answer=st.booleans(), config=st.sampled_from(sorted(ABLATIONS)), which=st.integers(0, 2))
def test_an_answer_the_scorer_cannot_read_earns_no_term(one_of_each_kind, reasoning, blank, with_graph, in_answer,
                                                        config, which):
    question, graph = one_of_each_kind[which]
    block = f"<graph>{json.dumps(graph.to_json())}</graph>"
    # The true graph in the reasoning (every graph term would pay), or as the whole answer.
    text = (f"<think>{reasoning}{block if with_graph else ''}</think>"
            f"<answer>{block if in_answer else blank}</answer>")
    task = SpatioTemporal()
    answer = task.parse_answer(parse(text))
    r = task.score_question(answer, question, graph, task.reward_config(config))
    assert r.as_dict() == dict.fromkeys(r.as_dict(), 0.0)


def test_only_an_option_letter_or_a_number_is_read_as_an_answer(one_of_each_kind):
    task = SpatioTemporal()
    for question, graph in one_of_each_kind:
        right = final(graph.to_json(), question["answer"])
        read = task.score_question(task.parse_answer(parse(right)), question, graph, task.reward_config(None))
        assert read.answer == 1.0 and read.format == read.length == 1.0
        wrong = "Z" if question["kind"] == "choice" else "many"  # no option; no number
        unread = task.score_question(task.parse_answer(parse(final(graph.to_json(), wrong))), question, graph,
                                     task.reward_config(None))
        assert unread.total == 0.0


def test_the_length_term_needs_a_well_formed_turn(one_of_each_kind):
    question, graph = one_of_each_kind[0]
    task = SpatioTemporal()
    bare = task.parse_answer(parse(f"<answer>{question['answer']}</answer>"))  # no reasoning: nothing to measure
    r = task.score_question(bare, question, graph, task.reward_config(None))
    assert r.answer == 1.0 and r.format == 0.0 and r.length == 0.0


def test_a_broken_graph_costs_the_format_and_says_why():
    env = gym.make("VideoSTR-v0", **SMALL)
    env.reset(seed=1)
    *_, info = env.step("<think><graph>{not json</graph></think><answer>A</answer>")
    assert info["reward"]["format"] == 0.0 and info["reward"]["node"] == 0.0
    assert "not valid" in info["answer"]["graph_error"]


def test_reasoning_and_graph_tags_are_configurable():
    tags = {"open": "<reasoning>", "close": "</reasoning>"}
    env = gym.make("VideoSTR-v0", task_options={"reasoning": tags, "graph": "scene_graph"}, **SMALL)
    _, info = env.reset(seed=0)
    assert "<reasoning>" in info["messages"][1]["content"][1]["text"]
    truth = info["ground_truth"]
    text = (f"<reasoning><scene_graph>{json.dumps(truth['graph'])}</scene_graph>ok</reasoning>"
            f"<answer>{truth['answer']}</answer>")
    *_, info = env.step(text)
    assert info["reward"]["format"] == 1.0 and info["reward"]["node"] == 1.0
    with pytest.raises(ValueError, match="tag"):
        gym.make("VideoSTR-v0", task_options={"reasoning": {"open": "<answer>", "close": "</answer>"}}, **SMALL)
    with pytest.raises(ValueError, match="graph tag"):
        gym.make("VideoSTR-v0", task_options={"reasoning": tags, "graph": "reasoning"}, **SMALL)
    with pytest.raises(TypeError, match="unknown option 'think'.*reasoning"):  # the former option names the new one
        gym.make("VideoSTR-v0", task_options={"think": "reasoning"}, **SMALL)


def test_the_task_refuses_a_dataset_without_questions():
    with pytest.raises(ValueError, match="dataset='scenes', or your own videos' questions file: dataset='questions'"):
        gym.make("VideoSTR-v0", dataset="synthetic")


def test_object_tools_read_the_scene_densely_and_report_metric_positions():
    env = gym.make("VideoSTR-Tools-v0", **SMALL)
    env.reset(seed=0)
    *_, info = env.step(tool_call("object_detection") + tool_call("object_tracking") + tool_call("relation_graph"))
    detection, tracking, graph = info["tool_results"]
    assert detection["ok"] and tracking["ok"] and graph["ok"]
    assert tracking["data"]["metric"] and all(t["seen_in"] > 16 for t in tracking["data"]["tracks"].values())
    assert "metric: ground-plane metres" in graph["text"] and graph["data"]["graph"]["units"] == "metres"
    assert len(info["messages"][-1]["content"]) >= 1 and np.asarray(env.unwrapped._episode.tool_images).ndim == 4
