"""The tool cache: a GRPO group runs each tool once; entries survive processes; new backends miss; stores."""

import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import uuid
import warnings

import diskcache
import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.actions import tool_call
from videostar_env.backends import OracleVision
from videostar_env.tools.base import ToolResult
from videostar_env.tools.cache import CacheConfig, ToolCache, file_digest
from videostar_env.tools.stores import STORES, DirectoryStore

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


@pytest.mark.parametrize("store", ["diskcache", "directory"])
def test_a_grpo_group_runs_each_tool_once(tmp_path, store):
    vision = CountingOracle()
    env = gym.make("VideoSTAR-v0", vision=vision, tool_cache=CacheConfig(str(tmp_path), store=store))
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


@pytest.mark.parametrize("store", ["diskcache", "directory"])
def test_the_cache_is_size_bounded(tmp_path, store):
    cache = ToolCache(CacheConfig(str(tmp_path), size_limit_gb=2 / 1024, store=store))  # 2 MiB
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


# -- stores ----------------------------------------------------------------------------------------


def result(i: int) -> ToolResult:
    """A tool result of about 50 KB that names i in its text, image and data."""
    return ToolResult(f"result {i}", [np.full((128, 128, 3), i % 256, np.uint8)], {"i": i})


def same(got: ToolResult | None, i: int) -> bool:
    return got is not None and got.text == f"result {i}" and got.data == {"i": i} and bool((got.images[0] == i % 256).all())


@pytest.mark.parametrize("store", ["diskcache", "directory", "fsspec", "videostar_env.tools.stores:DirectoryStore"])
def test_every_store_keeps_results_whole_and_a_pickled_cache_reopens_it(tmp_path, store):
    directory = f"memory://tool-cache-{uuid.uuid4().hex}" if store == "fsspec" else str(tmp_path)
    cache = ToolCache(CacheConfig(directory, store=store))
    assert cache.get({"i": 1}) is None
    for i in range(3):
        cache.put({"i": i}, result(i))
    cache.put({"i": 2}, result(2))  # a second put of a key replaces it
    assert len(cache) == 3 and all(same(cache.get({"i": i}), i) for i in range(3))
    copy = pickle.loads(pickle.dumps(cache))  # what an async vector env's worker receives
    assert copy.config.store == store and same(copy.get({"i": 1}), 1)
    copy.clear()
    assert len(cache) == 0 and cache.get({"i": 1}) is None
    cache.close()


def write_and_read(directory: str, worker: int, rounds: int, shared_keys: int, start, out) -> None:
    """One process of a multi-node job: writes keys every worker writes and keys of its own, reading as it goes."""
    cache = ToolCache(CacheConfig(directory, store="directory"))
    problems = []
    start.wait()  # every worker begins at once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for r in range(rounds):
            for i in range(shared_keys):
                cache.put({"shared": i}, result(i))
                other = (i + worker + 1) % shared_keys
                got = cache.get({"shared": other})
                if got is not None and not same(got, other):
                    problems.append(f"worker {worker} read a wrong entry for shared key {other}")
            cache.put({"worker": worker, "round": r}, result(1000 * worker + r))
    out.put(problems + [f"worker {worker}: {w.message}" for w in caught])


def test_many_processes_share_a_directory_store_and_never_read_a_partial_entry(tmp_path):
    workers, rounds, shared_keys = 4, 40, 8
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, as on other nodes
    start, out = spawn.Barrier(workers), spawn.Queue()
    processes = [spawn.Process(target=write_and_read, args=(str(tmp_path), w, rounds, shared_keys, start, out))
                 for w in range(workers)]
    for process in processes:
        process.start()
    problems = [out.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert problems == [[]] * workers and [p.exitcode for p in processes] == [0] * workers
    cache = ToolCache(CacheConfig(str(tmp_path), store="directory"))
    assert len(cache) == shared_keys + workers * rounds
    assert all(same(cache.get({"shared": i}), i) for i in range(shared_keys))
    assert all(same(cache.get({"worker": w, "round": r}), 1000 * w + r) for w in range(workers) for r in range(rounds))
    assert not [name for _, _, names in os.walk(tmp_path) for name in names if name.endswith(".tmp")]


def test_a_damaged_directory_entry_is_a_miss_with_a_warning_and_the_next_put_replaces_it(tmp_path):
    cache = ToolCache(CacheConfig(str(tmp_path), store="directory"))
    cache.put({"i": 7}, result(7))
    (path,) = [os.path.join(d, n) for d, _, names in os.walk(tmp_path) for n in names]
    with open(path, "r+b") as handle:  # what a node that crashed mid-write could leave
        handle.truncate(os.path.getsize(path) // 2)
    with pytest.warns(RuntimeWarning, match="damaged"):
        assert cache.get({"i": 7}) is None
    cache.put({"i": 7}, result(7))
    assert same(cache.get({"i": 7}), 7)


def test_a_directory_store_deletes_stale_temporary_files_when_it_prunes(tmp_path):
    store = DirectoryStore(str(tmp_path), size_limit=2**20)
    store.put("ab" + "0" * 62, b"x")
    folder = tmp_path / "ab"
    stale, fresh = folder / "left-by-a-dead-writer.tmp", folder / "being-written.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (0, 0))
    store.prune()
    assert not stale.exists() and fresh.exists() and len(store) == 1


def test_an_unknown_store_is_named_with_the_choices(tmp_path):
    with pytest.raises(KeyError, match="directory"):
        ToolCache(CacheConfig(str(tmp_path), store="nfs"))
    with pytest.raises(TypeError, match="CacheConfig.store"):
        CacheConfig(str(tmp_path), store=DirectoryStore(str(tmp_path), 2**20))
    assert {"diskcache", "directory", "fsspec"} <= set(STORES.names())


def test_entries_written_before_stores_held_bytes_still_hit(tmp_path):
    old = diskcache.Cache(str(tmp_path))
    old.set(ToolCache.hash({"i": 3}), result(3))  # how the cache stored results before
    old.close()
    assert same(ToolCache(CacheConfig(str(tmp_path))).get({"i": 3}), 3)


def test_a_result_cached_before_a_field_existed_reads_back_with_its_default():
    import pickle

    old = ToolResult("pose summary", data={"k": 1})
    del old.__dict__["videos"]  # as a result pickled before ToolResult had videos
    restored = pickle.loads(pickle.dumps(old))
    assert restored.videos == [] and restored.text == "pose summary" and restored.data == {"k": 1}
