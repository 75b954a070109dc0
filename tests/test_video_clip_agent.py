"""The clip-reader agent: the video_clip tool decides its answers where the prompt's frames are too few.

With two prompt frames (num_frames=2) it calls pose estimation, action explanation, then one dense clip
of the episode's window inside that window, and its accuracy on the same seeded episodes is clearly
above its own accuracy without the tool; with the clip's frames frozen (the same timestamps, every
frame the first one) the gain is gone, so it comes from the clip's pixels. `videostar bench` with it
writes report.html with each returned clip's strip, and the table in docs/agents.md is what the bench measures.
"""

import base64
import copy
import io
import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image
from videostar_agents import make_agent
from videostar_agents.clip_reader import ClipReaderAgent

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.cli import main
from videostar_env.tools.clip import MAX_CLIP_FRAMES

AGENTS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "agents.md"
TOOLS = ["pose_estimation", "action_explanation"]
EPISODES = range(28)  # two videos of each of the 14 synthetic classes (dataset order: one class after another)
MARGIN = 0.15  # the least accuracy the clip must add on these episodes (measured: about 0.3)


def play(agent, tools, episodes=EPISODES, edit=None, num_frames=2):
    """Accuracy of `agent` on the given dataset indices; edit(info) may change what the agent reads."""
    env = gym.make("VideoSTAR-v0", num_frames=num_frames, tools=tools, dataset_kwargs={"per_class": 2}).unwrapped
    correct, infos = 0, []
    for index in episodes:
        obs, info = env.reset(seed=index, options={"index": index})
        agent.reset(seed=index)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, edit(info) if edit else info))
            done = terminated or truncated
        correct += info["reward"]["accuracy"] > 0
        infos.append(info)
    env.close()
    return correct / len(episodes), infos


def frozen(info):
    """info with each returned clip's frames replaced by its first frame (timestamps kept): a clip that shows nothing."""
    info = dict(info, messages=copy.copy(info["messages"]))
    for k, message in enumerate(info["messages"]):
        if message["role"] == "tool" and any(part["type"] == "video" for part in message["content"]):
            content = [dict(part) for part in message["content"]]
            for part in content:
                if part["type"] == "video":
                    part["video"] = np.repeat(part["video"][:1], len(part["video"]), axis=0)
            info["messages"][k] = dict(message, content=content)
    return info


@pytest.fixture(scope="module")
def scores():
    """Accuracy with the tool, without it, and with frozen clips, on the same episodes, and the infos with the tool."""
    with_clip, infos = play(ClipReaderAgent(), TOOLS + ["video_clip"])
    without, _ = play(ClipReaderAgent(), TOOLS)
    still, _ = play(ClipReaderAgent(), TOOLS + ["video_clip"], edit=frozen)
    return {"with": with_clip, "without": without, "frozen": still, "infos": infos}


def test_video_clip_agent_calls_the_tool_once_with_valid_arguments_inside_the_episode_window(scores):
    for info in scores["infos"]:
        calls = [r for r in info["tool_results"] if r["name"] == "video_clip"]
        assert len(calls) == 1 and calls[0]["ok"], calls
        args, data = calls[0]["arguments"], calls[0]["data"]
        low, high = info["window"] or (0.0, info["total_frames"] / info["fps"])
        assert low <= args["start"] < args["end"] <= high
        assert high - args["end"] < 0.01 and args["start"] - low < 0.01  # the whole window, rounded inwards
        assert 1 <= args["frames"] <= MAX_CLIP_FRAMES and data["frames"] == args["frames"] and not data["notes"]
        assert all(args["start"] <= t <= args["end"] for t in data["timestamps"])
        # Dense: more than the prompt's two frames, as many as the window has up to the tool's limit.
        assert args["frames"] == min(MAX_CLIP_FRAMES, round((args["end"] - args["start"]) * info["fps"]))


def test_video_clip_agent_scores_clearly_higher_with_the_tool_than_without_on_the_same_episodes(scores):
    assert scores["with"] >= scores["without"] + MARGIN, scores


def test_video_clip_agent_gain_comes_from_the_clips_frames(scores):
    # The same calls and timestamps with a clip whose frames never change: the tracks stand still and the gain is gone.
    assert scores["frozen"] <= scores["without"] + MARGIN and scores["with"] >= scores["frozen"] + MARGIN, scores


def test_video_clip_agent_without_the_tool_answers_as_the_heuristic_agent_does():
    episodes = range(0, 28, 3)
    ours, theirs = play(ClipReaderAgent(), TOOLS, episodes), play(make_agent("heuristic"), TOOLS, episodes)
    assert [i["messages"][-1]["content"] for i in ours[1]] == [i["messages"][-1]["content"] for i in theirs[1]]


def test_video_clip_agent_bench_report_holds_the_strip_of_each_returned_clip(tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "--agent", "clip-reader", "--num-frames", "2", "--tools",
                 "pose_estimation,action_explanation,video_clip", "--episodes", "2", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    report = (out / "report.html").read_text()
    strips = re.findall(r'<img alt="returned clip" src="data:image/jpeg;base64,([^"]+)">', report)
    assert len(rows) == 2 and len(strips) == 2
    for row in rows:
        turn = next(t for t in row["trajectory"] if t.get("name") == "video_clip")
        count = len(turn["timestamps"])
        assert turn["video"].startswith("media/") and count > 8 and f"A video of {count} frames" in turn["text"]
        strip = (out / turn["video"]).read_bytes()
        assert base64.b64encode(strip).decode() in strips  # the report shows that very file
        assert Image.open(io.BytesIO(strip)).size == (8 * 96, -(-count // 8) * 96)  # every frame: rows of 8 tiles


ROW = re.compile(r"^\| (\d+) \| `([\w,]+)` \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$")


def table_rows() -> list[tuple[str, ...]]:
    """(prompt frames, tools, accuracy, mean reward, tool calls / episode) as docs/agents.md's clip table has them."""
    section = AGENTS_PAGE.read_text().split("## Looking again with `video_clip`", 1)[1].split("\n## ", 1)[0]
    return [m.groups() for line in section.splitlines() if (m := ROW.match(line))]


def test_video_clip_agent_docs_table_is_what_the_bench_measures(tmp_path):
    rows = table_rows()
    assert {(frames, "video_clip" in tools) for frames, tools, *_ in rows} == {
        ("2", True), ("2", False), ("16", True), ("16", False)}
    for k, (frames, tools, accuracy, reward, calls) in enumerate(rows):
        out = tmp_path / str(k)
        assert main(["bench", "--agent", "clip-reader", "--num-frames", frames, "--tools", tools,
                     "--episodes", "40", "--out", str(out)]) == 0
        overall = json.loads((out / "metrics.json").read_text())["overall"]
        assert calls == f"{overall['tool_calls_per_episode']:.1f}", (frames, tools)
        # Exact, the clip rows too: the synthetic videos are the same bytes in any process (video/encode.py).
        assert (accuracy, reward) == (f"{overall['accuracy']:.3f}", f"{overall['reward']['total']:.2f}"), (
            frames, tools)


def test_video_clip_agent_readme_sentence_quotes_the_docs_table():
    rows = {(frames, "video_clip" in tools): accuracy for frames, tools, accuracy, *_ in table_rows()}
    readme = (AGENTS_PAGE.parents[1] / "README.md").read_text()
    assert (f"with 2 prompt frames its accuracy is {rows[('2', True)]} with the tool and\n{rows[('2', False)]} "
            "without") in readme
