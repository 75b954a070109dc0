"""Video tool returns in the env: an episode with two video_clip returns and one image return.

Each clip is a video part of its tool message (after the tool's images, before its text) with the
metadata that places it in time; the observation's tool_frames holds the latest images and clip
frames in call order; the dialogue marks each clip as <video: N frames, a-bs>; the budget charges
the clip's video tokens; and the Qwen chat conversion carries every clip with its metadata.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import videostar_env
from videostar_env import ABLATIONS, ToolResult, VideoToolEnv, tool_call
from videostar_env.clients.tokens import TokenMeter, make_encoder
from videostar_env.video.decode import decode, decode_indices

SIZE = (112, 144)


class Snapshot:
    """A test tool returning one image: the episode's first frame, inverted."""

    name = "snapshot"
    description = "One image."
    parameters = {"type": "object", "properties": {}}
    cacheable = False

    def __call__(self, ctx):
        return ToolResult("one image", [255 - ctx.clip.frames[0]])


def make_env(root, **overrides):
    return VideoToolEnv(dataset="folder", dataset_kwargs={"root": str(root)}, tools=["video_clip", Snapshot()],
                        frame_size=SIZE, num_frames=8, tool_cache=None, reward=ABLATIONS["no_sub"], **overrides)


def run_episode(env):
    obs, info = env.reset(options={"index": 0})
    turn = (tool_call("video_clip", start=1.25, end=2.75, fps=2.5) + "\n" + tool_call("snapshot") + "\n"
            + tool_call("video_clip", start=4.1, end=4.9, frames=3, region=[20, 10, 220, 200]))
    return env.step(turn)


def processor_inputs(processor, info, tensors):
    """The episode's chat (with its generation prompt) through a Qwen processor, on the env's own frames; and the chat."""
    from videostar_agents.messages import qwen_chat

    chat = qwen_chat(info["messages"])
    text = processor.apply_chat_template(chat.messages, tokenize=False, add_generation_prompt=True)
    return processor(text=[text], images=chat.images, videos=chat.videos, video_metadata=chat.video_metadata,
                     do_sample_frames=False, return_tensors=tensors), chat


def test_video_clip_env_episode_with_two_clips_and_one_image_has_the_right_messages(written_folder):
    env = make_env(written_folder)
    obs, _, terminated, _, info = run_episode(env)
    assert not terminated
    source = info["video"]
    tools = [m for m in info["messages"] if m["role"] == "tool"]
    assert [m["name"] for m in tools] == ["video_clip", "snapshot", "video_clip"]
    first, image, second = tools
    assert [p["type"] for p in first["content"]] == ["video", "text"]
    assert [p["type"] for p in image["content"]] == ["image", "text"]
    assert [p["type"] for p in second["content"]] == ["video", "text"]
    for message, (start, end, count) in ((first, (1.25, 2.75, 4)), (second, (4.1, 4.9, 3))):
        video = message["content"][0]
        expected = decode(source, count, SIZE, window=(start, end))
        assert video["frame_indices"] == list(expected.indices) and video["fps"] == expected.fps
        assert video["timestamps"] == list(expected.timestamps) and video["total_num_frames"] == expected.total_frames
        assert video["video"].shape == (count, *SIZE, 3)
    frames = decode_indices(source, decode(source, 4, SIZE, window=(1.25, 2.75)).indices, SIZE).frames
    assert np.array_equal(first["content"][0]["video"], frames)
    # The dialogue marks each clip where the tool's images are marked.
    t1, t2 = first["content"][0]["timestamps"], second["content"][0]["timestamps"]
    assert f"[tool video_clip]\n<video: 4 frames, {t1[0]:.1f}s-{t1[-1]:.1f}s>\nA video of 4 frames" in obs["dialogue"]
    assert "[tool snapshot]\n<image>\none image" in obs["dialogue"]
    assert f"<video: 3 frames, {t2[0]:.1f}s-{t2[-1]:.1f}s>" in obs["dialogue"]
    assert [r["ok"] for r in info["tool_results"]] == [True, True, True]
    env.close()


def test_video_clip_env_observation_holds_the_latest_images_and_clip_frames_in_call_order(written_folder):
    env = make_env(written_folder, max_tool_frames=6)
    obs, _, _, _, info = run_episode(env)
    tools = [m for m in info["messages"] if m["role"] == "tool"]
    returned = [*tools[0]["content"][0]["video"], tools[1]["content"][0]["image"], *tools[2]["content"][0]["video"]]
    assert len(returned) == 8 and obs["num_tool_frames"] == 6
    assert np.array_equal(obs["tool_frames"], np.stack(returned[-6:]))
    assert env.observation_space.contains(obs)
    env.close()


