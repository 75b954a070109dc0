"""Qwen3-VL through the qwen-vl agent: a tiny random Qwen3-VL (Instruct, Thinking), its frame timestamps, the bench."""

import json
import re

import gymnasium as gym
import pytest

from videostar_agents import make_agent
from videostar_agents.messages import qwen_chat
from videostar_env import tool_call
from videostar_env.cli.main import main
from videostar_env.jobs.rollout import run_episode

pytest.importorskip("transformers", reason="the qwen extra: pip install 'videostar-env[qwen]'")

SMALL = {"num_frames": 4, "frame_size": (56, 56)}


@pytest.fixture(scope="module")
def instruct(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen3_vl

    return build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny-qwen3-vl"))


@pytest.fixture(scope="module")
def thinking(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen3_vl

    return build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny-qwen3-vl-thinking"), thinking=True)


@pytest.fixture(scope="module")
def agent(instruct):
    return make_agent("qwen-vl", model=str(instruct), device="cpu", max_new_tokens=8)


def render(folder, messages, **kwargs):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(folder).apply_chat_template(messages, tokenize=False, **kwargs)


def text(value):
    return [{"type": "text", "text": value}]


# -- the checkpoint ----------------------------------------------------------------------------------

def test_tiny_qwen3_vl_reloads_through_the_auto_classes(instruct):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(instruct)
    model = AutoModelForImageTextToText.from_pretrained(instruct)
    assert type(processor).__name__ == "Qwen3VLProcessor" and type(model).__name__ == "Qwen3VLForConditionalGeneration"
    assert type(processor.video_processor).__name__ == "Qwen3VLVideoProcessor"
    assert model.config.text_config.num_hidden_layers == 2 and model.config.text_config.hidden_size == 64
    tokenizer = processor.tokenizer
    ids = tokenizer("<think>a</think>")["input_ids"]
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-1]]) == ["<think>", "</think>"]  # one token each
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>a</think>"  # added, not special, as in Qwen3


