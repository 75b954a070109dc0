"""Synthetic 3D scenes: sampling, camera geometry, ground truth, rendering to mp4, and the dataset.

Conventions under test (see videostar_env/datasets/scenes/config.py): world x right, y away from the camera,
z up, ground z = 0; poses are world-to-camera with OpenCV camera axes; pixels are continuous with
the top-left image corner at (0, 0); boxes are x1, y1, x2, y2, NaN when the object is not visible.
"""

from pathlib import Path

import numpy as np
import pytest

from videostar_env.video.decode import decode
from videostar_env.video.digest import file_digest
from videostar_env.datasets.scenes import (
    COLOURS, SHAPES, SceneConfig, SceneDataset, SceneTruth, camera_pose, intrinsics, object_corners, object_outline,
    render_scene, scene_seed, split_indices,
)

CONFIG = SceneConfig()
SEEDS = range(6)
# A camera inside the area with a narrow view: objects end up behind it and outside the frame.
ODD = SceneConfig(camera_distance=1.0, camera_height=1.0, fov=40.0, duration=1.0)


@pytest.fixture(scope="module")
def scenes():
    """(frames, truth) of a few scenes with the default config."""
    return [render_scene(seed) for seed in SEEDS]


@pytest.fixture(scope="module")
def odd_scenes():
    return [render_scene(seed, ODD)[1] for seed in range(4)]


def nearest_colour(pixel) -> str:
    """The palette colour whose chromaticity (RGB direction) is closest to the pixel's."""
    p = np.asarray(pixel, float)
    p /= np.linalg.norm(p)
    return min(COLOURS, key=lambda name: np.linalg.norm(p - np.array(COLOURS[name]) / np.linalg.norm(COLOURS[name])))


# -- sampling -------------------------------------------------------------------------------------

def test_rendering_is_deterministic_by_seed(scenes):
    frames, truth = render_scene(2)
    frames0, truth0 = scenes[2]
    assert np.array_equal(frames, frames0)
    for key, value in truth.arrays().items():
        assert np.array_equal(value, truth0.arrays()[key], equal_nan=value.dtype.kind == "f"), key
    other = scenes[3][1]
    assert truth.num_objects != other.num_objects or not np.array_equal(truth.positions, other.positions)


def test_scenes_have_two_to_six_uniquely_labelled_objects(scenes):
    for _, truth in scenes:
        assert CONFIG.min_objects <= truth.num_objects <= CONFIG.max_objects
        assert len(set(truth.labels)) == truth.num_objects
        assert list(truth.ids) == list(range(truth.num_objects))
        for label, shape, colour in zip(truth.labels, truth.shapes, truth.colours):
            assert shape in SHAPES and colour in COLOURS and label == f"{colour} {shape}"
        assert truth.index(truth.labels[-1]) == truth.num_objects - 1
        assert truth.sizes.shape == (truth.num_objects, 3) and (truth.sizes > 0).all()
        assert (truth.rgb == np.array([COLOURS[c] for c in truth.colours])).all()
    assert len({tuple(t.sizes[:, 2].round(3)) for _, t in scenes}) > 1  # size factors differ


def test_objects_stand_on_the_ground_inside_the_area_without_overlapping(scenes):
    for _, truth in scenes:
        assert truth.positions.shape == (CONFIG.num_frames, truth.num_objects, 3)
        assert np.allclose(truth.positions[..., 2], truth.sizes[:, 2] / 2)
        half = CONFIG.area_size / 2
        assert truth.area == (-half, -half, half, half)
        assert (np.abs(truth.positions[..., 0]) + truth.sizes[:, 0] / 2 <= half + 1e-9).all()
        assert (np.abs(truth.positions[..., 1]) + truth.sizes[:, 1] / 2 <= half + 1e-9).all()
        radius = 0.5 * np.hypot(truth.sizes[:, 0], truth.sizes[:, 1])
        for i in range(truth.num_objects):
            for j in range(i):
                gap = np.linalg.norm(truth.positions[:, i, :2] - truth.positions[:, j, :2], axis=1)
                assert (gap >= radius[i] + radius[j]).all()


