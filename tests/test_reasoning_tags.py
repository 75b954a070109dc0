"""Reasoning tags per policy: the paper's <think>...</think> by default, or a chat template's reserved form ("qwen3":
the template writes <think>, so a reply holds only </think>), in the prompts, the parser and the format reward."""

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env import answer, tool_call
from videostar_env.actions import REASONING_TAGS, Invalid, ReasoningTags, parse, reasoning_tags
from videostar_env.core.prompts import user_prompt
from videostar_env.tasks import ActionRecognition, SpatioTemporal, make_task
from videostar_env.tasks.action_recognition import prompts as action_prompts
from videostar_env.tasks.action_recognition.reward import RewardConfig, format_ok, score
from videostar_trainers.data import verl_rows
from videostar_trainers.reward import compute_score

PAPER, QWEN3 = REASONING_TAGS["paper"], REASONING_TAGS["qwen3"]
STR_OPTIONS = {"num_scenes": 2, "questions_per_scene": 3}


def without_open_tag(text):
    """A paper-form turn as a Qwen3 thinking template's reply reads: the template wrote the <think>."""
    assert text.startswith("<think>")
    return text[len("<think>"):]


def test_the_presets_are_the_papers_form_and_the_reserved_form():
    assert PAPER == ReasoningTags() == ReasoningTags("<think>", "</think>", opened_by_template=False)
    assert QWEN3 == ReasoningTags("<think>", "</think>", opened_by_template=True)


@pytest.mark.parametrize("spec,expected", [
    (None, PAPER), ("paper", PAPER), ("qwen3", QWEN3), (QWEN3, QWEN3),
    ({"opened_by_template": True}, QWEN3),
    ({"open": "[THINK]", "close": "[/THINK]"}, ReasoningTags("[THINK]", "[/THINK]")),
])
def test_reasoning_tags_come_from_a_preset_a_dict_or_themselves(spec, expected):
    assert reasoning_tags(spec) == expected


@pytest.mark.parametrize("spec,error,match", [
    ("qwen4", ValueError, r"unknown reasoning form 'qwen4'; presets: \['paper', 'qwen3'\]"),
    ({"opend": "<t>"}, ValueError, r"unknown reasoning options \['opend'\]; valid: \['open', 'close'"),
    ({"open": ""}, ValueError, "ReasoningTags.open must be a non-empty tag"),
    ({"close": " </t>"}, ValueError, "without surrounding spaces"),
    ({"open": "<t>", "close": "<t>"}, ValueError, "must differ"),
    ({"close": "</answer>"}, ValueError, "contains the parser's own tag </answer>"),
    ({"open": "<tool_call>"}, ValueError, "parser's own tag <tool_call>"),
    ({"opened_by_template": "yes"}, TypeError, "opened_by_template must be True or False"),
    (3, TypeError, "reasoning must be a preset name"),
])
def test_bad_reasoning_tags_are_refused_with_what_to_write(spec, error, match):
    with pytest.raises(error, match=match):
        reasoning_tags(spec)


def test_the_reasoning_block_as_the_policy_writes_it():
    assert PAPER.block("r") == "<think>r</think>" and PAPER.prompt_note() == ""
    assert QWEN3.block("r") == "r</think>"
    assert "end it with </think>" in QWEN3.prompt_note() and "<think> is already written" in QWEN3.prompt_note()


@pytest.mark.parametrize("text,paper,qwen3", [
    ("<think>r</think><answer>a</answer>", "r", "r"),
    ("r</think><answer>a</answer>", None, "r"),
    ("<answer>a</answer>", None, None),
    ("<think>never closed<answer>a</answer>", None, None),
])
def test_the_reasoning_of_a_turn(text, paper, qwen3):
    assert PAPER.reasoning(text) == paper and QWEN3.reasoning(text) == qwen3


@pytest.mark.parametrize("text,paper,qwen3", [
    ("<think>r</think><answer>a</answer>", 1, 1),
    ("\n<think>r\n</think>\n<answer>a</answer>\n", 1, 1),
    ("r</think><answer>a</answer>", 0, 1),  # the reserved form: the template wrote <think>
    ("\nr\n</think>\n\n<answer>a</answer>", 0, 1),
    ("<answer>a</answer>", 0, 0),  # no reasoning at all
    ("<think>never closed<answer>a</answer>", 0, 0),
    ("r</think>so:<answer>a</answer>", 0, 0),  # text between the reasoning and the answer
    ("r<think>s</think><answer>a</answer>", 0, 0),  # <think> in the middle of the reasoning
    ("<think>r</think><answer>a</answer> bye", 0, 0),
])
def test_the_shape_of_a_final_turn_in_each_form(text, paper, qwen3):
    assert bool(PAPER.final_turn().match(text)) == paper and bool(QWEN3.final_turn().match(text)) == qwen3


