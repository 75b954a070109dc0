"""One vision service per process: models loaded once per options, calls batched across episodes, results per clip."""

import gc
import os
import threading
import time

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_env.actions import tool_call
from videostar_env.backends import YOLOObjects, YOLOVision
from videostar_env.backends.batched import model_work
from videostar_env.backends.batched import BatchedModel, BatchOptions, frames_digest
from videostar_env.backends.yolo import device_sharing, load_yolo, ready, sharing
from videostar_env.datasets import SyntheticDataset, VideoSample, decode
from videostar_env.errors import ToolError

from conftest import build_weights, shared_file

ultralytics = pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")

SAMPLE = VideoSample("clip", "unused", "unknown", (), "test", "test")  # the backends read only the clip
REAL_CLIPS = ("arm_wrestling.mp4", "apply_eye_makeup.avi", "flipping_pancake.mkv")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return {"detect": build_weights("yolo11n.yaml", folder / "det.pt"),
            "pose": build_weights("yolo11n-pose.yaml", folder / "pose.pt"),
            "pose_1": build_weights("yolo11n-pose.yaml", folder / "pose_1.pt", seed=1)}


@pytest.fixture(scope="module")
def clips():
    """Six synthetic clips of different actions, 8 frames of 128 px."""
    ds = SyntheticDataset(per_class=1)
    return [decode(ds[i].video, 8, (128, 128)) for i in range(6)]


def random_yolo(weights, pose="pose", **options):
    # Random weights score every anchor near 0.5; conf=0 and a small max_det keep the output small but non-empty.
    # 16 frames a call (a CPU's default is 4) so that a call can hold several episodes' 8-frame clips.
    return YOLOVision(weights["detect"], weights[pose], **{"device": "cpu", "imgsz": 128, "conf": 0.0, "max_det": 3,
                                                          "batch_size": 16, **options})


def flat(frames) -> list:
    """Every detection of every frame as plain numbers: boxes, scores and keypoints."""
    return [(d.box, d.score, None if d.keypoints is None else d.keypoints.tolist()) for f in frames for d in f]


def same_detections(a, b) -> bool:
    return [len(f) for f in a] == [len(f) for f in b] and all(
        np.allclose(x[0], y[0], atol=1e-3) and abs(x[1] - y[1]) < 1e-4
        and (x[2] is None) == (y[2] is None) and (x[2] is None or np.allclose(x[2], y[2], atol=1e-3))
        for x, y in zip(flat(a), flat(b)))


def in_threads(count: int, work) -> list:
    """work(i) in `count` threads started together; their results in order (an exception is its result)."""
    results: list = [None] * count
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive(), "a thread never got its result"
    return results


def test_a_ready_model_has_built_its_predictor_before_any_call(weights):
    model = load_yolo(weights["detect"], ("detect",), "detect weights", "")
    assert model.predictor is None  # ultralytics builds it, and the model's runtime, at the first prediction
    assert ready(model, {"device": "cpu", "imgsz": 64, "verbose": False}) is model
    assert model.predictor is not None and model.predictor.model is not None


def test_backends_with_the_same_options_share_one_model_and_one_load(weights, clips):
    first, second = random_yolo(weights), random_yolo(weights)  # two envs' backends
    first.pose(clips[0], SAMPLE)
    second.pose(clips[1], SAMPLE)
    service = first.batched("pose")
    assert second.batched("pose") is service
    assert len(service.models) == 1 and service.calls == 2
    # Both backends use the one model; model_work counts it once however many times it is named.
    assert first.batched_models() == second.batched_models() == (service,)
    assert model_work([*first.batched_models(), *second.batched_models()]) == \
        {"model_calls": 2, "model_frames": 2 * len(clips[0].indices)}
    assert first.batched("detect") is not service and not first.batched("detect").models  # loads on first use
    # 16 episodes touching a fresh service at once load it once, or once per copy asked for.
    for replicas in (1, 2):
        backends = [random_yolo(weights, max_wait_ms=5, replicas=replicas) for _ in range(16)]
        in_threads(16, lambda i: backends[i].pose(clips[i % len(clips)], SAMPLE))
        assert 1 <= len(backends[0].batched("pose").models) <= replicas


def test_a_gpu_gets_one_copy_and_large_batches_a_cpu_two_copies_and_few_frames_a_call(weights):
    assert device_sharing("cuda:0") == device_sharing("0") == {"batch_size": 64, "replicas": 1}
    assert device_sharing("cpu") == {"batch_size": 4, "replicas": min(2, os.cpu_count())}
    options = random_yolo(weights, batch_size=None).batched("pose").options
    assert (options.batch_size, options.replicas) == (4, min(2, os.cpu_count()))
    options = random_yolo(weights, batch_size=None, replicas=3).batched("pose").options
    assert (options.batch_size, options.replicas) == (4, 3)  # what is given stays
    assert sharing(None, 5.0, None, 7, device="cuda:1") == BatchOptions(64, 5.0, 1, 7)


