"""`videostar precompute`: tools over a dataset into the cache, resumable, with failures counted and explained."""

import json
from dataclasses import replace

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_env.cli import main
from videostar_env.data import SyntheticDataset
from videostar_env.precompute import precompute
from videostar_env.tools.cache import CacheConfig


class ListDataset:
    """A dataset from a list of samples (here: synthetic ones, one with a broken video)."""

    def __init__(self, samples, knowledge, name="listed"):
        self.samples, self.knowledge, self.name = samples, knowledge, name

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def test_a_stopped_run_resumes_without_recomputing(tmp_path):
    env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig(str(tmp_path))).unwrapped
    first = precompute(env.config, ["pose_estimation", "human_detection"], range(4))
    assert first.computed == {"pose_estimation": 4, "human_detection": 4} and not first.reused
    second = precompute(env.config, ["pose_estimation", "human_detection"], range(8))
    assert second.reused == {"pose_estimation": 4, "human_detection": 4}
    assert second.computed == {"pose_estimation": 4, "human_detection": 4}
    assert not second.failed and second.samples == 8


def test_broken_videos_are_counted_and_explained(tmp_path):
    synthetic = SyntheticDataset(per_class=1)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video")
    samples = [synthetic[0], replace(synthetic[1], id="broken-1", video=str(broken)), synthetic[2]]
    env = gym.make("VideoSTAR-v0", dataset=ListDataset(samples, synthetic.knowledge),
                   tool_cache=CacheConfig(str(tmp_path / "cache"))).unwrapped
    report = precompute(env.config, ["pose_estimation"])
    assert report.computed["pose_estimation"] == 2 and report.failed["pose_estimation"] == 1
    (failure,) = report.failures
    assert failure["sample"] == "broken-1" and "broken.mp4" in failure["message"]


def test_precompute_needs_the_cache_and_known_tools():
    env = gym.make("VideoSTAR-v0", tool_cache=None).unwrapped
    with pytest.raises(ValueError, match="tool_cache=None"):
        precompute(env.config, ["pose_estimation"])
    env = gym.make("VideoSTAR-v0").unwrapped
    with pytest.raises(KeyError, match="not in this env"):
        precompute(env.config, ["teleport"])


def test_cli_writes_a_summary(tmp_path, capsys):
    out = tmp_path / "summary.json"
    args = ["precompute", "--limit", "3", "--tools", "pose_estimation,action_explanation",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    assert main(args) == 0
    summary = json.loads(out.read_text())
    assert summary["samples"] == 3
    assert summary["tools"]["pose_estimation"] == {"computed": 3, "reused": 0, "failed": 0}
    # action_explanation does not read the video: one run serves every video with the same candidates.
    assert summary["tools"]["action_explanation"] == {"computed": 1, "reused": 2, "failed": 0}
    assert main(args) == 0
    assert json.loads(out.read_text())["tools"]["pose_estimation"] == {"computed": 0, "reused": 3, "failed": 0}
    assert "pose_estimation" in capsys.readouterr().out


def test_cli_rejects_bad_backend_options(tmp_path, capsys):
    assert main(["precompute", "--limit", "1", "--vision-options", "{not json", "--cache-dir", str(tmp_path)]) == 2
    assert "--vision-options must be a JSON object" in capsys.readouterr().err
