"""In-flight sharing: identical tool calls running at once in one process run once, as verl's agent loop needs.

verl steps many episodes of a worker in one asyncio loop, each env call in an executor thread;
the rollouts of a GRPO group ask for the same tool call on the same video at the same moment.
"""

import asyncio
import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.actions import tool_call
from videostar_env.backends import OracleVision
from videostar_env.video.memo import InFlight
from videostar_env.tools import ToolResult
from videostar_env.tools.cache import CacheConfig

DATA = {"dataset_kwargs": {"split": "base", "per_class": 1}}  # one video per class: few videos to render
MODEL_SECONDS = 0.5  # how long a backend call takes: long enough for every concurrent caller to arrive meanwhile


class SlowCountingOracle(OracleVision):
    """The oracle backend with a model's latency, counting how often it is really asked (from any thread)."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.calls = 0
        self._lock = threading.Lock()

    def pose(self, clip, sample):
        with self._lock:
            self.calls += 1
        time.sleep(MODEL_SECONDS)
        if self.fail:  # stands in for a remote model server that is down
            raise ConnectionError("pose server unreachable")
        return super().pose(clip, sample)


def concurrently(calls):
    """Run the calls as verl's agent loop does: one asyncio loop, each call in an executor thread, all at once.

    The garbage collector is off meanwhile: "at once" means within a backend's MODEL_SECONDS, and a full collection
    of the test session's objects stops every thread but not a backend's sleep, so a caller could arrive after the
    call it should share had ended: the likely cause of one fresh-clone CI failure (5 runs for 4 videos)."""
    async def main():
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(len(calls)) as pool:
            return await asyncio.gather(*(loop.run_in_executor(pool, call) for call in calls))
    enabled = gc.isenabled()
    gc.disable()
    try:
        return asyncio.run(main())
    finally:
        if enabled:
            gc.enable()


def grpo_batch(vision, tool_cache, videos=4, rollouts=4):
    """videos x rollouts envs reset on their video, then all stepping the same pose call at once; their last records."""
    envs = [gym.make("VideoSTAR-v0", vision=vision, tool_cache=tool_cache, **DATA).unwrapped for _ in range(videos * rollouts)]
    for i, env in enumerate(envs):
        env.reset(seed=i, options={"index": i // rollouts})
    steps = concurrently([lambda env=env: env.step(tool_call("pose_estimation")) for env in envs])
    records = [env._episode.calls[-1] for env in envs]
    assert [s[4]["tool_results"][-1]["shared"] for s in steps] == [r.shared for r in records]
    return envs, [records[v * rollouts:(v + 1) * rollouts] for v in range(videos)]


@pytest.mark.parametrize("cache", ["cold cache", "no cache"])
def test_16_concurrent_episodes_on_4_videos_run_the_tool_4_times(tmp_path, cache):
    vision = SlowCountingOracle()
    envs, groups = grpo_batch(vision, CacheConfig(str(tmp_path)) if cache == "cold cache" else None)
    assert vision.calls == 4
    for group in groups:
        assert all(r.ok for r in group)
        ran = [r for r in group if not r.shared]
        assert len(ran) == 1 and not ran[0].cached  # the one that ran says so: the accounting stays honest
        assert all(r.cached for r in group if r.shared)  # the others did not compute their result
        assert {r.text for r in group} == {ran[0].text}
        for r in group:
            np.testing.assert_array_equal(np.stack(r.images), np.stack(ran[0].images))
            assert all(not image.flags.writeable for image in r.images)  # shared arrays cannot be changed
    if cache == "cold cache":
        toolbox_caches = [env.toolbox.cache for env in envs]
        assert sum(c.misses for c in toolbox_caches) == 4 and sum(c.hits for c in toolbox_caches) == 0
        assert len(toolbox_caches[0]) == 4


def test_a_failure_is_shared_by_the_waiters_and_not_cached(tmp_path):
    vision = SlowCountingOracle(fail=True)
    envs, (group,) = grpo_batch(vision, CacheConfig(str(tmp_path)), videos=1, rollouts=8)
    assert vision.calls == 1  # a server that is down is asked once, not once per waiting rollout
    assert all(not r.ok and "ConnectionError: pose server unreachable" in r.text for r in group)
    assert sum(r.shared for r in group) == 7 and not any(r.cached for r in group)  # failures are never cached
    assert len(envs[0].toolbox.cache) == 0
    envs[0].step(tool_call("pose_estimation"))  # once the flight is over, a new call tries again
    assert vision.calls == 2


class RandomFrame:
    """A tool whose result is random: it declares `cacheable = False`, so every call runs."""

    name = "sample_frame"
    description = "One frame drawn at random."
    parameters = {"type": "object", "properties": {}}
    cacheable = False

    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, ctx):
        with self._lock:
            self.calls += 1
        time.sleep(MODEL_SECONDS / 5)
        return ToolResult(f"frame {np.random.default_rng().integers(len(ctx.clip.indices))}")


def test_a_tool_that_is_not_cacheable_runs_for_every_concurrent_call(tmp_path):
    tool = RandomFrame()
    envs = [gym.make("VideoSTAR-v0", tools=[tool], tool_cache=CacheConfig(str(tmp_path)), **DATA).unwrapped for _ in range(4)]
    for env in envs:
        env.reset(seed=0, options={"index": 0})
    concurrently([lambda env=env: env.step(tool_call("sample_frame")) for env in envs])
    assert tool.calls == 4
    assert not any(env._episode.calls[-1].shared for env in envs)


def test_calls_that_differ_only_by_spelled_out_defaults_share_one_run():
    vision = SlowCountingOracle()
    envs = [gym.make("VideoSTAR-v0", vision=vision, tool_cache=None, **DATA).unwrapped for _ in range(2)]
    for env in envs:
        env.reset(seed=0, options={"index": 0})
    actions = [tool_call("pose_estimation"), tool_call("pose_estimation", max_images=4)]  # 4: the schema default
    concurrently([lambda env=env, a=a: env.step(a) for env, a in zip(envs, actions)])
    assert vision.calls == 1
    assert [env._episode.calls[-1].arguments for env in envs] == [{}, {"max_images": 4}]  # each keeps what it asked


# -- the primitive ---------------------------------------------------------------------------------


def test_inflight_runs_a_key_once_for_callers_that_overlap():
    flights, runs = InFlight(), []

    def compute():
        runs.append(threading.get_ident())
        time.sleep(MODEL_SECONDS)
        return object()

    results = concurrently([lambda: flights.run("key", compute)] * 8)
    assert len(runs) == 1
    assert len({id(value) for value, _ in results}) == 1  # every caller holds the one value
    assert sorted(shared for _, shared in results) == [False] + [True] * 7
    assert len(flights) == 0  # nothing is kept once it is done
    flights.run("key", compute)
    assert len(runs) == 2  # a later call computes again


def test_inflight_hands_an_error_to_every_waiter_and_frees_the_key():
    flights, runs = InFlight(), []

    def broken():
        runs.append(1)
        time.sleep(MODEL_SECONDS)
        raise ValueError("model crashed")

    def call():
        try:
            flights.run("key", broken)
        except ValueError as exc:
            return str(exc)

    assert concurrently([call] * 6) == ["model crashed"] * 6
    assert len(runs) == 1 and len(flights) == 0
    assert flights.run("key", lambda: 42) == (42, False)


def test_inflight_runs_different_keys_in_parallel():
    flights, both_inside = InFlight(), threading.Barrier(2, timeout=10)

    def compute(key):
        both_inside.wait()  # raises BrokenBarrierError if the second key waited for the first
        return key

    assert sorted(concurrently([lambda: flights.run("a", lambda: compute("a")),
                                lambda: flights.run("b", lambda: compute("b"))])) == [("a", False), ("b", False)]


def test_inflight_refuses_a_computation_that_asks_for_its_own_key():
    flights = InFlight()
    with pytest.raises(RuntimeError, match="wait on itself"):
        flights.run("key", lambda: flights.run("key", lambda: 1))
    assert len(flights) == 0


def _pose_in_a_process(folder, index, barrier, results):
    """One worker process: an env on video `index`, stepping the pose call when every worker is ready."""
    vision = SlowCountingOracle()
    env = gym.make("VideoSTAR-v0", vision=vision, tool_cache=CacheConfig(folder), **DATA).unwrapped
    env.reset(seed=0, options={"index": index})
    barrier.wait()
    env.step(tool_call("pose_estimation"))
    record = env._episode.calls[-1]
    results.put((vision.calls, record.ok, record.cached, record.text))
    env.close()


def test_processes_sharing_a_cache_folder_compute_each_missing_key_once(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    videos = [0, 0, 0, 1, 1, 1]  # three worker processes per video, all asking at once on a cold cache
    barrier, results = context.Barrier(len(videos)), context.Queue()
    workers = [context.Process(target=_pose_in_a_process, args=(str(tmp_path), i, barrier, results)) for i in videos]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(ok for _, ok, _, _ in outcomes)
    assert sum(calls for calls, *_ in outcomes) == 2  # the model ran once per video, not once per process
    assert sorted(cached for _, _, cached, _ in outcomes) == [False, False, True, True, True, True]
    assert len({text for *_, text in outcomes}) == 2


def test_a_process_waits_for_a_held_key_at_most_lock_wait_s_then_computes_it_itself(tmp_path):
    import fcntl
    import os

    from videostar_env.tools.cache import LOCK_STRIPES, ToolCache

    cache = ToolCache(CacheConfig(str(tmp_path), lock_wait_s=0.3))
    key = {"tool": "pose_estimation", "video": "v"}
    stripe = f"{int(cache.hash(key)[:8], 16) % LOCK_STRIPES:04x}"
    path = tmp_path / "locks" / stripe[:2] / f"{stripe}.lock"
    path.parent.mkdir(parents=True)
    holder = os.open(path, os.O_RDWR | os.O_CREAT)  # another process computing this key, that never finishes
    fcntl.flock(holder, fcntl.LOCK_EX)
    start = time.monotonic()
    with pytest.warns(UserWarning, match=r"waited 0.3 s \(CacheConfig.lock_wait_s\) for another process"):
        with cache.computing(key) as locked:
            assert not locked
    assert 0.3 <= time.monotonic() - start < 5
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    with cache.computing(key) as locked:
        assert locked


def test_a_cache_folder_without_room_for_lock_files_computes_without_waiting(tmp_path):
    from videostar_env.tools.cache import ToolCache

    cache = ToolCache(CacheConfig(str(tmp_path)))
    (tmp_path / "locks").write_text("a file where the lock folder should be")
    with pytest.warns(UserWarning, match="cannot make lock files under"):
        with cache.computing({"tool": "x"}) as locked:
            assert not locked
    with pytest.raises(ValueError, match="lock_wait_s must be a number of seconds >= 0"):
        CacheConfig(lock_wait_s=-1)