def test_other_weights_or_options_get_their_own_model(weights, clips):
    base = random_yolo(weights)
    others = [random_yolo(weights, pose="pose_1"), random_yolo(weights, max_det=2), random_yolo(weights, batch_size=4),
              random_yolo(weights, memory=0)]
    services = [b.batched("pose") for b in [base, *others]]
    assert len({id(s) for s in services}) == len(services)
    for backend in [base, *others]:
        backend.pose(clips[0], SAMPLE)
    models = [s.models for s in services]
    assert all(len(m) == 1 for m in models) and len({id(m[0]) for m in models}) == len(models)
    assert not same_detections(base.pose(clips[0], SAMPLE), others[0].pose(clips[0], SAMPLE))  # other weights
    # A service lives while a backend holds it: once every env is gone, so is its model.
    del base, others, services, models
    gc.collect()
    assert not random_yolo(weights).batched("pose").models


def test_a_forked_process_makes_its_own_services(weights, clips):
    parent = random_yolo(weights)
    parent.pose(clips[0], SAMPLE)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a vector env's worker that makes its env after the fork
        status = 1
        try:
            child = random_yolo(weights)
            service = child.batched("pose")
            status = 0 if service is not parent.batched("pose") and not service.models else 2
        finally:
            os.write(write, bytes([status]))
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"\x00"
    os.waitpid(pid, 0)
    assert random_yolo(weights).batched("pose") is parent.batched("pose")  # the parent's own stays shared


@pytest.mark.parametrize("replicas", [1, 2])
def test_sixteen_threads_get_the_detections_of_serial_calls(weights, clips, replicas):
    serial = random_yolo(weights, batch_size=8, memory=0)  # one model call per clip
    expected = {(task, k): getattr(serial, task)(clip, SAMPLE) for task in ("detect", "pose")
                for k, clip in enumerate(clips)}
    # Every episode its own backend, as every env has; memory=0: every call reaches the model.
    backends = [random_yolo(weights, memory=0, max_wait_ms=20, replicas=replicas) for _ in range(16)]
    jobs = [[(task, i % len(clips)) for task in ("pose", "detect")] for i in range(16)]
    got = in_threads(16, lambda i: [getattr(backends[i], task)(clips[k], SAMPLE) for task, k in jobs[i]])
    for i in range(16):
        assert not isinstance(got[i], Exception), got[i]
        for job, frames in zip(jobs[i], got[i]):
            assert same_detections(frames, expected[job]), job
    pose = backends[0].batched("pose")
    assert pose.frames == 16 * 8 and pose.calls < 16  # calls took the frames of several episodes
    assert 1 <= len(pose.models) <= replicas


def test_sixteen_threads_on_the_real_clips_with_the_int8_weights():
    pytest.importorskip("ai_edge_litert", reason="the TFLite runtime (ai-edge-litert) is not installed")
    options = {"detect_weights": str(shared_file("weights/yolo11n_int8.tflite")),
               "pose_weights": str(shared_file("weights/yolo11n-pose_int8.tflite")), "device": "cpu", "imgsz": 256}
    real = [decode(str(shared_file(f"clips/{name}")), 8, (224, 224)) for name in REAL_CLIPS]
    serial = YOLOVision(**options, batch_size=8, memory=0)
    expected = [serial.pose(clip, SAMPLE) for clip in real]
    assert all(sum(map(len, frames)) >= 6 for frames in expected)  # people found: a real comparison
    # Pose only: the int8 detector reads 640 px whatever imgsz says, ten times the pose model's time on a CPU.
    backends = [YOLOVision(**options, memory=0, max_wait_ms=20, batch_size=16) for _ in range(16)]  # calls merge clips
    got = in_threads(16, lambda i: backends[i].pose(real[i % 3], SAMPLE))
    for i in range(16):
        assert not isinstance(got[i], Exception), got[i]
        assert same_detections(got[i], expected[i % 3]), REAL_CLIPS[i % 3]
    assert backends[0].batched("pose").calls < 16