def test_velocities_are_piecewise_constant_and_integrate_to_the_positions(scenes):
    assert any(t.moving.any() for _, t in scenes) and any((~t.moving).any() for _, t in scenes)
    for _, truth in scenes:
        v = truth.velocities
        assert np.allclose(np.diff(truth.positions, axis=0) * truth.fps, v[:-1], atol=1e-9)
        assert (v[..., 2] == 0).all() and np.array_equal(v[-1], v[-2])
        speed = np.linalg.norm(v, axis=-1)
        assert (speed <= CONFIG.max_speed + 1e-9).all()
        for i in range(truth.num_objects):
            changes = np.any(np.diff(v[:-1, i], axis=0) != 0, axis=1).sum()
            assert changes <= CONFIG.max_segments - 1
            if not truth.moving[i]:
                assert (v[:, i] == 0).all()
            moving = speed[:, i][speed[:, i] > 0]
            assert (moving >= CONFIG.min_speed - 1e-9).all()


# -- camera -----------------------------------------------------------------------------------------

def test_camera_conventions():
    K = intrinsics(256, 192, 60.0)
    assert K[0, 2] == 128 and K[1, 2] == 96 and K[0, 0] == pytest.approx(128 / np.tan(np.radians(30)))
    pose = camera_pose(0.0, CONFIG)
    centre = np.array([0.0, -CONFIG.camera_distance, CONFIG.camera_height])
    assert np.allclose(pose[:3, :3] @ centre + pose[:3, 3], 0)  # the camera centre maps to the origin
    assert np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3))
    truth = render_scene(0)[1]
    # The area centre is on the optical axis; +x goes right and +z goes up in the image.
    assert np.allclose(truth.project(np.zeros(3), 0), [128, 96])
    (xl, _), (xr, _) = truth.project(np.array([[-1.0, 0, 0], [1.0, 0, 0]]), 0)
    (_, vlow), (_, vhigh) = truth.project(np.array([[0, 0, 0.0], [0, 0, 1.0]]), 0)
    assert xl < 128 < xr and vhigh < vlow
    assert np.isnan(truth.project(centre + [0, -1.0, 0], 0)).all()  # behind the camera
    # Turning left (positive yaw) moves the scene to the right of the image.
    assert (camera_pose(0.2, CONFIG)[:3, :3] @ [0, 1, 0])[0] > 0


def test_a_panning_camera_turns_while_a_fixed_one_stays(scenes):
    panning = [t for _, t in scenes if t.panning]
    fixed = [t for _, t in scenes if not t.panning]
    assert panning and fixed
    for truth in panning:
        assert not np.allclose(truth.poses[0], truth.poses[-1])
        assert abs(truth.camera_yaw[-1] - truth.camera_yaw[0]) >= np.radians(CONFIG.min_pan) - 1e-9
        assert np.allclose(np.diff(truth.camera_yaw, 2), 0)  # yaw changes linearly
        assert np.allclose(truth.camera_centres, truth.camera_centres[0])  # it turns in place
    for truth in fixed:
        assert (truth.poses == truth.poses[0]).all() and (truth.camera_yaw == 0).all()


def test_times_and_frames():
    truth = render_scene(1, SceneConfig(duration=1.0))[1]
    assert truth.num_frames == 8 and np.allclose(truth.times, np.arange(8) / 8)
    assert truth.frame_at(0.0) == 0 and truth.frame_at(0.25) == 2 and truth.frame_at(99) == 7
    assert truth.frame_size == (192, 256) and (truth.height, truth.width) == (192, 256)


# -- boxes and visibility ----------------------------------------------------------------------------

