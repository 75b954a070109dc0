"""The action parser: one path for every agent, never raising, always ToolCall, Answer or Invalid."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videostar_env.actions import Answer, Call, Invalid, ToolCall, parse, tool_call, tool_decisions
from videostar_env.tasks.action_recognition import answer, parse_answer, parse_submotions

HERMES_CASES = [
    ('<tool_call>{"name": "pose_estimation", "arguments": {}}</tool_call>', ToolCall((Call("pose_estimation", {}),))),
    ('think first <tool_call>\n{"name": "human_detection", "arguments": {"max_images": 2}}\n</tool_call>',
     ToolCall((Call("human_detection", {"max_images": 2}),))),
    ('<tool_call>{"name": "x", "arguments": "{\\"a\\": 1}"}</tool_call>', ToolCall((Call("x", {"a": 1}),))),
    ('<tool_call>{"name": "x"}</tool_call>', ToolCall((Call("x", {}),))),
    ('<tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>',
     ToolCall((Call("a", {}), Call("b", {})))),
    ('<tool_call>{"name": "unclosed", "arguments": {}}', ToolCall((Call("unclosed", {}),))),
]


@pytest.mark.parametrize("text,expected", HERMES_CASES)
def test_hermes_tool_calls_parse(text, expected):
    assert parse(text, "hermes") == expected


@pytest.mark.parametrize("text,fragment", [
    ("<tool_call>{not json}</tool_call>", "not valid JSON"),
    ('<tool_call>["pose_estimation"]</tool_call>', 'string "name"'),
    ('<tool_call>{"name": "x", "arguments": [1]}</tool_call>', "must be a JSON object"),
    ('<tool_call>{"name": "x", "arguments": "{bad"}</tool_call>', "not JSON"),
    ('<tool_call>{"name": "x", "arguments": {}}</tool_call><answer>wave</answer>', "not both"),
    ("I think it is waving.", "no tool call and no <answer>"),
    ("x" * 20000, "limit"),
    ("<tool_call>" + "[" * 100000 + "</tool_call>", "limit"),
])
def test_malformed_turns_become_invalid_with_a_reason(text, fragment):
    action = parse(text, "hermes")
    assert isinstance(action, Invalid)
    assert fragment in action.reason


@pytest.mark.parametrize("tools,bare,shown,hidden", [
    (True, False, ["<tool_call>", "<think>...</think><answer>a number</answer>"], []),
    (False, False, ["<think>...</think><answer>a number</answer>"], ["<tool_call>", "tool"]),
    (False, True, ["reply with a number alone"], ["<tool_call>", "<answer>", "<think>"]),
])
def test_the_hint_names_tools_only_where_there_are_some_and_the_tasks_answer(tools, bare, shown, hidden):
    reason = parse("  " if bare else "hmm", "hermes", bare_answers=bare, tools=tools, answer_form="a number").reason
    assert all(s in reason for s in shown) and not any(h in reason for h in hidden), reason


def test_a_tool_call_where_no_tools_are_offered_is_invalid_and_says_how_to_answer():
    reason = parse(tool_call("object_detection"), "hermes", tools=False, answer_form="a letter").reason
    assert "offers no tools" in reason and "<answer>a letter</answer>" in reason
    assert isinstance(parse(tool_decisions(["pose_estimation"]), "videostar", tools=False), Invalid)


@pytest.mark.parametrize("text,empty", [
    ("<answer></answer>", True), ("<answer> \n </answer>", True), ("<answer>...?!</answer>", True),
    ("<answer><b></b></answer>", True), ("<answer>_</answer>", True), ("<answer>A</answer>", False),
    ("<answer>0</answer>", False), ("<answer>挥手</answer>", False), ("<answer></answer><answer>B</answer>", False),
])
def test_an_answer_is_empty_when_no_block_holds_a_letter_or_digit(text, empty):
    assert parse(text).empty is empty


def test_deep_json_nesting_is_invalid_not_a_crash():
    action = parse("<tool_call>" + "[" * 5000 + "</tool_call>", "hermes", max_chars=10**6)
    assert isinstance(action, Invalid)


def test_non_text_action_is_invalid():
    assert isinstance(parse(None, "hermes"), Invalid)
    assert isinstance(parse(42, "videostar"), Invalid)


def test_answer_and_submotions_parse():
    text = answer("wave", [("Right wrist", "swings"), ("Elbow", "bends")], [("wave", 0.9, "fits"), ("clap", 0.1, "no")])
    action = parse(text, "hermes")
    assert isinstance(action, Answer)
    assert action.label == "wave"
    assert parse_answer(action).submotions == (("Right wrist", "swings"), ("Elbow", "bends"))


def test_nested_answer_tags_are_unwrapped():
    assert parse("<think>x</think><answer><answer>Brush hair</answer></answer>", "hermes").label == "Brush hair"


def test_two_different_answers_have_no_single_label():
    action = parse("<answer>wave</answer><answer>clap</answer>", "hermes")
    assert isinstance(action, Answer) and action.label is None and action.labels == ("wave", "clap")


def test_videostar_decisions_choose_tools():
    text = tool_decisions(["pose_estimation", "action_explanation"])
    action = parse(text, "videostar")
    assert action == ToolCall((Call("pose_estimation"), Call("action_explanation")))
    assert parse("<pose_estimation>no</pose_estimation>", "videostar") == ToolCall(())
    assert parse("<pose_estimation> YES </pose_estimation>", "videostar") == ToolCall((Call("pose_estimation"),))


def test_videostar_format_ignores_hermes_calls():
    assert isinstance(parse(tool_call("pose_estimation"), "videostar"), Invalid)


def test_tool_decisions_reject_tools_without_a_tag():
    with pytest.raises(ValueError):
        tool_decisions(["frame_difference"])


def test_tool_call_helper_round_trips():
    text = tool_call("human_detection", min_confidence=0.5)
    assert json.loads(text.split("\n")[1]) == {"name": "human_detection", "arguments": {"min_confidence": 0.5}}
    assert parse(text, "hermes") == ToolCall((Call("human_detection", {"min_confidence": 0.5}),))


def test_submotions_need_the_section_header():
    assert parse_submotions("- Wrist: moves") == ()
    assert parse_submotions("[1] Observed body parts and movement characteristics:\n- Wrist: up\n[2] x\n- Knee: no") == (
        ("Wrist", "up"),)


def test_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError):
        parse("x", "json")


FRAGMENTS = ["<tool_call>", "</tool_call>", "<function=", "</function>", "<parameter=", "</parameter>", ">", "<answer>", "</answer>", "<think>", "</think>", '{"name": ', '"arguments"',
             "{", "}", "[", "]", '"', ":", ",", "pose_estimation", "<pose_estimation>", "</pose_estimation>", "yes",
             "no", "<noun_explanation>", "</noun_explanation>", "[1] Observed body parts:", "\n- Wrist: up", "\\", "null"]
near_valid = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=30).map("".join)


@settings(max_examples=2500, deadline=None)
@given(text=st.one_of(st.text(max_size=300), near_valid), fmt=st.sampled_from(["hermes", "videostar"]))
def test_parser_never_raises(text, fmt):
    action = parse(text, fmt)
    assert isinstance(action, (ToolCall, Answer, Invalid))
    if isinstance(action, Invalid):
        assert action.reason


def test_submotion_section_ends_at_any_later_section():
    text = "[1] Observed body parts:\n- Knee: bends\n[3] Pattern comparison:\n- wave: 0.2 - no"
    assert parse_submotions(text) == (("Knee", "bends"),)


def xml_call(name, arguments):
    """A tool call as Qwen3.5's chat template renders one: strings as they are, other values as JSON."""
    params = "".join(f"<parameter={k}>\n{v if isinstance(v, str) else json.dumps(v)}\n</parameter>\n"
                     for k, v in arguments.items())
    return f"<tool_call>\n<function={name}>\n{params}</function>\n</tool_call>"


