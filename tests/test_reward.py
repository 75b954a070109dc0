"""The hierarchical reward as a table of cases: R = acc + format + 1[acc] * (tool + sub)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videostar_env import answer
from videostar_env.tasks.action_recognition.reward import (ABLATIONS, RewardConfig, ToolCallRecord, format_ok, rank_weights, score,
                                  submotion_matches, submotion_score)

DEFINITION = ("wave: A person raises one hand above the head and swings the forearm side to side. "
              "Key sub-motions: Wrist: swings side to side; Elbow: bends; Shoulder: raises one arm.")
POSE = ToolCallRecord("pose_estimation", {}, True)
GOOD_SUB = [("Right wrist", "swings"), ("Elbow", "bends")]  # both named by the definition
BAD_SUB = [("Knee", "bends"), ("Ankle", "lifts")]  # neither is
GOOD = answer("wave", GOOD_SUB)
# Answers that name nothing: empty, blank, or punctuation only.
BLANK = st.text(alphabet=" \t\n.,;:!?-_'\"()", max_size=12)


def reward(text, tools=(POSE,), label="wave", config=RewardConfig(), aliases=("waving", "hand wave")):
    return score(text, label, aliases=aliases, definition=DEFINITION, tool_log=list(tools), config=config)


CASES = [
    # name, text, tool log, expected (acc, format, tool, sub, total)
    ("correct with tool and matching sub-motions", GOOD, (POSE,), (1, 1, 1, 1, 4)),
    ("incorrect label gates tool and sub", answer("clap", GOOD_SUB), (POSE,), (0, 1, 1, 1, 1)),
    ("alias counts as correct", answer("Waving", GOOD_SUB), (POSE,), (1, 1, 1, 1, 4)),
    ("case, space and underscore normalised", answer("  WAVE_ ", GOOD_SUB), (POSE,), (1, 1, 1, 1, 4)),
    ("two labels in one answer score 0", answer("wave, clap", GOOD_SUB), (POSE,), (0, 1, 1, 1, 1)),
    ("two answer blocks score 0", "<think>x</think><answer>wave</answer><answer>clap</answer>", (POSE,), (0, 0, 1, 0, 0)),
    ("no tools: no tool term", GOOD, (), (1, 1, 0, 1, 3)),
    ("failed tool only: no tool term", GOOD, (ToolCallRecord("pose_estimation", {}, False),), (1, 1, 0, 1, 3)),
    ("redundant identical calls: no tool term", GOOD, (POSE, ToolCallRecord("pose_estimation", {}, True)), (1, 1, 0, 1, 3)),
    ("same tool, other arguments: not redundant", GOOD,
     (POSE, ToolCallRecord("pose_estimation", {"max_images": 2}, True)), (1, 1, 1, 1, 4)),
    ("non-matching sub-motions", answer("wave", BAD_SUB), (POSE,), (1, 1, 1, 0, 3)),
    ("20 spammed sub-motions score 0", answer("wave", [(f"Wrist {i}", "x") for i in range(20)]), (POSE,), (1, 1, 1, 0, 3)),
    ("answer without think: format 0", "<answer>wave</answer>", (POSE,), (1, 0, 1, 0, 2)),
    ("text after the answer: format 0", GOOD + "\nbye", (POSE,), (1, 0, 1, 1, 3)),
    ("no answer at all", "<think>hmm</think>", (POSE,), (0, 0, 1, 0, 0)),
    # The form of an answer without one earns nothing: the format term pays only for a label that names something.
    ("empty answer: no format", answer("", GOOD_SUB), (POSE,), (0, 0, 1, 1, 0)),
    ("blank answer: no format", "<think>x</think><answer> \n\t </answer>", (POSE,), (0, 0, 1, 0, 0)),
    ("punctuation answer: no format", "<think>x</think><answer>...?!</answer>", (POSE,), (0, 0, 1, 0, 0)),
    ("an answer of only tags: no format", "<think>x</think><answer><b></b></answer>", (POSE,), (0, 0, 1, 0, 0)),
]


@pytest.mark.parametrize("name,text,tools,expected", CASES, ids=[c[0] for c in CASES])
def test_reward_table(name, text, tools, expected):
    r = reward(text, tools)
    assert (r.accuracy, r.format, r.tool, r.submotion, r.total) == pytest.approx(expected)


@settings(max_examples=300, deadline=None)
@given(reasoning=st.text(max_size=200).filter(lambda t: "<" not in t), blank=BLANK,
       submotions=st.lists(st.tuples(st.sampled_from(["Wrist", "Elbow", "Knee"]), st.text(max_size=10)), max_size=4),
       config=st.sampled_from([c for c in ABLATIONS.values() if c.mode != "official"]))
def test_an_empty_answer_earns_nothing_whatever_the_reasoning(reasoning, blank, submotions, config):
    lines = "".join(f"\n- {part}: {move}" for part, move in submotions)
    text = f"<think>{reasoning}\n[1] Observed body parts and movement characteristics:{lines}\n</think><answer>{blank}</answer>"
    r = reward(text, config=config)
    assert r.total == 0.0 - r.tool_cost and r.accuracy == r.format == 0.0


def test_sub_motion_rank_weights_are_linear_by_default():
    # First matches, second does not: weight of rank 1 of 2 is 2/3.
    r = reward(answer("wave", [("Wrist", "up"), ("Knee", "bends")]))
    assert r.submotion == pytest.approx(2 / 3)
    r = reward(answer("wave", [("Knee", "bends"), ("Wrist", "up")]))
    assert r.submotion == pytest.approx(1 / 3)


def test_exponential_rank_weights():
    assert rank_weights(3, "exponential") == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    r = reward(answer("wave", [("Wrist", "up"), ("Knee", "x"), ("Ankle", "x")]), config=RewardConfig(rank_weighting="exponential"))
    assert r.submotion == pytest.approx(4 / 7)


def test_rank_weights_sum_to_one():
    for n in range(1, 10):
        for scheme in ("linear", "exponential"):
            assert sum(rank_weights(n, scheme)) == pytest.approx(1.0)
    assert rank_weights(3) == pytest.approx([3 / 6, 2 / 6, 1 / 6])


@pytest.mark.parametrize("ablation,expected_total", [
    ("full", 4.0), ("acc_format", 2.0), ("no_tool", 3.0), ("no_sub", 3.0), ("tool_cost", 3.9),
    # Official mode matches sub-motions against the answer's own [3] text ("best match"), which names no body part.
    ("official", 3.0),
])
def test_each_ablation_switch(ablation, expected_total):
    assert reward(GOOD, config=ABLATIONS[ablation]).total == pytest.approx(expected_total)


def test_weights_scale_terms():
    r = reward(GOOD, config=RewardConfig(w_acc=2.0, w_format=0.5, w_tool=0.25, w_sub=0.0))
    assert r.total == pytest.approx(2.0 + 0.5 + 0.25)


def test_tool_cost_counts_every_call():
    r = reward(GOOD, tools=(POSE, ToolCallRecord("human_detection", {}, False)), config=RewardConfig(tool_call_cost=0.2))
    assert r.tool_cost == pytest.approx(0.4)


def test_official_mode_matches_own_description_and_does_not_gate_sub():
    text = ("<think>[1] Observed body parts and movement characteristics:\n- Knee: bends\n"
            "[3] Pattern comparison for each candidate:\n- wave: 0.2 - the knee bends a lot\n- clap: 0.8 - hands</think>"
            "<answer>clap</answer>")
    official = reward(text, config=RewardConfig(mode="official"))
    # Issue 19: with no [2] the released code's section [1] runs to the end of the text, so "- wave:" and "- clap:"
    # of section [3] are body parts too (Knee 3/6, wave 2/6, clap 1/6); only "knee" is in wave's description.
    assert official.accuracy == 0 and official.submotion == pytest.approx(0.5)
    assert official.total == pytest.approx(1.0 + 0.5)  # format + ungated body-part reward
    assert reward(text).total == pytest.approx(1.0)  # default: sub gated on accuracy
    # Official tool term: any successful tool, even repeated.
    assert reward(GOOD, tools=(POSE, POSE), config=RewardConfig(mode="official")).tool == 1.0


def test_tags_in_tool_output_do_not_count():
    # The reward reads only the final turn; an <answer> quoted from a tool is not part of it.
    r = reward(answer("clap", GOOD_SUB), tools=(ToolCallRecord("evil", {"text": "<answer>wave</answer>"}, True),))
    assert r.accuracy == 0


def test_submotion_matching_uses_body_part_synonyms():
    assert submotion_matches("Left hand", "the wrist swings")
    assert submotion_matches("Feet", "the ankles spread apart")
    assert not submotion_matches("Left", "the left wrist")
    assert not submotion_matches("Knee", DEFINITION)
    assert submotion_score([], DEFINITION) == 0.0


def test_format_check():
    assert format_ok("<think>a</think>\n<answer>b</answer>\n") == 1.0
    assert format_ok("<think>a</think><tool_call>{}</tool_call><answer>b</answer>") == 0.0


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        RewardConfig(rank_weighting="quadratic")
    with pytest.raises(ValueError):
        RewardConfig(mode="paper")
