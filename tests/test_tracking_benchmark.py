"""The tracking benchmark's scoring: id switches, ids per person, misses and extra ids against hand-drawn boxes."""

import pytest

from videostar_benchmarks.tracking import TRUTH, iou, load_truth, match, score

from conftest import shared_file

ANN = (0, 0, 10, 20)
BOB = (50, 0, 60, 20)


def test_iou_of_boxes():
    assert iou(ANN, ANN) == 1.0 and iou(ANN, BOB) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_match_assigns_one_track_per_person_and_drops_weak_overlaps():
    assert match({"ann": ANN, "bob": BOB}, [(2, BOB), (1, (1, 1, 10, 20)), (3, (100, 0, 110, 20))]) == {"ann": 1, "bob": 2}
    assert match({"ann": ANN}, [(4, (8, 0, 18, 20))]) == {}  # IoU 0.11: not the same object
    assert match({"ann": ANN}, []) == {}


def test_a_switch_is_a_changed_id_between_matched_frames():
    truth = {0: {"ann": ANN, "bob": BOB}, 1: {"ann": ANN, "bob": BOB}, 2: {"ann": ANN, "bob": BOB},
             3: {"ann": ANN}}
    tracked = {0: [(1, ANN), (2, BOB)],
               1: [(3, ANN), (2, BOB), (9, (200, 0, 210, 20))],  # ann's id changes; id 9 is on nothing true
               2: [(1, ANN)],  # back to 1 (a second switch); bob missed
               3: [(1, ANN), (2, BOB)]}  # bob is not in the truth here: his id is no extra id, it matched before
    result = score(truth, tracked)
    assert result.switches == 2
    assert result.ids_per_person == {"ann": 2, "bob": 1}
    assert (result.missed, result.truth_boxes, result.extra_ids) == (1, 7, 1)


def test_a_miss_between_two_frames_does_not_hide_a_switch():
    truth = {0: {"ann": ANN}, 1: {"ann": ANN}, 2: {"ann": ANN}}
    result = score(truth, {0: [(1, ANN)], 1: [], 2: [(5, ANN)]})
    assert (result.switches, result.missed, result.ids_per_person) == (1, 1, {"ann": 2})


def test_every_truth_frame_needs_tracked_boxes():
    with pytest.raises(ValueError, match=r"truth frames \[1\]"):
        score({0: {"ann": ANN}, 1: {"ann": ANN}}, {0: [(1, ANN)]})


def test_the_hand_truth_marks_frames_the_tools_track():
    from videostar_env.video.decode import decode
    from videostar_env.tools.objects import TRACK_FRAMES

    truth = load_truth(TRUTH)
    assert set(truth) == {"apply_eye_makeup.avi", "arm_wrestling.mp4", "flipping_pancake.mkv"}
    for name, entry in truth.items():
        assert 6 <= len(entry["frames"]) <= 10
        h, w = entry["size"]
        for boxes in entry["frames"].values():
            assert all(0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h for x1, y1, x2, y2 in boxes.values())
        clip = decode(str(shared_file(f"clips/{name}")), TRACK_FRAMES, (32, 32))
        assert set(entry["frames"]) <= set(clip.indices), name