def test_a_clip_is_computed_once_however_many_episodes_ask_at_once(weights, clips):
    backends = [random_yolo(weights) for _ in range(12)]
    # A GRPO group: episodes on the same videos, each decoding its own Clip object.
    again = [decode(c.path, 8, (128, 128)) for c in clips[:3]]
    results = in_threads(12, lambda i: backends[i].pose(again[i % 3] if i % 2 else clips[i % 3], SAMPLE))
    service = backends[0].batched("pose")
    assert service.frames == 3 * 8  # one run per clip content
    for i in range(12):
        assert same_detections(results[i], results[i % 3])
    results[0][0].clear()  # a caller's lists are its own: the kept result is untouched
    assert same_detections(backends[1].pose(clips[0], SAMPLE), results[3])


def test_description_after_pose_reads_the_kept_poses_across_interleaved_episodes(weights):
    options = {"detect_weights": weights["detect"], "pose_weights": weights["pose"], "imgsz": 128, "conf": 0.0,
               "max_det": 3, "device": "cpu", "max_wait_ms": 1}  # options of this test alone: a fresh service
    envs = [gym.make("VideoSTAR-v0", vision=("yolo", options), tool_cache=None) for _ in range(3)]
    for i, env in enumerate(envs):
        env.reset(seed=0, options={"index": i})
    pose = envs[0].unwrapped.toolbox.backends.vision.batched("pose")
    assert all(env.unwrapped.toolbox.backends.vision.batched("pose") is pose for env in envs)
    for env in envs:  # every episode estimates its pose before any describes it
        *_, info = env.step(tool_call("pose_estimation", min_confidence=0.0))
        assert info["tool_results"][0]["ok"], info["tool_results"][0]["text"]
    calls, frames = pose.calls, pose.frames
    assert frames == 3 * 16 and len(pose.models) == 1
    for env in reversed(envs):
        *_, info = env.step(tool_call("video_description"))
        assert info["tool_results"][0]["ok"], info["tool_results"][0]["text"]
    assert (pose.calls, pose.frames) == (calls, frames)  # no pose run again


def test_kept_results_are_bounded_and_least_recently_used_go_first(weights, clips):
    backend = random_yolo(weights, memory=2, batch_size=32)
    service = backend.batched("pose")
    for k in (0, 1, 0, 2):  # clip 1 is now the least recently used
        backend.pose(clips[k], SAMPLE)
    assert service.frames == 3 * 8
    backend.pose(clips[0], SAMPLE)
    assert service.frames == 3 * 8
    backend.pose(clips[1], SAMPLE)
    assert service.frames == 4 * 8
    random_yolo(weights, memory=2, batch_size=32).forget()  # any backend of these options: one store
    backend.pose(clips[1], SAMPLE)
    assert service.frames == 5 * 8


def test_each_call_keeps_to_the_batch_size_and_one_frame_shape(weights):
    calls = []

    def predict(model, frames):
        calls.append([f.shape for f in frames])
        return [len(r.boxes) for r in model.predict(frames, imgsz=128, conf=0.0, max_det=3, verbose=False)]

    service = BatchedModel(lambda: ultralytics.YOLO(weights["detect"]), predict,
                           BatchOptions(batch_size=12, max_wait_ms=300))
    ds = SyntheticDataset(per_class=1)
    requests = [[np.ascontiguousarray(f) for f in decode(ds[i].video, 8, size).frames]
                for i, size in enumerate([(128, 128)] * 3 + [(96, 160)] * 2)]
    got = in_threads(len(requests), lambda i: service.run(requests[i]))
    assert got == [[3] * 8] * len(requests)  # max_det=3 with conf=0: every frame has 3 boxes, in order
    assert all(len(shapes) <= 12 and len(set(shapes)) == 1 for shapes in calls)
    assert sum(map(len, calls)) == 5 * 8 and max(map(len, calls)) == 12  # requests were split and merged
    assert len(service.models) == 1


def test_a_failing_episode_does_not_fail_the_others_in_its_batch(weights):
    sizes = []

    def predict(model, frames):
        sizes.append(len(frames))
        if any(not f.any() for f in frames):
            raise ValueError("a black frame")  # stands for an input the runtime rejects
        return [len(r.boxes) for r in model.predict(frames, imgsz=128, conf=0.0, max_det=3, verbose=False)]

    service = BatchedModel(lambda: ultralytics.YOLO(weights["detect"]), predict, BatchOptions(None, max_wait_ms=500))
    frames = decode(SyntheticDataset(per_class=1)[0].video, 4, (128, 128)).frames
    requests = [list(frames), [np.zeros_like(frames[0])] * 4, list(frames[::-1])]
    got = in_threads(3, lambda i: service.run(requests[i]))
    assert got[0] == got[2] == [3] * 4
    assert isinstance(got[1], ValueError) and "black frame" in str(got[1])
    assert sizes[0] == 12 and sorted(sizes[1:]) == [4, 4, 4]  # one merged call, then each episode alone