def test_instruct_template_renders_chatml_vision_and_tool_turns_like_qwen3_vl(instruct):
    messages = [{"role": "system", "content": text("S")},
                {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q"}]},
                {"role": "assistant", "content": text('<think>r</think><tool_call>{"name": "t"}</tool_call>')},
                {"role": "tool", "content": [{"type": "image"}, {"type": "text", "text": "one"}]},
                {"role": "tool", "content": text("two")}]
    assert render(instruct, messages, add_generation_prompt=True) == (
        "<|im_start|>system\nS<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Q<|im_end|>\n"
        '<|im_start|>assistant\n<think>r</think><tool_call>{"name": "t"}</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n<|vision_start|><|image_pad|><|vision_end|>one\n</tool_response>"
        "\n<tool_response>\ntwo\n</tool_response><|im_end|>\n"  # both tool messages in one user turn
        "<|im_start|>assistant\n")


def test_thinking_template_prefills_think_and_keeps_reasoning_only_after_the_last_query(thinking):
    messages = [{"role": "user", "content": text("Q1")},
                {"role": "assistant", "content": text("<think>old</think>A1")},
                {"role": "user", "content": text("Q2")},
                {"role": "assistant", "content": text('r1\n</think>\n\n<tool_call>{"name": "t"}</tool_call>')},
                {"role": "tool", "content": text("out")},
                {"role": "assistant", "content": text("A2")}]
    prompt = render(thinking, messages[:4] + messages[4:5], add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")  # the open tag is the template's
    assert "<|im_start|>assistant\nA1<|im_end|>" in prompt  # before the last real question: the answer only
    # after it (tool responses are no question): the reasoning stays, the reply's missing open tag restored
    assert '<|im_start|>assistant\n<think>\nr1\n</think>\n\n<tool_call>{"name": "t"}</tool_call><|im_end|>' in prompt
    assert "<|im_start|>user\n<tool_response>\nout\n</tool_response><|im_end|>" in prompt
    full = render(thinking, messages)  # the last turn always gets a think block, empty without reasoning
    assert full.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nA2<|im_end|>\n")


def test_a_thinking_reply_re_renders_as_the_prompt_it_continued(thinking):
    """prompt + reply + end of turn is exactly the next turn's history (no re-tokenization drift)."""
    chat = [{"role": "user", "content": text("Q")}]
    reply = "the knees bend\n</think>\n\n<answer>squat</answer>"
    prompt = render(thinking, chat, add_generation_prompt=True)
    assert render(thinking, chat + [{"role": "assistant", "content": text(reply)}]) == prompt + reply + "<|im_end|>\n"


# -- the agent -----------------------------------------------------------------------------------------

def test_agent_names_the_reasoning_form_of_the_template(agent, thinking):
    assert agent.reasoning == "paper"
    assert make_agent("qwen-vl", model=str(thinking), device="cpu").reasoning == "qwen3"


@pytest.mark.parametrize("num_frames", [4, 5])
def test_video_timestamps_in_the_text_are_the_env_frames_times(agent, num_frames):
    """Qwen3VLProcessor writes one "<t seconds>" per temporal patch (2 frames): the mean of its first and last
    frame's frames_indices / fps, printed with one decimal; an odd last patch repeats the last frame."""
    env = gym.make("VideoSTAR-v0", num_frames=num_frames, frame_size=(56, 56))
    _, info = env.reset(seed=4)
    inputs = agent.inputs([qwen_chat(info["messages"])])
    prompt = agent.processor.tokenizer.decode(inputs["input_ids"][0])
    stamps = re.findall(r"<(\d+\.\d) seconds>", prompt)
    times = info["timestamps"] + info["timestamps"][-1:] * (num_frames % 2)
    assert stamps == [f"{(times[k] + times[k + 1]) / 2:.1f}" for k in range(0, num_frames, 2)]
    assert int(inputs["video_grid_thw"][0][0]) == len(stamps)  # every env frame, none resampled
    assert info["timestamps"] == [i / info["fps"] for i in info["frame_indices"]]


@pytest.mark.parametrize("pixels, side", [({"max_pixels": 32 * 32}, 2),
                                          ({"min_pixels": 96 * 96, "max_pixels": 96 * 96}, 6)])
def test_pixel_bounds_hold_for_each_frame_and_tool_image(instruct, pixels, side):
    """Qwen3-VL's video `size` bounds a video's frames together; the agent's bounds are per frame, as for images."""
    env = gym.make("VideoSTAR-v0", num_frames=4, frame_size=(128, 128))
    env.reset(seed=1)
    *_, info = env.step(tool_call("pose_estimation"))
    inputs = make_agent("qwen-vl", model=str(instruct), device="cpu", **pixels).inputs([qwen_chat(info["messages"])])
    assert inputs["video_grid_thw"].tolist() == [[2, side, side]]  # side patches of 16 pixels a side
    assert {tuple(g) for g in inputs["image_grid_thw"].tolist()} == {(1, side, side)}


def test_decode_keeps_think_tags_even_when_the_tokenizer_marks_them_special(instruct):
    agent = make_agent("qwen-vl", model=str(instruct), device="cpu")
    tokenizer = agent.processor.tokenizer
    tokenizer.add_special_tokens({"additional_special_tokens": ["<think>", "</think>"]})
    ids = tokenizer("<think>a</think><answer>b</answer><|im_end|><|endoftext|><|endoftext|>")["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a<answer>b</answer>"  # what the agent must avoid
    assert agent.decode([ids]) == ["<think>a</think><answer>b</answer>"]  # cut at the end of turn, pads gone


@pytest.mark.parametrize("env_id", ["VideoSTAR-v0", "VideoSTAR-TwoTurn-v0"])
def test_qwen3_vl_plays_whole_episodes_in_both_formats(agent, env_id):
    env = gym.make(env_id, max_turns=2, **SMALL)
    result = run_episode(env, agent, seed=2)  # random weights: garbage text, handled by the env's parser
    assert result.turns == 2 and (result.truncated or result.answer is not None)


def test_thinking_qwen3_vl_sees_tool_images_inside_tool_responses(thinking):
    agent = make_agent("qwen-vl", model=str(thinking), device="cpu", max_new_tokens=8)
    env = gym.make("VideoSTAR-v0", **SMALL)
    obs, info = env.reset(seed=5)
    obs, _, _, _, info = env.step(tool_call("pose_estimation"))  # scripted: random weights rarely call a tool
    env.step(agent.act(obs, info))
    prompt = agent.processor.tokenizer.decode(agent.last_inputs["input_ids"][0])
    assert int(agent.last_inputs["image_grid_thw"].shape[0]) > 0
    assert prompt.index("<|video_pad|>") < prompt.index("<|image_pad|>") < prompt.index("<tool_response>")
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")


@pytest.mark.parametrize("env_id", ["VideoSTAR-v0", "VideoSTAR-TwoTurn-v0"])
def test_bench_runs_qwen3_vl_episodes_to_the_end(instruct, tmp_path, env_id):
    out = tmp_path / "run"
    assert main(["bench", "--agent", "qwen-vl", "--model", str(instruct), "--agent-options",
                 '{"max_new_tokens": 8, "device": "cpu"}', "--env-id", env_id, "--env-options", '{"max_turns": 2}',
                 "--num-frames", "4", "--frame-size", "56", "--episodes", "2", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["overall"]["episodes"] == 2
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["answer"] is not None or (r["truncated"] and r["turns"] == 2) for r in rows)


def test_bench_refuses_a_thinking_model_scored_in_the_papers_form_unless_told(thinking, tmp_path, capsys):
    common = ["bench", "--agent", "qwen-vl", "--model", str(thinking), "--agent-options",
              '{"max_new_tokens": 8, "device": "cpu"}', "--num-frames", "4", "--frame-size", "56", "--episodes", "1"]
    assert main([*common, "--env-options", '{"max_turns": 2}', "--out", str(tmp_path / "a")]) == 2
    assert '{"task_options": {"reasoning": "qwen3"}}' in capsys.readouterr().out
    options = '{"max_turns": 2, "task_options": {"reasoning": "qwen3"}}'
    assert main([*common, "--env-options", options, "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["overall"]["episodes"] == 1