def test_other_tags_opened_by_a_template():
    tags = ReasoningTags("[THINK]", "[/THINK]", opened_by_template=True)
    assert tags.final_turn().match("r[/THINK]<answer>a</answer>") and tags.reasoning("r[/THINK]") == "r"
    assert not tags.final_turn().match("r</think><answer>a</answer>")


def test_the_parsers_hint_names_the_configured_tags():
    assert "<think>...</think><answer>" in parse("hmm").reason  # the paper's, unchanged
    hint = parse("hmm", reasoning=QWEN3)
    assert isinstance(hint, Invalid) and "...</think><answer>" in hint.reason and "<think>" not in hint.reason
    custom = parse("hmm", "videostar", reasoning=ReasoningTags("<reasoning>", "</reasoning>"))
    assert "<reasoning>...</reasoning><answer>" in custom.reason


def test_prompts_show_the_tags_the_policy_writes():
    paper, qwen3 = ActionRecognition(), ActionRecognition(reasoning="qwen3")
    assert paper.answer_format == action_prompts.reasoning_format() and "<think>step-by-step" in paper.answer_format
    assert "<think>step-by-step" not in qwen3.answer_format and "end it with </think>" in qwen3.answer_format
    assert "[3] Pattern comparison" in qwen3.answer_format and "</think>\n<answer>" in qwen3.answer_format
    assert qwen3.after_tools == action_prompts.after_tools(QWEN3)
    first = user_prompt("Q", qwen3.answer_format, "videostar", ["pose_estimation"], QWEN3)
    assert "[your reasoning]</think>" in first and "<think>[your reasoning]" not in first
    graph = SpatioTemporal(reasoning="qwen3")
    assert "end it with </think>" in graph.answer_format and "\n<graph>" in graph.answer_format
    assert "<think>\n<graph>" in SpatioTemporal().answer_format


def test_action_recognitions_format_reward_accepts_both_forms_with_qwen3_and_keeps_the_papers():
    paper_turn = answer("wave", [("Right wrist", "swings")])
    reserved_turn = without_open_tag(paper_turn)
    assert format_ok(paper_turn) == format_ok(paper_turn, QWEN3) == format_ok(reserved_turn, QWEN3) == 1.0
    assert format_ok(reserved_turn) == 0.0  # the paper's rule: <think> is required
    definition = "wave: one hand raised, the wrist swings side to side."
    paper_score = score(paper_turn, "wave", definition=definition)
    assert score(paper_turn, "wave", definition=definition, reasoning=QWEN3) == paper_score
    assert score(reserved_turn, "wave", definition=definition, reasoning=QWEN3) == paper_score  # R_sub read too
    assert paper_score.submotion == 1.0 and paper_score.format == 1.0
    missing = score(reserved_turn, "wave", definition=definition)
    assert (missing.accuracy, missing.format, missing.submotion, missing.total) == (1.0, 0.0, 1.0, 2.0)


def test_the_official_reward_reads_the_literal_think_whatever_the_tags():
    paper_turn = answer("wave", [("Right wrist", "swings")])
    official = RewardConfig(mode="official")
    assert score(paper_turn, "wave", config=official, reasoning=QWEN3).format == 1.0
    assert score(without_open_tag(paper_turn), "wave", config=official, reasoning=QWEN3).format == 0.0
    env = gym.make("VideoSTAR-v0")
    dataset = env.unwrapped.dataset
    assert any("official" in w for w in ActionRecognition("qwen3").check(dataset, official))
    assert not any("official" in w for w in ActionRecognition().check(dataset, official))


def play_action_recognition(env, final_text):
    env.reset(seed=0, options={"index": 0})
    env.step(tool_call("pose_estimation"))
    return env.step(final_text)


