"""mode="official": the released Video-STAR reward, exactly (issue 19).

The reference is accuracy_reward (action-detection branch) + format_reward of src/r1-v/src/open_r1/oss_grpo_4subtol.py,
repository Raymond-Qiancx/Video-STAR, commit 64c895713546fe34885b4d504d6b246cafa05ef7. Every expected number below
was worked out by hand from that code (not produced by this package): accuracy 1 when lower-cased answers without
spaces, underscores and newlines are equal (a doubly nested <answer><answer>X</answer></answer> read first);
body parts = distinct "- Name:" names of section [1], weights (n-i)/(1+..+n), a part counting when its lower-cased
name is a substring of the TRUE label's "- label:" text in section [3]; tool bonus 1 when the answer is right and the
first turn chose pose_estimation, person_detection or noun_explanation; format 1 on a full match of
<think>.*?</think>\\s*<answer>.*?</answer>.
"""

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401  (registers the envs)
from videostar_env.tasks.action_recognition.reward import (RewardConfig, ToolCallRecord, official_reward,
                                                           official_tool_chosen, score)

LABEL = "sit_down"
H1 = "[1] Observed body parts and movement characteristics:\n"
H2 = "[2] Matching candidate actions:\n"
H3 = "[3] Pattern comparison for each candidate:\n"
S1 = "- Knees: bend deeply\n- Hips: lower toward the chair\n- Torso: leans forward\n"  # parts 3/6, 2/6, 1/6
S2 = "- sit_down: knees and hips\n- squat: knees\n"
S3 = "- sit_down: 0.9 - knees and hips flex, torso leans\n- squat: 0.4 - knees bend, no chair\n"
ANS = "<answer>sit_down</answer>"


def doc(s1=S1, s3=S3, ans=ANS, h1=H1, h3=H3, s2=S2, between="\n"):
    return f"<think>step-by-step reasoning process:\n{h1}{s1}{H2}{s2}{h3}{s3}</think>{between}{ans}"


FULL = doc()
SEVEN = "".join(f"- {p}: moves\n" for p in ("Knees", "Hips", "Torso", "Arms", "Hands", "Feet", "Head"))
CALL = '<tool_call>{"name": "pose_estimation", "arguments": {}}</tool_call>'

