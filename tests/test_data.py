"""Data: synthetic videos, decoding with both backends, the knowledge base, and real clips when present."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from videostar_env.datasets import SyntheticDataset, VideoDecodeError, decode, make_dataset, uniform_indices
from videostar_env.video.decode import probe_size
from videostar_env.datasets.synthetic.dataset import BASE_CLASSES, CLASSES, CONFUSABLE_PAIRS, NOVEL_CLASSES, render
from videostar_env.knowledge import normalize_label

from conftest import shared_file


def test_synthetic_dataset_has_enough_classes_and_confusable_pairs():
    assert len(CLASSES) >= 12
    assert len(CONFUSABLE_PAIRS) >= 3 and all(a in CLASSES and b in CLASSES for a, b in CONFUSABLE_PAIRS)
    assert set(BASE_CLASSES).isdisjoint(NOVEL_CLASSES) and set(BASE_CLASSES) | set(NOVEL_CLASSES) == set(CLASSES)


def test_every_class_has_a_knowledge_entry_with_phases_submotions_and_signature():
    kb = SyntheticDataset().knowledge
    for label in CLASSES:
        entry = kb.get(label)
        assert entry and entry.phases and entry.submotions and entry.signature, label
        for alias in entry.aliases:
            assert kb.get(alias) is entry


def test_rendering_is_deterministic_by_seed():
    a, b, c = render("wave", 5), render("wave", 5), render("wave", 6)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0][:5], c[0][:5])


def test_rendered_keypoints_and_boxes_are_consistent(tmp_path):
    frames, keypoints, boxes = render("jumping_jacks", 1)
    assert frames.dtype == np.uint8 and frames.shape[1:] == (160, 160, 3)
    assert keypoints.shape == (len(frames), 17, 3) and boxes.shape == (len(frames), 4)
    inside = (keypoints[..., 0] >= boxes[:, None, 0]) & (keypoints[..., 0] <= boxes[:, None, 2])
    assert inside.all()


def test_samples_are_written_once_and_read_back_through_the_decoder(tmp_path):
    ds = SyntheticDataset(split="novel", per_class=2, root=tmp_path)
    assert len(ds) == 2 * len(NOVEL_CLASSES) and ds[0].label_space == NOVEL_CLASSES
    sample = ds[3]
    mtime = Path(sample.video).stat().st_mtime_ns
    assert ds[3] == sample and Path(sample.video).stat().st_mtime_ns == mtime
    clip = decode(sample.video, 8, (64, 64), "decord")
    assert clip.frames.shape == (8, 64, 64, 3) and clip.fps == pytest.approx(15.0)
    with np.load(sample.meta["annotations"]) as ann:
        assert len(ann["keypoints"]) == clip.total_frames
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_a_video_is_the_same_whichever_split_lists_it(tmp_path):
    everything = SyntheticDataset(split="all", per_class=1, root=tmp_path)
    novel = SyntheticDataset(split="novel", per_class=1, root=tmp_path / "other")
    a = next(everything[i] for i in range(len(everything)) if everything[i].label == "clap")
    b = next(novel[i] for i in range(len(novel)) if novel[i].label == "clap")
    assert a.meta["seed"] == b.meta["seed"]
    assert a.meta["group"] == b.meta["group"] == "novel"  # a class is base or novel whichever split lists it


def test_decord_and_pyav_sample_the_same_frames(tmp_path):
    sample = SyntheticDataset(per_class=1, root=tmp_path)[0]
    a = decode(sample.video, 6, (96, 96), "decord")
    b = decode(sample.video, 6, (96, 96), "pyav")
    assert a.indices == b.indices and a.total_frames == b.total_frames
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() < 6  # same frames, resampled differently
    assert a.source_size == b.source_size == probe_size(sample.video) == (160, 160)


def test_clip_frames_are_read_only_and_the_source_size_is_read_lazily(tmp_path):
    clip = decode(SyntheticDataset(per_class=1, root=tmp_path)[0].video, 4, (32, 32))
    assert "source_size" not in clip.__dict__  # reset() does not pay for a second open of the file
    with pytest.raises(ValueError, match="read-only"):
        clip.frames[0, 0, 0, 0] = 1
    assert clip.source_size == (160, 160) and clip.path.endswith(".mp4")


def test_missing_and_corrupt_videos_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.mp4"):
        decode(str(tmp_path / "nothing.mp4"), 4, (32, 32))
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(VideoDecodeError, match="corrupt.mp4") as err:
        decode(str(bad), 4, (32, 32))
    assert "decord" in str(err.value) and "pyav" in str(err.value)
    with pytest.raises(ValueError, match="unknown decoder"):
        decode(str(bad), 4, (32, 32), "opencv")


def test_uniform_indices_are_segment_centres():
    assert uniform_indices(16, 4) == [2, 6, 10, 14]
    assert uniform_indices(3, 6) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError):
        uniform_indices(0, 4)


@pytest.mark.parametrize("name,frames,size", [
    ("arm_wrestling.mp4", 280, (256, 340)), ("apply_eye_makeup.avi", 164, (240, 320)),
    ("flipping_pancake.mkv", 310, (240, 426)),
])
def test_real_clips_decode(name, frames, size):
    path = shared_file(f"clips/{name}")
    clip = decode(str(path), 16, (112, 112))
    assert clip.frames.shape == (16, 112, 112, 3) and clip.source_size == size
    assert abs(clip.total_frames - frames) <= 1


def test_make_dataset_by_name_or_object():
    ds = make_dataset("synthetic", split="base", per_class=1)
    assert make_dataset(ds) is ds and ds.classes == BASE_CLASSES
    with pytest.raises(KeyError, match="available"):
        make_dataset("kinetics-9000")


def test_label_normalisation():
    assert normalize_label("HandStand_Pushups") == normalize_label("handstand pushups") == "handstandpushups"
    assert normalize_label(" Brush-hair. ") == "brushhair"


def test_the_same_frames_encode_to_the_same_bytes_whatever_the_process_did_before(tmp_path):
    from videostar_env.datasets.synthetic.dataset import render
    from videostar_env.video.encode import write_video

    frames, _, _ = render("wave", 123)
    digests = set()
    for k in range(4):
        churn = [np.random.default_rng(k).bytes(1 << 20) for _ in range(k)]  # the heap as other work leaves it
        write_video(tmp_path / f"{k}.mp4", frames, 15)
        digests.add(hashlib.sha256((tmp_path / f"{k}.mp4").read_bytes()).hexdigest())
        del churn
    assert len(digests) == 1


@pytest.mark.parametrize("window, span", [
    ((1.0, 2.0), (25, 49)),  # bounds on frame boundaries: the frame at the end is not shown during the window
    ((1.01, 1.99), (25, 49)),  # frame 25 is shown from 1.00 to 1.04 s: during the window
    ((0.0, 100.0), (0, 119)),  # an end past the video stops at its last frame
    ((4.79, 4.8), (119, 119)),  # the last frame alone
    ((1.001, 1.002), (25, 25)),  # shorter than a frame: the one shown then
])
def test_window_span_is_the_frames_shown_during_the_window(window, span):
    from videostar_env.video.decode import window_span

    assert window_span(120, 25.0, window) == span


def test_window_span_refuses_a_window_after_the_video_or_backwards():
    from videostar_env.video.decode import window_span

    with pytest.raises(VideoDecodeError, match="starts after the video ends"):
        window_span(120, 25.0, (4.8, 5.0))
    with pytest.raises(ValueError, match="0 <= start < end"):
        window_span(120, 25.0, (2.0, 1.0))
