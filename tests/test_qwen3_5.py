"""Qwen3.5 as a policy: a tiny random Qwen3.5 (Gated DeltaNet and full attention) through the qwen-vl agent, the
bench, `videostar train --cpu`, the launch script's verl config and the verl agent loop."""

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


# -- training: the CPU trainer, the launch script, the verl agent loop ----------------------------------------

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


class Recorder(gym.Wrapper):
    """Keeps the env's latest info (its conversation) and the policy's turns as step() received them."""

    latest = None

    def reset(self, **kwargs):
        self.actions = []
        observation, self.info = self.env.reset(**kwargs)
        Recorder.latest = self
        return observation, self.info

    def step(self, action):
        self.actions.append(action)
        *rest, self.info = self.env.step(action)
        return (*rest, self.info)


if "Qwen3_5Recorded-v0" not in gym.registry:
    gym.register("Qwen3_5Recorded-v0", entry_point=lambda **kwargs: Recorder(gym.make("VideoSTAR-v0", **kwargs)))


def test_qwen3_5_agent_loop_tokens_are_the_processors_rendering_but_the_documented_thinking_rewrite(qwen3_5):
    """An episode of two image-returning tool calls and an answer, played through trainers/agent_loop.py: the loop's
    tokens are apply_chat_template + processor on the env's final conversation, except the tool-call turns, which
    the template renders without their reasoning (each precedes a tool result, a later user query) while the loop
    keeps what the policy was given and wrote: the `<think>\\n` of the generation prompt, then its tokens."""
    pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")
    from test_verl_agent_loop import ENV_KWARGS, StandInReplica, load_policy, play

    policy = load_policy(qwen3_5)
    row = {"env_id": "Qwen3_5Recorded-v0", "sample_index": 0, "seed": 3,
           "task_options": json.dumps(QWEN3["task_options"])}  # as `videostar verl-data` writes it
    turns = [f"This tool shows the body.\n</think>\n\n{tool_call(name)}" for name in ("pose_estimation",
                                                                                      "human_detection")]
    turns.append("The right arm swings from side to side.\n</think>\n\n<answer>wave</answer>")
    replica = StandInReplica(policy.tokenizer, turns)
    output = play(policy, replica, row, env_kwargs=ENV_KWARGS)
    recorder = Recorder.latest
    assert output.extra_fields["env_ended"] and output.extra_fields["tool_calls"] == 2
    assert recorder.actions == turns  # the env read exactly what the policy wrote
    chat = qwen_chat(recorder.info["messages"])
    rendering = policy.processor.apply_chat_template(chat.messages, tokenize=False)
    reference = policy.processor(text=[rendering], images=chat.images, videos=chat.videos,
                                 video_metadata=chat.video_metadata, do_sample_frames=False,
                                 return_tensors="pt")["input_ids"][0].tolist()
    start = policy.tokenizer.convert_tokens_to_ids("<|im_start|>")

    def turns_of(ids):
        cuts = [k for k, t in enumerate(ids) if t == start] + [len(ids)]
        return [policy.tokenizer.decode(ids[a:b]) for a, b in zip(cuts, cuts[1:])]

    ours, theirs = turns_of(output.prompt_ids + output.response_ids), turns_of(reference)
    assert theirs[-1] == ours[-1] + "\n"  # the template's newline after the policy's last <|im_end|>
    differing = [k for k, (a, b) in enumerate(zip(ours[:-1], theirs[:-1])) if a != b]
    assert len(ours) == len(theirs) and len(differing) == 2
    for k, turn in zip(differing, turns):
        assert ours[k] == f"<|im_start|>assistant\n<think>\n{turn}<|im_end|>\n"
        assert theirs[k] == f"<|im_start|>assistant\n{turn.split('</think>')[-1].lstrip()}<|im_end|>\n"
    media = output.multi_modal_data
    assert len(media["images"]) == len(chat.images) >= 2 and len(media["videos"]) == 1
    assert output.reward_score > 0 and sum(output.response_mask) == sum(len(r) for r in replica.replies)
