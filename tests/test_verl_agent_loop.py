"""trainers/agent_loop.py inside verl: instantiated from the YAML as verl does, against a stand-in server manager."""

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

verl = pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")

import hydra  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl.experimental.agent_loop.agent_loop import DictConfigWrap, ToolListWrap  # noqa: E402
from verl.workers.rollout.replica import TokenOutput  # noqa: E402

from videostar_env import answer, tool_call  # noqa: E402

YAML = Path(__file__).resolve().parents[1] / "trainers" / "config" / "agent_loop.yaml"
STR_OPTIONS = {"num_scenes": 2, "questions_per_scene": 3}  # six questions about two small scenes
STR_TERMS = {"format", "answer", "node", "edge", "length", "consistency", "total"}  # the spatiotemporal task's


class StandInServer:
    """Speaks verl's server-manager generate(): returns the scripted turns as tokens and records each request."""

    def __init__(self, tokenizer, turns):
        self.tokenizer, self.turns, self.requests = tokenizer, list(turns), []

    async def generate(self, request_id, *, prompt_ids, sampling_params, image_data=None, video_data=None, **kwargs):
        self.requests.append({"prompt_ids": list(prompt_ids), "images": len(image_data or []),
                              "videos": video_data})
        text = self.turns.pop(0)
        ids = self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        return TokenOutput(token_ids=ids, log_probs=[0.0] * len(ids))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoProcessor

    from tiny_qwen import build_tiny_qwen

    folder = build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))
    processor = AutoProcessor.from_pretrained(folder)
    return processor.tokenizer, processor


def make_loop(tiny, server, response_length=4096):
    tokenizer, processor = tiny
    config = OmegaConf.create({"actor_rollout_ref": {"rollout": {"prompt_length": 4096, "response_length": response_length}},
                               "data": {"apply_chat_template_kwargs": {}, "mm_processor_kwargs": {}}})
    entry = next(c for c in OmegaConf.load(YAML) if c.name == "videostar_agent")
    return hydra.utils.instantiate(entry, trainer_config=DictConfigWrap(config), server_manager=server,
                                   tokenizer=tokenizer, processor=processor, hf_model_type="qwen2_5_vl",
                                   dataset_cls=None, data_config=DictConfigWrap(config.data), tools=ToolListWrap([]))


def play(tiny, server, extra_info, sampling_params=None, response_length=4096):
    """Build the loop inside a running event loop (as verl's worker does) and run one sample."""
    async def main():
        loop = make_loop(tiny, server, response_length)
        return await loop.run(sampling_params or {}, extra_info=extra_info, raw_prompt=[])

    return asyncio.run(main())


def runs(mask):
    """The mask as (value, length) runs."""
    out = []
    for v in mask:
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return [tuple(r) for r in out]


def test_a_multi_turn_episode_with_a_tool_call(tiny):
    tokenizer, _ = tiny
    final = answer("wave", [("Right arm", "swings from side to side")])
    server = StandInServer(tokenizer, [tool_call("pose_estimation"), final])
    output = play(tiny, server, {"sample_index": 0, "seed": 3}, {"temperature": 1.0})
    # mask: the tool call (1), the env's tool message (0), the answer (1)
    assert [v for v, _ in runs(output.response_mask)] == [1, 0, 1]
    first, tool, second = (n for _, n in runs(output.response_mask))
    assert len(output.response_ids) == len(output.response_mask) == first + tool + second
    response = tokenizer.decode(output.response_ids)
    assert "<tool_response>" in tokenizer.decode(output.response_ids[first:first + tool])
    assert response.count("<tool_call>") == 1 and "<answer>wave</answer>" in response
    # the prompt holds the video; the second request also the pose overlays, and extends the first
    video_pad = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert output.prompt_ids.count(video_pad) > 0
    assert server.requests[1]["prompt_ids"][:len(server.requests[0]["prompt_ids"])] == server.requests[0]["prompt_ids"]
    assert server.requests[0]["images"] == 0 and server.requests[1]["images"] > 0
    frames, metadata = server.requests[0]["videos"][0]
    assert frames.shape == (16, 128, 128, 3) and set(metadata) == {"fps", "total_num_frames", "frames_indices"}
    # the env's reward and its breakdown
    info = output.extra_fields["reward_extra_info"]
    assert output.reward_score == info["total"] and info["accuracy"] in (0.0, 1.0) and info["tool"] == 1.0
    assert output.extra_fields["tool_calls"] == 1 and output.extra_fields["env_ended"]
    assert info["tool_calls"] == 1.0 and info["env_turns"] == 1.0
    assert output.num_turns == 4 and output.metrics.generate_sequences >= 0