def test_boxes_are_the_projected_outlines_of_the_objects(scenes):
    checked = 0
    for _, truth in scenes:
        W, H = truth.width, truth.height
        for t in range(truth.num_frames):
            camera = truth.camera_centres[t]
            for i in np.flatnonzero(truth.visible[t]):
                box = truth.boxes[t, i]
                corners = truth.project(truth.corners(i, t), t)
                outer = np.concatenate([np.clip(corners.min(0), 0, None), np.minimum(corners.max(0), [W, H])])
                points = object_outline(truth.shapes[i], truth.positions[t, i], truth.sizes[i], camera)
                outline = truth.project(points, t)
                exact = np.concatenate([np.clip(outline.min(0), 0, None), np.minimum(outline.max(0), [W, H])])
                assert np.allclose(box, exact, atol=1e-3)
                # Every shape lies in its bounding box; a cube's box is exactly its projected corners.
                assert (box[:2] >= outer[:2] - 1e-3).all() and (box[2:] <= outer[2:] + 1e-3).all()
                if truth.shapes[i] == "cube":
                    assert np.allclose(box, outer, atol=1e-3)
                centre = truth.project(truth.positions[t, i], t)
                if 0 <= centre[0] <= W and 0 <= centre[1] <= H:
                    assert box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3]
                checked += 1
    assert checked > 100


def test_the_visibility_rule(scenes, odd_scenes):
    """Visible: in front of the camera and at least min_visible_pixels drawn; else the box is NaN."""
    for truth in [t for _, t in scenes] + odd_scenes:
        assert truth.visible.shape == truth.visible_pixels.shape == (truth.num_frames, truth.num_objects)
        assert np.isfinite(truth.boxes[truth.visible]).all() and np.isnan(truth.boxes[~truth.visible]).all()
        assert (truth.visible == (truth.visible_pixels >= CONFIG.min_visible_pixels)).all()
        assert ((truth.visible_fraction >= 0) & (truth.visible_fraction <= 1)).all()
        b = truth.boxes[truth.visible]
        assert ((b[:, 0] < b[:, 2]) & (b[:, 1] < b[:, 3]) & (b[:, :2] >= 0).all(axis=1)).all()
        assert ((b[:, 2] <= truth.width) & (b[:, 3] <= truth.height)).all()


def test_objects_behind_or_outside_the_camera_are_not_visible(odd_scenes):
    behind = outside = 0
    for truth in odd_scenes:
        for t in range(truth.num_frames):
            for i in range(truth.num_objects):
                corners = truth.corners(i, t)
                if (truth.to_camera(truth.positions[t, i], t)[2] <= 0):
                    behind += 1
                    assert not truth.visible[t, i]
                    continue
                if (truth.to_camera(corners, t)[:, 2] > 0).all():
                    uv = truth.project(corners, t)
                    if (uv[:, 0].max() < 0 or uv[:, 0].min() > truth.width
                            or uv[:, 1].max() < 0 or uv[:, 1].min() > truth.height):
                        outside += 1
                        assert not truth.visible[t, i]
    assert behind and outside


def test_occluded_objects_lose_pixels():
    """visible_fraction is the share of an object's silhouette not covered by nearer objects."""
    config = SceneConfig(min_objects=5, max_objects=6, area_size=4.0, duration=1.0)
    fractions = np.concatenate([render_scene(seed, config)[1].visible_fraction.ravel() for seed in range(3)])
    assert (fractions == 1).any() and ((fractions > 0) & (fractions < 0.99)).any()


# -- files and the dataset ---------------------------------------------------------------------------

def test_truth_round_trips_through_npz_byte_for_byte(tmp_path, scenes):
    truth = scenes[0][1]
    truth.save(tmp_path / "a.npz")
    truth.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = SceneTruth.load(tmp_path / "a.npz")
    for key, value in truth.arrays().items():
        assert np.array_equal(value, loaded.arrays()[key], equal_nan=value.dtype.kind == "f"), key
    assert loaded.labels.dtype.kind == "U" and loaded.fps == 8.0 and loaded.frame_size == (192, 256)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert {"labels", "sizes", "positions", "boxes", "visible", "intrinsics", "poses", "fps",
                "frame_size"} <= set(data.files)