def test_video_clip_env_charges_the_clips_video_tokens_to_the_budget(written_folder):
    env = make_env(written_folder, token_budget=20000)
    obs, _, _, _, info = run_episode(env)
    meter = TokenMeter(make_encoder("qwen"))
    records = env._episode.calls
    replies = sum(meter.tool_reply(r.text, r.images, r.videos) for r in records)
    turn = [m for m in info["messages"] if m["role"] == "assistant"][-1]["content"][0]["text"]
    assert info["tokens_left"] == 20000 - meter.turn("assistant", turn) - replies
    assert replies > sum(meter.tool_reply(r.text, r.images) for r in records) + 2 * 4 * 20  # the clips cost tokens
    env.close()


@pytest.mark.parametrize("env_id", sorted(videostar_env.ENV_IDS))
def test_video_clip_works_in_every_registered_hermes_env_and_keeps_check_env_passing(env_id):
    if videostar_env.ENV_IDS[env_id].get("action_format") == "videostar":
        # The two-turn format's first turn is a yes/no tag per paper tool, without arguments: refused when made.
        with pytest.raises(ValueError, match=r"tools \['video_clip'\] cannot be chosen in the videostar action "
                                             r"format .* use action_format='hermes'"):
            gym.make(env_id, tools=["video_clip"])
        return
    env = gym.make(env_id, tools=["video_clip"], render_mode="rgb_array").unwrapped
    check_env(env)
    obs, info = env.reset(seed=0)
    low, high = info["window"] or (0.0, info["total_frames"] / info["fps"])
    turn = tool_call("video_clip", start=round(low + 0.1, 2), end=round(min(high, low + 1.3), 2), frames=4)
    obs, _, _, _, info = env.step(turn)
    assert info["tool_results"][-1]["ok"], info["tool_results"][-1]["text"]
    assert obs["num_tool_frames"] == 4 and env.observation_space.contains(obs)
    assert env.render().ndim == 3
    env.close()


def test_video_clip_env_messages_convert_to_qwen_chat_with_every_clips_metadata(written_folder):
    from videostar_agents.messages import openai_messages, qwen_chat

    env = make_env(written_folder)
    _, _, _, _, info = run_episode(env)
    chat = qwen_chat(info["messages"])
    tools = [m for m in info["messages"] if m["role"] == "tool"]
    clips = [tools[0]["content"][0], tools[2]["content"][0]]
    assert len(chat.videos) == 3 and len(chat.images) == 1  # the prompt's video, then the two clips in order
    for metadata, frames, part in zip(chat.video_metadata[1:], chat.videos[1:], clips):
        # total_num_frames: the source frames the clip was drawn from (its window's), as qwen-vl-utils counts them
        assert metadata == {"fps": part["fps"], "total_num_frames": part["span_frames"],
                            "frames_indices": part["frame_indices"]}
        assert part["total_num_frames"] == 80 > part["span_frames"]
        assert np.array_equal(frames, part["video"])
    reply = chat.messages[-1]  # the three tool replies share one user turn: video, image, video, each before its text
    assert reply["role"] == "user"
    assert [p["type"] for p in reply["content"]] == ["video", "text", "text", "image", "text", "text", "video", "text"]
    api = openai_messages(info["messages"])[-1]["content"]
    assert sum(p["type"] == "image_url" for p in api) == 4 + 1 + 3
    env.close()