def test_the_response_budget_ends_the_episode_with_no_reward(tiny):
    tokenizer, _ = tiny
    server = StandInServer(tokenizer, [tool_call("pose_estimation")] * 5)
    output = play(tiny, server, {"sample_index": 1, "seed": 0}, response_length=40)
    assert len(output.response_ids) == len(output.response_mask) <= 40
    assert output.reward_score == 0.0 and not output.extra_fields["env_ended"]


def graph_reader_episode(env_id, index, seed):
    """The graph-reader agent's turns on one STR episode, and the episode's final info (what the env pays)."""
    import gymnasium as gym

    from videostar_agents import make_agent

    env = gym.make(env_id, dataset_kwargs=STR_OPTIONS)
    agent = make_agent("graph-reader")
    observation, info = env.reset(seed=seed, options={"index": index})
    turns = []
    while True:
        turns.append(agent.act(observation, info))
        observation, _, terminated, truncated, info = env.step(turns[-1])
        if terminated or truncated:
            env.close()
            return turns, info


def str_row(env_id, index, seed=0):
    """The extra_info of a `videostar verl-data` row of an STR env (the loop's YAML names VideoSTAR-v0)."""
    return {"env_id": env_id, "task": "spatiotemporal", "dataset": "scenes", "dataset_kwargs": json.dumps(STR_OPTIONS),
            "sample_index": index, "seed": seed}


def test_a_spatiotemporal_episode_pays_the_tasks_reward_and_breakdown(tiny):
    from videostar_env.tasks import SpatioTemporal

    assert set(SpatioTemporal().zero_reward()) == STR_TERMS
    tokenizer, _ = tiny
    turns, expected = graph_reader_episode("VideoSTR-Tools-v0", 2, 0)  # a distance question
    assert len(turns) == 2 and "<tool_call>" in turns[0] and "<graph>" in turns[1]
    server = StandInServer(tokenizer, turns)
    output = play(tiny, server, str_row("VideoSTR-Tools-v0", 2), {"temperature": 1.0})
    # the row's env was made (not the YAML's VideoSTAR-v0): its frames, its sample, one tool call then the graph answer
    frames, _ = server.requests[0]["videos"][0]
    assert frames.shape == (16, 192, 256, 3) and output.extra_fields["sample_id"] == expected["sample_id"]
    assert [v for v, _ in runs(output.response_mask)] == [1, 0, 1]
    response = tokenizer.decode(output.response_ids)
    assert response.count("<tool_call>") == 1 and "relation_graph" in response and "<graph>" in response
    # the reward is the spatiotemporal task's: its terms, as the env pays them for the same turns
    info = output.extra_fields["reward_extra_info"]
    assert set(info) == STR_TERMS | {"tool_calls", "env_turns"}
    assert {k: info[k] for k in STR_TERMS} == expected["reward"]
    assert output.reward_score == info["total"] == expected["reward"]["total"]
    assert info["answer"] == info["format"] == info["node"] == info["edge"] == 1.0
    assert output.extra_fields["env_ended"] and info["tool_calls"] == 1.0 and info["env_turns"] == 1.0


def test_an_unfinished_spatiotemporal_episode_reports_the_tasks_terms_at_zero(tiny):
    tokenizer, _ = tiny
    server = StandInServer(tokenizer, [tool_call("object_detection")] * 5)
    output = play(tiny, server, str_row("VideoSTR-Tools-v0", 0), response_length=40)
    info = output.extra_fields["reward_extra_info"]
    assert not output.extra_fields["env_ended"] and output.reward_score == 0.0
    assert set(info) == STR_TERMS | {"tool_calls", "env_turns"} and not any(info[k] for k in STR_TERMS)


