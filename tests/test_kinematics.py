"""Pose kinematics: scale-free features that tell the synthetic actions apart."""

import numpy as np
import pytest

from videostar_env.video.decode import uniform_indices
from videostar_env.datasets.synthetic.dataset import render
from videostar_env.perception.kinematics import analyze


def features(action, seed=0):
    _, keypoints, _ = render(action, seed)
    return analyze(keypoints[uniform_indices(len(keypoints), 16)])


def test_features_do_not_depend_on_image_scale():
    _, keypoints, _ = render("squat", 3)
    a = analyze(keypoints).features
    scaled = keypoints.astype(np.float64)
    scaled[..., :2] *= 2.5
    b = analyze(scaled).features
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6)  # float32 keypoints


@pytest.mark.parametrize("action,feature,low,high", [
    ("walk", "centre_horizontal_travel", 0.15, 0.6),
    ("run", "centre_horizontal_travel", 0.55, 1.3),
    ("sit_down", "centre_vertical_trend", -1.0, -0.08),
    ("stand_up", "centre_vertical_trend", 0.08, 1.0),
    ("wave", "arm_asymmetry", 0.6, 1.0),
    ("clap", "wrist_distance_min", 0.0, 0.08),
    ("kick", "leg_asymmetry", 0.5, 1.0),
    ("bow", "torso_shortening", 0.2, 0.6),
])
def test_features_capture_the_defining_movement(action, feature, low, high):
    assert low <= features(action).features[feature] <= high


def test_summary_and_peak_frames():
    kin = features("jumping_jacks")
    assert len(kin.peak_frames) == 3 and all(1 <= p < 16 for p in kin.peak_frames)
    text = kin.summary(tuple(range(100, 116)))
    assert "Joints that move most" in text and "Frames of largest joint displacement: 1" in text


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        analyze(np.zeros((1, 17, 2)))
    with pytest.raises(ValueError, match="shape"):
        analyze(np.zeros((4, 12, 2)))