def test_video_clip_token_estimate_equals_the_qwen25_vl_processors_video_tokens(written_folder, tmp_path):
    from transformers import AutoTokenizer, Qwen2_5_VLProcessor, Qwen2VLImageProcessor

    from videostar_env.clients.tokens import video_tokens
    from test_video_clip import qwen_video_processor
    from videostar_trainers.tiny_models import build_tiny_qwen

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_qwen(tmp_path / "qwen2.5-vl"))
    # The processors' default pixel ranges, which the env's estimate follows (the tiny model's own are smaller),
    # given explicitly (tiny_qwen rewrites the classes' defaults in transformers 5.10.4).
    image_processor = Qwen2VLImageProcessor(size={"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280})
    processor = Qwen2_5_VLProcessor(image_processor=image_processor, video_processor=qwen_video_processor(),
                                    tokenizer=tokenizer, chat_template=tokenizer.chat_template)
    env = make_env(written_folder)
    _, _, _, _, info = run_episode(env)
    inputs, chat = processor_inputs(processor, info, "np")
    grids = inputs["video_grid_thw"]
    assert len(grids) == 3  # the prompt's video, then each clip in placeholder order
    for grid, frames in zip(grids, chat.videos):
        assert int(grid[0]) == -(-len(frames) // 2)  # two frames a temporal patch
        assert int(np.prod(grid)) // 4 + 2 == video_tokens(*frames.shape[:3])
    video_pad = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert int((inputs["input_ids"][0] == video_pad).sum()) == sum(int(np.prod(g)) // 4 for g in grids)
    env.close()


def test_video_clip_qwen25_vl_second_per_grid_follows_each_clips_own_frame_spacing(written_folder, tmp_path):
    from transformers import AutoProcessor

    from videostar_trainers.tiny_models import build_tiny_qwen

    processor = AutoProcessor.from_pretrained(build_tiny_qwen(tmp_path / "qwen2.5-vl"))
    env = make_env(written_folder)
    _, _, _, _, info = run_episode(env)
    inputs, _ = processor_inputs(processor, info, "pt")
    parts = [p for m in info["messages"] for p in m["content"] if p["type"] == "video"]
    seconds = inputs["second_per_grid_ts"].tolist()
    assert len(seconds) == len(parts) == 3
    for spacing, part in zip(seconds, parts):
        times = part["timestamps"]
        # Two frames a temporal patch: a grid step spans two of the clip's own frame intervals (the sampler's
        # segment, span / frames), within a source frame of its timestamps' mean spacing.
        step = part["span_frames"] / part["fps"] / len(times)
        assert spacing == pytest.approx(2 * step, rel=1e-5)
        assert abs(step - (times[-1] - times[0]) / (len(times) - 1)) <= 1 / part["fps"]
    # The clips are denser than the prompt's frames (taking the whole video's length, as the source's
    # total_num_frames would, gives 3.2 s and 4.3 s: later than the prompt's 1.6 s, not earlier).
    assert seconds == pytest.approx([1.6, 2 * 20 / 12.5 / 4, 2 * 11 / 12.5 / 3])  # 20 and 11 source frames
    env.close()


def test_video_clip_bench_record_keeps_the_prompt_strip_and_a_strip_per_returned_clip(written_folder):
    from videostar_env import answer
    from videostar_env.jobs.bench.record import episode_record

    env = make_env(written_folder)
    run_episode(env)
    *_, info = env.step(answer("drum", [("Right arm", "beats down")]))
    row, media = episode_record("k/0", "p", 0, 0, 0, info, 0, False, 1.0, {})
    turns = row["trajectory"]
    prompt = next(t for t in turns if t.get("video") and t["role"] == "user")
    clips = [t for t in turns if t["role"] == "tool" and t.get("video")]
    assert prompt["video"] == "media/k-0-frames.jpg" and len(prompt["timestamps"]) == 8
    assert [len(t["timestamps"]) for t in clips] == [4, 3] and len({t["video"] for t in clips}) == 2
    assert {prompt["video"], *(t["video"] for t in clips)} <= set(media)
    assert next(t for t in turns if t.get("name") == "snapshot")["num_images"] == 1
    env.close()


def test_video_clip_returns_reach_the_qwen_vl_agents_inputs_in_placeholder_order(written_folder, tmp_path):
    from videostar_agents import make_agent
    from videostar_trainers.tiny_models import build_tiny_qwen

    agent = make_agent("qwen-vl", model=str(build_tiny_qwen(tmp_path / "qwen")), device="cpu", max_new_tokens=4)
    env = make_env(written_folder)
    obs, _, _, _, info = run_episode(env)
    agent.reset(seed=0)
    assert isinstance(agent.act(obs, info), str)
    inputs = agent.last_inputs
    assert [int(g[0]) for g in inputs["video_grid_thw"]] == [4, 2, 2]  # 8 frames, then the clips' 4 and 3, in pairs
    assert int(inputs["image_grid_thw"].shape[0]) == 1
    prompt = agent.processor.tokenizer.decode(inputs["input_ids"][0])
    pads = int(inputs["video_grid_thw"].prod(dim=1).sum()) // 4
    assert prompt.count("<|video_pad|>") == pads and prompt.count("<|vision_start|><|video_pad|>") == 3
    env.close()