def test_a_load_failure_reaches_every_caller_and_the_next_call_tries_again(tmp_path, clips):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"this is not a checkpoint")
    backends = [YOLOVision(str(bad), str(bad), device="cpu") for _ in range(4)]
    got = in_threads(4, lambda i: backends[i].pose(clips[i], SAMPLE))
    assert all(isinstance(r, ToolError) and "corrupt.pt" in str(r) for r in got), got
    with pytest.raises(ToolError, match="corrupt.pt"):
        backends[0].pose(clips[0], SAMPLE)  # a failure is not kept


def test_remember_computes_a_key_once_and_keeps_no_failure():
    service = BatchedModel(lambda: None, lambda model, frames: frames, BatchOptions(memory=8))
    runs = []

    def slow():
        runs.append(1)
        time.sleep(0.2)
        return "value"

    assert in_threads(6, lambda i: service.remember("clip", slow)) == ["value"] * 6
    assert len(runs) == 1

    def fails():
        raise ToolError("no person")

    with pytest.raises(ToolError):
        service.remember("other", fails)
    assert service.remember("other", lambda: "found") == "found"
    service.forget()
    assert service.remember("clip", lambda: "again") == "again"


def test_frames_digest_names_the_content():
    frames = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    copy = frames.copy()
    copy.setflags(write=False)
    assert frames_digest(frames) == frames_digest(copy)
    assert frames_digest(frames) != frames_digest(frames.reshape(4, 32, 96, 1))  # the shape counts
    before = frames_digest(frames)
    frames[0, 0, 0, 0] ^= 1  # a writeable array may change: never remembered
    assert frames_digest(frames) != before
    view = frames[:2]
    view.setflags(write=False)
    before = frames_digest(view)
    frames[0, 0, 0, 0] ^= 1  # a read-only view of an array that may change: never remembered either
    assert frames_digest(view) != before


def test_options_are_checked_with_their_names(weights):
    for options, name in (({"batch_size": 0}, "batch_size"), ({"replicas": 0}, "replicas"),
                          ({"max_wait_ms": -1}, "max_wait_ms"), ({"memory": -1}, "memory")):
        with pytest.raises(ValueError, match=name):
            random_yolo(weights, **options)
        with pytest.raises(ValueError, match=name):
            YOLOObjects(weights=weights["detect"], **options)


def test_objects_backends_share_their_services_and_track_a_clip_once():
    pytest.importorskip("ai_edge_litert", reason="the TFLite runtime (ai-edge-litert) is not installed")
    pytest.importorskip("lap", reason="ultralytics tracking needs lap: pip install lap")
    weights = str(shared_file("weights/yolo11n_int8.tflite"))
    pancake = str(shared_file("clips/flipping_pancake.mkv"))
    first, second = (YOLOObjects(weights=weights, imgsz=256, classes=["person"], device="cpu") for _ in range(2))
    tracked = first.track(decode(pancake, 16, (256, 256)), SAMPLE)
    track = first.batched("track")
    assert second.batched("track") is track and track.calls == 1
    # Another episode's tool decodes the same frames again: the kept tracks answer it.
    assert second.track(decode(pancake, 16, (256, 256)), SAMPLE) == tracked and track.calls == 1
    assert any(o.track_id is not None for f in tracked for o in f)
    # Detection runs on its own model: no tracker attached to it, so no ids.
    detected = second.detect(decode(pancake, 16, (256, 256)), SAMPLE)
    assert second.batched("detect") is not track and track.models[0] is not second.batched("detect").models[0]
    assert sum(map(len, detected)) >= 12 and all(o.track_id is None for f in detected for o in f)
    # Tracking: one call of the clip's 16 frames; detection: 16 frames in the CPU's batches of 4.
    assert model_work(second.batched_models()) == {"model_calls": 1 + 4, "model_frames": 32}


def test_load_copies_loads_every_replica_once_and_calls_then_use_them():
    loads = []
    service = BatchedModel(lambda: loads.append(len(loads)) or f"copy {len(loads)}",
                           lambda model, frames: [model] * len(frames), BatchOptions(batch_size=4, replicas=3))
    assert service.load_copies() == 3 and service.load_copies() == 0 and len(loads) == 3
    outputs = in_threads(6, lambda i: service.run([np.zeros((2, 2, 3), np.uint8)] * 4))
    assert len(loads) == 3 and {o for out in outputs for o in out} <= {"copy 1", "copy 2", "copy 3"}