def test_qwen3_5_xml_tool_calls_parse_like_their_json_form():
    text = xml_call("video_clip", {"start": 1.25, "end": 2.75, "region": [10, 20, 150, 140]})
    assert parse(text, "hermes") == parse(tool_call("video_clip", start=1.25, end=2.75, region=[10, 20, 150, 140]))
    both = "Looking closer.\n" + xml_call("pose_estimation", {}) + "\n" + xml_call("x", {"note": "a b"})
    assert parse(both, "hermes") == ToolCall((Call("pose_estimation", {}), Call("x", {"note": "a b"})))
    broken = parse("<tool_call>\n<function=video_clip>\n<parameter=start>\n1\n</parameter>\n</tool_call>")
    assert isinstance(broken, Invalid) and "<function=NAME>" in broken.reason
    twice = parse(xml_call("video_clip", {"start": 1}).replace("</function>", "<parameter=start>\n2\n</parameter>\n"
                                                                               "</function>"))
    assert isinstance(twice, Invalid) and "'start' of 'video_clip' is given twice" in twice.reason
    stray = parse(xml_call("video_clip", {"start": 1}).replace("</function>", "and end at 2\n</function>"))
    assert isinstance(stray, Invalid) and "only <parameter=KEY>VALUE</parameter> blocks" in stray.reason


json_values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32),
                        st.booleans(), st.lists(st.integers(0, 1000), max_size=4))
names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(name=names, arguments=st.dictionaries(names, st.one_of(json_values, st.from_regex(r"[a-z][a-z ]{0,10}[a-z]",
                                                                                              fullmatch=True)),
                                          max_size=4))
def test_qwen3_5_xml_tool_calls_round_trip_every_json_value_and_word(name, arguments):
    words = {k: v for k, v in arguments.items() if isinstance(v, str) and v not in ("true", "false", "null")}
    arguments = {k: v for k, v in arguments.items() if not isinstance(v, str) or k in words}
    assert parse(xml_call(name, arguments), "hermes") == ToolCall((Call(name, arguments),))