def test_grpo_advantages_from_env_rewards():
    import torch
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    rewards = [4.0, 1.0, 3.5, 0.0]  # one GRPO group of 4 rollouts of the same video, as the env pays them
    length = 5
    scores = torch.zeros(4, length)
    scores[:, -1] = torch.tensor(rewards)
    mask = torch.ones(4, length)
    advantages, returns = compute_grpo_outcome_advantage(scores, mask, np.array(["v0"] * 4))
    expected = (torch.tensor(rewards) - torch.tensor(rewards).mean()) / (torch.tensor(rewards).std() + 1e-6)
    assert torch.allclose(advantages[:, 0], expected, atol=1e-5)
    assert torch.allclose(advantages, expected[:, None].expand(4, length), atol=1e-5)


def test_verl_data_parquet_loads_in_rlhf_dataset_and_drives_the_loop(tiny, tmp_path):
    import pandas as pd
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from videostar_env.cli import main

    path = tmp_path / "train.parquet"
    assert main(["verl-data", "--dataset", "synthetic", "--split", "novel", "--limit", "4", "--seed", "7",
                 "--out", str(path)]) == 0
    frame = pd.read_parquet(path)
    assert len(frame) == 4 and set(frame["agent_name"]) == {"videostar_agent"}
    tokenizer, processor = tiny
    # verl's length filter forks a datasets process pool, which can deadlock in a test process that
    # already runs threads; the same measurement is made below through verl's own video reader.
    config = OmegaConf.create({"prompt_key": "prompt", "video_key": "videos", "max_prompt_length": 8192,
                               "filter_overlong_prompts": False, "cache_dir": str(tmp_path / "cache")})
    dataset = RLHFDataset(str(path), tokenizer, config, processor)
    assert len(dataset) == 4
    row = dataset[2]
    images, videos = asyncio.run(RLHFDataset.process_vision_info(row["raw_prompt"], 14, config))
    text = processor.apply_chat_template(row["raw_prompt"], add_generation_prompt=True, tokenize=False)
    frames, metadata = zip(*videos)
    inputs = processor(text=[text], videos=list(frames), video_metadata=list(metadata), do_sample_frames=False,
                       return_tensors="pt")
    assert frames[0].shape[0] == 16 and inputs["input_ids"].shape[1] < config.max_prompt_length
    assert row["agent_name"] == "videostar_agent" and row["extra_info"]["seed"] == 9
    assert [p["type"] for p in row["raw_prompt"][1]["content"]][:2] == ["video", "text"]
    assert row["reward_model"]["ground_truth"] in row["extra_info"]["candidates"]
    assert row["extra_info"]["env_id"] == "VideoSTAR-v0" and row["extra_info"]["task"] == "action_recognition"
    # the loop replays that row's sample from the dataset the row names
    final = answer(row["reward_model"]["ground_truth"], [("Body", "moves")])
    output = play(tiny, StandInServer(tokenizer, [final]), row["extra_info"])
    assert output.extra_fields["sample_id"] == row["extra_info"]["sample_id"]
    assert output.extra_fields["reward_extra_info"]["accuracy"] == 1.0


