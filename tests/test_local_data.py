"""Users' own data: a folder per class and a JSONL manifest, run through gym.make."""

import json
import shutil

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_env.data import FolderDataset, ManifestDataset, SyntheticDataset


@pytest.fixture(scope="module")
def synthetic():
    return SyntheticDataset(per_class=1)


def test_folder_per_class(synthetic, tmp_path):
    for sample in list(synthetic)[:3]:
        (tmp_path / sample.label).mkdir()
        shutil.copy(sample.video, tmp_path / sample.label / "clip.mp4")
    (tmp_path / synthetic[0].label / "notes.txt").write_text("not a video")
    ds = FolderDataset(tmp_path)
    assert len(ds) == 3 and ds.label_space == tuple(sorted(s.label for s in list(synthetic)[:3]))
    env = gym.make("VideoSTAR-NoTools-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)})
    obs, info = env.reset(seed=0)
    assert obs["frames"].shape[0] == 16 and info["candidates"] == list(ds.label_space)
    # The default tools' offline backends cannot serve a folder: refused when the env is made, saying what to do.
    with pytest.raises(ValueError, match=r"'oracle' vision backend .* --vision yolo"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)})
    with pytest.raises(ValueError, match=r"'knowledge' explanation backend .* explanations"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)}, tools=["action_explanation"])


def test_folder_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no class sub-folders"):
        FolderDataset(tmp_path)
    (tmp_path / "wave").mkdir()
    with pytest.raises(ValueError, match="without videos"):
        FolderDataset(tmp_path)


def test_jsonl_manifest_with_explanations_and_a_missing_video(synthetic, tmp_path):
    shutil.copy(synthetic[0].video, tmp_path / "a.mp4")
    explanations = tmp_path / "explanations.json"
    explanations.write_text(json.dumps({"0": f"{synthetic[0].label}: the arm moves from side to side above the head"}))
    lines = [{"video": "a.mp4", "label": synthetic[0].label, "id": "first"},
             {"video": "gone.mp4", "label": "other", "label_space": [synthetic[0].label, "other"]}]
    manifest = tmp_path / "set.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.warns(UserWarning, match="1 of 2 videos are missing"):
        ds = ManifestDataset(manifest, explanations=explanations)
    assert len(ds) == 1 and ds[0].id == "first" and ds.annotated == 2
    assert "side to side" in ds.knowledge.get(synthetic[0].label).definition


def test_manifest_lines_are_checked(tmp_path):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"video": "a.mp4"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: each line needs"):
        ManifestDataset(manifest)
    manifest.write_text("not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not JSON"):
        ManifestDataset(manifest)


def test_a_time_window_draws_every_frame_from_inside_it(synthetic, tmp_path):
    video = synthetic[0].video
    (tmp_path / "set.jsonl").write_text(json.dumps({"video": video, "label": synthetic[0].label, "window": [1.0, 2.0]}))
    env = gym.make("VideoSTAR-NoTools-v0", dataset="manifest", dataset_kwargs={"path": str(tmp_path / "set.jsonl")},
                   num_frames=8)
    _, info = env.reset(seed=0)
    assert info["window"] == [1.0, 2.0]
    assert all(1.0 <= t < 2.0 for t in info["timestamps"]) and len(set(info["frame_indices"])) == 8
    assert info["messages"][1]["content"][0]["timestamps"] == info["timestamps"]  # what the policy is told
    whole = gym.make("VideoSTAR-NoTools-v0", num_frames=8).unwrapped
    assert whole.reset(options={"index": 0})[1]["window"] is None
    with pytest.raises(ValueError, match="window"):
        ManifestDataset(_write(tmp_path, {"video": video, "label": "x", "window": [3, 1]}))


def _write(folder, line):
    path = folder / "bad.jsonl"
    path.write_text(json.dumps(line))
    return path
