"""The YOLO objects backend: detection of every COCO class, and tracks that keep one id per object per clip."""

import threading
import time
from collections import Counter

import numpy as np
import pytest

from videostar_env.backends.yolo_objects import YOLOObjects
from videostar_env.video.decode import decode
from videostar_env.datasets.sample import VideoSample
from videostar_env.errors import ToolError
from videostar_env.perception.objects import IMAGE_UNITS

from conftest import shared_file

ultralytics = pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")

SIZE = (256, 256)
DENSE = 64  # frames the object tools decode for tracking (tools/objects.py TRACK_FRAMES)


def sample_of(path) -> VideoSample:
    return VideoSample("clip", str(path), "unknown", (), "test", "test")


@pytest.fixture(scope="module")
def int8_weights():
    pytest.importorskip("ai_edge_litert", reason="the TFLite runtime (ai-edge-litert) is not installed")
    pytest.importorskip("lap", reason="ultralytics tracking needs lap: pip install lap")
    return str(shared_file("weights/yolo11n_int8.tflite"))


@pytest.fixture(scope="module")
def pancake():
    return str(shared_file("clips/flipping_pancake.mkv"))


@pytest.fixture(scope="module")
def people(int8_weights):
    return YOLOObjects(weights=int8_weights, imgsz=256, classes=["person"], device="cpu")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "det.pt"
    ultralytics.YOLO("yolo11n.yaml").save(str(path))
    return str(path)


def ids_per_frame(frames):
    return [[o.track_id for o in f] for f in frames]


def main_id_frames(frames) -> tuple[int | None, int]:
    """The id seen on most frames, and on how many."""
    counts = Counter(o.track_id for f in frames for o in f if o.track_id is not None)
    return counts.most_common(1)[0] if counts else (None, 0)


def assert_boxes_inside(frames, size):
    h, w = size
    for objects in frames:
        for o in objects:
            x1, y1, x2, y2 = o.box
            assert all(isinstance(v, float) for v in o.box)
            assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h, o
            assert 0.0 <= o.score <= 1.0 and isinstance(o.label, str) and o.label
            assert o.position is None and o.size is None


def test_the_cook_keeps_one_id_on_sampled_and_dense_frames(people, pancake):
    sparse = decode(pancake, 16, SIZE)
    frames = people.track(sparse, sample_of(pancake))
    assert len(frames) == 16
    assert_boxes_inside(frames, SIZE)
    assert {o.label for f in frames for o in f} <= {"person"}
    main, seen = main_id_frames(frames)
    assert seen >= 12, ids_per_frame(frames)
    assert main == 1  # a fresh tracker per clip numbers from 1

    dense = decode(pancake, min(sparse.total_frames, DENSE), SIZE)
    frames = people.track(dense, sample_of(pancake))
    assert len(frames) == DENSE
    main, seen = main_id_frames(frames)
    assert seen >= 0.9 * DENSE, ids_per_frame(frames)


def test_no_tracker_state_carries_over_between_clips(people, pancake):
    clip = decode(pancake, 16, SIZE)
    other = decode(str(shared_file("clips/arm_wrestling.mp4")), 16, SIZE)
    first = people.track(clip, sample_of(pancake))
    people.forget()  # the results kept per clip would answer the next call without tracking
    again = people.track(clip, sample_of(pancake))
    people.track(other, sample_of(other.path))  # another video, with other people and ids, in between
    people.forget()
    after = people.track(clip, sample_of(pancake))
    assert ids_per_frame(first) == ids_per_frame(again) == ids_per_frame(after)
    np.testing.assert_allclose([o.box for f in first for o in f], [o.box for f in after for o in f])
    # The tool reads a second dense clip of the same video: same frames, same answer, without tracking again.
    start = time.monotonic()
    assert ids_per_frame(people.track(decode(pancake, 16, SIZE), sample_of(pancake))) == ids_per_frame(first)
    assert time.monotonic() - start < 1.0


