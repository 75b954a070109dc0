"""`videostar sft-data`: teacher chains through the env, assessed by rules and a judge, written as SFT rows."""

import json

import numpy as np
import pytest

import pandas as pd

from servers import Reply, StubServer
from videostar_env import answer, tool_call
from videostar_env.cli.main import main
from videostar_env.datasets import SyntheticDataset
from videostar_trainers.sft import stage_problem


def completion(text):
    return Reply(200, {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]})


def chain(label, other="clap", best=None):
    best = best or label
    return answer(label, [("Right arm", "swings side to side")],
                  [(best, 0.9, "matches the arm swing"), (other if best == label else label, 0.3, "partly")])


def test_sft_data_keeps_consistent_correct_chains_and_explains_every_rejection(tmp_path):
    labels = [SyntheticDataset(split="base")[i].label for i in range(5)]
    wrong = next(c for c in ("clap", "wave") if c != labels[2])
    no_stage_3 = chain(labels[3]).split("[3]")[0] + f"</think>\n<answer>{labels[3]}</answer>"
    teacher_script = [tool_call("pose_estimation"), chain(labels[0]),   # kept
                      tool_call("pose_estimation"), chain(labels[1]),   # the judge finds it inconsistent
                      tool_call("pose_estimation"), chain(wrong),       # wrong final answer
                      no_stage_3,                                       # stage [3] missing
                      tool_call("pose_estimation"), chain(labels[4])]   # the judge's reply is unreadable
    judge_script = ['{"consistent": true, "reason": "fine"}',
                    '{"consistent": false, "reason": "step 2 names a candidate step 1 does not support"}',
                    "I think it is probably fine?"]
    out = tmp_path / "sft.parquet"
    with StubServer() as teacher, StubServer() as judge:
        teacher.script = [completion(t) for t in teacher_script]
        judge.script = [completion(j) for j in judge_script]
        assert main(["sft-data", "--dataset", "synthetic", "--split", "base", "--limit", "5", "--out", str(out),
                     "--teacher-url", teacher.url + "/v1", "--judge-url", judge.url + "/v1"]) == 0
    report = json.loads((tmp_path / "sft.parquet.report.json").read_text())
    assert report["kept"] == 1
    assert report["rejected"] == {"judge_inconsistent": 1, "wrong_answer": 1, "missing_stage": 1, "judge_unreadable": 1}
    details = {e["reason"]: e["detail"] for e in report["examples"]}
    assert "step 2 names a candidate" in details["judge_inconsistent"]
    assert f"answered {wrong!r}" in details["wrong_answer"] and "[3]" in details["missing_stage"]
    assert len(judge.requests) == 3  # only chains that passed the rules reach the judge
    rows = pd.read_parquet(out)
    assert len(rows) == 1 and rows.iloc[0]["label"] == labels[0]
    messages = list(rows.iloc[0]["messages"])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[1]["content"].startswith("<video>")
    assert messages[3]["content"].count("<image>") == len(rows.iloc[0]["images"]) > 0
    assert "<tool_response>" in messages[3]["content"] and "<answer>" in messages[4]["content"]
    assert rows.iloc[0]["images"][0]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"


def test_stage_rules():
    assert stage_problem(chain("wave"), "wave") is None
    assert stage_problem(chain("wave", best="clap"), "wave")[0] == "answer_not_best_scored"
    shuffled = chain("wave").replace("[2]", "[x]").replace("[3]", "[2]").replace("[x]", "[3]")
    assert stage_problem(shuffled, "wave")[0] == "stage_order"


def test_sft_rows_render_tool_results_as_the_policies_see_them():
    import gymnasium as gym

    from videostar_agents.messages import openai_messages
    from videostar_trainers.sft import sft_row

    env = gym.make("VideoSTAR-v0")
    env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call("pose_estimation") + tool_call("action_explanation"))
    row = sft_row(info)
    api = openai_messages(info["messages"])
    assert [m["role"] for m in row["messages"]] == [m["role"] for m in api] == ["system", "user", "assistant", "user"]
    tool_turn = row["messages"][-1]["content"]
    assert tool_turn.count("<tool_response>") == 2 and tool_turn.count("<image>") == len(row["images"])


STR_OPTIONS = {"num_scenes": 2, "questions_per_scene": 3}


def graph_reader_turns(index):
    """The graph-reader's turns on one VideoSTR-Tools-v0 episode (a tool call, then the graph answer)."""
    import gymnasium as gym

    from videostar_agents import make_agent

    env = gym.make("VideoSTR-Tools-v0", dataset_kwargs=STR_OPTIONS)
    agent = make_agent("graph-reader")
    observation, info = env.reset(seed=index, options={"index": index})
    turns = []
    while True:
        turns.append(agent.act(observation, info))
        observation, _, terminated, truncated, info = env.step(turns[-1])
        if terminated or truncated:
            assert info["reward"]["answer"] == 1.0
            return turns, info


