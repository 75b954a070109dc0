"""`videostar precompute`: tools over a dataset into the cache and decoded frames into the frame store,
resumable, in one process or over Ray, with failures counted and explained."""

import json
import pickle
import shutil
import socket
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import diskcache
import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_env.cli.main import main
from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.video.frame_store import FrameStore
from videostar_env.paths import write_atomic
from videostar_env.core.config import EnvConfig
from videostar_env.jobs.precompute import PrecomputeWorker, precompute
from videostar_env.tools.cache import CacheConfig, ToolCache

TOOLS = ["pose_estimation", "action_explanation"]


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


# -- the frame store ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def videos():
    """Two rendered synthetic videos."""
    dataset = SyntheticDataset(per_class=1)
    return dataset[0].video, dataset[1].video


def test_write_atomic_writes_the_whole_file_or_nothing(tmp_path):
    target = tmp_path / "sub" / "entry.bin"
    write_atomic(target, b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")
    assert target.read_bytes() == b"first" and list(target.parent.iterdir()) == [target]


def test_the_store_gives_back_the_decoded_frames(tmp_path, videos):
    store, video = FrameStore(tmp_path), videos[0]
    assert store.get(video, 4, (64, 64)) is None
    clip = decode(video, 4, (64, 64))
    file = store.put(clip)
    stored = store.get(video, 4, (64, 64))
    assert np.array_equal(stored.frames, clip.frames) and not stored.frames.flags.writeable
    assert (stored.indices, stored.fps, stored.total_frames, stored.path, stored.window) == \
        (clip.indices, clip.fps, clip.total_frames, clip.path, clip.window)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [file]  # no temporary file left behind
    # Other frame counts, sizes, decoders or windows are other entries.
    for other in [(8, (64, 64)), (4, (32, 32)), (4, (64, 64), "pyav"), (4, (64, 64), "auto", (0.0, 1.0))]:
        assert store.get(video, *other) is None
    with pytest.raises(FileNotFoundError, match="video file not found"):
        store.get(str(tmp_path / "gone.mp4"), 4, (64, 64))


def test_entries_follow_the_video_content_not_its_path(tmp_path, videos):
    store = FrameStore(tmp_path / "store")
    first, second = tmp_path / "first.mp4", tmp_path / "copy.mp4"
    shutil.copy(videos[0], first)
    shutil.copy(videos[0], second)
    store.put(decode(str(first), 4, (64, 64)))
    assert store.get(str(second), 4, (64, 64)).path == str(second)  # same bytes elsewhere: a hit, with its own path
    shutil.copy(videos[1], first)  # the file is rewritten
    assert store.get(str(first), 4, (64, 64)) is None


def test_load_reads_the_store_and_decodes_only_on_a_miss(tmp_path, videos):
    store, video = FrameStore(tmp_path), videos[0]
    clip = store.load(video, 4, (64, 64))
    assert np.array_equal(clip.frames, decode(video, 4, (64, 64)).frames)
    store.put(replace(clip, frames=255 - clip.frames))  # what the store holds is what load returns
    assert np.array_equal(store.load(video, 4, (64, 64)).frames, 255 - clip.frames)


def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path, videos):
    store, video = FrameStore(tmp_path), videos[0]
    file = store.put(decode(video, 4, (64, 64)))
    file.write_bytes(b"PK\x03\x04 cut short")
    assert store.get(video, 4, (64, 64)) is None
    assert np.array_equal(store.load(video, 4, (64, 64)).frames, decode(video, 4, (64, 64)).frames)
    assert store.get(video, 4, (64, 64)) is not None


def _write_and_read(directory, video, times):
    """Put one clip `times` times while reading it back; what each read saw (None or the right frames)."""
    store, clip = FrameStore(directory), decode(video, 4, (64, 64))
    seen = []
    for _ in range(times):
        store.put(clip)
        got = store.get(video, 4, (64, 64))
        seen.append(got is not None and np.array_equal(got.frames, clip.frames))
    return seen