def test_verl_data_for_spatiotemporal_questions_loads_in_rlhf_dataset_and_drives_the_loop(tiny, tmp_path):
    import pandas as pd
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from videostar_env.cli import main
    from videostar_trainers.reward import compute_score

    path = tmp_path / "str.parquet"
    assert main(["verl-data", "--env-id", "VideoSTR-v0", "--dataset", "scenes", "--dataset-options",
                 json.dumps(STR_OPTIONS), "--out", str(path)]) == 0
    frame = pd.read_parquet(path)
    assert len(frame) == 6 and set(frame["ability"]) == {"spatiotemporal"}
    assert set(frame["agent_name"]) == {"videostar_agent"} and set(frame["data_source"]) == {"videostar/scenes"}
    tokenizer, processor = tiny
    config = OmegaConf.create({"prompt_key": "prompt", "video_key": "videos", "max_prompt_length": 8192,
                               "filter_overlong_prompts": False, "cache_dir": str(tmp_path / "cache")})
    dataset = RLHFDataset(str(path), tokenizer, config, processor)
    assert len(dataset) == 6
    row = dataset[1]
    images, videos = asyncio.run(RLHFDataset.process_vision_info(row["raw_prompt"], 14, config))
    text = processor.apply_chat_template(row["raw_prompt"], add_generation_prompt=True, tokenize=False)
    frames, metadata = zip(*videos)
    inputs = processor(text=[text], videos=list(frames), video_metadata=list(metadata), do_sample_frames=False,
                       return_tensors="pt")
    assert frames[0].shape[0] == 16 and inputs["input_ids"].shape[1] < config.max_prompt_length
    assert [p["type"] for p in row["raw_prompt"][1]["content"]][:2] == ["video", "text"]
    extra = row["extra_info"]
    assert extra["env_id"] == "VideoSTR-v0" and extra["task"] == "spatiotemporal" and extra["dataset"] == "scenes"
    assert "definition" not in extra and "aliases" not in extra  # action-recognition fields stay with that task
    # the truth (answer and true graph) and the question travel as JSON, so the reward needs no env
    truth, question = json.loads(row["reward_model"]["ground_truth"]), json.loads(extra["question"])
    assert {"type", "kind", "answer", "unit", "graph"} <= set(truth) and truth["answer"] == question["answer"]
    assert question["text"] in row["raw_prompt"][1]["content"][1]["text"]
    # the loop replays that row's sample in VideoSTR-v0; the true graph and answer earn the full reward
    final = (f"<think>\n<graph>{json.dumps(truth['graph'])}</graph>\nRead from the graph.\n</think>\n"
             f"<answer>{truth['answer']}</answer>")
    server = StandInServer(tokenizer, [final])
    output = play(tiny, server, extra)
    assert server.requests[0]["videos"][0][0].shape == (16, 192, 256, 3)
    assert output.extra_fields["sample_id"] == extra["sample_id"] and output.extra_fields["env_ended"]
    info = output.extra_fields["reward_extra_info"]
    assert set(info) == STR_TERMS | {"tool_calls", "env_turns"}
    assert info["format"] == info["answer"] == info["node"] == info["edge"] == 1.0
    # verl's custom reward, from the row alone, pays what the loop's env paid
    score = compute_score(row["data_source"], tokenizer.decode(output.response_ids, skip_special_tokens=True),
                          row["reward_model"]["ground_truth"], extra)
    assert score == {"score": output.reward_score, **{k: info[k] for k in STR_TERMS - {"total"}}}


def composed(ours, verls):
    """Our config composed on verl's (found through its search path), and verl's own."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(YAML.parent), version_base=None):
        config = compose(config_name=ours)
    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        base = compose(config_name=verls)
    return config, base


def assert_keys_exist(name, base):
    """Every key our config sets exists in verl's: a typo would silently add a key verl never reads."""
    ours = OmegaConf.to_container(OmegaConf.load(YAML.parent / f"{name}.yaml"))
    ours.pop("hydra"), ours.pop("defaults")

    def leaves(node, prefix=""):
        for k, v in node.items():
            yield from leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]

    for key in leaves(ours):
        parent, _, last = key.rpartition(".")
        assert last in OmegaConf.select(base, parent).keys(), key  # keys() lists required (???) ones too


def test_grpo_config_composes_on_verl_with_the_papers_settings():
    config, base = composed("videostar_grpo", "ppo_trainer")
    settings = {"algorithm.adv_estimator": "grpo", "actor_rollout_ref.rollout.n": 4,
                "actor_rollout_ref.actor.optim.lr": 5e-7, "data.train_batch_size": 8,
                "data.max_response_length": 4096, "trainer.total_training_steps": 600, "trainer.total_epochs": 1,
                "actor_rollout_ref.rollout.agent.default_agent_loop": "videostar_agent",
                "actor_rollout_ref.rollout.name": "vllm"}
    for key, value in settings.items():
        assert OmegaConf.select(config, key) == value, key
    assert_keys_exist("videostar_grpo", base)
    loops = OmegaConf.load(Path(config.actor_rollout_ref.rollout.agent.agent_loop_config_path))
    assert [c.name for c in loops] == ["videostar_agent"]


def test_sft_config_composes_on_verls_sft_trainer():
    config, base = composed("videostar_sft", "sft_trainer_engine")
    assert config.data.messages_key == "messages" and config.data.truncation == "error"
    assert_keys_exist("videostar_sft", base)
