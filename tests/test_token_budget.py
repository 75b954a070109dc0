"""Token budgets: the env knows the policy's response tokens left, and a tool reply that would not fit is shortened
or refused with the numbers, never cut off mid-text and never the silent end of the episode."""

import json
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest

from videostar_env import EnvConfig, answer, tool_call
from videostar_env.cli.main import build_parser
from videostar_env.cli.options import env_spec
from videostar_env.clients.tokens import ReplyRoom, TokenMeter, image_tokens, make_encoder
from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.video.encode import write_video
from videostar_env.core.budget import answer_reserve
from videostar_env.core.secrets import is_secret_name, redact_secrets
from videostar_env.tools import Toolbox
from videostar_env.tools.toolbox import fit_reply

from conftest import shared_file

QWEN = TokenMeter(make_encoder("qwen"))


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    from videostar_trainers.tiny_models import build_tiny_qwen

    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


def qwen_image_processor():
    """Qwen2.5-VL's image processor at its default pixel range, given explicitly: in transformers 5.10.4, building
    one with min_pixels/max_pixels (as tiny_qwen does) rewrites the class's default `size` for later instances."""
    from transformers import Qwen2VLImageProcessor

    return Qwen2VLImageProcessor(size={"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280})


@pytest.fixture(scope="module")
def synthetic_box():
    """A toolbox and the tool context of the first synthetic video (14 candidate labels)."""
    dataset = SyntheticDataset()
    sample = dataset[0]
    box = Toolbox.build(["action_explanation", "pose_estimation"], tool_cache=None)
    ctx = box.context(sample, decode(sample.video, 16, (128, 128)), sample.label_space, dataset.knowledge)
    return box, ctx


# -- counting ------------------------------------------------------------------------------------

def test_the_qwen_bpe_counts_text_and_the_chatml_tokens_around_messages():
    assert QWEN.text("hello world") == 2
    # <|im_start|>, the role, "\n" before the text and <|im_end|>, "\n" after it: five tokens.
    for text in ("hello world", "<tool_call>\n{}\n</tool_call>"):
        assert QWEN.turn("assistant", text) == QWEN.text(text) + 5
    frame = np.zeros((128, 128, 3), np.uint8)
    assert QWEN.tool_reply("ok", [frame, frame]) == QWEN.tool_reply("ok") + 2 * image_tokens(128, 128)


@pytest.mark.parametrize("height, width", [(128, 128), (224, 224), (240, 320), (20, 30), (2000, 3000), (28, 1000)])
def test_image_tokens_are_what_the_qwen2_vl_image_processor_makes(height, width):
    grid = qwen_image_processor()(images=[np.zeros((height, width, 3), np.uint8)])["image_grid_thw"][0].tolist()
    merged = int(np.prod(grid)) // 4  # 2×2 patches merge into one token
    assert image_tokens(height, width) == merged + 2  # and <|vision_start|>, <|vision_end|>
    with pytest.raises(ValueError, match="at least 1×1"):
        image_tokens(0, 5)


def test_a_hugging_face_tokenizer_folder_or_any_encoder_counts_and_a_bad_one_is_named(tiny_qwen, tmp_path):
    from transformers import AutoTokenizer

    loaded = make_encoder(str(tiny_qwen))
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen)
    text = "<|im_start|>user\nwave your hand<|im_end|>\n"
    assert TokenMeter(loaded).text(text) == TokenMeter(tokenizer).text(text) == len(tokenizer(text)["input_ids"])
    assert make_encoder(tokenizer) is tokenizer  # an object with encode() is used as given
    with pytest.raises(ValueError, match="could not be loaded as a Hugging Face tokenizer"):
        make_encoder(str(tmp_path / "no-such-tokenizer"))
    with pytest.raises(TypeError, match="encode"):
        make_encoder(42)
    with pytest.raises(TypeError, match="EnvConfig.token_counter"):
        EnvConfig(token_counter=b"qwen")


def test_the_env_count_matches_the_real_chat_template_and_processor(tiny_qwen):
    from transformers import AutoTokenizer, Qwen2_5_VLProcessor, Qwen2VLVideoProcessor
    from videostar_agents.messages import qwen_chat

    from videostar_trainers.tiny_models import CHAT_TEMPLATE

    processor = Qwen2_5_VLProcessor(image_processor=qwen_image_processor(), video_processor=Qwen2VLVideoProcessor(),
                                    tokenizer=AutoTokenizer.from_pretrained(tiny_qwen), chat_template=CHAT_TEMPLATE)

    def tokens(messages):
        chat = qwen_chat(messages)
        text = processor.apply_chat_template(chat.messages, tokenize=False, add_generation_prompt=True)
        media = {"images": chat.images} if chat.images else {}
        return len(processor(text=[text], videos=chat.videos, video_metadata=chat.video_metadata,
                             do_sample_frames=False, **media)["input_ids"][0])

    env = gym.make("VideoSTAR-v0", token_budget=8000, token_counter=str(tiny_qwen)).unwrapped
    _, first = env.reset(seed=0)
    _, *_, info = env.step(tool_call("pose_estimation", max_images=3))
    _, *_, info = env.step(tool_call("action_explanation"))
    real = tokens(info["messages"]) - tokens(first["messages"])  # the response: policy turns and env replies
    counted = 8000 - info["tokens_left"]
    assert real <= counted <= real + 8, (real, counted)  # never fewer; a few more where tool turns share one


# -- fitting one reply -----------------------------------------------------------------------------

def test_action_explanation_keeps_the_labels_that_fit_in_candidate_order(synthetic_box):
    box, ctx = synthetic_box
    full = box.run("action_explanation", {}, ctx)
    needed = QWEN.tool_reply(full.text)
    room = ReplyRoom(needed // 2, needed // 2 + 512, QWEN)
    short = box.run("action_explanation", {}, ctx, room)
    assert short.ok and QWEN.tool_reply(short.text) <= needed // 2 and short.data == full.data  # the data stays whole
    labels = list(full.data["explanations"])
    assert labels == list(ctx.candidates)
    kept = [label for label in labels if full.data["explanations"][label] in short.text]
    assert 0 < len(kept) < len(labels) and kept == labels[:len(kept)]
    left_out = json.loads(re.search(r"Left out: (\[.*?\])\.", short.text).group(1))
    assert left_out == labels[len(kept):]
    assert f"{len(kept)} of {len(labels)} labels explained" in short.text and '"labels": [...]' in short.text
    # One label more would not have fitted: the tool keeps as many as fit.
    more_room = ReplyRoom(needed, needed + 512, QWEN)
    more = fit_reply(box.tools["action_explanation"], full, more_room.fits, more_room.refusal)
    assert more is full or more.text == full.text
    # Asked for fewer labels, the reply fits whole.
    few = box.run("action_explanation", {"labels": labels[:2]}, ctx, room)
    assert few.ok and "Shortened" not in few.text and few.text.count("\n") == 1


def test_a_reply_that_cannot_be_shortened_is_refused_with_its_token_count(synthetic_box):
    box, ctx = synthetic_box
    full = box.run("pose_estimation", {}, ctx)
    needed = QWEN.tool_reply(full.text, full.images)
    refused = box.run("pose_estimation", {}, ctx, ReplyRoom(100, 612, QWEN))
    assert not refused.ok and refused.images == [] and refused.data == full.data
    assert refused.text.startswith("Error:") and f"needs {needed} tokens" in refused.text
    assert "only 100 of the 612 tokens left" in refused.text and "give your answer now" in refused.text
    # Not even one explanation fits: refused too, never an empty or cut reply.
    tiny = box.run("action_explanation", {}, ctx, ReplyRoom(20, 532, QWEN))
    assert not tiny.ok and "needs" in tiny.text and "only 20 of the 532 tokens left" in tiny.text


# -- the env's budget ------------------------------------------------------------------------------

def test_info_counts_down_the_tokens_left_after_each_turn():
    env = gym.make("VideoSTAR-v0", token_budget=3000).unwrapped
    _, info = env.reset(seed=0)
    assert info["token_budget"] == info["tokens_left"] == 3000
    action = tool_call("pose_estimation", max_images=2)
    _, _, terminated, truncated, info = env.step(action)
    record = env._episode.calls[-1]
    spent = QWEN.turn("assistant", action) + QWEN.tool_reply(record.text, record.images)
    assert info["tokens_left"] == 3000 - spent and not terminated and not truncated
    before = info["tokens_left"]
    _, _, _, _, info = env.step("no idea yet")  # an invalid turn and the env's note about it count too
    assert info["tokens_left"] == before - QWEN.turn("assistant", "no idea yet") - QWEN.turn(
        "user", info["messages"][-1]["content"][0]["text"])
    unbounded = gym.make("VideoSTAR-v0")
    _, info = unbounded.reset(seed=0)
    assert info["token_budget"] is None and info["tokens_left"] is None


def test_a_reset_option_sets_the_budget_of_one_episode():
    env = gym.make("VideoSTAR-v0", token_budget=3000)
    assert env.reset(seed=0, options={"token_budget": 1500})[1]["tokens_left"] == 1500
    assert env.reset(seed=0)[1]["tokens_left"] == 3000
    assert env.reset(seed=0, options={"token_budget": None})[1]["tokens_left"] is None
    with pytest.raises(ValueError, match='reset option "token_budget" must be at least 1, got 0'):
        env.reset(options={"token_budget": 0})
    with pytest.raises(TypeError, match='reset option "token_budget" must be an integer'):
        env.reset(options={"token_budget": "4096"})


def test_a_driver_that_counts_its_tokens_tells_the_env_before_a_step():
    env = gym.make("VideoSTAR-v0", token_budget=4096).unwrapped
    env.reset(seed=0)
    env.set_tokens_left(1000)  # e.g. verl: response_length minus the response so far, this turn included
    _, _, terminated, truncated, info = env.step(tool_call("action_explanation"))
    record = env._episode.calls[-1]
    assert record.ok and "Shortened to fit your token budget" in record.text
    assert QWEN.tool_reply(record.text) <= 1000 - 512
    assert info["tokens_left"] == 1000 - QWEN.tool_reply(record.text) and not terminated and not truncated
    env.set_tokens_left(0)  # spent: the policy's turn was the last one
    _, reward, terminated, truncated, info = env.step("let me think")
    assert truncated and not terminated and reward == 0.0 and info["tokens_left"] == 0
    with pytest.raises(RuntimeError, match="reset"):
        env.set_tokens_left(100)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="integer"):
        env.set_tokens_left("100")


def test_an_answer_within_the_budget_is_scored_and_a_spent_budget_truncates():
    env = gym.make("VideoSTAR-v0", token_budget=600, answer_reserve=100)
    _, info = env.reset(seed=0)
    _, reward, terminated, _, info = env.step(answer(info["ground_truth"]["label"], [("Wrist", "up")]))
    assert terminated and reward > 0 and info["tokens_left"] > 0
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step("I keep thinking. " * 200)  # far over 600 tokens
    assert truncated and not terminated and reward == 0.0 and info["tokens_left"] == 0


def test_budget_settings_are_checked():
    with pytest.raises(ValueError, match="EnvConfig.token_budget must be at least 1"):
        EnvConfig(token_budget=0)
    with pytest.raises(TypeError, match="EnvConfig.token_budget must be an integer"):
        EnvConfig(token_budget=4096.0)
    with pytest.raises(ValueError, match="EnvConfig.answer_reserve must be at least 0"):
        EnvConfig(answer_reserve=-1)


def test_a_small_budget_keeps_at_most_half_of_it_for_the_answer():
    env = gym.make("VideoSTAR-v0", token_budget=400).unwrapped  # the default reserve, 512, would leave no room
    env.reset(seed=0)
    action = tool_call("pose_estimation")
    _, _, terminated, truncated, info = env.step(action)
    left = 400 - QWEN.turn("assistant", action)
    reply = info["tool_results"][-1]
    assert not reply["ok"] and f"only {left - 200} of the {left} tokens left" in reply["text"]
    assert not terminated and not truncated
    assert (answer_reserve(512, 400), answer_reserve(512, 4096), answer_reserve(512, None)) == (200, 512, 512)


def test_the_budget_is_no_secret_but_keys_and_tokens_still_are():
    assert "token_budget=4096" in repr(EnvConfig(token_budget=4096))
    for name in ("api_key", "apiKey", "hf_token", "access_tokens", "client_secret", "password", "x-api-key"):
        assert is_secret_name(name), name
    for name in ("token_budget", "token_counter", "num_keyframes", "model", 3):
        assert not is_secret_name(name), name
    assert redact_secrets({"hf_token": "hf_abc", "token_budget": 4096}) == {"hf_token": "***", "token_budget": 4096}


def test_the_command_line_sets_the_budget(tmp_path):
    args = build_parser().parse_args(["verl-data", "--out", str(tmp_path / "x.parquet"), "--token-budget", "4096"])
    assert env_spec(args)["token_budget"] == 4096
    args = build_parser().parse_args(["verl-data", "--out", str(tmp_path / "x.parquet")])
    assert "token_budget" not in env_spec(args)


# -- the acceptance case: Kinetics-600 split 1, 160 candidates, a 4,096-token response budget ---------------

@pytest.fixture(scope="module")
def k600(tmp_path_factory):
    """The shipped K600 split 1 annotations, with a small video written under the first row's name."""
    annotations = shared_file("video-star")
    rows = json.loads((annotations / "json_split/Kinetics-600-val/k600_split_1.json").read_text())
    root = tmp_path_factory.mktemp("k600")
    frames = np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    write_video(root / rows[0]["path"], frames, 8)
    return {"dataset": "videostar", "dataset_kwargs": {"dataset": "kinetics600", "protocol": "cross", "split": "1",
                                                       "annotations": str(annotations), "video_root": str(root)}}


def test_k600_explaining_every_candidate_is_shortened_and_the_episode_goes_on(k600):
    from videostar_benchmarks.tokens import count_split

    with warnings.catch_warnings():  # the other 7,275 videos are not here
        warnings.simplefilter("ignore", UserWarning)
        env = gym.make("VideoSTAR-v0", tools=["action_explanation"], token_budget=4096, **k600).unwrapped
    assert len(env.dataset) == 1
    _, info = env.reset(seed=0)
    labels = info["candidates"]
    assert len(labels) == 160 and info["tokens_left"] == 4096
    _, _, terminated, truncated, info = env.step(tool_call("action_explanation"))
    reply = info["tool_results"][-1]
    assert not terminated and not truncated and reply["ok"]
    assert QWEN.tool_reply("\n".join(reply["data"]["explanations"].values())) > 4096  # it could never fit whole
    left_out = json.loads(re.search(r"Left out: (\[.*?\])\.", reply["text"]).group(1))
    kept = labels[:160 - len(left_out)]
    assert left_out == list(labels[len(kept):]) and 100 < len(kept) < 160
    assert f"{len(kept)} of 160 labels explained" in reply["text"]
    assert all(reply["data"]["explanations"][label] in reply["text"] for label in kept)
    assert 512 <= info["tokens_left"] < 4096 - 3000  # the reply took the room, the answer's reserve is kept
    assert count_split(env.dataset, QWEN, 4096)["labels_kept"] == len(kept)  # the benchmark reports the same
    # The policy asks for some of the rest: told, with the numbers, that they do not fit; the episode goes on.
    _, _, terminated, truncated, info = env.step(tool_call("action_explanation", labels=left_out[:5]))
    reply = info["tool_results"][-1]
    assert not reply["ok"] and re.search(r"needs \d+ tokens, but only \d+ of the \d+ tokens left", reply["text"])
    assert not terminated and not truncated
    _, reward, terminated, _, info = env.step(answer(info["ground_truth"]["label"], [("Hand", "moves")]))
    assert terminated and info["reward"]["accuracy"] > 0 and reward > 0


def test_the_token_benchmark_counts_every_shipped_annotation_file(tmp_path, capsys):
    from videostar_benchmarks.tokens import main

    annotations = shared_file("video-star")
    assert main(["--annotations", str(annotations), "--out", str(tmp_path)]) == 0
    rows = {(r["dataset"], r["protocol"], r["split"]): r for r in json.loads((tmp_path / "tokens.json").read_text())}
    assert len(rows) == 18 and "| kinetics600 | cross | 1 | 160 |" in capsys.readouterr().out
    hmdb, ssv2 = rows["hmdb51", "base2novel", "test"], rows["ssv2", "base2novel", "test"]
    k600 = rows["kinetics600", "cross", "1"]
    assert (hmdb["candidates"], ssv2["candidates"], k600["candidates"]) == (25, 87, 160)
    assert hmdb["labels_kept"] == 25 and ssv2["labels_kept"] == 87 and k600["labels_kept"] < 160
    assert k600["explanation_reply"] > 4096 > ssv2["explanation_reply"] > hmdb["explanation_reply"]
    assert hmdb["user"] < k600["user"] and hmdb["system"] == k600["system"]  # one system prompt, longer candidate lists


def test_a_reply_is_encoded_once_however_often_its_room_is_asked():
    from videostar_env.clients.tokens import ReplyRoom, TokenMeter

    class Counting:
        calls = 0

        def encode(self, text):
            Counting.calls += 1
            return text.split()

    room = ReplyRoom(100, 200, TokenMeter(Counting()))
    image = np.zeros((56, 56, 3), np.uint8)
    cost = room.cost("a b c", [image])
    assert room.fits("a b c", [image]) == (cost <= 100) and room.cost("a b c", [image]) == cost
    assert Counting.calls == 1 and room.cost("a b c") < cost and Counting.calls == 2
