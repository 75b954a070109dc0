"""Model policies: tiny random Qwen2.5-VL and LLaVA through transformers' Auto classes; OpenAI-compatible endpoints."""

import json

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_agents import make_agent
from videostar_agents.messages import openai_messages, qwen_chat
from videostar_agents.qwen_vl import frames_as_images, template_reasoning
from videostar_env import tool_call
from videostar_env.cli.main import main
from videostar_env.jobs.rollout import run_episode

from servers import Reply, StubServer

pytest.importorskip("transformers", reason="the qwen extra: pip install 'videostar-env[qwen]'")


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen

    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


@pytest.fixture(scope="module")
def qwen_agent(tiny_qwen):
    return make_agent("qwen-vl", model=str(tiny_qwen), device="cpu", max_new_tokens=16, temperature=1.0)


def token_count(agent, token):
    return int((agent.last_inputs["input_ids"] == agent.processor.tokenizer.convert_tokens_to_ids(token)).sum())


# -- the chat shapes -----------------------------------------------------------------------------

def test_tool_results_become_user_turns_with_images_then_tool_response_text():
    env = gym.make("VideoSTAR-v0")
    env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call("pose_estimation") + tool_call("action_explanation"))
    chat = qwen_chat(info["messages"])
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant", "user"]
    tool_turn = chat.messages[-1]["content"]
    assert tool_turn[0]["type"] == "image" and tool_turn[0]["image"] is chat.images[0]
    assert len(chat.images) == sum(p["type"] == "image" for p in tool_turn) > 0
    assert sum("<tool_response>" in p.get("text", "") for p in tool_turn) == 2  # both calls in one turn
    assert chat.videos[0].shape == (16, 128, 128, 3) and chat.messages[1]["content"][0]["video"][0] is chat.videos[0]
    assert chat.video_metadata[0] == {"fps": info["fps"], "total_num_frames": info["total_frames"],
                                      "frames_indices": info["frame_indices"]}
    api = openai_messages(info["messages"])
    assert isinstance(api[0]["content"], str) and isinstance(api[2]["content"], str)
    urls = [p for p in api[1]["content"] if p["type"] == "image_url"]
    assert len(urls) == 16 and urls[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_each_turns_chat_reuses_the_frames_copy_and_tool_images_of_the_earlier_ones():
    env = gym.make("VideoSTAR-v0")
    _, info = env.reset(seed=0)
    first = qwen_chat(info["messages"])
    _, _, _, _, info = env.step(tool_call("pose_estimation"))
    second, again = qwen_chat(info["messages"]), qwen_chat(info["messages"])
    assert second.videos[0] is first.videos[0] and second.videos[0].flags.writeable  # torch reads it without a warning
    assert second.images and all(a is b for a, b in zip(second.images, again.images))
    writable = [{**m, "content": [{**p, "video": np.array(p["video"])} if p["type"] == "video" else p
                                  for p in m["content"]]} for m in info["messages"]]
    assert qwen_chat(writable).videos[0] is not qwen_chat(writable).videos[0]  # an array that may change: copied


def test_a_tool_images_conversion_goes_with_the_image_even_when_pil_shares_its_memory():
    import gc

    from videostar_agents import messages

    gray = np.zeros((16, 16), np.uint8)  # PIL maps a grayscale array's memory instead of copying it
    gray.setflags(write=False)
    before = len(messages._pil_image)
    chat = qwen_chat([{"role": "tool", "content": [{"type": "image", "image": gray}, {"type": "text", "text": "ok"}]}])
    assert chat.images[0].mode == "L" and len(messages._pil_image) == before + 1
    del gray, chat
    gc.collect()
    assert len(messages._pil_image) == before  # held by nothing else: forgotten, not kept alive by its own image


# -- Qwen2.5-VL with transformers ------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ["VideoSTAR-v0", "VideoSTAR-TwoTurn-v0"])
def test_qwen_vl_plays_whole_episodes_in_both_formats(qwen_agent, env_id):
    env = gym.make(env_id, max_turns=2)
    result = run_episode(env, qwen_agent, seed=3)  # random weights: garbage text, handled by the env's parser
    assert result.turns == 2 and (result.truncated or result.answer is not None)
    inputs = qwen_agent.last_inputs
    grid = inputs["video_grid_thw"][0].tolist()
    assert grid[0] == 16 // 2  # all 16 env frames, two per temporal patch: none resampled
    assert token_count(qwen_agent, "<|video_pad|>") == grid[0] * grid[1] * grid[2] // 4
    _, info = env.reset(seed=3)
    sampled_fps = 16 / info["total_frames"] * info["fps"]
    assert float(inputs["second_per_grid_ts"][0]) == pytest.approx(2 / sampled_fps)  # true timing, not 24 fps


@pytest.mark.parametrize("env_id", ["VideoSTAR-v0", "VideoSTAR-TwoTurn-v0"])
def test_qwen_vl_sees_tool_images_after_a_tool_call(qwen_agent, env_id):
    env = gym.make(env_id)
    obs, info = env.reset(seed=5)
    qwen_agent.reset(seed=5)
    first = (tool_call("pose_estimation") if env_id == "VideoSTAR-v0"
             else videostar_env.tool_decisions(["pose_estimation"]))
    obs, _, _, _, info = env.step(first)  # a scripted first turn: random weights would rarely call a tool
    text = qwen_agent.act(obs, info)
    assert isinstance(text, str)
    inputs = qwen_agent.last_inputs
    images = int(inputs["image_grid_thw"].shape[0])
    assert images == sum(p["type"] == "image" for m in info["messages"] for p in m["content"]) > 0
    assert token_count(qwen_agent, "<|image_pad|>") == int(inputs["image_grid_thw"].prod(dim=1).sum()) // 4
    prompt = qwen_agent.processor.tokenizer.decode(inputs["input_ids"][0])
    assert prompt.index("<|video_pad|>") < prompt.index("<tool_response>") < prompt.rindex("<|im_start|>assistant")
    env.step(text)  # whatever the model wrote goes through the env's parser


def test_qwen_vl_batches_episodes(qwen_agent):
    envs = [gym.make("VideoSTAR-v0") for _ in range(2)]
    pairs = [env.reset(seed=s) for env, s in zip(envs, (1, 2))]
    texts = qwen_agent.act_batch([p[0] for p in pairs], [p[1] for p in pairs])
    assert len(texts) == 2 and qwen_agent.last_inputs["input_ids"].shape[0] == 2
    assert int(qwen_agent.last_inputs["video_grid_thw"].shape[0]) == 2


def test_bench_runs_the_qwen_vl_agent(tiny_qwen, tmp_path):
    out = tmp_path / "run"
    assert main(["bench", "--agent", "qwen-vl", "--model", str(tiny_qwen), "--agent-options",
                 '{"max_new_tokens": 8, "device": "cpu"}', "--episodes", "2", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["overall"]["episodes"] == 2


def test_max_pixels_alone_bounds_frames_and_tool_images(tiny_qwen):
    env = gym.make("VideoSTAR-v0", num_frames=4, frame_size=(128, 128))
    env.reset(seed=1)
    *_, info = env.step(tool_call("pose_estimation"))
    agent = make_agent("qwen-vl", model=str(tiny_qwen), device="cpu", max_pixels=56 * 56)
    inputs = agent.inputs([qwen_chat(info["messages"])])
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 4]]  # 56x56 pixels: 4x4 patches of 14 (128x128 unbounded)
    assert {tuple(g) for g in inputs["image_grid_thw"].tolist()} == {(1, 4, 4)}


def test_building_a_tiny_qwen_leaves_the_processor_classes_defaults_alone(tmp_path):
    """Pixel bounds given as min_pixels= / max_pixels= rewrite a Qwen2-VL processor class's defaults (transformers
    5.10): every processor made later in the process, another checkpoint's included, would start from them."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    from videostar_trainers.tiny_models import build_tiny_qwen

    before = [dict(cls().size) for cls in (Qwen2VLImageProcessor, Qwen2VLVideoProcessor)]
    build_tiny_qwen(tmp_path / "tiny")
    assert [dict(cls().size) for cls in (Qwen2VLImageProcessor, Qwen2VLVideoProcessor)] == before
    assert before[1]["longest_edge"] != 112 * 112  # the tiny checkpoint's own bound is its own


def test_qwen_vl_decodes_up_to_the_end_of_turn_and_names_its_reasoning_form(qwen_agent):
    tokenizer = qwen_agent.processor.tokenizer
    ids = tokenizer("<think>a</think><|video_pad|><|im_end|>junk<|endoftext|>")["input_ids"]
    assert qwen_agent.decode([ids]) == ["<think>a</think><|video_pad|>"]  # only end-of-turn and pad are dropped
    assert qwen_agent.reasoning == template_reasoning(qwen_agent.processor) == "paper"


# -- any image-text-to-text model: a processor without video frames ------------------------------------

@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


def test_frames_as_images_puts_the_frame_times_before_the_frames():
    env = gym.make("VideoSTAR-v0", num_frames=4, frame_size=(56, 56))
    _, info = env.reset(seed=1)
    chat = frames_as_images(qwen_chat(info["messages"]))
    assert not chat.videos and len(chat.images) == 4
    user = chat.messages[1]["content"]
    times = ", ".join(f"{t:.1f}s" for t in info["timestamps"])
    assert user[0] == {"type": "text", "text": f"The video, as 4 frames at {times}:"}
    assert [p["image"] for p in user[1:5]] == chat.images
    assert np.array_equal(chat.images[2], info["messages"][1]["content"][0]["video"][2])


def test_qwen_vl_loads_a_llava_through_the_auto_classes_and_plays_episodes(tiny_llava):
    agent = make_agent("qwen-vl", model=str(tiny_llava), device="cpu", max_new_tokens=8)
    assert type(agent.model).__name__ == "LlavaForConditionalGeneration" and agent.video_processor is None
    env = gym.make("VideoSTAR-v0", num_frames=4, frame_size=(56, 56))
    obs, info = env.reset(seed=5)
    obs, _, _, _, info = env.step(tool_call("pose_estimation"))  # scripted: random weights rarely call a tool
    env.step(agent.act(obs, info))
    tool_images = sum(p["type"] == "image" for m in info["messages"] for p in m["content"])
    assert int(agent.last_inputs["pixel_values"].shape[0]) == 4 + tool_images  # the frames, then the tool images
    prompt = agent.processor.tokenizer.decode(agent.last_inputs["input_ids"][0])
    assert prompt.count("<image>") == (4 + tool_images) * 4  # 2x2 patches per 28-pixel image
    assert "The video, as 4 frames at " + ", ".join(f"{t:.1f}s" for t in info["timestamps"]) in prompt
    assert agent.reasoning == "paper"
    result = run_episode(gym.make("VideoSTAR-TwoTurn-v0", num_frames=4, frame_size=(56, 56)), agent, seed=2)
    assert result.answer is not None or (result.truncated and result.turns == 3)


def test_pixel_bounds_on_a_processor_without_them_are_refused(tiny_llava):
    with pytest.raises(ValueError, match="min_pixels / max_pixels apply to Qwen-VL processors"):
        make_agent("qwen-vl", model=str(tiny_llava), device="cpu", max_pixels=64 * 64)


# -- OpenAI-compatible endpoints ----------------------------------------------------------------------

def _completion(message):
    return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "served",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message}}]}


def test_openai_agent_sends_frames_tools_and_tool_images():
    answer_text = videostar_env.answer("wave", [("Right arm", "waves")])
    with StubServer() as server:
        server.script = [
            Reply(200, _completion({"content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "pose_estimation", "arguments": "{}"}}]})),
            Reply(200, _completion({"content": answer_text})),
        ]
        agent = make_agent("openai", base_url=server.url + "/v1", model="served")
        env = gym.make("VideoSTAR-v0")
        result = run_episode(env, agent, seed=2)
    assert result.tool_calls == {"pose_estimation": 1} and result.answer == "wave"
    first, second = (r["body"] for r in server.requests)
    _, info = env.reset(seed=2)
    assert first["tools"] == info["tools"] and first["model"] == "served" and first["seed"] == 2000
    user = first["messages"][1]["content"]
    assert sum(p["type"] == "image_url" for p in user) == 16
    tool_turn = second["messages"][-1]
    assert tool_turn["role"] == "user" and any(p["type"] == "image_url" for p in tool_turn["content"])
    assert "<tool_response>" in tool_turn["content"][-1]["text"]
    assert '<tool_call>{"name": "pose_estimation"' in second["messages"][-2]["content"]


def test_openai_agent_in_the_two_turn_format_sends_no_tools():
    with StubServer(text=lambda prompt: "<pose_estimation>no</pose_estimation>") as server:
        agent = make_agent("openai", base_url=server.url + "/v1")
        env = gym.make("VideoSTAR-TwoTurn-v0")
        obs, info = env.reset(seed=1)
        agent.reset(seed=1)
        agent.act(obs, info)
    assert "tools" not in server.requests[0]["body"]


def test_openai_agent_failures_raise_after_retries():
    from videostar_env.tools import ToolError

    with StubServer() as server:
        server.script = [Reply(401, {"error": {"message": "bad key"}})]
        agent = make_agent("openai", base_url=server.url + "/v1", api_key="sk-test-secret")
        env = gym.make("VideoSTAR-v0")
        obs, info = env.reset(seed=1)
        with pytest.raises(ToolError, match="authentication failed") as failure:
            agent.act(obs, info)
    assert "sk-test-secret" not in str(failure.value) and len(server.requests) == 1


def test_bench_runs_the_openai_agent(tmp_path):
    with StubServer(text=lambda prompt: videostar_env.answer("wave", [("Right arm", "waves")])) as server:
        out = tmp_path / "run"
        assert main(["bench", "--agent", "openai", "--base-url", server.url + "/v1", "--episodes", "3",
                     "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["episodes"] == 3 and len(server.requests) == 3
    assert np.isclose(metrics["overall"]["reward"]["format"], 1.0)
