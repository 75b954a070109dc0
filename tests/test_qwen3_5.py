"""Qwen3.5 as a policy: a tiny random Qwen3.5 (Gated DeltaNet and full attention) through the qwen-vl agent, the
bench, `videostar train --cpu` and the launch script's verl config. The verl agent loop's token parity with it is
tests/test_token_parity.py's (both formats) and tests/test_video_clip_loop.py's (clip returns), param qwen3_5."""

import json
import math

import gymnasium as gym
import pytest

from videostar_agents import make_agent
from videostar_agents.messages import qwen_chat
from videostar_env import tool_call
from videostar_env.cli.main import main

pytest.importorskip("transformers", reason="the qwen extra: pip install 'videostar-env[qwen]'")

SMALL = {"num_frames": 4, "frame_size": (56, 56)}
QWEN3 = {"task_options": {"reasoning": "qwen3"}}  # how the env reads a Thinking template's turns


@pytest.fixture(scope="module")
def qwen3_5(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen3_5

    return build_tiny_qwen3_5(tmp_path_factory.mktemp("Qwen3.5-tiny"))


@pytest.fixture(scope="module")
def agent(qwen3_5):
    return make_agent("qwen-vl", model=str(qwen3_5), device="cpu", max_new_tokens=8)


def text(value):
    return [{"type": "text", "text": value}]


# -- the checkpoint ----------------------------------------------------------------------------------

def test_tiny_qwen3_5_reloads_through_the_auto_classes_with_both_kinds_of_layer(qwen3_5):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(qwen3_5)
    model = AutoModelForImageTextToText.from_pretrained(qwen3_5)
    assert type(model).__name__ == "Qwen3_5ForConditionalGeneration" and model.config.model_type == "qwen3_5"
    assert type(processor).__name__ == "Qwen3VLProcessor" and type(processor.tokenizer).__name__ == "Qwen3_5Tokenizer"
    assert type(processor.video_processor).__name__ == "Qwen3VLVideoProcessor"
    layers = model.model.language_model.layers
    assert model.config.text_config.layer_types == ["linear_attention", "full_attention"]
    assert [type(layers[0].linear_attn).__name__, type(layers[1].self_attn).__name__] == [
        "Qwen3_5GatedDeltaNet", "Qwen3_5Attention"]
    ids = processor.tokenizer("<think>a</think><tool_call>")["input_ids"]
    assert processor.tokenizer.convert_ids_to_tokens([ids[0], ids[2], ids[3]]) == ["<think>", "</think>", "<tool_call>"]
    assert processor.tokenizer.decode(ids, skip_special_tokens=True) == "<think>a</think><tool_call>"  # not special


def test_qwen3_5_template_thinks_by_default_and_drops_reasoning_before_the_last_query(qwen3_5):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(qwen3_5)
    messages = [{"role": "system", "content": text("S")},
                {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q"}]},
                {"role": "assistant", "content": text('r1\n</think>\n\n<tool_call>{"name": "t"}</tool_call>')},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "<tool_response>\nout\n"
                                                                                   "</tool_response>"}]}]
    prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt == (
        "<|im_start|>system\nS<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Q<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>{"name": "t"}</tool_call><|im_end|>\n'  # before the last query: no reasoning
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
        "<tool_response>\nout\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n<think>\n")
    reply = "the knees bend\n</think>\n\n<answer>squat</answer>"  # the last turn keeps its reasoning
    full = processor.apply_chat_template(messages + [{"role": "assistant", "content": text(reply)}], tokenize=False)
    assert full == prompt + reply + "<|im_end|>\n"


# -- the qwen-vl agent and the bench ----------------------------------------------------------------------

def test_qwen3_5_agent_names_the_thinking_reasoning_form(agent):
    assert agent.reasoning == "qwen3" and type(agent.model).__name__ == "Qwen3_5ForConditionalGeneration"


def test_qwen3_5_writes_a_turn_on_a_video_observation_and_the_env_reads_it(agent):
    env = gym.make("VideoSTAR-v0", **SMALL, **QWEN3)
    env.reset(seed=4)
    obs, _, _, _, info = env.step(tool_call("pose_estimation"))  # scripted: random weights rarely call a tool
    turn = agent.act(obs, info)
    inputs = agent.last_inputs
    assert int(inputs["video_grid_thw"][0][0]) == 4 // 2  # every env frame, two per temporal patch: none resampled
    images = sum(p["type"] == "image" for m in info["messages"] for p in m["content"])
    assert int(inputs["image_grid_thw"].shape[0]) == images > 0
    prompt = agent.processor.tokenizer.decode(inputs["input_ids"][0])
    assert prompt.index("<|video_pad|>") < prompt.index("<|image_pad|>") < prompt.index("<tool_response>")
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    *_, info = env.step(turn)  # garbage text from random weights, handled by the env's parser
    assert info["messages"][-2] == {"role": "assistant", "content": text(turn)}


