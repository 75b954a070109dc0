"""The Video-STAR annotation layout: class and sample counts per protocol file, explanations, missing videos."""

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_env.datasets import VideoStarDataset
from videostar_env.knowledge import normalize_label

from conftest import shared_file

# (dataset, protocol, split) -> (samples, classes), as shipped with the paper.
COUNTS = {
    ("hmdb51", "base2novel", "test"): (750, 25), ("hmdb51", "base2novel", "val"): (780, 26),
    ("ucf101", "base2novel", "test"): (1695, 50), ("ucf101", "base2novel", "val"): (2088, 51),
    ("ucf101", "base2novel", "traintestval"): (4599, 101),
    ("ssv2", "base2novel", "test"): (7215, 87), ("ssv2", "base2novel", "train"): (1392, 87),
    ("hmdb51", "cross", "1"): (1530, 51), ("hmdb51", "cross", "2"): (1530, 51),
    ("hmdb51", "cross", "3"): (1530, 51), ("hmdb51", "cross", "full"): (5100, 51),
    ("ucf101", "cross", "1"): (3783, 101), ("ucf101", "cross", "2"): (3734, 101), ("ucf101", "cross", "3"): (3696, 101),
    ("kinetics600", "cross", "1"): (7276, 160), ("kinetics600", "cross", "2"): (7226, 160),
    ("kinetics600", "cross", "3"): (7261, 160),
}


@pytest.fixture(scope="module")
def annotations():
    return shared_file("video-star")


@pytest.mark.parametrize("key", sorted(COUNTS), ids="-".join)
def test_counts_and_explanations_match_the_shipped_files(annotations, key):
    samples, classes = COUNTS[key]
    with pytest.warns(UserWarning, match=f"{samples} of {samples} videos are missing"):
        ds = VideoStarDataset(*key, annotations=annotations, missing="keep")
    assert ds.annotated == len(ds) == samples
    assert len(ds.label_space) == classes
    assert ds.unexplained == ()  # every class has the paper's explanation
    for label in ds.label_space:
        entry = ds.knowledge.get(label)
        assert entry is not None and len(entry.definition) > 10
    assert {s.label for s in ds.samples} <= set(ds.label_space)
    first = ds[0]
    assert first.video.endswith(first.meta["path"]) and first.label_space == ds.label_space


def test_missing_videos_are_reported_with_their_count(annotations, tmp_path):
    with pytest.warns(UserWarning, match="750 of 750"):
        ds_keep = VideoStarDataset("hmdb51", "base2novel", "test", annotations=annotations, missing="keep",
                                   video_root=tmp_path)
    present = ds_keep.samples[:3]
    for sample in present:
        path = tmp_path / sample.meta["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"video bytes")
    with pytest.warns(UserWarning, match="747 of 750 videos are missing"):
        ds = VideoStarDataset("hmdb51", "base2novel", "test", annotations=annotations, video_root=tmp_path)
    assert len(ds) == 3 and len(ds.missing) == 747 and ds.missing.total == 750
    with pytest.raises(FileNotFoundError, match="747 of 750"):
        VideoStarDataset("hmdb51", "base2novel", "test", annotations=annotations, video_root=tmp_path, missing="error")


def test_label_spellings_are_normalised_across_sources(annotations):
    with pytest.warns(UserWarning):
        cross = VideoStarDataset("hmdb51", "cross", "1", annotations=annotations, missing="keep")
    label_map = shared_file("labels/mmaction2/hmdb51_label_map.txt").read_text().split()
    assert {normalize_label(c) for c in label_map} == {normalize_label(c) for c in cross.label_space}
    assert cross.knowledge.get("brush_hair").label == cross.knowledge.get("Brush hair").label == "brush hair"
    with pytest.warns(UserWarning):
        ucf = VideoStarDataset("ucf101", "cross", "1", annotations=annotations, missing="keep")
    assert ucf.knowledge.get("HandstandPushups") is not None and ucf.knowledge.get("HandStandPushups") is not None


def test_unknown_files_list_what_exists(annotations):
    with pytest.raises(FileNotFoundError, match="test.json"):
        VideoStarDataset("hmdb51", "base2novel", "nosuchsplit", annotations=annotations)
    with pytest.raises(KeyError, match="kinetics600"):
        VideoStarDataset("kinetics600", "base2novel", "test", annotations=annotations)


def test_a_dataset_with_every_video_missing_cannot_make_an_env(annotations, tmp_path):
    with pytest.warns(UserWarning, match="750 of 750"), pytest.raises(ValueError, match="has no samples"):
        gym.make("VideoSTAR-v0", dataset="videostar",
                 dataset_kwargs={"dataset": "hmdb51", "annotations": str(annotations), "video_root": str(tmp_path)})


def test_base_to_novel_files_mark_their_classes_base_or_novel(annotations):
    with pytest.warns(UserWarning):
        val = VideoStarDataset("hmdb51", "base2novel", "val", annotations=annotations, missing="keep")
        test = VideoStarDataset("hmdb51", "base2novel", "test", annotations=annotations, missing="keep")
        cross = VideoStarDataset("hmdb51", "cross", "1", annotations=annotations, missing="keep")
    assert {s.meta["group"] for s in val.samples} == {"base"} and {s.meta["group"] for s in test.samples} == {"novel"}
    assert not set(val.label_space) & set(test.label_space)
    assert {s.meta["group"] for s in cross.samples} == {None}