def test_many_writers_of_one_entry_never_expose_a_partial_file(tmp_path, videos):
    with ProcessPoolExecutor(3) as pool:
        runs = list(pool.map(_write_and_read, [tmp_path] * 3, [videos[0]] * 3, [30] * 3))
    assert all(all(run) for run in runs)
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


# -- precompute: frames, resuming ------------------------------------------------------------

def small_config(tmp_path, **overrides):
    """4 frames per video, a cache of its own."""
    return EnvConfig(**{"num_frames": 4, "tool_cache": CacheConfig(str(tmp_path / "cache")), **overrides})


def test_a_worker_runs_one_sample_and_names_what_it_filled(tmp_path):
    store = FrameStore(tmp_path / "frames")
    worker = PrecomputeWorker(small_config(tmp_path), TOOLS, store)
    outcome = worker.run(0)
    assert outcome.tools == {"pose_estimation": "computed", "action_explanation": "computed"} and not outcome.errors
    assert outcome.frames == "computed" and outcome.frames_file.startswith(str(tmp_path / "frames"))
    assert [key["tool"] for key in outcome.keys] == TOOLS
    assert all(worker.toolbox.cache.get(key) is not None for key in outcome.keys)
    assert worker.run(0).tools == {"pose_estimation": "reused", "action_explanation": "reused"}
    worker.close()


def test_frames_alone_are_precomputed_without_a_tool_cache(tmp_path):
    store = FrameStore(tmp_path / "frames")
    config = small_config(tmp_path, tool_cache=None)
    report = precompute(config, indices=range(3), frames=store)
    assert report.frames == {"computed": 3} and not report.computed and not report.failed
    for sample in (SyntheticDataset()[i] for i in range(3)):
        assert np.array_equal(store.get(sample.video, 4, (128, 128)).frames, decode(sample.video, 4, (128, 128)).frames)
    again = precompute(config, indices=range(3), frames=store)
    assert again.frames == {"reused": 3} and again.resumed == 3
    assert again.as_dict()["frames"] == {"directory": str(tmp_path / "frames"), "computed": 0, "reused": 3, "failed": 0}


def test_the_frame_store_the_env_reads_is_the_one_precompute_fills(tmp_path, monkeypatch):
    import dataclasses

    from videostar_env import VideoToolEnv
    from videostar_env.video import frame_store

    config = dataclasses.replace(small_config(tmp_path, tool_cache=None), frame_store=str(tmp_path / "frames"))
    assert precompute(config, indices=range(2)).frames == {"computed": 2}

    def no_decoding(*args, **kwargs):
        raise AssertionError("the env decoded a video the frame store holds")

    monkeypatch.setattr(frame_store, "decode", no_decoding)
    frames = VideoToolEnv(config=config).reset(options={"index": 1})[0]["frames"]
    assert frames.shape == (4, 128, 128, 3)


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    config, store = small_config(tmp_path), FrameStore(tmp_path / "frames")

    def stop_after_two(index):
        if index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        precompute(config, TOOLS, range(5), stop_after_two, frames=store)
    report = precompute(config, TOOLS, range(5), frames=store)
    assert report.resumed == 2 and report.computed["pose_estimation"] == 3
    assert report.frames == {"reused": 2, "computed": 3}
    again = precompute(config, TOOLS, range(5), frames=store)
    assert again.resumed == 5 and not again.computed and again.frames == {"reused": 5}


def test_a_finished_sample_counts_only_while_its_results_are_there(tmp_path):
    config = small_config(tmp_path)
    precompute(config, ["pose_estimation"], range(2))
    assert precompute(config, ["pose_estimation"], range(2)).resumed == 2
    ToolCache(config.tool_cache).clear()  # evicted or deleted since
    report = precompute(config, ["pose_estimation"], range(2))
    assert report.resumed == 0 and report.computed == {"pose_estimation": 2}
    other = precompute(replace(config, num_frames=6), ["pose_estimation"], range(2))  # other settings: other results
    assert other.resumed == 0 and other.computed == {"pose_estimation": 2}


# -- Ray ------------------------------------------------------------------------------------------

