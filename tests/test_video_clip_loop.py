"""Clips returned by a tool, through the verl agent loop: token parity, media, temporal positions and requests.

An episode in the hermes format returns two video_clip clips and one tool turn of images (the videostar
format cannot call video_clip: its first turn has yes/no tags for the paper's four tools only, and the env
refuses the tool there; its image-only parity is tests/test_token_parity.py's). For tiny Qwen2.5-VL,
Qwen3-VL and Qwen3.5 the loop's tokens equal apply_chat_template + the processor on the final
conversation (with the documented Thinking rewrite of earlier assistant turns), multi_modal_data holds the
prompt's video and both clips in placeholder order with their own metadata, each clip's placeholders equal
its grid / merge², and its temporal positions follow its own timestamps: Qwen2.5-VL's M-RoPE time steps
(second_per_grid_ts from the clip's frame spacing), Qwen3-VL's and Qwen3.5's `<t seconds>` text.
Every request carries all videos so far: vLLM the frames with metadata, SGLang the processor's features.
"""

import numpy as np
import pytest

pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")

from test_token_parity import (Recorder, check_mask, rendered, runs_of, thinking,  # noqa: E402
                               training_inputs, turns_of)
from test_verl_agent_loop import ENV_KWARGS, StandInReplica, load_policy, play  # noqa: E402

from videostar_env import answer, tool_call  # noqa: E402

CLIP_CALLS = [tool_call("video_clip", start=0.25, end=1.35, frames=4),
              tool_call("human_detection"),
              tool_call("video_clip", start=0.6, end=1.8, fps=5.5, region=[10, 20, 150, 140])]
FINAL = answer("wave", [("Right arm", "swings from side to side")])


@pytest.fixture(scope="module", params=["qwen2.5-vl", "qwen3-vl", "qwen3.5"])
def policy(request, tmp_path_factory):
    from videostar_trainers.tiny_models import TINY_MODELS

    return load_policy(TINY_MODELS[request.param](tmp_path_factory.mktemp(request.param)))


def clip_episode(policy):
    """The row, env kwargs and policy turns of the episode: two clips and one image return, then the answer."""
    env_kwargs = {**ENV_KWARGS, "inner": "VideoSTAR-v0", "tools": ["video_clip", "human_detection"]}
    row = {"env_id": "Recorded-v0", "sample_index": 0, "seed": 3}
    if not thinking(policy):
        return row, env_kwargs, CLIP_CALLS + [FINAL]
    row["task_options"] = '{"reasoning": "qwen3"}'
    calls = [f"A closer look.\n</think>\n\n{c}" for c in CLIP_CALLS]
    return row, env_kwargs, calls + ["The right arm swings from side to side.\n</think>\n\n<answer>wave</answer>"]


def video_parts(info):
    """The env's video parts in order: the prompt's, then each returned clip."""
    return [p for m in info["messages"] for p in m["content"] if p["type"] == "video"]