def test_qwen3_5_left_padding_leaves_each_rows_next_token_logits_as_alone(agent):
    """Gated DeltaNet layers carry a recurrent state: the padding before a shorter chat must not reach it."""
    import torch

    envs = [gym.make("VideoSTAR-v0", **SMALL, **QWEN3) for _ in range(2)]
    _, short = envs[0].reset(seed=1)
    envs[1].reset(seed=2)
    *_, long = envs[1].step(tool_call("pose_estimation"))
    chats = [qwen_chat(short["messages"]), qwen_chat(long["messages"])]
    with torch.inference_mode():
        batch = agent.inputs(chats)
        both = agent.model(**batch).logits[:, -1]
        alone = [agent.model(**agent.inputs([chat])).logits[0, -1] for chat in chats]
    assert int(batch["attention_mask"][0].sum()) < batch["attention_mask"].shape[1]  # the short row is padded
    assert torch.allclose(both[0], alone[0], atol=1e-5) and torch.allclose(both[1], alone[1], atol=1e-5)
    assert not torch.allclose(alone[0], alone[1], atol=1e-3)  # the rows differ: the check can fail


@pytest.mark.parametrize("env_id", ["VideoSTAR-v0", "VideoSTAR-TwoTurn-v0"])
def test_bench_runs_qwen3_5_episodes_in_its_reasoning_form(qwen3_5, tmp_path, env_id):
    out = tmp_path / "run"
    options = json.dumps({"max_turns": 2, **QWEN3})
    assert main(["bench", "--agent", "qwen-vl", "--model", str(qwen3_5), "--agent-options",
                 '{"max_new_tokens": 8, "device": "cpu"}', "--env-id", env_id, "--env-options", options,
                 "--num-frames", "4", "--frame-size", "56", "--episodes", "2", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["overall"]["episodes"] == 2
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["answer"] is not None or (r["truncated"] and r["turns"] == 2) for r in rows)


# -- training: the CPU trainer and the launch script -----------------------------------------------------------

def test_videostar_train_cpu_runs_a_grpo_step_of_a_tiny_qwen3_5(tmp_path):
    """verl's FSDP actor computes Gated DeltaNet log-probs and updates them on the CPU; the checkpoint reloads."""
    pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")
    from transformers import AutoModelForImageTextToText

    from videostar_trainers.data import verl_rows, write_parquet

    env = gym.make("VideoSTAR-NoTools-v0", dataset_kwargs={"per_class": 1}, **SMALL, **QWEN3)
    rows = write_parquet(verl_rows(env, range(1), 0), tmp_path / "rows.parquet")  # rows in the Thinking form
    out = tmp_path / "run"
    assert main(["train", "--cpu", "--tiny", "qwen3.5", "--constrained", "answers", "--out", str(out),
                 "+preset=cpu_demo", f"data.train_files={rows}", f"data.val_files={rows}",
                 "trainer.total_training_steps=1", "trainer.save_freq=1", "actor_rollout_ref.rollout.n=2"]) == 0
    [line] = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert line["step"] == 1 and math.isfinite(line["actor/pg_loss"]) and line["reward/mean"] > 0  # well-formed
    model = AutoModelForImageTextToText.from_pretrained(out / "checkpoints" / "global_step_1")
    assert type(model).__name__ == "Qwen3_5ForConditionalGeneration"


def test_the_launch_script_trains_a_qwen3_5_policy_on_the_config_main_ppo_composes(qwen3_5, tmp_path):
    pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")
    import shutil

    from test_verl_agent_loop import SCRIPT, check_main_ppo_accepts, launch

    model = shutil.copytree(qwen3_5, tmp_path / "Qwen3.5-tiny")
    _, config = launch(tmp_path, model, REASONING="qwen3")
    assert config.actor_rollout_ref.rollout.name == "vllm"
    model_config = check_main_ppo_accepts(config)
    assert model_config.hf_config.model_type == "qwen3_5"
    assert model_config.hf_config.text_config.layer_types == ["linear_attention", "full_attention"]
    assert type(model_config.processor).__name__ == "Qwen3VLProcessor"
    assert "Qwen3.5" in SCRIPT.read_text() and "REASONING=qwen3" in SCRIPT.read_text()  # the usage line says so