def test_concurrent_tracks_do_not_mix_clips(people, pancake):
    clips = [decode(pancake, 16, SIZE), decode(str(shared_file("clips/arm_wrestling.mp4")), 16, SIZE)]
    people.forget()
    expected = [ids_per_frame(people.track(c, sample_of(c.path))) for c in clips]
    got = [None, None]

    def run(i):
        people.forget()
        got[i] = ids_per_frame(people.track(clips[i], sample_of(clips[i].path)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


def test_detect_labels_boxes_of_every_class(int8_weights, pancake):
    backend = YOLOObjects(weights=int8_weights, imgsz=256, device="cpu")
    clip = decode(pancake, 8, (240, 426))
    frames = backend.detect(clip, sample_of(pancake))
    assert len(frames) == 8
    assert_boxes_inside(frames, (240, 426))
    assert all(o.track_id is None for f in frames for o in f)
    labels = Counter(o.label for f in frames for o in f)
    assert labels["person"] >= 6, labels
    # Only the named classes when classes is given; ids name the weights and every setting.
    only = YOLOObjects(weights=int8_weights, imgsz=256, classes=["bowl", "person"], device="cpu")
    assert {o.label for f in only.detect(clip, sample_of(pancake)) for o in f} <= {"bowl", "person"}
    assert backend.id != only.id and "yolo11n_int8.tflite#" in backend.id
    assert "tracker=botsort.yaml" in backend.id and "classes=all" in backend.id and "imgsz=256" in backend.id
    assert YOLOObjects(weights=int8_weights, tracker="bytetrack.yaml").id != backend.id


def test_bytetrack_tracks_too(int8_weights, pancake):
    backend = YOLOObjects(weights=int8_weights, imgsz=256, classes=["person"], tracker="bytetrack.yaml", device="cpu")
    frames = backend.track(decode(pancake, 16, SIZE), sample_of(pancake))
    assert main_id_frames(frames)[1] >= 12, ids_per_frame(frames)


def test_model_built_from_yaml_loads_and_tracks(random_weights):
    pytest.importorskip("lap", reason="ultralytics tracking needs lap: pip install lap")
    clip = decode(_synthetic_video(), 6, (128, 128))
    backend = YOLOObjects(weights=random_weights, imgsz=128, conf=0.0, max_det=3, device="cpu")
    frames = backend.track(clip, sample_of(clip.path))
    assert len(frames) == 6
    assert_boxes_inside(frames, (128, 128))
    assert all(o.track_id is None or o.track_id >= 1 for f in frames for o in f)
    detected = backend.detect(clip, sample_of(clip.path))
    assert len(detected) == 6 and sum(map(len, detected)) > 0  # random weights score every anchor near 0.5
    assert all(len(f) <= 3 for f in detected)
    assert backend.id.startswith("yolo-objects[det.pt#")


def _synthetic_video() -> str:
    import videostar_env.datasets

    return videostar_env.datasets.SyntheticDataset(per_class=1)[0].video


def test_errors_say_what_to_do(random_weights, tmp_path):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match=r"weights 'yolo11n\.pt'.*objects=\('yolo', \{'weights'"):
        YOLOObjects()  # YOLO_OFFLINE=1 in the tests: no download of the default weights
    with pytest.raises(FileNotFoundError, match=r"weights .*best\.pt.*not an official name"):
        YOLOObjects(weights=str(tmp_path / "missing" / "best.pt"))
    assert time.monotonic() - start < 5
    with pytest.raises(ValueError, match="tracker"):
        YOLOObjects(weights=random_weights, tracker="sort.yaml")
    with pytest.raises(ValueError, match="classes"):
        YOLOObjects(weights=random_weights, classes=[])
    # ReID from the detector's features needs a PyTorch head: exported weights would download a model mid-episode.
    reid = tmp_path / "reid.yaml"
    reid.write_text("tracker_type: botsort\nwith_reid: true\nmodel: auto\n")
    exported = tmp_path / "det.onnx"
    exported.write_bytes(b"an exported detector")
    with pytest.raises(ValueError, match=r"reid\.yaml.*with_reid: True, model: auto.*not det\.onnx"):
        YOLOObjects(weights=str(exported), tracker=str(reid))
    assert "tracker=reid.yaml#" in YOLOObjects(weights=random_weights, tracker=str(reid)).id
    reid.write_text("- not a mapping\n")
    with pytest.raises(ValueError, match="mapping with 'tracker_type'"):
        YOLOObjects(weights=random_weights, tracker=str(reid))
    clip = decode(_synthetic_video(), 4, (128, 128))
    with pytest.raises(ToolError, match=r"no class 'unicorn'.*names among: 0, 1, 2"):
        # (a model built from yaml names its classes "0".."79")
        YOLOObjects(weights=random_weights, classes=["unicorn"], device="cpu").detect(clip, sample_of(clip.path))
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ToolError, match=r"corrupt\.pt.*'weights'"):
        YOLOObjects(weights=str(bad)).track(clip, sample_of(clip.path))
    pose = tmp_path / "pose.pt"
    ultralytics.YOLO("yolo11n-pose.yaml").save(str(pose))
    with pytest.raises(ToolError, match="'pose' model"):
        YOLOObjects(weights=str(pose), device="cpu").detect(clip, sample_of(clip.path))


