"""A new task, added from outside the package: "How many people are in this video?"

The specification of the task plugin API. The whole task is the module in COUNT_PEOPLE below (under
100 lines): a plain class, no subclassing of package classes, that satisfies the Task protocol. It
reuses the built-in human_detection tool and the synthetic dataset, and is made available

  * in code, with videostar_env.register_task and videostar_env.register_env, or
  * from another installed package, through an entry point in the group "videostar_env.tasks".
"""

import importlib
import json
import sys
import textwrap

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import videostar_env
from videostar_env import TASKS, Answer, Task, VideoToolEnv, make_task, tool_call
from videostar_env.datasets import make_dataset
from videostar_env.tasks import ENTRY_POINT_GROUP, Breakdown

# The plugin, as another package would ship it: a module of its own.
COUNT_PEOPLE = textwrap.dedent('''
    """Counting: how many people are in the video? A number, scored exactly, with the human_detection tool."""

    import dataclasses
    import re

    import numpy as np

    _NUMBER = re.compile(r"[+-]?\\d+(?:\\.\\d+)?")
    _FORMAT = re.compile(r"^\\s*<think>.*?</think>\\s*<answer>.*?</answer>\\s*$", re.DOTALL)


    @dataclasses.dataclass(frozen=True)
    class CountRewardConfig:
        """The weight of each term; 0 switches a term off."""

        accuracy: float = 1.0  # the exact count
        format: float = 0.1  # <think>...</think><answer>N</answer> with N a number


    @dataclasses.dataclass(frozen=True)
    class CountReward:
        accuracy: float
        format: float
        total: float

        def as_dict(self):
            return dataclasses.asdict(self)


    @dataclasses.dataclass(frozen=True)
    class CountAnswer:
        value: float | None  # None: the <answer> block held no number (or several blocks)
        well_formed: bool


    class CountPeople:
        """One video, one question: how many people does it show? The answer is a number."""

        name = "count_people"
        default_tools = ("human_detection",)
        role = "You are a careful video analyst. You count the people who appear in videos."
        answer_format = ("Think first, then give the number of people as digits:\\n"
                         "<think>[your reasoning]</think><answer>[a number]</answer>")
        after_tools = "The detection results are above. Now count: <think>...</think><answer>[a number]</answer>"

        def reward_config(self, spec):
            if spec is None or isinstance(spec, CountRewardConfig):
                return spec or CountRewardConfig()
            known = {f.name for f in dataclasses.fields(CountRewardConfig)}
            if not isinstance(spec, dict) or set(spec) - known:
                raise ValueError(f"reward must be None or a dict of {sorted(known)}, got {spec!r}")
            return CountRewardConfig(**spec)

        def candidates(self, sample):
            return ()  # an open answer

        def question(self, sample, candidates, num_frames):
            return f"The video is shown as {num_frames} frames sampled uniformly.\\nHow many people are in this video?\\n"

        def parse_answer(self, answer):
            label = (answer.label or "").strip()
            value = float(label) if _NUMBER.fullmatch(label) else None
            return CountAnswer(value, bool(_FORMAT.match(answer.text)) and value is not None)

        def score(self, answer, sample, knowledge, calls, config):
            truth = self.ground_truth(sample)["count"]
            accuracy = config.accuracy * float(answer.value == truth)
            form = config.format * float(answer.well_formed)
            return CountReward(accuracy, form, accuracy + form)

        def zero_reward(self):
            return CountReward(0.0, 0.0, 0.0).as_dict()

        def answer_value(self, answer):
            v = answer.value
            return int(v) if v is not None and v.is_integer() else v

        def ground_truth(self, sample):
            """People per frame, from the annotated boxes: (T, 4) is one person per frame (the synthetic
            dataset renders one figure), (T, P, 4) is P people."""
            boxes = np.load(sample.meta["annotations"])["boxes"]
            return {"count": int(boxes.reshape(len(boxes), -1, 4).shape[1])}

        def bench_fields(self, info):
            return {"count": info["ground_truth"]["count"], "answer": info.get("answer"),
                    "correct": info["reward"].get("accuracy", 0.0) > 0}

        def bench_metrics(self, rows):
            errors = [abs(r["answer"] - r["count"]) for r in rows if r["answer"] is not None]
            return {"counting": {"mean_absolute_error": float(np.mean(errors)) if errors else None,
                                 "answered": len(errors) / len(rows) if rows else 0.0,
                                 "accuracy": float(np.mean([r["correct"] for r in rows])) if rows else 0.0}}
''').lstrip()

