"""Rows of `videostar verl-data` and `videostar sft-data` play from any directory: their paths are absolute."""

import json
import shutil
from pathlib import Path

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env import answer
from videostar_env.datasets import SyntheticDataset
from videostar_trainers.data import portable_dataset_kwargs, verl_rows
from videostar_trainers.sft import sft_row


@pytest.fixture
def relative_folder(tmp_path, monkeypatch):
    """A folder dataset named by a path relative to the working directory (tmp_path/work)."""
    sample = SyntheticDataset(per_class=1)[0]
    (tmp_path / "work" / "clips" / sample.label).mkdir(parents=True)
    shutil.copy(sample.video, tmp_path / "work" / "clips" / sample.label / Path(sample.video).name)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return {"dataset": "folder", "dataset_kwargs": {"root": "clips"}, "tools": []}


def test_verl_rows_replay_from_another_directory(relative_folder, tmp_path, monkeypatch):
    row, = verl_rows(gym.make("VideoSTAR-v0", **relative_folder), [0])
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Path(row["videos"][0]["video"]).is_file()
    extra = row["extra_info"]  # what the agent loop rebuilds the env from
    env = gym.make(extra["env_id"], dataset=extra["dataset"], dataset_kwargs=json.loads(extra["dataset_kwargs"]),
                   tools=[])
    _, info = env.reset(seed=extra["seed"], options={"index": extra["sample_index"]})
    assert info["sample_id"] == extra["sample_id"]


def test_sft_rows_name_the_video_absolutely(relative_folder, tmp_path, monkeypatch):
    env = gym.make("VideoSTAR-v0", **relative_folder)
    _, info = env.reset(seed=0, options={"index": 0})
    _, _, _, _, info = env.step(answer(info["candidates"][0]))
    row = sft_row(info)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Path(row["videos"][0]["video"]).is_file()


def test_only_path_options_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "all" / "x").mkdir(parents=True)  # a folder named like the split must stay a split name
    (tmp_path / "all" / "x" / "a.mp4").write_bytes(b"")
    dataset = videostar_env.datasets.FolderDataset("all")
    kwargs = portable_dataset_kwargs(dataset, {"root": "all", "split": "all", "explanations": None})
    assert kwargs == {"root": str(tmp_path / "all"), "split": "all", "explanations": None}