def test_missing_lap_is_a_tool_error(random_weights, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lap" else real(name, *a))
    clip = decode(_synthetic_video(), 4, (128, 128))
    with pytest.raises(ToolError, match="pip install lap"):
        YOLOObjects(weights=random_weights, device="cpu").track(clip, sample_of(clip.path))


def test_the_cooks_track_reaches_the_relation_graph_through_the_tools(int8_weights, pancake, tmp_path):
    """object_tracking and relation_graph on the real clip, with the yolo objects backend, in an env."""
    import gymnasium as gym

    import videostar_env  # noqa: F401
    from videostar_env import tool_call

    (tmp_path / "flipping_pancake").mkdir()
    (tmp_path / "flipping_pancake" / "clip.mkv").symlink_to(pancake)
    env = gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)}, frame_size=(256, 256),
                   tools=["object_tracking", "relation_graph"], tool_cache=None,
                   objects=("yolo", {"weights": int8_weights, "imgsz": 256, "classes": ["person"]}))
    env.reset(seed=0)
    *_, info = env.step(tool_call("object_tracking") + tool_call("relation_graph"))
    tracking, graph = info["tool_results"]
    assert tracking["ok"] and graph["ok"], (tracking["text"], graph["text"])
    cook = max(tracking["data"]["tracks"].values(), key=lambda t: t["seen_in"])
    assert cook["label"] == "person" and cook["seen_in"] >= 0.75 * 64  # the tool reads up to 64 frames
    assert not graph["data"]["metric"] and graph["data"]["graph"]["units"] == "image"
    assert IMAGE_UNITS in graph["text"] and IMAGE_UNITS in tracking["text"] and graph["data"]["units"] == IMAGE_UNITS
    nodes = [node for frame in graph["data"]["graph"]["frames"] for node in frame["nodes"]]
    assert sum(node["label"] == "person" for node in nodes) >= 3  # the cook is a node at most keyframes
    # The 426x240 video read into 256x256 frames: positions on its larger side, y up from the bottom.
    assert all(0 <= node["position"][0] <= 1 and 0 <= node["position"][1] <= 240 / 426 for node in nodes)
    # Node ids are the tracker's ids: the cook's id in object_tracking names the cook at every keyframe.
    cook_id = max(tracking["data"]["tracks"], key=lambda i: tracking["data"]["tracks"][i]["seen_in"])
    assert sum(node["id"] == cook_id for node in nodes) >= 3
    assert {node["id"] for node in nodes} <= set(tracking["data"]["tracks"])
