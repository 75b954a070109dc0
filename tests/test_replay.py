"""Replay: the paper's released explanations and descriptions, served by the tools."""

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_env.actions import tool_call
from videostar_env.backends import Backends, OracleVision, ReplayDescriber, ReplayExplainer
from videostar_env.datasets import Clip, SyntheticDataset, VideoSample
from videostar_env.knowledge import KnowledgeBase, normalize_label
from videostar_env.tools import ActionExplanation, ToolContext, ToolError, VideoDescription

from conftest import shared_file


@pytest.fixture(scope="module")
def root():
    return shared_file("video-star")


def label_map(name: str) -> list[str]:
    return shared_file(f"labels/mmaction2/{name}").read_text().split()


def context(video: str, candidates, explainer=None, describer=None, meta=None) -> ToolContext:
    clip = Clip(np.zeros((2, 8, 8, 3), np.uint8), (0, 1), 30.0, 2, video)
    sample = VideoSample("v", video, candidates[0] if candidates else "", tuple(candidates), "hmdb51", "test", meta or {})
    return ToolContext(sample, clip, tuple(candidates), KnowledgeBase([]), Backends(OracleVision(), explainer, describer))


@pytest.mark.parametrize("labels", ["hmdb51_label_map.txt", "ucf101_label_map.txt"])
def test_every_hmdb51_and_ucf101_class_has_a_released_explanation(root, labels):
    classes = label_map(labels)
    assert len(classes) in (51, 101)
    ctx = context("x.avi", classes, explainer=ReplayExplainer(root))
    result = ActionExplanation()(ctx)
    explanations = result.data["explanations"]
    assert set(explanations) == set(classes)
    for label, text in explanations.items():
        head, body = text.split(":", 1)
        assert normalize_label(head) == normalize_label(label) and len(body.strip()) > 10, text
    assert "no released explanation" not in result.text


def test_every_hmdb51_test_video_has_its_released_description(root):
    rows = json.loads((root / "json/hmdb51/test_description.json").read_text())
    assert len(rows) == 750
    describer = ReplayDescriber(root)
    tool = VideoDescription()
    for row in rows:
        ctx = context(f"/data/hmdb51/videos/{row['path']}", ["brush_hair"], describer=describer,
                      meta={"annotation_file": "json/hmdb51/test.json"})
        assert tool(ctx).text == row["analysis"]


def test_the_protocol_file_decides_between_split_descriptions(root):
    describer = ReplayDescriber(root)
    path = "brush_hair/Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3.avi"
    split = {r["path"]: r["analysis"] for r in json.loads(
        (root / "json_split/hmdb51/hmdb_exp_split_1_description.json").read_text())}
    test = {r["path"]: r["analysis"] for r in json.loads((root / "json/hmdb51/test_description.json").read_text())}
    assert split[path] != test[path]
    assert describer.lookup(f"/v/{path}", annotation_file="hmdb_exp_split_1.json") == split[path]
    assert describer.lookup(f"/v/{path}", annotation_file="json/hmdb51/test.json") == test[path]
    assert describer.lookup("/v/ssv2/198186.webm") is not None  # SSv2 keys are bare file names


def test_replay_in_an_episode_reports_videos_outside_the_release(root):
    env = gym.make("VideoSTAR-v0", description=("replay", {"root": str(root)}), tool_cache=None)
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(tool_call("video_description"))
    (described,) = info["tool_results"]
    assert not terminated and not described["ok"]
    assert "no released description" in described["text"] and "description='kinematic'" in described["text"]


def test_replay_explanations_refuse_a_dataset_outside_the_release(root, tmp_path):
    # No label of this folder has a released explanation: every call would carry nothing, so the env is refused.
    (tmp_path / "moonwalk_backwards").mkdir()
    shutil.copy(SyntheticDataset(per_class=1)[0].video, tmp_path / "moonwalk_backwards" / "a.mp4")
    with pytest.raises(ValueError, match="'replay' explanation backend has no released explanation"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)},
                 explanation=("replay", {"root": str(root)}), tools=["action_explanation"])


def test_labels_the_release_does_not_explain_are_named_and_none_explained_is_an_error(root):
    classes = label_map("hmdb51_label_map.txt")
    ctx = context("x.avi", classes[:2] + ["moonwalk_backwards"], explainer=ReplayExplainer(root))
    result = ActionExplanation()(ctx, labels=None)
    assert result.data["missing"] == ["moonwalk_backwards"] and "moonwalk_backwards: no explanation" in result.text
    with pytest.raises(ToolError, match="no explanation is available for moonwalk_backwards"):
        ActionExplanation()(ctx, labels=["moonwalk_backwards"])


def test_replay_without_a_folder_says_how_to_give_one(monkeypatch, tmp_path):
    monkeypatch.delenv("VIDEOSTAR_ANNOTATIONS", raising=False)
    with pytest.raises(FileNotFoundError, match="VIDEOSTAR_ANNOTATIONS"):
        ReplayExplainer()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ReplayDescriber(tmp_path / "nowhere")
    monkeypatch.setenv("VIDEOSTAR_ANNOTATIONS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no files match"):
        ReplayDescriber()


def test_backend_options_from_yaml_arrive_as_a_name_options_list(tmp_path):
    import yaml

    from videostar_env.backends import make_backend
    from videostar_trainers.cpu.tool_demo import write_demo

    folder = write_demo(tmp_path)
    spec = yaml.safe_load(f"description: [replay, {{root: {folder / 'informative'}}}]")["description"]
    backend = make_backend("description", spec)
    assert isinstance(backend, ReplayDescriber) and backend.files == [folder / "informative" / "synthetic_description.json"]
    env = gym.make("VideoSTAR-v0", tools=["video_description"], description=spec, dataset="manifest",
                   dataset_kwargs={"path": str(folder / "videos.jsonl")}, tool_cache=None)
    _, reset_info = env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call("video_description"))
    result = info["tool_results"][0]
    assert result["ok"] and result["text"].split()[0] == reset_info["ground_truth"]["label"]
    for bad in (["replay"], ["replay", "root"], [1, {}], ["replay", {}, {}]):
        with pytest.raises(ValueError, match=r"description backend must be a name or a \[name, \{options\}\] pair"):
            make_backend("description", bad)
