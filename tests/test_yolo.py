"""The YOLO11 vision backend: models built from ultralytics' yaml, real int8 weights when present, clear failures."""

import time

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_env.actions import tool_call
from videostar_env.backends import Backends, KinematicDescriber, KnowledgeExplainer, YOLOVision
from videostar_env.backends.yolo import resolve_weights
from videostar_env.datasets import VideoSample, decode
from videostar_env.knowledge import KnowledgeBase
from videostar_env.tools import PoseEstimation, ToolContext, ToolError
from videostar_env.tools.cache import CacheConfig

from conftest import build_weights, shared_file

ultralytics = pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return {"detect": build_weights("yolo11n.yaml", folder / "det.pt"),
            "pose": build_weights("yolo11n-pose.yaml", folder / "pose.pt")}


def random_yolo(weights, **options):
    # Random weights score every anchor near 0.5; conf=0 and a small max_det keep the output small but non-empty.
    return YOLOVision(weights["detect"], weights["pose"], device="cpu", imgsz=128, conf=0.0, max_det=3, **options)


def context(video: str, vision, size=(128, 128), frames=8) -> ToolContext:
    clip = decode(video, frames, size)
    sample = VideoSample("clip", video, "unknown", (), "test", "test")
    return ToolContext(sample, clip, (), KnowledgeBase([]), Backends(vision, KnowledgeExplainer(), KinematicDescriber()))


def assert_oracle_format(frames, num_frames, size, keypoints: bool):
    h, w = size
    assert len(frames) == num_frames
    for dets in frames:
        for det in dets:
            assert len(det.box) == 4 and all(isinstance(v, float) for v in det.box)
            x1, y1, x2, y2 = det.box
            assert -1 <= x1 <= x2 <= w + 1 and -1 <= y1 <= y2 <= h + 1
            assert 0.0 <= det.score <= 1.0
            if keypoints:
                assert det.keypoints.shape == (17, 3) and det.keypoints.dtype == np.float32
            else:
                assert det.keypoints is None
            assert set(det.to_json()) == ({"box", "score", "keypoints"} if keypoints else {"box", "score"})


def test_models_built_from_yaml_reload_through_the_backend(weights):
    ds = videostar_env.datasets.SyntheticDataset(per_class=1)
    ctx = context(ds[0].video, random_yolo(weights))
    assert_oracle_format(ctx.backends.vision.detect(ctx.clip, ctx.sample), 8, (128, 128), keypoints=False)
    poses = ctx.backends.vision.pose(ctx.clip, ctx.sample)
    assert_oracle_format(poses, 8, (128, 128), keypoints=True)
    assert sum(len(d) for d in poses) > 0


def test_batched_and_per_frame_calls_agree(weights):
    ds = videostar_env.datasets.SyntheticDataset(per_class=1)
    batched = context(ds[1].video, random_yolo(weights))
    single = context(ds[1].video, random_yolo(weights, batch_size=1))
    a, b = batched.backends.vision.pose(batched.clip, batched.sample), single.backends.vision.pose(single.clip, single.sample)
    assert [len(d) for d in a] == [len(d) for d in b]
    np.testing.assert_allclose([d.box for f in a for d in f], [d.box for f in b for d in f], atol=1.0)


def test_a_full_episode_with_yolo_vision(weights, tmp_path):
    env = gym.make("VideoSTAR-v0", vision=("yolo", {"detect_weights": weights["detect"], "pose_weights": weights["pose"],
                                                     "imgsz": 128, "conf": 0.0, "max_det": 3, "device": "cpu"}),
                   tool_cache=CacheConfig(str(tmp_path)))
    env.reset(seed=0)
    calls = "\n".join(tool_call(n, min_confidence=0.0) for n in ("human_detection", "pose_estimation")) + \
        tool_call("video_description")
    obs, _, _, _, info = env.step(calls)
    assert [r["ok"] for r in info["tool_results"]] == [True, True, True], info["tool_results"]
    assert obs["num_tool_frames"] == 8  # 4 box overlays + 4 skeleton overlays
    assert "Joints that move most" in info["tool_results"][1]["text"]
    _, reward, terminated, _, info = env.step(f"<answer>{info['candidates'][0]}</answer>")
    assert terminated and set(info["reward"]) >= {"accuracy", "format", "tool", "submotion", "total"}


