"""Token parity of the verl agent loop: what it trains on is what the policy's processor renders for the episode.

For tiny Qwen2.5-VL, Qwen3-VL, Qwen3-VL Thinking and Qwen3.5 checkpoints and both action formats, an episode
whose tool turns carry images is played through trainers/agent_loop.py (verl's server client, a
stand-in rollout server); the loop's tokens are compared with apply_chat_template + processor on the
env's final conversation, the mask with the policy's own tokens, and the media with verl's own
training-side processing (its multimodal inputs and M-RoPE positions).
"""

from types import SimpleNamespace

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")

from test_verl_agent_loop import ENV_KWARGS, StandInReplica, load_policy, play  # noqa: E402
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker  # noqa: E402

from videostar_agents.messages import qwen_chat  # noqa: E402
from videostar_env import answer, tool_call, tool_decisions  # noqa: E402
from videostar_trainers.agent_loop import end_token_ids, turn_text  # noqa: E402

TOOLS = ["pose_estimation", "human_detection"]  # both return images (overlays, boxes)


class Recorder(gym.Wrapper):
    """Keeps what the env read: the policy's turns as step() received them, and the latest info (the conversation)."""

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


def recorded(inner, **kwargs):
    """The env `inner`, recorded."""
    return Recorder(gym.make(inner, **kwargs))


if "Recorded-v0" not in gym.registry:
    gym.register("Recorded-v0", entry_point=recorded)