def test_video_clip_loop_tokens_media_and_mask_match_the_processors_rendering(policy):
    row, env_kwargs, turns = clip_episode(policy)
    replica = StandInReplica(policy.tokenizer, turns)
    output = play(policy, replica, row, env_kwargs=env_kwargs)
    recorder = Recorder.latest
    assert output.extra_fields["env_ended"] and output.extra_fields["tool_calls"] == 3
    assert [r["ok"] for r in recorder.info["tool_results"]] == [True, True, True], recorder.info["tool_results"]
    reference, chat = rendered(policy, recorder.info)
    tokens = output.prompt_ids + output.response_ids
    if not thinking(policy):
        assert tokens == reference[:-1]  # the rendering ends with the template's newline after the last <|im_end|>
    else:  # the Thinking template drops the reasoning of assistant turns before the last user query (documented)
        ours, theirs = turns_of(policy, tokens), turns_of(policy, reference[:-1])
        assert len(ours) == len(theirs)
        differ = [k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        assistant = [k for k, chunk in enumerate(ours)
                     if policy.tokenizer.decode(chunk).startswith("<|im_start|>assistant\n")]
        assert differ == assistant[:-1]
    check_mask(policy, output, replica.replies)
    # multi_modal_data: the prompt's video and both clips in placeholder order, each with its own metadata
    media = output.multi_modal_data
    assert len(media["videos"]) == len(chat.videos) == 3 and len(media["images"]) == len(chat.images) >= 1
    for (frames, metadata), expected, expected_metadata in zip(media["videos"], chat.videos, chat.video_metadata):
        assert np.array_equal(frames, expected) and metadata == expected_metadata
    parts = video_parts(recorder.info)
    assert [m["frames_indices"] for _, m in media["videos"]] == [p["frame_indices"] for p in parts]
    inputs, positions = training_inputs(policy, output)
    merge = policy.processor.video_processor.merge_size ** 2
    grids = inputs["video_grid_thw"].tolist()
    assert [g[0] for g in grids] == [-(-len(p["frame_indices"]) // 2) for p in parts]
    video_pad = policy.processor.video_token_id
    assert sum(runs_of(tokens, video_pad)) == sum(t * h * w // merge for t, h, w in grids)
    assert positions.shape == (1, 4, len(tokens))
    check_clip_times(policy, tokens, positions[0], grids, parts)


def check_clip_times(policy, tokens, positions, grids, parts):
    """Each video's temporal placement follows its own timestamps, as the policy's family encodes time."""
    merge = policy.processor.video_processor.merge_size ** 2
    video_pad = policy.processor.video_token_id
    pads = [k for k, t in enumerate(tokens) if t == video_pad]
    if policy.model_type == "qwen2_5_vl":
        # M-RoPE: grid step k of a video sits k x second_per_grid x tokens_per_second (2) past the video's start,
        # second_per_grid being two of the clip's own frame intervals (the sampler's segment: span / frames).
        # transformers 5.10.4 truncates second_per_grid to an integer first (fixed by transformers #48669):
        # the rule of the installed version is probed, the seconds are the clip's own.
        rule = time_step_rule(policy)
        start = 0
        for (t, h, w), part in zip(grids, parts):
            span = pads[start:start + t * h * w // merge]
            start += len(span)
            times = positions[1, span]
            seconds_per_grid = 2 * part["span_frames"] / part["fps"] / len(part["frame_indices"])
            steps = sorted({int(v) for v in (times - times.min()).tolist()})
            assert steps == sorted({rule(k, seconds_per_grid) for k in range(t)})
    else:
        # Qwen3-VL and Qwen3.5: each grid step is preceded by "<t seconds>", the mean of its two frames' times.
        text = policy.tokenizer.decode(tokens)
        for part in parts:
            times = [i / part["fps"] for i in part["frame_indices"]]
            times += times[-1:] * (len(times) % 2)
            stamps = "".join(f"<{(a + b) / 2:.1f} seconds><|vision_start|>"
                             for a, b in zip(times[::2], times[1::2]))
            assert stamps.replace("<|vision_start|>", "") in text.replace("<|vision_start|>", "").replace(
                "<|video_pad|>", "").replace("<|vision_end|>", "")


def time_step_rule(policy):
    """How the installed transformers places grid step k of a video at second_per_grid s (tokens_per_second 2): the
    original int(k x s x 2), or k x 2 x int(s) where s is truncated first (transformers 5.10.4)."""
    import torch

    pad, start = policy.processor.video_token_id, policy.tokenizer.convert_tokens_to_ids("<|vision_start|>")
    ids = torch.tensor([[start] + [pad] * 4])  # one video of 4 grid steps of 1x1 (after the 2x2 merge)
    kwargs = {"video_grid_thw": torch.tensor([[4, 2, 2]]), "second_per_grid_ts": torch.tensor([0.5]),
              "mm_token_type_ids": (ids == pad).long() * 2}
    positions, _ = policy.processor.get_rope_index(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
    steps = (positions[0, 0, 1:] - positions[0, 0, 1]).tolist()
    if steps == [0, 1, 2, 3]:
        return lambda k, seconds: int(k * seconds * 2)
    assert steps == [0, 0, 0, 0], steps
    return lambda k, seconds: k * 2 * int(seconds)


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
def test_video_clip_every_request_carries_all_videos_so_far_in_the_backends_form(backend, tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen

    policy = load_policy(build_tiny_qwen(tmp_path_factory.mktemp(f"qwen-{backend}")))
    row, env_kwargs, turns = clip_episode(policy)
    replica = StandInReplica(policy.tokenizer, turns, backend)
    output = play(policy, replica, row, backend=backend, env_kwargs=env_kwargs)
    videos = output.multi_modal_data["videos"]
    video_pad = policy.processor.video_token_id
    merge = policy.processor.video_processor.merge_size ** 2
    inputs, _ = training_inputs(policy, output)
    counts = []
    for sent in replica.requests:
        prompt = sent["prompt_ids"]
        shown = len(runs_of(prompt, video_pad))  # Qwen2.5-VL: one placeholder run per video
        counts.append(shown)
        if backend == "vllm":  # the frames of every video so far, each with its own metadata
            assert len(sent["video_data"]) == shown
            for (frames, metadata), (expected, expected_metadata) in zip(sent["video_data"], videos):
                assert np.array_equal(frames, expected) and metadata == expected_metadata
        else:  # the processor's features of every video so far, as the training side computes them
            [features] = sent["video_data"]
            grids = features["video_grid_thw"]
            assert features["format"] == "processor_output" and len(grids) == shown
            assert features["pixel_values_videos"].shape[0] == int(grids.prod(dim=1).sum())
            assert prompt.count(video_pad) == int(grids.prod(dim=1).sum()) // merge
            assert grids.tolist() == inputs["video_grid_thw"][:shown].tolist()
            assert features["second_per_grid_ts"].tolist() == pytest.approx(
                inputs["second_per_grid_ts"][:shown].tolist())
    assert counts == [1, 2, 2, 3]  # the prompt's video; a clip after turn 1; images after 2; a clip after 3