def test_new_weights_miss_the_cache(weights, tmp_path):
    spec = {"detect_weights": weights["detect"], "imgsz": 128, "conf": 0.0, "max_det": 3, "device": "cpu"}
    pose = tmp_path / "pose.pt"
    build_weights("yolo11n-pose.yaml", pose, seed=1)
    runs = []
    for seed in (1, 1, 2):
        if seed == 2:
            build_weights("yolo11n-pose.yaml", pose, seed=2)  # retrained weights, same file name
        env = gym.make("VideoSTAR-v0", vision=("yolo", {**spec, "pose_weights": str(pose)}),
                       tool_cache=CacheConfig(str(tmp_path / "cache")))
        env.reset(seed=0, options={"index": 0})
        _, _, _, _, info = env.step(tool_call("pose_estimation", min_confidence=0.0))
        runs.append((env.unwrapped.toolbox.backends.vision.id, info["tool_results"][0]["cached"]))
    assert [cached for _, cached in runs] == [False, True, False]
    assert runs[0][0] == runs[1][0] != runs[2][0]


def test_missing_weights_fail_fast_with_a_clear_message(tmp_path):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match=r"yolo11n-pose\.pt.*pose_weights"):
        resolve_weights("yolo11n-pose.pt")  # YOLO_OFFLINE=1 in the tests: no download
    missing_detector = YOLOVision(detect_weights=str(tmp_path / "missing" / "best.pt"))  # loads nothing yet
    with pytest.raises(FileNotFoundError, match=r"detect_weights .*best\.pt.*not an official name"):
        missing_detector.prepare(["detect"])
    with pytest.raises(FileNotFoundError, match="yolo11n-pose"):
        gym.make("VideoSTAR-v0", vision="yolo")
    assert time.monotonic() - start < 5


def test_weights_dir_environment_variable(weights, monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("VIDEOSTAR_WEIGHTS_DIR", str(Path(weights["pose"]).parent))
    source, tag = resolve_weights("pose.pt")
    assert source == weights["pose"] and tag.startswith("pose.pt#")


def test_corrupt_or_wrong_weights_become_tool_errors(weights, tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"this is not a checkpoint")
    ds = videostar_env.datasets.SyntheticDataset(per_class=1)
    ctx = context(ds[0].video, YOLOVision(weights["detect"], str(bad), device="cpu"))
    with pytest.raises(ToolError, match="corrupt.pt"):
        ctx.backends.vision.pose(ctx.clip, ctx.sample)
    swapped = context(ds[0].video, YOLOVision(weights["pose"], weights["detect"], device="cpu"))
    with pytest.raises(ToolError, match="'detect' model"):
        swapped.backends.vision.pose(swapped.clip, swapped.sample)
    env = gym.make("VideoSTAR-v0", vision=YOLOVision(weights["detect"], str(bad), device="cpu"), tool_cache=None)
    env.reset(seed=0)
    obs, _, terminated, truncated, info = env.step(tool_call("pose_estimation"))
    assert not (terminated or truncated) and info["tool_results"][0]["ok"] is False
    assert "corrupt.pt" in info["tool_results"][0]["text"]


@pytest.mark.parametrize("clip", ["arm_wrestling.mp4", "apply_eye_makeup.avi", "flipping_pancake.mkv"])
def test_real_int8_weights_find_people_with_keypoints_in_real_clips(clip):
    pytest.importorskip("ai_edge_litert", reason="the TFLite runtime (ai-edge-litert) is not installed")
    vision = YOLOVision(str(shared_file("weights/yolo11n_int8.tflite")),
                        str(shared_file("weights/yolo11n-pose_int8.tflite")), device="cpu")
    ctx = context(str(shared_file(f"clips/{clip}")), vision, size=(240, 320))
    people = ctx.backends.vision.detect(ctx.clip, ctx.sample)
    assert_oracle_format(people, 8, (240, 320), keypoints=False)
    assert sum(bool(d) for d in people) >= 6, [len(d) for d in people]
    poses = ctx.backends.vision.pose(ctx.clip, ctx.sample)
    assert_oracle_format(poses, 8, (240, 320), keypoints=True)
    assert sum(bool(d) for d in poses) >= 6
    best = max((d for f in poses for d in f), key=lambda d: d.score)
    assert (best.keypoints[:, 2] > 0.5).sum() >= 5  # a clearly seen person has confident keypoints
    result = PoseEstimation()(ctx)
    assert "Joint-angle ranges" in result.text and result.images