def unused_port():
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_says_in_one_line_that_ray_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["precompute", "--limit", "1", "--cache-dir", str(tmp_path), "--ray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Ray is not installed: pip install 'videostar-env[ray]'" in err


def test_cli_says_in_one_line_that_no_cluster_answers(tmp_path, capsys):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'videostar-env[ray]'")
    address = f"127.0.0.1:{unused_port()}"
    assert main(["precompute", "--limit", "1", "--cache-dir", str(tmp_path), "--ray", address]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no Ray cluster answers at {address}" in err and "ray start --head" in err
    assert main(["precompute", "--limit", "1", "--cache-dir", str(tmp_path), "--ray", "headnode"]) == 2
    assert "a Ray address is HOST:PORT" in capsys.readouterr().err


def cache_entries(directory):
    """Every entry of a tool cache folder: content address -> ToolResult."""
    with diskcache.Cache(str(directory)) as cache:
        return {name: pickle.loads(cache[name]) for name in cache}


def frame_entries(store):
    """Every entry of a frame store: file name -> its arrays."""
    entries = {}
    for file in store.directory.rglob("*.npz"):
        with np.load(file) as data:
            entries[file.name] = {name: data[name] for name in data.files}
    return entries


def test_ray_precompute_fills_the_cache_as_one_process_does(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'videostar-env[ray]'")
    options = ["precompute", "--limit", "5", "--num-frames", "4", "--tools", ",".join(TOOLS)]
    assert main([*options, "--cache-dir", str(tmp_path / "one"), "--frames", str(tmp_path / "frames-one")]) == 0
    # A single-process run stopped after 2 samples; the Ray run finishes it.
    config = EnvConfig(num_frames=4, tools=TOOLS, tool_cache=CacheConfig(str(tmp_path / "ray")))

    def stop_after_two(index):
        if index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        precompute(config, None, range(5), stop_after_two, frames=FrameStore(tmp_path / "frames-ray"))
    sharded = [*options, "--cache-dir", str(tmp_path / "ray"), "--frames", str(tmp_path / "frames-ray"),
               "--ray", "--ray-workers", "2", "--out", str(tmp_path / "summary.json")]
    assert main(sharded) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["resumed"] == 2 and summary["tools"]["pose_estimation"] == {"computed": 3, "reused": 2, "failed": 0}
    assert not ray.is_initialized()  # the Ray it started is shut down

    one, sharded_entries = cache_entries(tmp_path / "one"), cache_entries(tmp_path / "ray")
    assert sorted(one) == sorted(sharded_entries) and len(one) == 6  # 5 poses, one explanation for every video
    for name, result in one.items():
        other = sharded_entries[name]
        assert (other.text, other.data) == (result.text, result.data)
        assert len(other.images) == len(result.images) and all(map(np.array_equal, other.images, result.images))
    frames_one = frame_entries(FrameStore(tmp_path / "frames-one"))
    frames_ray = frame_entries(FrameStore(tmp_path / "frames-ray"))
    assert sorted(frames_one) == sorted(frames_ray) and len(frames_one) == 5
    assert all(np.array_equal(frames_one[f][k], frames_ray[f][k]) for f in frames_one for k in frames_one[f])

    # A second run computes nothing, and starts no Ray to do it.
    def no_ray(*args, **kwargs):
        raise AssertionError("a run with nothing to compute started Ray")

    monkeypatch.setattr(ray, "init", no_ray)
    capsys.readouterr()
    assert main(sharded) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["resumed"] == 5 and summary["frames"]["computed"] == 0
    assert all(counts["computed"] == 0 for counts in summary["tools"].values())
    assert "5 of 5 samples were finished by an earlier run (not decoded again); nothing left to compute" \
        in capsys.readouterr().out


def test_bench_says_in_one_line_that_no_cluster_answers(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'videostar-env[ray]'")
    address = f"127.0.0.1:{unused_port()}"
    assert main(["bench", "--episodes", "1", "--out", str(tmp_path / "run"), "--ray", address]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no Ray cluster answers at {address}" in err
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["bench", "--episodes", "1", "--out", str(tmp_path / "run2"), "--ray"]) == 2
    assert "Ray is not installed" in capsys.readouterr().err