def test_an_action_recognition_env_with_qwen3_tags_passes_the_checker_and_plays_an_episode():
    env = gym.make("VideoSTAR-v0", task_options={"reasoning": "qwen3"}, render_mode="rgb_array")
    check_env(env.unwrapped)
    _, info = env.reset(seed=0, options={"index": 0})
    prompt = info["messages"][1]["content"][-1]["text"]
    assert "end it with </think>" in prompt and "<think>step-by-step" not in prompt
    label = info["ground_truth"]["label"]
    paper_turn = answer(label, [("Right wrist", "swings")])
    *_, reserved = play_action_recognition(env, without_open_tag(paper_turn))
    _, reward, terminated, _, opened = play_action_recognition(env, paper_turn)
    assert terminated and reserved["reward"] == opened["reward"] and reward == opened["reward"]["total"]
    assert reserved["reward"]["format"] == 1.0 and reserved["reward"]["accuracy"] == 1.0
    default = gym.make("VideoSTAR-v0")  # the paper's rule: the reply without <think> loses the format term only
    *_, missing = play_action_recognition(default, without_open_tag(paper_turn))
    assert missing["reward"]["format"] == 0.0
    assert missing["reward"]["total"] == pytest.approx(opened["reward"]["total"] - 1.0)


def graph_turn(truth):
    return f"<think>\n<graph>{json.dumps(truth['graph'])}</graph>\nRead from the graph.\n</think>\n" \
           f"<answer>{truth['answer']}</answer>"


def test_a_spatiotemporal_env_with_qwen3_tags_passes_the_checker_and_plays_an_episode():
    env = gym.make("VideoSTR-v0", task_options={"reasoning": "qwen3"}, dataset_kwargs=STR_OPTIONS)
    check_env(env.unwrapped)
    _, info = env.reset(seed=0, options={"index": 1})
    assert "end it with </think>" in info["messages"][1]["content"][-1]["text"]
    paper_turn = graph_turn(info["ground_truth"])
    *_, reserved = env.step(without_open_tag(paper_turn))
    env.reset(seed=0, options={"index": 1})
    *_, opened = env.step(paper_turn)
    assert reserved["reward"] == opened["reward"]
    assert reserved["reward"]["format"] == reserved["reward"]["node"] == reserved["reward"]["answer"] == 1.0
    default = gym.make("VideoSTR-v0", dataset_kwargs=STR_OPTIONS)
    default.reset(seed=0, options={"index": 1})
    *_, missing = default.step(without_open_tag(paper_turn))
    assert missing["reward"]["format"] == 0.0 and missing["reward"]["node"] == 1.0  # the graph is read anywhere


@pytest.mark.parametrize("name", ["action_recognition", "spatiotemporal"])
def test_a_tasks_options_rebuild_it_through_json(name):
    task = make_task(name, reasoning={"open": "<reasoning>", "close": "</reasoning>", "opened_by_template": True})
    rebuilt = make_task(name, **json.loads(json.dumps(task.options())))
    assert rebuilt.options() == task.options() and rebuilt.reasoning == task.reasoning


def test_verl_rows_carry_the_reasoning_form_to_compute_score_action_recognition():
    env = gym.make("VideoSTAR-v0", task_options={"reasoning": "qwen3"})
    row = verl_rows(env, [0])[0]
    assert json.loads(row["extra_info"]["task_options"]) == {
        "reasoning": {"open": "<think>", "close": "</think>", "opened_by_template": True}}
    label = row["reward_model"]["ground_truth"]
    text = without_open_tag(answer(label, [("Right wrist", "swings")]))
    _, reward, _, _, info = play_action_recognition(env, text)
    tool_log = [{"name": r["name"], "arguments": r["arguments"], "ok": r["ok"]} for r in info["tool_results"]]
    result = compute_score(row["data_source"], text, label, {**row["extra_info"], "tool_log": tool_log})
    assert result["format"] == 1.0 and result["score"] == reward == info["reward"]["total"]
    old_row = {k: v for k, v in row["extra_info"].items() if k != "task_options"}  # rows without options: the paper
    assert compute_score(row["data_source"], text, label, {**old_row, "tool_log": tool_log})["format"] == 0.0


def test_verl_rows_carry_the_reasoning_form_to_compute_score_spatiotemporal():
    env = gym.make("VideoSTR-v0", task_options={"reasoning": "qwen3"}, dataset_kwargs=STR_OPTIONS)
    row = verl_rows(env, [1])[0]
    truth = json.loads(row["reward_model"]["ground_truth"])
    text = without_open_tag(graph_turn(truth))
    env.reset(seed=0, options={"index": 1})
    _, reward, *_ = env.step(text)
    result = compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])
    assert result["format"] == 1.0 and result["score"] == reward


def test_bad_task_options_in_a_row_are_refused():
    with pytest.raises(ValueError, match="unknown reasoning form"):
        compute_score("x", "<think>r</think><answer>wave</answer>", "wave", {"task_options": {"reasoning": "qwen9"}})
    with pytest.raises(ValueError, match="must be a JSON object"):
        compute_score("x", "<think>r</think><answer>wave</answer>", "wave", {"task_options": "[1]"})