ENV_ID = "CountPeople-v0"


def _import_plugin(folder, module_name):
    (folder / f"{module_name}.py").write_text(COUNT_PEOPLE)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The plugin module imported, its task registered and an env id for it; all removed afterwards."""
    module = _import_plugin(tmp_path_factory.mktemp("plugin"), "count_people_plugin")
    added_task = "count_people" not in TASKS
    if added_task:
        videostar_env.register_task(module.CountPeople())
    added_env = ENV_ID not in gym.registry
    if added_env:
        videostar_env.register_env(ENV_ID, task="count_people", tools=["human_detection"])
    yield module
    if added_env:  # other tests compare ENV_IDS with the built-in VideoSTAR-* ids
        videostar_env.ENV_IDS.pop(ENV_ID, None)
        gym.registry.pop(ENV_ID, None)
    if added_task:
        TASKS._factories.pop("count_people", None)
    sys.modules.pop("count_people_plugin", None)


@pytest.fixture(scope="module")
def sample():
    """A sample of the synthetic dataset, for calling the task directly."""
    return make_dataset("synthetic")[0]


def _answer(text):
    return Answer((text,), f"<answer>{text}</answer>")


def test_the_task_is_a_plain_class_under_100_lines_that_satisfies_the_protocol(plugin, sample):
    assert len(COUNT_PEOPLE.splitlines()) < 100
    task = plugin.CountPeople()
    assert plugin.CountPeople.__mro__ == (plugin.CountPeople, object)  # no package base class
    assert isinstance(task, Task)
    breakdown = task.score(task.parse_answer(_answer("1")), sample, None, [], task.reward_config(None))
    assert isinstance(breakdown, Breakdown) and breakdown.total == breakdown.as_dict()["total"] == 1.0
    assert task.ground_truth(sample) == {"count": 1}  # one box per frame in the annotations
    assert task.candidates(sample) == ()
    assert "How many people are in this video?" in task.question(sample, (), 16)


def test_answers_are_read_as_numbers_and_non_numbers_do_not_crash(plugin):
    task = plugin.CountPeople()
    assert task.answer_value(task.parse_answer(_answer("3"))) == 3
    assert task.answer_value(task.parse_answer(_answer(" 2.5 "))) == 2.5
    for text in ("three", "", "1 or 2"):
        assert task.answer_value(task.parse_answer(_answer(text))) is None
    assert task.parse_answer(Answer(("1", "2"), "<answer>1</answer><answer>2</answer>")).value is None
    assert task.zero_reward() == {"accuracy": 0.0, "format": 0.0, "total": 0.0}


def test_reward_config_comes_from_none_or_a_dict_of_its_switches(plugin):
    task = plugin.CountPeople()
    assert task.reward_config(None) == plugin.CountRewardConfig(accuracy=1.0, format=0.1)
    assert task.reward_config({"format": 0.0}).format == 0.0
    config = plugin.CountRewardConfig(accuracy=2.0)
    assert task.reward_config(config) is config
    with pytest.raises(ValueError, match="reward must be"):
        task.reward_config({"tool": 1.0})
    with pytest.raises(ValueError, match="unknown|reward must be"):
        gym.make(ENV_ID, reward={"tool": 1.0})


def test_the_registered_env_passes_gymnasiums_checker(plugin):
    # A repeated identical tool call reports `cached`, which check_env reads as non-determinism.
    env = gym.make(ENV_ID, render_mode="rgb_array", tool_cache=None)
    check_env(env.unwrapped)
    env.close()


def test_an_episode_counts_people_with_human_detection_and_is_rewarded(plugin):
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0)
    assert info["task"] == "count_people" and info["candidates"] == []
    assert info["ground_truth"] == {"count": 1}  # the synthetic dataset renders one person per video
    assert [t["function"]["name"] for t in info["tools"]] == ["human_detection"]
    system = info["messages"][0]
    assert system["role"] == "system"
    system_text = system["content"][0]["text"]
    assert system_text.startswith(plugin.CountPeople.role)
    assert json.dumps(info["tools"][0], sort_keys=True) in system_text
    assert "How many people are in this video?" in obs["dialogue"]

    obs, reward, terminated, truncated, info = env.step(tool_call("human_detection"))
    assert (reward, terminated, truncated) == (0.0, False, False)
    result = info["tool_results"][-1]
    assert result["name"] == "human_detection" and result["ok"]
    counts = result["data"]["counts"]
    assert len(counts) == info["num_frames"]
    n = max(counts)

    obs, reward, terminated, truncated, info = env.step(
        f"<think>The detector found {counts} people per frame; at most {n} at once.</think><answer>{n}</answer>")
    assert terminated and not truncated
    assert reward > 0 and reward == pytest.approx(info["reward"]["total"])
    assert info["reward"] == pytest.approx({"accuracy": 1.0, "format": 0.1, "total": 1.1})
    assert info["answer"] == 1 == info["ground_truth"]["count"]

    task = env.unwrapped.task
    row = task.bench_fields(info)
    assert row == {"count": 1, "answer": 1, "correct": True}
    wrong = {"count": 1, "answer": 3, "correct": False}
    unanswered = {"count": 1, "answer": None, "correct": False}
    metrics = task.bench_metrics([row, wrong, unanswered])["counting"]
    assert metrics["mean_absolute_error"] == pytest.approx(1.0)
    assert metrics["answered"] == pytest.approx(2 / 3) and metrics["accuracy"] == pytest.approx(1 / 3)
    env.close()


@pytest.mark.parametrize("turn, answer, terms", [
    ("<think>Probably a crowd.</think><answer>3</answer>", 3, {"accuracy": 0.0, "format": 0.1}),
    ("<think>Hard to say.</think><answer>several</answer>", None, {"accuracy": 0.0, "format": 0.0}),
    ("<answer>one person</answer>", None, {"accuracy": 0.0, "format": 0.0}),
    ("<answer>1</answer>", 1, {"accuracy": 1.0, "format": 0.0}),  # right, but without <think>
])
def test_wrong_or_non_numeric_answers_earn_no_accuracy(plugin, turn, answer, terms):
    env = gym.make(ENV_ID)
    env.reset(seed=1)
    _, reward, terminated, _, info = env.step(turn)
    assert terminated and info["answer"] == answer
    assert info["reward"] == pytest.approx({**terms, "total": sum(terms.values())})
    assert reward == pytest.approx(info["reward"]["total"])
    env.close()


def test_each_reward_term_can_be_switched_off(plugin):
    env = gym.make(ENV_ID, reward={"format": 0.0})
    env.reset(seed=0)
    *_, info = env.step("<think>One figure.</think><answer>1</answer>")
    assert info["reward"] == {"accuracy": 1.0, "format": 0.0, "total": 1.0}
    env.close()


def test_a_truncated_episode_reports_every_term_at_zero(plugin):
    env = gym.make(ENV_ID, max_turns=1)
    env.reset(seed=0)
    *_, truncated, info = env.step(tool_call("human_detection"))
    assert truncated and info["reward"] == {"accuracy": 0.0, "format": 0.0, "total": 0.0} and info["answer"] is None
    env.close()


def test_the_task_is_found_through_an_entry_point(tmp_path, monkeypatch):
    (tmp_path / "headcount_plugin.py").write_text(COUNT_PEOPLE)
    dist = tmp_path / "headcount_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: headcount-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ncount_people = headcount_plugin:CountPeople\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(TASKS._factories, "count_people", raising=False)  # restored if the fixture added it
    monkeypatch.setattr(TASKS, "_entry_points_loaded", False)
    try:
        task = make_task("count_people")
        assert type(task).__module__ == "headcount_plugin" and isinstance(task, Task)
        env = VideoToolEnv(task="count_people")  # the task's default tools: human_detection
        obs, info = env.reset(seed=0)
        assert env.toolbox.names == ["human_detection"]
        assert info["task"] == "count_people" and info["ground_truth"] == {"count": 1}
        env.close()
    finally:
        TASKS._factories.pop("count_people", None)
        sys.modules.pop("headcount_plugin", None)

