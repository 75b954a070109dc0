"""The node vision service: the "ray" vision and objects backends, their actor, its faults, and thin envs."""

import json
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env import answer, tool_call
from videostar_env.backends import OracleVision, make_backend
from videostar_env.backends import remote
from videostar_env.backends.remote import ServiceUnavailable

ray = pytest.importorskip("ray")

HEAVY = ("torch", "ultralytics", "ai_edge_litert", "tensorflow")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray of 2 CPUs for this module, its services killed and Ray shut down after."""
    env_vars = {k: v for k, v in os.environ.items() if k.startswith(("YOLO_", "VIDEOSTAR_"))}
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env_vars})
    yield context
    for service in remote._SERVICES.values():
        ray.kill(service.handle)
    remote._SERVICES.clear()
    ray.shutdown()


def oracle_env(**kwargs):
    return gym.make("VideoSTAR-v0", vision=("ray", {"backend": "oracle", **kwargs}), tool_cache=None)


def test_the_ray_backend_returns_what_the_in_process_backend_returns_under_its_id(cluster):
    env = oracle_env()
    inner = env.unwrapped
    env.reset(seed=0, options={"index": 3})
    backend = inner.toolbox.backends.vision
    local = OracleVision()
    assert backend.id == local.id  # tool caches stay shared with in-process runs
    clip, sample = inner._ctx.clip, inner._ctx.sample
    for method in ("detect", "pose"):
        got, want = getattr(backend, method)(clip, sample), getattr(local, method)(clip, sample)
        assert len(got) == len(want) == len(clip.indices)
        for g, w in zip(got, want):
            assert [d.box for d in g] == [d.box for d in w]
            if method == "pose":
                np.testing.assert_array_equal(g[0].keypoints, w[0].keypoints)
    env.close()


def test_a_clip_goes_into_the_object_store_once_for_every_call_on_it(cluster):
    backend = make_backend("vision", ("ray", {"backend": "oracle"}))
    env = oracle_env()
    env.reset(seed=0, options={"index": 1})
    clip, sample = env.unwrapped._ctx.clip, env.unwrapped._ctx.sample
    references = backend.service.reference
    before = len(references)
    backend.pose(clip, sample)
    first = references(clip.frames)
    backend.detect(clip, sample)
    assert references(clip.frames) is first and len(references) == before + 1
    env.close()


def test_identical_requests_in_flight_from_many_threads_run_once_in_the_service(cluster):
    backend = make_backend("vision", ("ray", {"backend": "oracle", "service_name": "videostar-test-merge"}))
    env = oracle_env(service_name="videostar-test-merge")
    env.reset(seed=0, options={"index": 2})
    clip, sample = env.unwrapped._ctx.clip, env.unwrapped._ctx.sample
    barrier = threading.Barrier(8)

    def call(_):
        barrier.wait()
        return backend.pose(clip, sample)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    stats = backend.stats()
    assert stats["requests"] == 8 and stats["computed"] == 1  # the others merged into it or read it kept
    assert stats["merged"] + stats.get("kept", 0) == 7
    assert all(len(r) == len(results[0]) for r in results)
    env.close()


@pytest.fixture(scope="module")
def yolo_options(tmp_path_factory):
    """Real ultralytics YOLO11 models built from their yaml (random weights: a small, non-empty output)."""
    pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")
    from conftest import build_weights

    folder = tmp_path_factory.mktemp("weights")
    return {"detect_weights": build_weights("yolo11n.yaml", folder / "det.pt"),
            "pose_weights": build_weights("yolo11n-pose.yaml", folder / "pose.pt"),
            "device": "cpu", "imgsz": 128, "conf": 0.0, "max_det": 3}


@pytest.mark.parametrize("backend", ["oracle", "yolo"])
def test_an_env_with_the_node_service_never_imports_torch_ultralytics_or_litert(cluster, tmp_path, backend, request):
    served = {"backend": backend, "address": cluster.address_info["address"]}
    if backend == "yolo":
        served["options"] = request.getfixturevalue("yolo_options")
    objects = {"backend": "oracle", "address": cluster.address_info["address"]}
    script = f"""
import json, sys
import gymnasium as gym, videostar_env
from videostar_env import answer, tool_call
env = gym.make("VideoSTAR-v0", vision=("ray", {served!r}), tool_cache=None)
_, info = env.reset(seed=0)
records = [env.step(tool_call(name))[4]["tool_results"][-1] for name in ("pose_estimation", "human_detection")]
# Random YOLO weights may find no confident keypoints: the tool's own finding, from the model's output.
oks = [r["ok"] or ({backend == "yolo"} and r["text"].startswith("Error: no person with keypoints")) for r in records]
reward = env.step(answer(info["ground_truth"]["label"]))[1]
scenes = gym.make("VideoSTR-Tools-v0", objects=("ray", {objects!r}), tool_cache=None,
                  dataset_kwargs={{"num_scenes": 2, "questions_per_scene": 2}})
