"""EnvPool: envs built, reset, stepped and converted on the pool's threads, never on the event loop; one episode per env."""

import asyncio
import gc
import json
import os
import sys
import threading

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents.messages import QwenChat, qwen_chat
from videostar_env import VideoToolEnv, answer, tool_call
from videostar_trainers.env_pool import (NICE, THREADS_PER_CORE, EnvPool, Transition, available_cores, default_threads,
                                         lower_priority, pool_key, preload_libraries)
from videostar_trainers.process import SWITCH_INTERVAL, tune_worker_process

KWARGS = {"dataset": "synthetic", "dataset_kwargs": {"per_class": 1}, "tool_cache": None}
BUILT_ON: list[str] = []  # the thread each probe env was built in
PROBE = "EnvPoolProbe-v0"


def probe_env(**kwargs):
    """The real env, noting the thread that builds it."""
    BUILT_ON.append(threading.current_thread().name)
    return VideoToolEnv(**kwargs)


gym.register(PROBE, entry_point=probe_env)


@pytest.fixture
def pool():
    pool = EnvPool(PROBE, KWARGS, threads=2)
    BUILT_ON.clear()
    yield pool
    gc.unfreeze()
    if pool.idle == pool.size:
        pool.close()


def test_default_threads_are_a_few_per_core_this_process_may_use():
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))
    assert default_threads() == THREADS_PER_CORE * available_cores()
    assert EnvPool("VideoSTAR-v0", KWARGS).threads == default_threads()


def test_a_configuration_is_its_id_and_kwargs_in_any_order():
    assert pool_key("A-v0", {"x": 1, "y": {"b": 2, "a": 1}}) == pool_key("A-v0", {"y": {"a": 1, "b": 2}, "x": 1})
    assert pool_key("A-v0", {"x": 1}) != pool_key("A-v0", {"x": 2}) != pool_key("B-v0", {"x": 2})
    assert pool_key("A-v0") == pool_key("A-v0", {})


def test_start_builds_and_warms_envs_on_the_pool_threads_then_freezes_the_gc(pool):
    warmed_on = []

    async def main():
        await asyncio.gather(pool.start(3, warm=lambda env: warmed_on.append(threading.current_thread().name)),
                             pool.start(3))  # concurrent callers: one fill
        await pool.start(2)  # already full: nothing built

    gc.unfreeze()
    asyncio.run(main())
    assert pool.size == pool.idle == 3 and len(BUILT_ON) == 3 and len(warmed_on) == 3
    assert all(name.startswith("env-pool") for name in BUILT_ON + warmed_on)
    assert gc.get_freeze_count() > 0


def test_start_without_freezing_and_bad_sizes(pool):
    gc.unfreeze()
    asyncio.run(pool.start(1, freeze_gc=False))
    assert gc.get_freeze_count() == 0 and pool.size == 1
    with pytest.raises(ValueError, match="at least 0"):
        asyncio.run(pool.start(-1))
    for threads in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            EnvPool(PROBE, KWARGS, threads=threads)
    for nice in (-1, 20, 2.5, True, "10"):
        with pytest.raises(ValueError, match="nice must be an integer from 0"):
            EnvPool(PROBE, KWARGS, nice=nice)


def test_a_pool_leaves_the_process_settings_to_the_worker():
    sys.setswitchinterval(0.005)
    EnvPool(PROBE, KWARGS, threads=1).close()
    assert sys.getswitchinterval() == pytest.approx(0.005)  # tune_worker_process's, once per worker process


def test_tune_worker_process_sets_the_switch_interval_and_malloc_and_checks_both_first():
    sys.setswitchinterval(0.005)
    for interval in (0, -0.001, 2, True, "1ms"):
        with pytest.raises(ValueError, match="switch_interval must be a number of seconds"):
            tune_worker_process(switch_interval=interval)
    with pytest.raises(ValueError, match="threshold must be a number of bytes"):
        tune_worker_process(mmap_threshold=0)  # see test_malloc.py for what the threshold fixes
    assert sys.getswitchinterval() == pytest.approx(0.005)  # a refused call changed nothing
    assert tune_worker_process(switch_interval=None, mmap_threshold=None) == {"switch_interval": 0.005,
                                                                             "mmap_threshold": None}
    settings = tune_worker_process()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) == pytest.approx(0.001)
    assert settings["mmap_threshold"] in (1 << 20, None)  # None off glibc