def test_sft_data_for_spatiotemporal_questions_checks_the_graph_not_action_stages(tmp_path):
    import re

    good = graph_reader_turns(0)[0]                                      # object size: kept
    tool_1, final_1 = graph_reader_turns(1)[0]                          # closest object (a letter)
    truth_1 = re.search(r"<answer>(.*?)</answer>", final_1).group(1)
    wrong = next(o for o in "ABCD" if o != truth_1)
    tool_2, final_2 = graph_reader_turns(2)[0]                          # a distance, right; the graph says twice it
    graph = json.loads(re.search(r"<graph>(.*?)</graph>", final_2, re.DOTALL).group(1))
    for frame in graph["frames"]:
        for node in frame["nodes"]:
            node["position"] = [2 * v for v in node["position"]]
    stretched = re.sub(r"<graph>.*?</graph>", lambda _: f"<graph>{json.dumps(graph)}</graph>", final_2, flags=re.DOTALL)
    (_, final_3), info_3 = graph_reader_turns(3)                        # object size, right, but no graph
    no_graph = f"<think>It looks about that long.</think><answer>{info_3['answer']['text']}</answer>"
    teacher_script = [*good, tool_1, final_1.replace(f"<answer>{truth_1}</answer>", f"<answer>{wrong}</answer>"),
                      tool_2, stretched, no_graph]
    out = tmp_path / "str-sft.parquet"
    with StubServer() as teacher, StubServer() as judge:
        teacher.script = [completion(t) for t in teacher_script]
        judge.script = [completion('{"consistent": true, "reason": "the graph supports the answer"}')]
        assert main(["sft-data", "--env-id", "VideoSTR-Tools-v0", "--dataset", "scenes", "--dataset-options",
                     json.dumps(STR_OPTIONS), "--limit", "4", "--out", str(out), "--teacher-url", teacher.url + "/v1",
                     "--judge-url", judge.url + "/v1"]) == 0
    report = json.loads((tmp_path / "str-sft.parquet.report.json").read_text())
    assert report["kept"] == 1
    assert report["rejected"] == {"wrong_answer": 1, "answer_contradicts_graph": 1, "no_graph": 1}
    details = {e["reason"]: e["detail"] for e in report["examples"]}
    assert details["wrong_answer"] == f"answered {wrong!r}, the truth is {truth_1!r}"
    assert "its own graph implies" in details["answer_contradicts_graph"] and "<graph>" in details["no_graph"]
    # only the kept chain reached the judge, asked about spatio-temporal reasoning with the question
    assert len(judge.requests) == 1
    system, user = judge.requests[0]["body"]["messages"]
    assert "spatio-temporal" in system["content"] and "[1]" not in system["content"]
    assert user["content"].startswith("Question:\nWhat is the length") and "<graph>" in user["content"]
    rows = pd.read_parquet(out)
    assert len(rows) == 1 and rows.iloc[0]["task"] == "spatiotemporal" and "label" not in rows.columns
    assert {"type", "kind", "answer", "unit", "graph"} <= set(json.loads(rows.iloc[0]["ground_truth"]))
    messages = list(rows.iloc[0]["messages"])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[1]["content"].startswith("<video>") and "relation_graph" in messages[2]["content"]
    assert messages[3]["content"].count("<image>") == len(rows.iloc[0]["images"])
    assert "<graph>" in messages[4]["content"] and "<answer>" in messages[4]["content"]


def test_video_clip_sft_rows_list_the_prompts_video_then_each_clip_as_verls_reader_takes_them(tmp_path):
    import gymnasium as gym
    from verl.utils.dataset.vision_utils import process_video

    from videostar_trainers.sft import sft_row

    env = gym.make("VideoSTAR-v0", tools=["video_clip", "human_detection"])
    env.reset(seed=0, options={"index": 0})
    env.step(tool_call("video_clip", start=0.2, end=1.4, frames=4))
    *_, info = env.step(tool_call("video_clip", start=0.5, end=1.5, frames=3, region=[10, 20, 150, 140]))
    row = sft_row(info)
    assert "".join(m["content"] for m in row["messages"]).count("<video>") == len(row["videos"]) == 3
    prompt, *clips = row["videos"]
    assert prompt == {"video": info["video"], "nframes": info["num_frames"]}  # the synthetic videos are absolute
    parts = [p for m in info["messages"] if m["role"] == "tool" for p in m["content"] if p["type"] == "video"]
    for entry, part in zip(clips, parts):
        frames = process_video(entry)  # verl's reader (qwen-vl-utils): the exact frames, crop included
        count = len(part["video"])
        assert frames.shape[0] == count + count % 2  # padded to whole temporal patches with the last frame
        shown = frames[:count].permute(0, 2, 3, 1).numpy().astype(int)
        if shown.shape[1:3] == part["video"].shape[1:3]:
            assert np.abs(shown - part["video"]).max() <= 1
        # sample_fps / raw_fps spread the frames over the clip's window, as the RL loop's metadata does
        assert entry["raw_fps"] == part["fps"] and entry["sample_fps"] == pytest.approx(
            count * part["fps"] / part["span_frames"])
    env.close()


def test_sft_rows_of_an_episode_about_a_time_window_name_its_start_and_end(tmp_path):
    import gymnasium as gym

    from conftest import written_video
    from videostar_trainers.sft import sft_row

    manifest = tmp_path / "clips.jsonl"
    manifest.write_text(json.dumps({"video": str(written_video("drum.mp4")), "label": "drum",
                                    "label_space": ["drum", "swing"], "window": [1.5, 4.0]}) + "\n")
    env = gym.make("VideoSTAR-NoTools-v0", dataset="manifest", dataset_kwargs={"path": str(manifest)})
    env.reset(seed=0, options={"index": 0})
    *_, info = env.step(answer("drum", [("Right arm", "beats down")]))
    [prompt] = sft_row(info)["videos"]
    assert prompt == {"video": str(written_video("drum.mp4")), "nframes": info["num_frames"], "video_start": 1.5,
                      "video_end": 4.0}
    env.close()