scenes.reset(seed=0)
oks.append(scenes.step(tool_call("relation_graph"))[4]["tool_results"][-1]["ok"])
print(json.dumps({{"oks": oks, "reward": reward, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["oks"] == [True, True, True] and found["reward"] > 0
    assert found["heavy"] == []


def test_the_service_counts_the_model_calls_and_frames_its_batched_models_ran(cluster, yolo_options):
    backend = make_backend("vision", ("ray", {"backend": "yolo", "options": {**yolo_options, "memory": 0},
                                              "service_name": "videostar-test-work", "memory": 0}))
    env = oracle_env(service_name="videostar-test-work-oracle")
    env.reset(seed=0, options={"index": 1})
    clip, sample = env.unwrapped._ctx.clip, env.unwrapped._ctx.sample
    before = backend.stats()
    backend.pose(clip, sample)
    backend.detect(clip, sample)
    after = backend.stats()
    assert after["model_frames"] - before["model_frames"] == 2 * len(clip.indices)
    assert 2 <= after["model_calls"] - before["model_calls"] <= 2 * len(clip.indices)
    oracle = env.unwrapped.toolbox.backends.vision.stats()  # a backend without models: nothing counted
    assert oracle["model_calls"] == oracle["model_frames"] == 0
    env.close()


def test_the_service_batching_benchmark_takes_many_episodes_frames_into_one_call(cluster):
    pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")
    from videostar_benchmarks.perf.service_batching import service_batching

    result = service_batching(device="cpu", episodes=4, repeats=1)
    assert result["per_episode"]["frames_per_call"] == result["frames"] == 16
    assert 16 <= result["batched"]["frames_per_call"] <= 64
    assert result["batched"]["episodes_per_s"] > 0 and result["per_episode"]["episodes_per_s"] > 0
    assert result["batched_over_per_episode"] == pytest.approx(
        result["batched"]["episodes_per_s"] / result["per_episode"]["episodes_per_s"], abs=0.01)
    assert ray.is_initialized()  # the caller's Ray is left running, without the benchmark's detached services
    deadline = time.monotonic() + 30
    while any(a["name"].startswith("videostar-perf-batching-") for a in ray.util.list_named_actors(all_namespaces=True)):
        assert time.monotonic() < deadline, "the benchmark's services outlived it"
        time.sleep(0.5)


def test_killing_the_service_mid_run_ends_every_episode_once_with_a_reward_and_logs_the_restart(cluster, caplog):
    episodes, threads = 64, 8
    envs = [oracle_env(service_name="videostar-test-faults", retries=3) for _ in range(threads)]
    service = envs[0].unwrapped.toolbox.backends.vision.service
    rewards: dict[int, list[float]] = {}
    lock, started = threading.Lock(), threading.Semaphore(0)

    def play(worker: int) -> None:
        env = envs[worker]
        for episode in range(worker, episodes, threads):
            _, info = env.reset(seed=episode, options={"index": episode % len(env.unwrapped.dataset)})
            for name in ("pose_estimation", "human_detection"):
                _, _, _, _, info = env.step(tool_call(name))
                assert info["tool_results"][-1]["ok"], info["tool_results"][-1]
            _, reward, terminated, _, _ = env.step(answer(info["ground_truth"]["label"]))
            assert terminated
            with lock:
                rewards.setdefault(episode, []).append(reward)
            started.release()

    with caplog.at_level(logging.WARNING, logger="videostar_env.backends.remote"):
        with ThreadPoolExecutor(threads) as pool:
            runs = [pool.submit(play, w) for w in range(threads)]
            for _ in range(12):  # some episodes done, the rest still to come
                started.acquire()
            ray.kill(service.handle)
            for run in runs:
                run.result()
    assert sorted(rewards) == list(range(episodes))
    assert all(len(r) == 1 and r[0] > 0 for r in rewards.values())
    assert service.restarts >= 1
    assert any("restarting it" in m and "videostar-test-faults" in m for m in caplog.messages)
    for env in envs:
        env.close()


def test_a_service_that_cannot_start_is_one_error_at_env_creation(cluster):
    # Ray refuses it at once (no GPU on this node) or it waits for a GPU that never frees: one error either way.
    with pytest.raises(ServiceUnavailable, match="(could not|did not) start.*num_gpus=1"):
        oracle_env(service_name="videostar-test-no-gpu", num_gpus=1, start_timeout_s=3)


def test_the_wrapped_backends_errors_reach_env_creation(cluster, tmp_path):
    missing = str(tmp_path / "nowhere-pose.tflite")
    with pytest.raises(FileNotFoundError, match="pose_weights"):
        gym.make("VideoSTAR-v0", tool_cache=None, tools=["pose_estimation"],
                 vision=("ray", {"backend": "yolo", "options": {"pose_weights": missing, "download": False}}))


@pytest.mark.parametrize("options, message", [
    ({"backend": "replay"}, "runs one of"),
    ({"backend": "oracle", "retries": -1}, "retries must be"),
    ({"backend": "oracle", "options": "fast"}, "options must be"),
])
def test_bad_ray_backend_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        make_backend("vision", ("ray", options))


def test_without_ray_installed_the_ray_backend_is_one_error_at_env_creation(tmp_path):
    script = """
import sys
sys.modules["ray"] = None  # as if Ray were not installed
import gymnasium as gym, videostar_env
try:
    gym.make("VideoSTAR-v0", vision=("ray", {"backend": "oracle"}))
except ImportError as exc:
    print("ERROR", exc)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "ERROR the 'ray' vision and objects backends need Ray: pip install 'videostar-env[ray]'" in out.stdout, \
        out.stderr[-2000:]


def test_object_tools_read_the_same_world_through_the_service(cluster):
    small = {"dataset_kwargs": {"num_scenes": 3, "questions_per_scene": 4}, "tool_cache": None}

    def graph(objects):
        env = gym.make("VideoSTR-Tools-v0", objects=objects, **small)
        env.reset(seed=3)
        record = env.step(tool_call("relation_graph"))[4]["tool_results"][-1]
        env.close()
        return record["ok"], record["data"]

    served = graph(("ray", {"backend": "oracle"}))
    assert served[0] and served == graph("oracle")


def test_real_ultralytics_models_run_in_the_service_with_the_in_process_ids_and_outputs(cluster, yolo_options):
    options = yolo_options
    served = make_backend("vision", ("ray", {"backend": "yolo", "options": options}))
    local = make_backend("vision", ("yolo", options))
    assert served.id == local.id
    env = oracle_env()
    env.reset(seed=0, options={"index": 0})
    clip, sample = env.unwrapped._ctx.clip, env.unwrapped._ctx.sample
    for method in ("detect", "pose"):
        got, want = getattr(served, method)(clip, sample), getattr(local, method)(clip, sample)
        assert sum(map(len, want)) > 0
        assert [[d.box for d in f] for f in got] == [[d.box for d in f] for f in want]
    env.close()


def test_stopping_the_node_services_kills_this_jobs_detached_actors(cluster):
    backend = make_backend("vision", ("ray", {"backend": "oracle"}))
    name = backend.service.name
    assert name in remote.stop_node_services()
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(backend.service.handle.stats.remote())
    again = make_backend("vision", ("ray", {"backend": "oracle"}))  # a new service, no retry of the dead one
    assert again.service is not backend.service and again.service.restarts == 0


def test_every_worker_of_a_job_on_the_node_finds_the_same_service(cluster):
    @ray.remote(num_cpus=0)
    class Worker:  # an agent-loop worker: a Ray actor of the job that makes envs
        def play(self):
            import gymnasium as gym
            import videostar_env  # noqa: F401, F811  (registers the env ids in the actor)
            from videostar_env import tool_call

            env = gym.make("VideoSTAR-v0", vision=("ray", {"backend": "oracle"}), tool_cache=None)
            env.reset(seed=0)
            ok = env.step(tool_call("pose_estimation"))[4]["tool_results"][-1]["ok"]
            vision = env.unwrapped.toolbox.backends.vision
            return ok, vision.service.name, vision.stats()["pid"]

    first, second = ray.get([Worker.remote().play.remote(), Worker.remote().play.remote()])
    assert first[0] and second[0]
    assert first[1:] == second[1:]  # one name (node and job), one actor process
    assert first[1] == remote.node_service_name(ray)


def test_with_no_retries_left_a_dead_service_is_a_failed_tool_call_and_the_episode_still_ends(cluster):
    env = oracle_env(service_name="videostar-test-no-retries", retries=0)
    _, info = env.reset(seed=0)
    ray.kill(env.unwrapped.toolbox.backends.vision.service.handle)
    record = env.step(tool_call("pose_estimation"))[4]["tool_results"][-1]
    assert not record["ok"] and "videostar-test-no-retries' died during the call (retries allowed: 0" in record["text"]
    _, reward, terminated, _, _ = env.step(answer(info["ground_truth"]["label"]))
    assert terminated and reward > 0
    env.close()


def test_the_oracle_through_the_service_still_refuses_a_dataset_without_ground_truth(cluster, clip_folder):
    with pytest.raises(ValueError, match="reads ground-truth keypoints"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(clip_folder)},
                 vision=("ray", {"backend": "oracle"}))


def test_no_ray_cluster_at_the_given_address_is_one_error_at_env_creation(tmp_path):
    script = """
import gymnasium as gym, videostar_env
try:
    gym.make("VideoSTAR-v0", vision=("ray", {"backend": "oracle", "address": "127.0.0.1:9"}))
except RuntimeError as exc:
    print("ERROR", type(exc).__name__, exc)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "ERROR ServiceUnavailable no Ray cluster answers at address '127.0.0.1:9'" in out.stdout, out.stderr[-2000:]


def test_the_node_service_benchmark_compares_both_modes_and_the_service_runs_each_key_once(tmp_path):
    out = subprocess.run([sys.executable, "-m", "videostar_benchmarks.perf.node_service", "--data", "synthetic",
                          "--workers", "2", "--k", "2", "--repeats", "2", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "node_service.json").read_text())["node_service"]
    assert [(row["mode"], row["repeat"]) for row in report["rows"]] == [
        ("in-process", 0), ("service", 0), ("in-process", 1), ("service", 1)]
    for row in report["rows"]:
        assert row["episodes"] == 4 and row["tool_calls"] == 8 and row["tool_errors"] == 0
        assert len(row["worker_peak_rss_mb"]) == 2
        if row["mode"] == "service":  # each repeat has a cold cache and a service of its own
            assert row["service_computed"] == row["unique_keys"]
            assert row["heavy_modules"] == [] and row["service_peak_rss_mb"] > 0
    [ratio] = report["ratios"]
    assert ratio["repeats"] == 2 and len(ratio["total_rss_ratios"]) == 2 and ratio["met"]["runs_are_unique_keys"]
    # The floors are those of a YOLO service: on the synthetic data the service runs the oracle, so none.
    assert report["floors"] is None and report["ratios"][0]["floor_total_rss_ratio"] is None
    text = (tmp_path / "node_service.md").read_text()
    assert "| 2 | service | 1 | 2 |" in text and "| 2 | service | 2 | 2 |" in text and "Floors:" not in text


def _case(mode: str, repeat: int, total_mb: float, episodes_per_s: float, worker_mb: float = 250.0) -> dict:
    return {"mode": mode, "repeat": repeat, "workers": 2, "total_rss_mb": total_mb, "episodes_per_s": episodes_per_s,
            "worker_peak_rss_mb": [worker_mb, worker_mb], "service_computed": 6 if mode == "service" else None,
            "tool_runs": 6, "unique_keys": 6}


def test_the_benchmark_ratios_are_the_medians_of_pairs_run_one_after_the_other():
    from videostar_benchmarks.perf.node_service import ratios, table

    rows = [_case("in-process", 0, 2000, 10.0), _case("service", 0, 700, 8.0),  # a slow pair: 0.80x
            _case("in-process", 1, 2000, 10.0), _case("service", 1, 760, 9.5),
            _case("in-process", 2, 2100, 10.0), _case("service", 2, 840, 10.0, worker_mb=360.0)]
    [row] = ratios(rows)
    assert row["repeats"] == 3 and row["total_rss_ratios"] == [0.35, 0.38, 0.4]
    assert row["total_rss_ratio"] == 0.38 and row["episodes_per_s_ratio"] == 0.95
    # Medians meet the targets; the worker RSS cap holds in every repeat, so one worker over 350 MB misses it.
    assert row["met"] == {"total_rss": True, "episodes_per_s": True, "worker_rss": False, "runs_are_unique_keys": True}
    assert "| 2 | 360 MISSED | 0.38 (0.35–0.40) ok | 0.95 (0.80–1.00) ok | 6 / 6 ok | - |" in table(
        {"rows": [], "ratios": [row]})


def test_the_floors_are_a_thin_worker_before_any_env_and_a_service_that_imported_ultralytics(cluster):
    pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")
    from videostar_benchmarks.perf.node_service import floors, ratios, table

    found = floors(cluster.address_info["address"])
    assert 0 < found["worker_mb"] < 250 and found["service_mb"] > found["worker_mb"] + 200  # torch alone is more
    base = {"mode": "in-process", "workers": 2, "total_rss_mb": 2000.0, "episodes_per_s": 1.0,
            "worker_peak_rss_mb": [1000.0, 1000.0], "service_computed": None, "unique_keys": 6}
    svc = {**base, "mode": "service", "total_rss_mb": 900.0, "worker_peak_rss_mb": [300.0, 300.0],
           "service_computed": 6}
    [row] = ratios([base, svc], found)
    assert row["floor_total_rss_ratio"] == pytest.approx((2 * found["worker_mb"] + found["service_mb"]) / 2000, abs=1e-3)
    text = table({"rows": [], "ratios": [row], "floors": found})
    assert f"a thin worker before any env {found['worker_mb']:.0f} MB" in text