def thread_priority() -> int:
    """The calling thread's niceness."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness is per thread on Linux only")
@pytest.mark.parametrize("nice", [0, 3, NICE])
def test_env_work_runs_below_the_loops_cpu_priority_and_the_loop_keeps_its_own(nice):
    pool = EnvPool(PROBE, KWARGS, threads=1, nice=nice)
    here = thread_priority()

    async def main():
        async with pool.env() as env:
            return await pool.reset(env, seed=0, convert=lambda messages: thread_priority())

    try:
        assert asyncio.run(main()).converted == min(19, here + nice)  # the converter ran on a pool thread
        assert thread_priority() == here
    finally:
        gc.unfreeze()
        pool.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness is per thread on Linux only")
def test_lower_priority_changes_the_calling_thread_only_and_stops_at_19():
    seen = {}

    def lower(steps: int) -> None:
        seen[steps] = (lower_priority(steps), thread_priority())

    for steps in (0, 2, 40):
        thread = threading.Thread(target=lower, args=(steps,))
        thread.start()
        thread.join()
    here = thread_priority()
    assert seen == {0: (False, here), 2: (True, min(19, here + 2)), 40: (True, 19)}


def test_acquire_builds_off_the_loop_when_every_env_is_in_use(pool):
    async def main():
        await pool.start(1, freeze_gc=False)
        first, second = await pool.acquire(), await pool.acquire()
        assert first is not second and pool.size == 2 and pool.idle == 0
        pool.release(first)
        assert await pool.acquire() is first  # an idle env before a new one
        pool.release(first)
        pool.release(second)

    asyncio.run(main())
    assert len(BUILT_ON) == 2 and all(name.startswith("env-pool") for name in BUILT_ON)
    assert pool.idle == pool.size == 2


def test_an_episode_through_the_pool_converts_messages_on_its_threads(pool):
    converted_on = []

    def convert(messages):
        converted_on.append(threading.current_thread().name)
        return qwen_chat(messages)

    async def main():
        async with pool.env() as env:
            first = await pool.reset(env, seed=3, options={"index": 2}, convert=convert)
            tool = await pool.step(env, tool_call("pose_estimation"), convert=convert)
            last = await pool.step(env, answer(first.info["ground_truth"]["label"]), convert=convert)
            plain = await pool.reset(env, seed=3, options={"index": 2})
        return first, tool, last, plain

    first, tool, last, plain = asyncio.run(main())
    assert isinstance(first, Transition) and isinstance(first.converted, QwenChat) and not first.done
    assert first.converted.videos[0].shape == first.observation["frames"].shape
    assert first.info["sample_id"] == plain.info["sample_id"] and plain.converted is None
    assert isinstance(tool.converted, QwenChat) and len(tool.converted.messages) > len(first.converted.messages)
    assert tool.info["tool_results"][0]["name"] == "pose_estimation" and tool.reward == 0.0
    assert last.done and last.terminated and not last.truncated and last.converted is None  # nothing to convert
    assert last.reward == pytest.approx(last.info["reward"]["total"])
    assert len(converted_on) == 2 and all(name.startswith("env-pool") for name in converted_on)
    assert pool.idle == pool.size == 1


def test_concurrent_episodes_never_share_an_env(pool):
    in_use: set[int] = set()
    overlaps = []

    async def episode(k: int) -> float:
        async with pool.env() as env:
            if id(env) in in_use:
                overlaps.append(k)
            in_use.add(id(env))
            turn = await pool.reset(env, seed=k, options={"index": k % 3})
            await asyncio.sleep(0.01)  # the policy generating
            turn = await pool.step(env, answer(turn.info["ground_truth"]["label"]))
            in_use.discard(id(env))
            return turn.reward

    async def main():
        await pool.start(3, freeze_gc=False)
        return await asyncio.gather(*(episode(k) for k in range(8)))

    rewards = asyncio.run(main())
    assert not overlaps and len(rewards) == 8 and all(np.isfinite(rewards))
    assert pool.size == 8 and pool.idle == 8  # 8 at once: 3 prefilled, 5 built on demand


def test_the_shared_pool_is_one_per_configuration_and_close_forgets_it():
    a = EnvPool.shared(PROBE, {"dataset": "synthetic", "tool_cache": None})
    assert EnvPool.shared(PROBE, {"tool_cache": None, "dataset": "synthetic"}, threads=7) is a
    assert a.threads == default_threads()  # threads count only when the pool is made
    other = EnvPool.shared(PROBE, KWARGS)
    assert other is not a
    a.close()
    other.close()
    assert EnvPool.shared(PROBE, {"dataset": "synthetic", "tool_cache": None}) is not a
    EnvPool.shared(PROBE, {"dataset": "synthetic", "tool_cache": None}).close()


def test_close_refuses_while_an_episode_holds_an_env(pool):
    async def main():
        return await pool.acquire()

    env = asyncio.run(main())
    with pytest.raises(RuntimeError, match="still in use"):
        pool.close()
    pool.release(env)
    pool.close()
    assert pool.size == pool.idle == 0
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.executor.submit(print)


def test_a_failed_build_or_warm_up_is_raised_and_the_envs_that_were_built_are_kept(pool):
    calls = []

    def warm(env):
        calls.append(env)
        if len(calls) == 2:
            raise RuntimeError("model file is corrupt")

    with pytest.raises(RuntimeError, match="corrupt"):
        asyncio.run(pool.start(3, warm=warm, freeze_gc=False))
    assert pool.size == pool.idle == 2 and len(calls) == 3  # the env whose warm-up failed is closed, not kept
    broken = EnvPool("VideoSTAR-v0", {"dataset": "no-such-dataset"})
    with pytest.raises(KeyError, match="no-such-dataset"):
        asyncio.run(broken.start(1, freeze_gc=False))
    assert broken.size == 0
    broken.close()


def test_a_driver_that_reads_only_the_chat_keeps_no_observation():
    async def main():
        pool = EnvPool("VideoSTAR-v0", {"dataset_kwargs": {"per_class": 1}}, threads=1)
        async with pool.env() as env:
            start = await pool.reset(env, seed=0, options={"index": 0}, convert=len, observe=False)
            step = await pool.step(env, "not a turn", convert=len, observe=False)
        pool.close()
        return start, step

    start, step = asyncio.run(main())
    assert start.observation is None and step.observation is None
    assert start.converted == len(start.info["messages"]) and step.converted == len(step.info["messages"])


def test_a_fill_builds_one_env_at_a_time_and_checks_only_the_first(pool):
    building, most = [0], [0]
    checked = []

    def warm(env):
        building[0] += 1
        most[0] = max(most[0], building[0])
        checked.append(any(isinstance(w, gym.wrappers.PassiveEnvChecker) for w in wrappers_of(env)))
        threading.Event().wait(0.02)  # long enough for a second build to overlap, were any running
        building[0] -= 1

    asyncio.run(pool.start(4, warm=warm, freeze_gc=False))
    # Building is Python work under the GIL: parallel builds only starved the loop. The envs are one configuration.
    assert most[0] == 1 and checked == [True, False, False, False]


def wrappers_of(env):
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env


@pytest.fixture(scope="module")
def yolo_weights(tmp_path_factory):
    from conftest import build_weights

    folder = tmp_path_factory.mktemp("weights")
    return {"detect": build_weights("yolo11n.yaml", folder / "det.pt"),
            "pose": build_weights("yolo11n-pose.yaml", folder / "pose.pt")}


def test_a_pool_fill_loads_every_copy_of_the_models_the_tools_call(yolo_weights):
    from videostar_trainers.env_pool import load_models

    vision = ("yolo", {"detect_weights": str(yolo_weights["detect"]), "pose_weights": str(yolo_weights["pose"]),
                       "device": "cpu", "imgsz": 64, "replicas": 2})
    pool = EnvPool("VideoSTAR-v0", {**KWARGS, "vision": vision, "tools": ["pose_estimation"]}, threads=2)
    asyncio.run(pool.start(2, warm=load_models, freeze_gc=False))
    backend = pool._idle[0].unwrapped.toolbox.backends.vision
    pose = backend.batched("pose")
    assert len(pose.models) == 2 and pose.calls == 0  # both copies, before any episode calls the model
    assert "detect" not in backend._batched  # no tool calls the detector: it is not loaded
    pool.close()


@pytest.mark.parametrize("tools, loaded", [(["object_detection", "relation_graph"], ["detect", "track"]),
                                           (["object_detection"], ["detect"])])
def test_a_pool_fill_loads_the_object_models_the_tools_call(yolo_weights, tools, loaded):
    from videostar_trainers.env_pool import load_models

    objects = ("yolo", {"weights": str(yolo_weights["detect"]), "device": "cpu", "imgsz": 64, "replicas": 2})
    pool = EnvPool("VideoSTAR-v0", {**KWARGS, "objects": objects, "tools": tools}, threads=2)
    asyncio.run(pool.start(1, warm=load_models, freeze_gc=False))
    backend = pool._idle[0].unwrapped.toolbox.backends.objects
    assert sorted(backend._batched) == loaded  # a tracker's model copies are its own: loaded only for a tool that tracks
    for service in backend._batched.values():
        assert len(service.models) == 2 and service.calls == 0  # every copy, before any episode calls it
    pool.close()


def test_preload_imports_the_heavy_libraries_before_any_env_exists():
    import subprocess
    import sys

    probe = ("import json, sys; from videostar_trainers.env_pool import preload_libraries; "
             "assert 'ultralytics' not in sys.modules; done = preload_libraries(); "
             "print(json.dumps([done, all(m in sys.modules for m in done)]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    # The last line: a library may print on first import (ultralytics, creating its settings file in a fresh folder).
    imported, all_loaded = json.loads(out.strip().splitlines()[-1])
    assert {"torch", "ultralytics", "cv2", "decord"} <= set(imported) and all_loaded
    assert preload_libraries(("json", "no_such_library_here")) == ["json"]  # one not installed is skipped


def test_the_hook_without_the_preload_still_fixes_verl_and_tunes_the_process(monkeypatch):
    from videostar_trainers import env_pool, process, verl_fixes

    monkeypatch.setattr(env_pool, "preload_libraries", lambda: pytest.fail("preloaded"))
    monkeypatch.setattr(process, "_TUNED", {})
    verl_fixes.setup_worker_without_preload()
    assert process.tuned() is not None and sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)


def test_ray_runs_the_preload_the_verl_fix_and_the_process_settings_as_each_worker_process_starts():
    ray = pytest.importorskip("ray", reason="Ray is not installed")
    # What the GRPO launch line passes: ray_kwargs.ray_init.runtime_env.worker_process_setup_hook.
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": "videostar_trainers.verl_fixes.setup_worker",
                          "env_vars": {k: v for k, v in os.environ.items() if k.startswith("YOLO_")}})
    try:
        @ray.remote
        def heavy_modules_at_start():
            import sys

            from verl.workers.utils import padding

            from videostar_trainers.process import tuned
            return ([m for m in ("torch", "ultralytics", "cv2", "decord") if m in sys.modules],
                    getattr(padding.left_right_2_no_padding, "videostar_fix", False), tuned(), sys.getswitchinterval())

        modules, fixed, settings, interval = ray.get(heavy_modules_at_start.remote(), timeout=180)
        assert modules == ["torch", "ultralytics", "cv2", "decord"] and fixed
        assert settings is not None and interval == pytest.approx(SWITCH_INTERVAL)  # the worker's process is tuned
    finally:
        ray.shutdown()