def test_the_dataset_yields_one_sample_per_scene(tmp_path):
    ds = SceneDataset(num_scenes=5, seed=3, root=tmp_path)
    assert ds.name == "scenes" and len(ds.knowledge) == 0 and len(ds) == 5
    sample = ds[1]
    assert sample.id == "scene-1" and sample.label == "" and sample.label_space == ()
    assert sample.dataset == "scenes" and sample.split == "all" and sample.meta["scene"] == 1
    video, truth_path = Path(sample.video), Path(sample.meta["truth"])
    assert video.name == "scene_1.mp4" and truth_path.name == "scene_1.npz"
    assert video.parent == truth_path.parent and video.parent.parent == tmp_path
    mtime = video.stat().st_mtime_ns
    assert ds[1] == sample and video.stat().st_mtime_ns == mtime  # rendered once
    truth = ds.scene(1)
    assert np.array_equal(truth.positions, SceneTruth.load(truth_path).positions)
    assert np.array_equal(truth.positions, render_scene(scene_seed(3, 1))[1].positions)
    with pytest.raises(IndexError):
        ds[5]


def test_the_same_seed_gives_the_same_files(tmp_path):
    a = SceneDataset(num_scenes=2, seed=7, root=tmp_path / "a")[0]
    b = SceneDataset(num_scenes=9, seed=7, root=tmp_path / "b")[0]
    c = SceneDataset(num_scenes=2, seed=8, root=tmp_path / "a")[0]
    assert Path(a.video).relative_to(tmp_path / "a") == Path(b.video).relative_to(tmp_path / "b")
    assert file_digest(a.video) == file_digest(b.video)
    assert Path(a.meta["truth"]).read_bytes() == Path(b.meta["truth"]).read_bytes()
    assert Path(c.video).parent != Path(a.video).parent  # another seed, another folder
    d = SceneDataset(num_scenes=2, seed=7, root=tmp_path / "a", config=SceneConfig(fps=6))[0]
    assert Path(d.video).parent != Path(a.video).parent  # another config, another folder


def test_files_go_under_the_cache_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOSTAR_CACHE_DIR", str(tmp_path))
    ds = SceneDataset(num_scenes=1)
    assert ds.folder.parent == tmp_path / "scenes"


def test_splits_partition_the_scenes():
    assert split_indices(12, "test") == (4, 9)
    train, test = set(split_indices(12, "train")), set(split_indices(12, "test"))
    assert train | test == set(split_indices(12, "all")) == set(range(12)) and not train & test
    ds = SceneDataset(num_scenes=12, split="test")
    assert len(ds) == 2 and ds.scenes == (4, 9)
    with pytest.raises(IndexError):
        ds.scene(0)  # not in this split
    with pytest.raises(ValueError):
        SceneDataset(split="val")


def test_the_video_decodes_to_the_scene_with_object_colours(tmp_path):
    ds = SceneDataset(num_scenes=3, seed=0, root=tmp_path)
    checked = 0
    for index in range(len(ds)):
        sample = ds[index]
        truth = ds.scene(sample.meta["scene"])
        clip = decode(sample.video, truth.num_frames, (truth.height, truth.width))
        assert clip.frames.shape == (truth.num_frames, truth.height, truth.width, 3)
        assert clip.total_frames == truth.num_frames and clip.fps == pytest.approx(truth.fps)
        for t in (0, truth.num_frames // 2, truth.num_frames - 1):
            for i in range(truth.num_objects):
                box = truth.boxes[t, i]
                if not (truth.visible[t, i] and truth.visible_fraction[t, i] == 1
                        and min(box[2] - box[0], box[3] - box[1]) >= 10):
                    continue
                u, v = np.floor(truth.project(truth.positions[t, i], t)).astype(int)
                if not (2 <= u < truth.width - 2 and 2 <= v < truth.height - 2):
                    continue  # the centre of a partly visible object may lie outside the frame
                patch = clip.frames[t, v - 1:v + 2, u - 1:u + 2].reshape(-1, 3)
                assert nearest_colour(np.median(patch, axis=0)) == truth.colours[i], (sample.id, t, truth.labels[i])
                checked += 1
    assert checked >= 5


def test_render_sanity_of_outlines():
    centre, size = np.array([0.0, 0.0, 0.3]), np.array([0.6, 0.6, 0.6])
    assert object_corners(centre, size).shape == (8, 3)
    camera = np.array([0.0, -6.0, 4.5])
    for shape in SHAPES:
        points = object_outline(shape, centre, size, camera)
        assert (np.abs(points - centre) <= size / 2 + 1e-9).all(), shape
    with pytest.raises(ValueError):
        object_outline("torus", centre, size, camera)
