"""Image positions keep the video's geometry: one scale for both axes, y up, and graph ids that are track ids."""

import math

import numpy as np
import pytest

from videostar_env.perception.objects import IMAGE_UNITS, ObjectBox, image_units, tracks_of
from videostar_env.tools.objects import keyframe_graph

SOURCE = (360, 640)  # (height, width) of a wide video
EPISODE = (128, 128)  # the square frames an episode decodes it to


def to_episode(box):
    """A box in the source video's pixels, as it lies in the episode's (stretched) frames."""
    sy, sx = EPISODE[0] / SOURCE[0], EPISODE[1] / SOURCE[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def tracked(*objects):
    """One frame of tracked boxes: (track id, box in source pixels) pairs."""
    return [ObjectBox("person", to_episode(box), 0.9, track_id) for track_id, box in objects]


def test_a_square_in_the_video_stays_square_in_image_units():
    corners = np.array([[100.0, 50.0], [172.0, 122.0]])  # a 72 x 72 pixel square of the 640x360 video
    low, high = image_units([to_episode((*c, *c))[:2] for c in corners], EPISODE, SOURCE)
    width, height = abs(high[0] - low[0]), abs(high[1] - low[1])
    assert width == pytest.approx(height) == pytest.approx(72 / 640)


def test_image_units_start_at_the_bottom_left_with_y_up_over_the_larger_side():
    points = image_units([[0, 360], [640, 0], [320, 180]], SOURCE, SOURCE)
    np.testing.assert_allclose(points, [[0, 0], [1, 360 / 640], [0.5, 180 / 640]])
    tall = image_units([[0, 0]], (640, 360), (640, 360))  # a portrait video: its height is the larger side
    np.testing.assert_allclose(tall, [[0, 1]])
    assert "larger side" in IMAGE_UNITS and "y up" in IMAGE_UNITS
    with pytest.raises(ValueError, match="positive"):
        image_units([[0, 0]], (0, 128), SOURCE)


def test_tracks_on_a_wide_video_keep_one_scale_and_y_up():
    # Frames decoded at the video's own non-square size: equal pixel steps right and up are equal steps.
    frames = [[ObjectBox("ball", (300, 200, 340, 240), 0.9, 1)], [ObjectBox("ball", (400, 200, 440, 240), 0.9, 1)],
              [ObjectBox("ball", (400, 100, 440, 140), 0.9, 1)]]
    (ball,) = tracks_of(frames, SOURCE)
    right, up = ball.points[1] - ball.points[0], ball.points[2] - ball.points[1]
    np.testing.assert_allclose(right, [100 / 640, 0])
    np.testing.assert_allclose(up, [0, 100 / 640])  # moving up the picture is +y


def test_tracks_of_a_stretched_episode_frame_use_the_source_shape():
    frames = [tracked((1, (300, 200, 340, 240))), tracked((1, (400, 100, 440, 140)))]
    (track,) = tracks_of(frames, EPISODE, SOURCE)
    np.testing.assert_allclose(track.points[1] - track.points[0], [100 / 640, 100 / 640])


def test_graph_angles_run_counter_clockwise_and_ids_are_track_ids_at_every_keyframe():
    # Detection order changes between frames; ids must follow the objects, not the order.
    frames = [tracked((7, (100, 200, 140, 240)), (3, (300, 200, 340, 240))),
              tracked((3, (300, 100, 340, 140)), (7, (100, 200, 140, 240))),
              tracked((7, (100, 200, 140, 240)))]
    graph = keyframe_graph(tracks_of(frames, EPISODE, SOURCE), [0.0, 0.5, 1.0], [0, 1, 2])
    assert graph.units == "image"
    first, second, third = graph.frames
    assert {n.id: n.label for n in first.nodes} == {"3": "person", "7": "person"}
    at = {n.id: np.array(n.position) for f in graph.frames for n in f.nodes if n.id == "7"}
    np.testing.assert_allclose(at["7"], [120 / 640, 140 / 640])  # the object that never moved keeps id 7
    assert [n.id for n in third.nodes] == ["7"]
    (edge,) = second.edges  # from 3 (up and to the right) to 7
    assert (edge.source, edge.target) == ("3", "7")
    dx, dy = -200 / 640, -100 / 640
    assert edge.distance == pytest.approx(math.hypot(dx, dy))
    assert edge.angle == pytest.approx(math.degrees(math.atan2(dy, dx)))  # down-left: -153.4, counter-clockwise from x
    (flat,) = first.edges
    assert flat.angle == pytest.approx(180.0) and flat.distance == pytest.approx(200 / 640)