@pytest.fixture(scope="module", params=["qwen2.5-vl", "qwen3-vl", "qwen3-vl-thinking", "qwen3_5"])
def policy(request, tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen, build_tiny_qwen3_5, build_tiny_qwen3_vl

    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "qwen2.5-vl":
        return load_policy(build_tiny_qwen(folder))
    if request.param == "qwen3_5":  # Thinking by default
        return load_policy(build_tiny_qwen3_5(folder))
    return load_policy(build_tiny_qwen3_vl(folder, thinking=request.param.endswith("thinking")))


def thinking(policy):
    """Whether the template's generation prompt opens the reasoning (Qwen3 Thinking)."""
    probe = [{"role": "user", "content": [{"type": "text", "text": "?"}]}]
    return policy.processor.apply_chat_template(probe, tokenize=False, add_generation_prompt=True).endswith("<think>\n")


def episode(policy, action_format):
    """The row, env kwargs and policy turns (as it writes them) of an episode whose two tool results hold images.

    hermes: two tool-call turns, then the answer; videostar: one turn choosing both tools, then the answer.
    A Thinking policy writes after the `<think>\\n` its template opened: its row carries the qwen3 reasoning form.
    """
    env_kwargs = {**ENV_KWARGS, "inner": "VideoSTAR-v0" if action_format == "hermes" else "VideoSTAR-TwoTurn-v0"}
    row = {"env_id": "Recorded-v0", "sample_index": 0, "seed": 3}
    if action_format == "hermes":
        calls = [tool_call(name) for name in TOOLS]
    else:
        calls = [tool_decisions(TOOLS)]
    if not thinking(policy):
        return row, env_kwargs, calls + [answer("wave", [("Right arm", "swings from side to side")])]
    row["task_options"] = json.dumps({"reasoning": "qwen3"})  # as `videostar verl-data` writes it
    calls = [f"These tools show the body.\n</think>\n\n{c.split('</think>')[-1].lstrip()}" for c in calls]
    return row, env_kwargs, calls + ["The right arm swings from side to side.\n</think>\n\n<answer>wave</answer>"]


def rendered(policy, info):
    """The env's final conversation as the policy's processor renders it, and that chat (its media in order)."""
    chat = qwen_chat(info["messages"])
    text = policy.processor.apply_chat_template(chat.messages, tokenize=False, add_generation_prompt=False)
    inputs = policy.processor(text=[text], images=chat.images or None, videos=chat.videos,
                              video_metadata=chat.video_metadata, do_sample_frames=False, return_tensors="pt")
    return inputs["input_ids"][0].tolist(), chat


def training_inputs(policy, output):
    """verl's training side on the loop's output: its processor inputs from multi_modal_data, and M-RoPE positions."""
    worker = SimpleNamespace(processor=policy.processor, tokenizer=policy.tokenizer,
                             _get_mm_processor_kwargs=lambda audios=None: {})
    input_ids = torch.tensor([output.prompt_ids + output.response_ids])
    inputs = AgentLoopWorker._compute_multi_modal_inputs(worker, output, input_ids)
    positions = AgentLoopWorker._compute_position_ids(worker, input_ids, torch.ones_like(input_ids), dict(inputs))
    return inputs, positions


def runs_of(ids, token):
    """Lengths of the runs of token in ids."""
    lengths, previous = [], None
    for t in ids:
        if t == token:
            if previous == token:
                lengths[-1] += 1
            else:
                lengths.append(1)
        previous = t
    return lengths


def turns_of(policy, ids):
    """ids split at each <|im_start|>: one chunk per chat turn."""
    start = policy.tokenizer.convert_tokens_to_ids("<|im_start|>")
    cuts = [k for k, t in enumerate(ids) if t == start] + [len(ids)]
    return [ids[a:b] for a, b in zip(cuts, cuts[1:])]


def check_mask(policy, output, replies):
    """Mask 1 exactly on the policy's tokens (its <|im_end|> included); the newline after each is the env's."""
    assert len(output.response_ids) == len(output.response_mask) == len(output.response_logprobs)
    tokens, mask = output.response_ids, output.response_mask
    policy_runs, k = [], 0
    while k < len(mask):
        if mask[k]:
            end = next((j for j in range(k, len(mask)) if not mask[j]), len(mask))
            policy_runs.append((k, end))
            k = end
        else:
            k += 1
    assert [tokens[a:b] for a, b in policy_runs] == replies
    newline = policy.tokenizer.encode("\n", add_special_tokens=False)
    for _, end in policy_runs[:-1]:
        assert tokens[end - 1] == policy.tokenizer.convert_tokens_to_ids("<|im_end|>") and [tokens[end]] == newline
    assert all(output.response_logprobs[k] == (-0.5 if mask[k] else 0.0) for k in range(len(mask)))


def check_media(policy, output, chat):
    """multi_modal_data is the conversation's media in placeholder order, and its placeholders match the grids."""
    media = output.multi_modal_data
    assert len(media["images"]) == len(chat.images)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(media["images"], chat.images))
    [(frames, metadata)] = media["videos"]
    assert np.array_equal(frames, chat.videos[0]) and metadata == chat.video_metadata[0]
    inputs, positions = training_inputs(policy, output)
    ids = output.prompt_ids + output.response_ids
    merge = policy.processor.image_processor.merge_size ** 2
    image_pad, video_pad = policy.processor.image_token_id, policy.processor.video_token_id
    assert runs_of(ids, image_pad) == [int(g.prod()) // merge for g in inputs["image_grid_thw"]]
    assert len(inputs["image_grid_thw"]) == len(chat.images) >= 2
    [grid] = inputs["video_grid_thw"].tolist()
    video_runs = runs_of(ids, video_pad)  # Qwen3-VL: one run per frame group, after its timestamp
    assert sum(video_runs) == grid[0] * grid[1] * grid[2] // merge
    assert all(r % (grid[1] * grid[2] // merge) == 0 for r in video_runs)
    assert positions.shape == (1, 4, len(ids))


@pytest.mark.parametrize("action_format", ["hermes", "videostar"])
def test_the_loops_tokens_are_the_processors_rendering_of_the_episode(policy, action_format):
    row, env_kwargs, turns = episode(policy, action_format)
    replica = StandInReplica(policy.tokenizer, turns)
    output = play(policy, replica, row, env_kwargs=env_kwargs)
    recorder = Recorder.latest
    assert output.extra_fields["env_ended"] and output.extra_fields["tool_calls"] == 2
    assert recorder.actions == turns  # the env read exactly what the policy wrote
    reference, chat = rendered(policy, recorder.info)
    tokens = output.prompt_ids + output.response_ids
    newline = policy.tokenizer.encode("\n", add_special_tokens=False)
    # Documented: the rendering ends with the template's newline after the last <|im_end|>, the policy's last token.
    assert reference[-1:] == newline
    if not thinking(policy):
        assert tokens == reference[:-1]
    else:
        # Documented: the Thinking template writes each assistant turn before the last user query (here the tool
        # turns, which hold images) as its text after </think> only; the loop keeps what the policy was given and
        # wrote: the `<think>\n` of the generation prompt, then the policy's tokens. Every other turn is equal.
        ours, theirs = turns_of(policy, tokens), turns_of(policy, reference[:-1])
        assert len(ours) == len(theirs)
        rewritten = [k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        assistant = [k for k, chunk in enumerate(ours) if policy.tokenizer.decode(chunk).startswith(
            "<|im_start|>assistant\n")]
        assert rewritten == assistant[:-1]
        for k, text in zip(rewritten, turns):
            assert policy.tokenizer.decode(ours[k]) == f"<|im_start|>assistant\n<think>\n{text}<|im_end|>\n"
            kept = text.split("</think>")[-1].lstrip("\n")
            assert policy.tokenizer.decode(theirs[k]) == f"<|im_start|>assistant\n{kept}<|im_end|>\n"
    check_mask(policy, output, replica.replies)
    check_media(policy, output, chat)


def test_a_turn_that_stops_short_is_closed_as_the_template_closes_it(tiny_qwen25):
    policy = tiny_qwen25
    row, env_kwargs, turns = episode(policy, "hermes")
    # the first tool call stops at its text (a stop string or a length limit), without <|im_end|>
    turns[0] = policy.tokenizer.encode(turns[0], add_special_tokens=False)
    replica = StandInReplica(policy.tokenizer, turns)
    output = play(policy, replica, row, env_kwargs=env_kwargs)
    reference, _ = rendered(policy, Recorder.latest.info)
    assert output.prompt_ids + output.response_ids == reference[:-1]
    first = len(turns[0])
    end_of_turn = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert output.response_mask[:first + 2] == [1] * first + [0, 0]  # the closing <|im_end|> and newline are the env's
    assert output.response_ids[first] == end_of_turn


def test_an_env_turn_that_does_not_fit_the_budget_is_left_out_with_its_images(tiny_qwen25):
    policy = tiny_qwen25
    row, env_kwargs, turns = episode(policy, "hermes")
    replica = StandInReplica(policy.tokenizer, turns)
    first = len(policy.tokenizer.encode(turns[0], add_special_tokens=False)) + 1
    output = play(policy, replica, row, response_length=first + 40, env_kwargs=env_kwargs)  # < the pose turn
    assert output.response_ids == replica.replies[0] and output.response_mask == [1] * first
    # the env's refusal (the pose images would not fit) does not fit either: left out, and the env truncates
    assert "images" not in output.multi_modal_data and output.extra_fields["env_ended"]
    assert output.reward_score == 0.0 and output.extra_fields["reward_extra_info"]["env_turns"] == 0.0
    inputs, _ = training_inputs(policy, output)  # verl's training side finds the video and no image
    assert "image_grid_thw" not in inputs and len(inputs["video_grid_thw"]) == 1


def test_the_env_reads_reasoning_tags_a_tokenizer_marks_special(qwen25_folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(qwen25_folder)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<think>", "</think>"]})
    text = "<think>The arm swings.</think>\n<answer>wave</answer>"
    ids = tokenizer.encode(text, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert "<think>" not in tokenizer.decode(ids, skip_special_tokens=True)  # what skip_special_tokens would lose
    ends = end_token_ids(tokenizer)
    assert ends == {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    assert turn_text(tokenizer, ids, ends) == text
    assert turn_text(tokenizer, ids + [tokenizer.pad_token_id], ends) == text


@pytest.fixture(scope="module")
def qwen25_folder(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen

    return build_tiny_qwen(tmp_path_factory.mktemp("qwen2.5-vl-own"))


@pytest.fixture(scope="module")
def tiny_qwen25(qwen25_folder):
    return load_policy(qwen25_folder)
