"""`videostar sft-data`: teacher chains through the env, assessed by rules and a judge, written as SFT rows."""

import json

import pandas as pd

from servers import Reply, StubServer
from videostar_env import answer, tool_call
from videostar_env.cli import main
from videostar_env.data import SyntheticDataset
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