# (id, response, tools chosen before it ("!" = a call that failed), (accuracy, format, tool, submotion, total))
CASES = [
    # -- answer right, every term ------------------------------------------------------------------------------
    ("full+pose", FULL, ("pose_estimation",), (1, 1, 1, 1.0, 4.0)),
    ("full no tools", FULL, (), (1, 1, 0, 1.0, 3.0)),
    ("full+person_detection", FULL, ("human_detection",), (1, 1, 1, 1.0, 4.0)),
    ("full+noun_explanation", FULL, ("action_explanation",), (1, 1, 1, 1.0, 4.0)),
    ("video_description has no official tag", FULL, ("video_description",), (1, 1, 0, 1.0, 3.0)),
    ("video_description and pose", FULL, ("video_description", "pose_estimation"), (1, 1, 1, 1.0, 4.0)),
    ("a chosen tool that failed still counts", FULL, ("pose_estimation!",), (1, 1, 1, 1.0, 4.0)),
    ("two tools", FULL, ("pose_estimation", "human_detection"), (1, 1, 1, 1.0, 4.0)),
    # -- answer wrong: no tool bonus, body parts still paid (from the TRUE label's [3] line) ----------------------
    ("wrong answer with tool", doc(ans="<answer>squat</answer>"), ("pose_estimation",), (0, 1, 0, 1.0, 2.0)),
    ("wrong answer no tool", doc(ans="<answer>clap</answer>"), (), (0, 1, 0, 1.0, 2.0)),
    # -- nested and several answers ----------------------------------------------------------------------------
    ("nested answer", doc(ans="<answer><answer>sit_down</answer></answer>"), ("pose_estimation",), (1, 1, 1, 1.0, 4.0)),
    ("nested with spaces and case", doc(ans="<answer> <answer>Sit_Down</answer> </answer>"), (), (1, 1, 0, 1.0, 3.0)),
    ("nested wrong", doc(ans="<answer><answer>squat</answer></answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("nested after text is not nested", doc(ans="<answer>I think <answer>sit_down</answer></answer>"), (),
     (0, 1, 0, 1.0, 2.0)),
    ("nested pair wins over an earlier plain answer",
     doc(ans="<answer>squat</answer>\n<answer><answer>sit_down</answer></answer>"), (), (1, 1, 0, 1.0, 3.0)),
    ("two answers: the first is read", doc(ans="<answer>sit_down</answer><answer>squat</answer>"),
     ("pose_estimation",), (1, 1, 1, 1.0, 4.0)),
    ("two answers, wrong first", doc(ans="<answer>squat</answer><answer>sit_down</answer>"), ("pose_estimation",),
     (0, 1, 0, 1.0, 2.0)),
    # -- answer text: case, spacing, punctuation ----------------------------------------------------------------
    ("answer with a space", doc(ans="<answer>Sit Down</answer>"), (), (1, 1, 0, 1.0, 3.0)),
    ("answer upper case", doc(ans="<answer>SIT_DOWN</answer>"), (), (1, 1, 0, 1.0, 3.0)),
    ("answer padded", doc(ans="<answer>  sit_down \n</answer>"), (), (1, 1, 0, 1.0, 3.0)),
    ("newline inside the answer is dropped", doc(ans="<answer>sit_\ndown</answer>"), (), (1, 1, 0, 1.0, 3.0)),
    ("hyphen is kept", doc(ans="<answer>sit-down</answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("tab is kept", doc(ans="<answer>sit\tdown</answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("trailing dot is kept", doc(ans="<answer>sit down.</answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("two labels in one answer", doc(ans="<answer>sit_down, squat</answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("a sentence as the answer", doc(ans="<answer>The action is sit_down</answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("empty answer", doc(ans="<answer></answer>"), (), (0, 1, 0, 1.0, 2.0)),
    ("upper-case tags are no answer", doc(ans="<ANSWER>sit_down</ANSWER>"), ("pose_estimation",), (0, 0, 0, 1.0, 1.0)),
    ("mixed-case tags are no answer", doc(ans="<Answer>sit_down</Answer>"), (), (0, 0, 0, 1.0, 1.0)),
    # -- format --------------------------------------------------------------------------------------------------
    ("no answer at all", doc(ans=""), ("pose_estimation",), (0, 0, 0, 1.0, 1.0)),
    ("answer only", ANS, ("pose_estimation",), (1, 0, 1, 0.0, 2.0)),
    ("leading newline", "\n" + FULL, (), (1, 0, 0, 1.0, 2.0)),
    ("trailing newline", FULL + "\n", (), (1, 0, 0, 1.0, 2.0)),
    ("text after the answer", FULL + "\nDone.", (), (1, 0, 0, 1.0, 2.0)),
    ("text between think and answer", doc(between="\nSo:\n"), (), (1, 0, 0, 1.0, 2.0)),
    ("whitespace between think and answer", doc(between="  \n\n "), (), (1, 1, 0, 1.0, 3.0)),
    ("no whitespace between think and answer", doc(between=""), (), (1, 1, 0, 1.0, 3.0)),
    ("text before think", "Answer:\n" + FULL, (), (1, 0, 0, 1.0, 2.0)),
    ("think never closed", FULL.replace("</think>", ""), (), (1, 0, 0, 1.0, 2.0)),
    ("bare think and answer", "<think></think><answer></answer>", (), (0, 1, 0, 0.0, 1.0)),
    ("minimal right answer", "<think>x</think><answer>sit_down</answer>", ("human_detection",), (1, 1, 1, 0.0, 3.0)),
    # -- section [1] -------------------------------------------------------------------------------------------
    ("no section [1]", doc(h1="", s1=""), (), (1, 1, 0, 0.0, 2.0)),
    ("section [1] header in lower case", doc(h1=H1.lower()), (), (1, 1, 0, 1.0, 3.0)),
    ("another section [1] header", doc(h1="[1] Body parts:\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("duplicate part counted once", doc(s1="- Knees: bend\n- Knees: still bend\n- Hips: lower\n",
                                        s3="- sit_down: 0.9 - hips lower\n"), (), (1, 1, 0, 1 / 3, 2 + 1 / 3)),
    ("case-distinct duplicates are two parts", doc(s1="- Knees: bend\n- knees: again\n"), (), (1, 1, 0, 1.0, 3.0)),
    ("seven parts, no cap", doc(s1=SEVEN, s3="- sit_down: knees hips torso arms hands feet head\n"), (),
     (1, 1, 0, 1.0, 3.0)),
    ("seven parts, only the last matches", doc(s1=SEVEN, s3="- sit_down: the head stays up\n"), (),
     (1, 1, 0, 1 / 28, 2 + 1 / 28)),
    ("name with a space before the colon", doc(s1="- Knees : bend\n", s3="- sit_down: knees bend\n"), (),
     (1, 1, 0, 1.0, 3.0)),
    ("that name needs the space in [3]", doc(s1="- Knees : bend\n", s3="- sit_down: knees, hips\n"), (),
     (1, 1, 0, 0.0, 2.0)),
    ("bracketed names are not read", doc(s1="- [Knees]: bend\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("hyphenated name: the part after the hyphen", doc(s1="- Lower-leg: folds\n", s3="- sit_down: lower leg folds\n"),
     (), (1, 1, 0, 1.0, 3.0)),
    ("a dash inside a description starts a name", doc(s1="- Knees: bend - slow: yes\n", s3="- sit_down: knees\n"), (),
     (1, 1, 0, 2 / 3, 2 + 2 / 3)),
    ("star bullets are not read", doc(s1="* Knees: bend\n* Hips: lower\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("without [2], section [1] runs to the end",
     "<think>" + H1 + "- Knees: bend\n" + H3 + "- sit_down: 0.8 - knees fold\n- squat: 0.2 - hips</think>" + ANS, (),
     (1, 1, 0, 2 / 3, 2 + 2 / 3)),
    # -- section [3] -------------------------------------------------------------------------------------------
    ("no section [3]", doc(h3="", s3=""), (), (1, 1, 0, 0.0, 2.0)),
    ("section [3] header in lower case", doc(h3=H3.lower()), (), (1, 1, 0, 1.0, 3.0)),
    ("another section [3] header", doc(h3="[3] Pattern comparison:\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("no line for the true label", doc(s3="- squat: knees hips torso\n- clap: hands\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("true label written with a space", doc(s3="- Sit down: knees hips torso\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("true label in upper case", doc(s3="- SIT_DOWN: knees hips torso\n"), (), (1, 1, 0, 1.0, 3.0)),
    ("spacing around the candidate's colon", doc(s3="-sit_down :  knees hips torso\n"), (), (1, 1, 0, 1.0, 3.0)),
    ("only knees", doc(s3="- sit_down: 0.9 - knees fold\n- squat: hips\n"), (), (1, 1, 0, 0.5, 2.5)),
    ("only hips", doc(s3="- sit_down: 0.9 - hips lower\n- squat: knees\n"), (), (1, 1, 0, 1 / 3, 2 + 1 / 3)),
    ("only torso", doc(s3="- sit_down: 0.9 - torso leans\n"), (), (1, 1, 0, 1 / 6, 2 + 1 / 6)),
    ("knees and torso", doc(s3="- sit_down: knees, torso\n"), (), (1, 1, 0, 2 / 3, 2 + 2 / 3)),
    ("a substring inside a longer word counts", doc(s1="- Arm: rests\n", s3="- sit_down: 0.9 - lowers into an armchair\n"),
     (), (1, 1, 0, 1.0, 3.0)),
    ("no synonyms", doc(s1="- Hands: grip\n", s3="- sit_down: 0.9 - wrists brace on the chair\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("no plural folding", doc(s3="- sit_down: the knee bends\n"), (), (1, 1, 0, 0.0, 2.0)),
    ("[4] ends section [3]", doc(s3="- sit_down: 0.9 - knees\n[4] Final: hips torso\n"), (), (1, 1, 0, 0.5, 2.5)),
    ("description runs over lines", doc(s3="- sit_down: 0.9 - knees fold\nthen hips lower\n- squat: torso\n"), (),
     (1, 1, 0, 5 / 6, 2 + 5 / 6)),
    ("a '- Name: ' inside the description ends it", doc(s3="- sit_down: 0.9 - Note: knees and hips and torso\n"), (),
     (1, 1, 0, 0.0, 2.0)),
    ("last candidate's description runs to the end", doc(s3="- squat: 0.4 - knees torso\n- sit_down: 0.9 - hips\n"),
     ("pose_estimation",), (1, 1, 1, 1 / 3, 3 + 1 / 3)),
    # -- broken turns ------------------------------------------------------------------------------------------
    ("answer and a tool call", FULL + "\n" + CALL, ("pose_estimation",), (1, 0, 1, 1.0, 3.0)),
    ("a tool call only", CALL, (), (0, 0, 0, 0.0, 0.0)),
    ("empty text", "", (), (0, 0, 0, 0.0, 0.0)),
    # no [2]: section [1] runs on into [3] and "- squat:" is a fourth part (4/10, 3/10, 2/10 match, 1/10 not)
    ("reasoning only, no tags", H1 + S1 + H3 + S3, (), (0, 0, 0, 0.9, 0.9)),
]


def records(tools):
    return [ToolCallRecord(t.rstrip("!"), {}, not t.endswith("!")) for t in tools]


def test_the_table_is_large_and_ids_are_unique():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name,text,tools,expected", CASES, ids=[c[0] for c in CASES])
def test_score_in_official_mode(name, text, tools, expected):
    r = score(text, LABEL, aliases=("sitting down",), definition="ignored in official mode", tool_log=records(tools),
              config=RewardConfig(mode="official"))
    assert (r.accuracy, r.format, r.tool, r.submotion, r.total) == pytest.approx(expected, abs=1e-12)
    assert official_reward(text, LABEL, records(tools)).total == pytest.approx(expected[-1], abs=1e-12)


@pytest.fixture(scope="module")
def env():
    env = gym.make("VideoSTAR-v0", reward="official")
    index = next(i for i in range(len(env.unwrapped.dataset)) if env.unwrapped.dataset[i].label == LABEL)
    yield env, index
    env.close()


@pytest.mark.parametrize("name,text,tools,expected", CASES, ids=[c[0] for c in CASES])
def test_env_in_official_mode(env, name, text, tools, expected):
    env, index = env
    env.unwrapped.config.max_turns = 2 if tools else 1  # the stepped text is the final turn
    _, info = env.reset(seed=0, options={"index": index})
    assert info["ground_truth"]["label"] == LABEL
    if tools:
        calls = [{"name": t.rstrip("!"), "arguments": {"no_such_argument": 1} if t.endswith("!") else {}} for t in tools]
        turn = "".join(f'<tool_call>{{"name": "{c["name"]}", "arguments": {c["arguments"]}}}</tool_call>'
                       .replace("'", '"') for c in calls)
        _, reward, terminated, truncated, info = env.step(turn)
        assert not (terminated or truncated)
        assert [(r["name"], r["ok"]) for r in info["tool_results"]] == [(t.rstrip("!"), not t.endswith("!")) for t in tools]
    _, reward, terminated, truncated, info = env.step(text)
    assert terminated or truncated
    r = info["reward"]
    assert (r["accuracy"], r["format"], r["tool"], r["submotion"], r["total"]) == pytest.approx(expected, abs=1e-12)
    assert reward == pytest.approx(expected[-1], abs=1e-12)


@pytest.mark.parametrize("first_turn,chosen", [
    ("<pose_estimation>yes</pose_estimation><person_detection>no</person_detection>", True),
    ("<person_detection> YES </person_detection>", True),
    ("<noun_explanation>\nyes\n</noun_explanation>", True),
    ("<pose_estimation>no</pose_estimation><person_detection>no</person_detection><noun_explanation>no</noun_explanation>",
     False),
    ("<video_explanation>yes</video_explanation>", False),  # not a tag of the released file
    ("<pose_estimation>no</pose_estimation> then <pose_estimation>yes</pose_estimation>", True),  # any yes
    ("", False),
])
def test_tool_bonus_from_the_first_turn_text(first_turn, chosen):
    assert official_tool_chosen(first_turn=first_turn) is chosen
    total = official_reward(FULL, LABEL, first_turn=first_turn).total
    assert total == pytest.approx(4.0 if chosen else 3.0)


def test_default_mode_is_unchanged_on_the_same_text():
    # The package's own reward: aliases count, sub-motions against the definition, at most 5, tool term gated.
    r = score(doc(ans="<answer>sitting down</answer>"), LABEL, aliases=("sitting down",),
              definition="sit_down: knees bend, hips lower onto a chair, torso leans", tool_log=records(("pose_estimation",)))
    assert (r.accuracy, r.format, r.tool, r.submotion, r.total) == pytest.approx((1, 1, 1, 1.0, 4.0))
