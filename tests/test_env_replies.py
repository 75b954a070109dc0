"""What every registered env says back: hints that fit its tools and its task's answer, and an empty answer paid 0."""

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import videostar_env
from videostar_env.tasks.base import option

ENV_IDS = sorted(videostar_env.ENV_IDS) + sorted(videostar_env.WRAPPED_ENV_IDS)
SMALL_SCENES = {"dataset_kwargs": {"num_scenes": 2, "questions_per_scene": 3}}


def make(env_id):
    """The env of a registered id with a small dataset; its text core (a wrapped id's unwrapped env)."""
    options = SMALL_SCENES if videostar_env.ENV_IDS.get(env_id, {}).get("dataset") == "scenes" else {}
    return gym.make(env_id, tool_cache=None, **options).unwrapped


@pytest.fixture(scope="module")
def envs():
    made = {env_id: make(env_id) for env_id in ENV_IDS}
    yield made
    for env in made.values():
        env.close()


def test_every_registered_id_is_covered():
    videostar_ids = {i for i in gym.registry if i.startswith(("VideoSTAR", "VideoSTR"))}
    assert videostar_ids == set(ENV_IDS)
    assert {"VideoSTR-v0", "VideoSTR-Tools-v0", "VideoSTAR-v0", "VideoSTAR-NoTools-v0"} <= videostar_ids


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_turn_with_nothing_usable_gets_a_hint_that_fits_the_env(envs, env_id):
    env = envs[env_id]
    tools, bare = env.toolbox.names, getattr(env.task, "bare_answers", False)
    env.reset(seed=0)
    # Where the reply itself is the answer (a benchmark's own protocol), only a blank one is unusable.
    _, reward, terminated, _, info = env.step(" \n" if bare else "I am not sure yet.")
    hint = info["invalid_reason"]
    assert reward == 0.0 and not terminated
    assert ("<tool_call>" in hint) == bool(tools and env.config.action_format == "hermes")
    assert ("<pose_estimation>" in hint) == bool(tools and env.config.action_format == "videostar")
    form = option(env.task, "answer_form")
    assert (f"reply with {form}" if bare else f"<answer>{form}</answer>") in hint
    assert ("<answer>" in hint) is not bare
    assert info["messages"][-1]["role"] == "user" and hint in str(info["messages"][-1]["content"])


def test_each_task_names_its_own_answer():
    assert "candidate label" in option(make("VideoSTAR-v0").task, "answer_form")
    str_form = option(make("VideoSTR-v0").task, "answer_form")
    assert "letter" in str_form and "number" in str_form and "label" not in str_form


def test_an_env_without_tools_refuses_a_tool_call_and_says_how_to_answer(envs):
    env = envs["VideoSTR-v0"]
    env.reset(seed=0)
    *_, info = env.step(videostar_env.tool_call("object_detection"))
    assert "offers no tools" in info["invalid_reason"] and "<answer>" in info["invalid_reason"]
    assert info["tool_results"] == []


# Reasoning of any kind, with or without a relation graph in it; answers that name nothing.
REASONING = st.one_of(st.text(max_size=120), st.sampled_from([
    '<graph>{"units": "metres", "frames": [{"time": 0.0, "nodes": [{"id": "1", "label": "red cube", '
    '"position": [0.5, 3.0]}], "edges": []}]}</graph> the cube is there',
    "[1] Observed body parts and movement characteristics:\n- Right wrist: swings above the head"]))
BLANK = st.text(alphabet=" \t\n.,;:!?-_'\"()", max_size=10)


@settings(max_examples=25, deadline=None)
@given(reasoning=REASONING.filter(lambda t: "<answer>" not in t and "</think>" not in t), blank=BLANK)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_an_empty_answer_scores_zero_and_the_env_says_it_was_empty(envs, env_id, reasoning, blank):
    env = envs[env_id]
    bare = getattr(env.task, "bare_answers", False)
    env.reset(seed=0)
    for _ in range(env.config.max_turns):
        _, reward, terminated, truncated, info = env.step(f"<think>{reasoning}</think><answer>{blank}</answer>")
        assert reward == 0.0
        if terminated:  # only where the whole reply is the answer (a benchmark's protocol) and names something
            assert bare and any(c.isalnum() for c in reasoning)
            break
        assert "your answer is empty" in info["invalid_reason"]
        assert "your answer is empty" in str(info["messages"][-1]["content"])
    assert (terminated or truncated) and info["reward"]["total"] == 0.0
