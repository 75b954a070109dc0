"""The tool cache: a GRPO group runs each tool once; entries survive processes; new backends miss."""

import json
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.actions import tool_call
from videostar_env.backends import OracleVision
from videostar_env.tools.base import ToolResult
from videostar_env.tools.cache import CacheConfig, ToolCache, file_digest

ALL_TOOLS = "\n".join(tool_call(name) for name in
                      ("pose_estimation", "human_detection", "action_explanation", "video_description"))


class CountingOracle(OracleVision):
    """The oracle backend, counting how often it is really asked."""

    def __init__(self, id="oracle-v1"):
        self.id = id
        self.calls = 0

    def detect(self, clip, sample):
        self.calls += 1
        return super().detect(clip, sample)

    def pose(self, clip, sample):
        self.calls += 1
        return super().pose(clip, sample)


def run_group(env, index=3, n=4):
    """n episodes on the same video, each calling every tool; returns the tool results of each."""
    results = []
    for seed in range(n):
        env.reset(seed=seed, options={"index": index})
        _, _, _, _, info = env.step(ALL_TOOLS)
        results.append(info["tool_results"])
    return results


def test_a_grpo_group_runs_each_tool_once(tmp_path):
    vision = CountingOracle()
    env = gym.make("VideoSTAR-v0", vision=vision, tool_cache=CacheConfig(str(tmp_path)))
    results = run_group(env)
    cache = env.unwrapped.toolbox.cache
    assert (cache.misses, cache.hits) == (4, 12)
    # human_detection, pose_estimation and video_description each ask the vision backend once.
    assert vision.calls == 3
    assert [[r["cached"] for r in ep] for ep in results] == [[False] * 4] + [[True] * 4] * 3
    first = results[0]
    for later in results[1:]:
        assert [r["text"] for r in later] == [r["text"] for r in first]
        assert [r["data"] for r in later] == [r["data"] for r in first]


def test_cached_results_keep_their_images(tmp_path):
    env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig(str(tmp_path)))
    frames = []
    for seed in range(2):
        env.reset(seed=seed, options={"index": 0})
        obs, *_ = env.step(tool_call("pose_estimation", max_images=3))
        frames.append(obs["tool_frames"][: obs["num_tool_frames"]])
    assert len(frames[0]) == 3
    np.testing.assert_array_equal(frames[0], frames[1])


def test_a_second_process_sees_the_entries(tmp_path):
    env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig(str(tmp_path)))
    run_group(env, n=1)
    env.close()
    code = textwrap.dedent(f"""
        import json, gymnasium as gym, videostar_env
        from videostar_env.actions import tool_call
        from videostar_env.tools.cache import CacheConfig
        env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig({str(tmp_path)!r}))
        env.reset(seed=0, options={{"index": 3}})
        env.step({ALL_TOOLS!r})
        cache = env.unwrapped.toolbox.cache
        print(json.dumps({{"hits": cache.hits, "misses": cache.misses}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"hits": 4, "misses": 0}


def test_a_changed_backend_id_misses(tmp_path):
    old, new = CountingOracle("oracle-weights-aaaa"), CountingOracle("oracle-weights-bbbb")
    run_group(gym.make("VideoSTAR-v0", vision=old, tool_cache=CacheConfig(str(tmp_path))), n=1)
    env = gym.make("VideoSTAR-v0", vision=new, tool_cache=CacheConfig(str(tmp_path)))
    run_group(env, n=1)
    cache = env.unwrapped.toolbox.cache
    # The three vision tools miss; action_explanation does not read the vision backend and hits.
    assert (cache.misses, cache.hits) == (3, 1)
    assert new.calls == 3


def test_failed_calls_are_not_cached(tmp_path):
    env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig(str(tmp_path)))
    for seed in range(2):
        env.reset(seed=seed, options={"index": 0})
        _, _, _, _, info = env.step(tool_call("pose_estimation", max_images=99))
        assert info["tool_results"][-1]["ok"] is False
    assert len(env.unwrapped.toolbox.cache) == 0


def test_the_cache_can_be_disabled():
    env = gym.make("VideoSTAR-v0", tool_cache=None)
    run_group(env, n=2)
    assert env.unwrapped.toolbox.cache is None


def test_arguments_are_part_of_the_key(tmp_path):
    env = gym.make("VideoSTAR-v0", tool_cache=CacheConfig(str(tmp_path)))
    env.reset(seed=0, options={"index": 0})
    env.step("\n".join([tool_call("pose_estimation", max_images=2), tool_call("pose_estimation", max_images=3),
                        tool_call("pose_estimation")]))
    env.reset(seed=1, options={"index": 0})
    env.step(tool_call("pose_estimation", max_images=4))  # the schema default: same key as {}
    cache = env.unwrapped.toolbox.cache
    assert (cache.misses, cache.hits) == (3, 1)


def test_the_cache_is_size_bounded(tmp_path):
    cache = ToolCache(CacheConfig(str(tmp_path), size_limit_gb=2 / 1024))  # 2 MiB
    image = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)  # ~200 KB pickled
    for i in range(40):
        cache.put({"i": i}, ToolResult("t", [image]))
    assert len(cache) < 40
    assert cache.get({"i": 39}) is not None  # the newest entries stay


def test_file_digest_follows_content(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"abc")
    first = file_digest(path)
    assert file_digest(path) == first
    path.write_bytes(b"abcd")
    assert file_digest(path) != first


def test_default_directory_is_under_the_package_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOSTAR_CACHE_DIR", str(tmp_path))
    cache = ToolCache(CacheConfig())
    assert cache.directory == str(tmp_path / "tools")
