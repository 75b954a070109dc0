"""Prompts: candidates listed, the paper's reasoning format, tool schemas for hermes, decisions for videostar."""

from videostar_env.core import prompts
from videostar_env.tasks.action_recognition import prompts as action_prompts
from videostar_env.tools import DEFAULT_TOOLS, make_tools, schema

SCHEMAS = [schema(t) for t in make_tools(DEFAULT_TOOLS)]


def test_hermes_system_prompt_lists_every_tool_schema():
    text = prompts.system_prompt(action_prompts.ROLE, "hermes", SCHEMAS)
    assert "<tools>" in text and "<tool_call>" in text
    for name in DEFAULT_TOOLS:
        assert f'"name": "{name}"' in text
    assert "<tools>" not in prompts.system_prompt(action_prompts.ROLE, "hermes", [])
    assert "<tools>" not in prompts.system_prompt(action_prompts.ROLE, "videostar", SCHEMAS)


def test_user_prompt_lists_candidates_and_the_reasoning_format():
    text = prompts.user_prompt(action_prompts.question(["wave", "clap"], 16), action_prompts.reasoning_format(),
                               "hermes", DEFAULT_TOOLS)
    assert "- wave\n- clap" in text and "16 frames" in text
    assert "[1] Observed body parts and movement characteristics:" in text and "2-3 candidates" in text
    assert "[3] Pattern comparison" in text and "<answer>" in text


def test_videostar_first_turn_offers_only_the_chosen_tools():
    text = prompts.user_prompt(action_prompts.question(["wave"], 8), action_prompts.reasoning_format(),
                               "videostar", ["pose_estimation"])
    assert "Pose estimation" in text and "Person detection:" not in text
    assert "<noun_explanation>yes or no</noun_explanation>" in text
    assert "<think>[your reasoning]</think>" in text
    assert "<answer>" in action_prompts.after_tools() and action_prompts.after_tools().endswith(
        action_prompts.reasoning_format())


def test_invalid_turn_message_says_why_and_what_is_left():
    assert prompts.invalid_turn("bad JSON.", 2) == "Your last turn could not be used: bad JSON.\n(2 turn(s) left.)"
