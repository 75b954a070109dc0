"""Relation graph of a multi-object scene (after Video-STR): building, the written format, and the score."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videostar_env.perception.graph_score import graph_score
from videostar_env.perception.relation_graph import Edge, GraphFrame, Node, RelationGraph, build_graph

LABELS = ["car", "person", "dog", "traffic light", "bicycle", "tree"]
TERMS = ("node", "edge", "matched", "missing", "invented", "invented_edges", "frames")
seeds = st.integers(0, 2**32 - 1)


def positions(seed, k=3, n=4, d=2, units="metres"):
    """(K, N, D) centres of N objects moving a little over K keyframes."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.1, 0.9, (n, d)) if units == "image" else rng.uniform(-5, 5, (n, d))
    step = 0.02 if units == "image" else 0.3
    return start + np.cumsum(rng.normal(0, step, (k, n, d)), axis=0) * (np.arange(k) > 0)[:, None, None]


def scene(pos, units="metres", visible=None, ids=None, labels=None):
    k, n, _ = pos.shape
    return build_graph(np.arange(k) * 0.5, ids or [str(i) for i in range(n)], labels or LABELS[:n], pos,
                       units=units, visible=visible)


def transform(graph, degrees=0.0, shift=(0.0, 0.0, 0.0), scale=1.0):
    """Rotate about z, scale and shift every position; turn and scale the written edges to match."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))

    def move(p):
        x, y = p[0] * c - p[1] * s, p[0] * s + p[1] * c
        return tuple(scale * v + shift[i] for i, v in enumerate((x, y, *p[2:])))

    def turn(a):
        return (a + degrees + 180) % 360 - 180

    return RelationGraph(tuple(GraphFrame(f.time, tuple(Node(n.id, n.label, move(n.position)) for n in f.nodes),
                                          tuple(Edge(e.source, e.target, e.distance * scale, turn(e.angle))
                                                for e in f.edges)) for f in graph.frames), graph.units)


def edit_edges(graph, fn):
    return RelationGraph(tuple(GraphFrame(f.time, f.nodes, tuple(fn(e) for e in f.edges)) for f in graph.frames),
                         graph.units)


# --- building --------------------------------------------------------------------------------------------


def test_build_graph_writes_complete_graph_with_distance_and_angle():
    pos = np.array([[[0.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]])
    g = build_graph([1.5], [7, 8, 9], ["car", "dog", "tree"], pos)
    (frame,) = g.frames
    assert g.units == "metres" and frame.time == 1.5
    assert [n.id for n in frame.nodes] == ["7", "8", "9"] and frame.nodes[1].position == (0.0, 2.0)
    assert [(e.source, e.target) for e in frame.edges] == [("7", "8"), ("7", "9"), ("8", "9")]
    assert frame.edges[0].distance == pytest.approx(2.0) and frame.edges[0].angle == pytest.approx(90.0)
    assert frame.edges[1].angle == 180.0  # atan2(0, -1): the angle range is (-180, 180]
    assert frame.edges[2].distance == pytest.approx(math.sqrt(5))


def test_build_graph_3d_distance_uses_all_coordinates_and_angle_the_ground_plane():
    g = build_graph([0.0], ["a", "b"], ["car", "dog"], [[[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]]])
    (edge,) = g.frames[0].edges
    assert edge.distance == pytest.approx(5.0) and edge.angle == pytest.approx(0.0)


def test_build_graph_keeps_only_visible_objects():
    pos = positions(0, k=2, n=3)
    pos[1, 2] = np.nan
    g = build_graph([0, 1], ["a", "b", "c"], ["x", "y", "z"], pos, visible=[[True, False, True], [True, True, True]])
    assert [[n.id for n in f.nodes] for f in g.frames] == [["a", "c"], ["a", "b"]]
    assert [len(f.edges) for f in g.frames] == [1, 1]


@pytest.mark.parametrize("args", [
    dict(positions=np.zeros((2, 3, 4))), dict(positions=np.zeros((3, 3, 2))), dict(ids=["a", "a", "b"]),
    dict(units="furlongs"), dict(visible=np.ones((2, 2), bool))])
def test_build_graph_rejects_inconsistent_input(args):
    base = dict(times=[0, 1], ids=["a", "b", "c"], labels=["x", "y", "z"], positions=np.zeros((2, 3, 2)))
    with pytest.raises(ValueError):
        build_graph(**{**base, **args})


# --- the written format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("d,units", [(2, "metres"), (3, "metres"), (2, "image")])
def test_json_round_trip(d, units):
    g = scene(positions(1, d=d, units=units), units=units, visible=[[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1]])
    written = g.to_json()
    assert set(written) == {"units", "frames"} and set(written["frames"][0]) == {"time", "nodes", "edges"}
    assert set(written["frames"][0]["nodes"][0]) == {"id", "label", "position"}
    assert set(written["frames"][0]["edges"][0]) == {"source", "target", "distance", "angle"}
    assert RelationGraph.from_json(json.loads(json.dumps(written))) == g
    assert RelationGraph.from_json(json.dumps(written)) == g  # a JSON string too


def test_tolerant_parsing():
    frame = {"time": 0.5, "nodes": [{"id": 1, "label": "car", "position": {"x": 0, "y": 0}},
                                    {"id": 2, "label": "dog", "position": {"x": 3, "y": 4}}],
             "edges": [{"source": 1, "target": 2, "distance": 5, "angle": 53.13}]}
    expected = RelationGraph((GraphFrame(0.5, (Node("1", "car", (0.0, 0.0)), Node("2", "dog", (3.0, 4.0))),
                                         (Edge("1", "2", 5.0, 53.13),)),), "metres")
    assert RelationGraph.from_json({"frames": [frame]}) == expected  # units default to metres
    assert RelationGraph.from_json([frame]) == expected  # a bare list of frames
    assert RelationGraph.from_json(frame) == expected  # a single frame
    assert RelationGraph.from_json({k: v for k, v in frame.items() if k != "time"}).frames[0].time == 0.0
    assert RelationGraph.from_json({"units": "normalized", "frames": [frame]}).units == "image"
    loose = RelationGraph.from_json({"nodes": [{"id": "car", "center": [1, 2, 3]}, {"id": "b", "pos": [0, 0, 0]}],
                                     "edges": [{"from": "b", "to": "car", "distance": 1, "angle": -180}]})
    assert loose.frames[0].nodes[0] == Node("car", "car", (1.0, 2.0, 3.0))  # no label: the id
    assert loose.frames[0].edges == (Edge("b", "car", 1.0, 180.0),)  # angle into (-180, 180]
    assert RelationGraph.from_json({"nodes": [{"id": 0, "label": "a", "position": [0, 0]}]}).frames[0].edges == ()


GOOD_NODE = {"id": "a", "label": "car", "position": [0, 0]}
OTHER_NODE = {"id": "b", "label": "dog", "position": [1, 0]}
GOOD_EDGE = {"source": "a", "target": "b", "distance": 1.0, "angle": 0.0}


def frames_with(nodes=(GOOD_NODE, OTHER_NODE), edges=(GOOD_EDGE,), time=0.0):
    return {"frames": [{"time": time, "nodes": list(nodes), "edges": list(edges)}]}


@pytest.mark.parametrize("obj,reason", [
    ("{not json", "not valid JSON"),
    (42, "JSON object or a list"),
    ({"objects": []}, "'frames'"),
    ({"frames": {"time": 0}}, "must be a list"),
    ({"units": "furlongs", "frames": []}, "'units'"),
    ({"frames": [{"nodes": []}]}, "no 'time'"),
    ({"frames": [{"time": 0}]}, "no 'nodes'"),
    (frames_with(nodes=[{"label": "car", "position": [0, 0]}], edges=[]), "no 'id'"),
    (frames_with(nodes=[{"id": "a", "label": "car"}], edges=[]), "no 'position'"),
    (frames_with(nodes=[{"id": "a", "position": ["left", 0]}], edges=[]), "position[0] must be a number"),
    (frames_with(nodes=[{"id": "a", "position": [0, float("nan")]}], edges=[]), "finite"),
    (frames_with(nodes=[{"id": "a", "position": [0]}], edges=[]), "[x, y]"),
    (frames_with(nodes=[{"id": "a", "position": {"x": 1}}], edges=[]), "'x' and 'y'"),
    (frames_with(nodes=[GOOD_NODE, {"id": "b", "position": [1, 2, 3]}], edges=[]), "mixes 2- and 3-coordinate"),
    (frames_with(nodes=[GOOD_NODE, GOOD_NODE], edges=[]), "duplicate node ids"),
    (frames_with(nodes=[GOOD_NODE, {"id": True, "position": [0, 0]}], edges=[]), "id must be"),
    (frames_with(edges=[{**GOOD_EDGE, "target": "zebra"}]), "names node 'zebra'"),
    (frames_with(edges=[{**GOOD_EDGE, "target": "a"}]), "to itself"),
    (frames_with(edges=[{k: v for k, v in GOOD_EDGE.items() if k != "distance"}]), "no 'distance'"),
    (frames_with(edges=[{**GOOD_EDGE, "angle": "north"}]), "angle must be a number"),
    (frames_with(edges=[{**GOOD_EDGE, "distance": -1}]), "negative"),
    (frames_with(edges=[{**GOOD_EDGE, "distance": float("inf")}]), "finite"),
    ({"frames": [frames_with()["frames"][0]] * 2}, "same time"),
    ({"frames": [frames_with()["frames"][0], frames_with(nodes=[{"id": "a", "position": [1, 2, 3]}], edges=[],
                                                         time=1)["frames"][0]]}, "mix 2 and 3"),
])
def test_malformed_input_is_rejected_with_a_reason(obj, reason):
    with pytest.raises(ValueError) as info:
        RelationGraph.from_json(obj)
    assert reason in str(info.value)
    with pytest.raises(ValueError):
        graph_score(obj, frames_with())


# --- the score -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d,units", [(2, "metres"), (3, "metres"), (2, "image"), (3, "image")])
def test_true_graph_scores_one(d, units):
    g = scene(positions(2, d=d, units=units), units=units)
    score = graph_score(g, g)
    assert set(TERMS) <= set(score)
    assert score["node"] == score["edge"] == score["matched"] == score["frames"] == 1.0
    assert score["missing"] == score["invented"] == score["invented_edges"] == 0
    assert graph_score(g.to_json(), json.dumps(g.to_json())) == score  # JSON is accepted on either side


def test_nodes_match_by_label_when_ids_differ_and_edges_in_either_direction():
    pos = positions(3, k=1, n=3)
    true = scene(pos, labels=["Traffic Light", "car", "person"])
    pred = scene(pos, ids=["x", "y", "z"], labels=["traffic_light", "CAR", "person"])
    reversed_edges = edit_edges(pred, lambda e: Edge(e.target, e.source, e.distance, (e.angle % 360) - 180))
    assert graph_score(pred, true)["node"] == graph_score(reversed_edges, true)["edge"] == 1.0


def test_rotated_translated_prediction_is_not_penalised_but_a_mirror_is():
    pos = positions(4, k=1, n=4)
    true = scene(pos)
    score = graph_score(transform(true, 90.0, (10.0, -3.0)), true)
    assert score["node"] == pytest.approx(1.0) and score["edge"] == pytest.approx(1.0)
    mirrored = scene(pos * np.array([-1.0, 1.0]))
    assert graph_score(mirrored, true)["node"] < 0.9


def test_3d_alignment_turns_about_the_vertical_only():
    pos = positions(5, k=1, n=4, d=3)
    true = scene(pos)
    assert graph_score(transform(true, 33.0, (1.0, 2.0, 3.0)), true)["node"] == pytest.approx(1.0)
    tilted = scene(pos[..., [0, 2, 1]])  # a rotation about x: "up" is not arbitrary
    assert graph_score(tilted, true)["node"] < 0.9


def test_image_units_fit_a_uniform_scale_metric_units_do_not():
    pos = positions(6, k=2, n=4, units="image")
    true = scene(pos, units="image")
    pixels = transform(scene(pos, units="pixels"), 0.0, (5.0, 7.0), 640.0)
    assert pixels.units == "image"
    assert graph_score(pixels, true)["node"] == pytest.approx(1.0)
    metric = scene(positions(6, k=2, n=4))
    assert graph_score(transform(metric, 0.0, (0, 0), 2.0), metric)["node"] < 0.5


def test_missing_and_displaced_frames():
    pos = positions(7, k=4, n=3)
    true = scene(pos)
    late = RelationGraph(tuple(GraphFrame(f.time + 0.2, f.nodes, f.edges) for f in true.frames), "metres")
    assert graph_score(late, true)["frames"] == 1.0  # within half the 0.5 s gap
    too_late = RelationGraph(tuple(GraphFrame(f.time + 0.3, f.nodes, f.edges) for f in true.frames), "metres")
    assert graph_score(too_late, true)["frames"] == 0.75  # the first true frame has none within 0.25 s
    half = RelationGraph(true.frames[:2], "metres")
    score = graph_score(half, true)
    assert score["frames"] == score["node"] == score["edge"] == 0.5 and score["missing"] == 6
    assert graph_score(RelationGraph((), "metres"), true)["node"] == 0.0


def test_few_matched_nodes():
    pos = positions(8, k=1, n=3)
    true = scene(pos)
    one = scene(pos[:, :1] + 10.0)  # one object alone has no relation to check: nothing for position
    assert graph_score(one, true)["node"] == 0.0 and graph_score(scene(pos[:, :1]), true)["node"] == 0.0
    nobody = scene(pos, ids=["p", "q", "r"], labels=["cat", "cow", "hen"])
    score = graph_score(nobody, true)
    assert score["node"] == score["edge"] == 0.0 and score["invented"] == 3 and score["invented_edges"] == 3


def test_explicit_tolerance():
    pos = positions(9, k=1, n=4)
    true = scene(pos)
    pred = scene(pos + np.random.default_rng(0).normal(0, 0.2, pos.shape))
    assert graph_score(pred, true, tolerance=0.1)["node"] < graph_score(pred, true)["node"] < \
        graph_score(pred, true, tolerance=5.0)["node"]
    with pytest.raises(ValueError):
        graph_score(pred, true, tolerance=0)


def noisy_prediction(seed, d, units):
    """A true scene and an imperfect prediction: noisy positions, edges off in distance and angle."""
    pos = positions(seed, k=2, n=4, d=d, units=units)
    rng = np.random.default_rng(seed + 1)
    pred = scene(pos + rng.normal(0, 0.03 if units == "image" else 0.3, pos.shape), units=units)
    factors = iter(rng.uniform(0.7, 1.3, 100))
    turns = iter(rng.uniform(-30, 30, 100))
    pred = edit_edges(pred, lambda e: Edge(e.source, e.target, e.distance * next(factors), e.angle + next(turns)))
    return scene(pos, units=units), pred


@settings(max_examples=40, deadline=None)
@given(seed=seeds, degrees=st.floats(-720, 720), shift=st.tuples(*[st.floats(-50, 50)] * 3),
       d=st.sampled_from([2, 3]), units=st.sampled_from(["metres", "image"]), scale=st.floats(0.05, 20))
def test_score_is_invariant_to_rotation_translation_and_image_scale(seed, degrees, shift, d, units, scale):
    true, pred = noisy_prediction(seed, d, units)
    before = graph_score(pred, true)
    after = graph_score(transform(pred, degrees, shift, scale if units == "image" else 1.0), true)
    for key in TERMS:
        assert after[key] == pytest.approx(before[key], abs=1e-6)


def small_noise(seed, d, units, n):
    pos = positions(seed, k=2, n=n, d=d, units=units)
    noise = np.random.default_rng(seed + 2).normal(0, 0.001 if units == "image" else 0.01, pos.shape)
    return pos, scene(pos, units=units), pos + noise


@settings(max_examples=30, deadline=None)
@given(seed=seeds, d=st.sampled_from([2, 3]), units=st.sampled_from(["metres", "image"]), n=st.integers(2, 5),
       data=st.data())
def test_dropping_a_node_lowers_node_and_edge(seed, d, units, n, data):
    _, true, pred_pos = small_noise(seed, d, units, n)
    drop = data.draw(st.integers(0, n - 1))
    visible = np.ones((2, n), bool)
    visible[:, drop] = False
    full, dropped = graph_score(scene(pred_pos, units=units), true), \
        graph_score(scene(pred_pos, units=units, visible=visible), true)
    assert dropped["node"] < full["node"] and dropped["edge"] < full["edge"]
    assert dropped["missing"] == full["missing"] + 2


@settings(max_examples=30, deadline=None)
@given(seed=seeds, d=st.sampled_from([2, 3]), units=st.sampled_from(["metres", "image"]), n=st.integers(1, 5))
def test_inventing_a_node_lowers_node(seed, d, units, n):
    _, true, pred_pos = small_noise(seed, d, units, n)
    extra = np.concatenate([pred_pos, pred_pos[:, :1] + 0.05], axis=1)
    ids, labels = [str(i) for i in range(n)] + ["extra"], LABELS[:n] + ["unicorn"]
    full = graph_score(scene(pred_pos, units=units), true)
    invented = graph_score(scene(extra, units=units, ids=ids, labels=labels), true)
    assert invented["node"] < full["node"] and invented["edge"] < full["edge"]
    assert invented["invented"] == 2 and invented["invented_edges"] == 2 * n


@settings(max_examples=25, deadline=None)
@given(seed=seeds, d=st.sampled_from([2, 3]), n=st.integers(3, 5))
def test_node_falls_with_the_size_of_a_perturbation(seed, d, n):
    pos = positions(seed, k=1, n=n, d=d)
    true = scene(pos)
    directions = np.random.default_rng(seed + 3).normal(0, 1, (8, *pos.shape))  # one direction can recover by luck
    scores = [np.mean([graph_score(scene(pos + size * direction), true)["node"] for direction in directions])
              for size in (0, 0.05, 0.1, 0.2, 0.4, 0.8)]
    assert scores[0] == 1.0 and scores[-1] < scores[1] < 1.0
    assert all(b <= a + 0.02 for a, b in zip(scores, scores[1:]))


@settings(max_examples=25, deadline=None)
@given(seed=seeds, factor=st.floats(0.4, 1.6).filter(lambda f: abs(f - 1) > 0.01),
       units=st.sampled_from(["metres", "image"]))
def test_edges_that_disagree_in_distance_lower_edge(seed, factor, units):
    true = scene(positions(seed, units=units), units=units)

    def stretch(f):  # every other edge: with image units a uniform stretch is only a change of scale
        count = iter(range(10**6))
        return lambda e: Edge(e.source, e.target, e.distance * (f if next(count) % 2 else 1.0), e.angle)

    score = graph_score(edit_edges(true, stretch(factor)), true)
    assert score["node"] == 1.0 and score["edge"] < 1.0
    assert graph_score(edit_edges(true, stretch(1 + 1.5 * (factor - 1))), true)["edge"] < score["edge"]


def test_image_units_check_written_lengths_against_the_nodes_scale():
    true = scene(positions(3, units="image"), units="image")
    pixels = edit_edges(true, lambda e: Edge(e.source, e.target, e.distance * 640, e.angle))
    assert graph_score(pixels, true)["node"] == 1.0 and graph_score(pixels, true)["edge"] < 0.6


def test_importing_the_env_does_not_import_scipy():
    """scipy.optimize (~50 MB in every process) loads only when a graph score needs its assignment search."""
    import subprocess
    import sys

    script = ("import sys, gymnasium as gym, videostar_env\n"
              "gym.make('VideoSTAR-v0').reset(seed=0)\n"
              "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "False"


def test_the_position_tolerance_is_half_a_metre_or_a_tenth_of_the_frames_extent():
    from videostar_env.perception.graph_score import position_tolerance

    pos = np.array([[[0.0, 0.0], [0.3, 0.4]]])
    assert position_tolerance(scene(pos).frames[0], "metres") == 0.5
    assert position_tolerance(scene(pos, units="image").frames[0], "image") == pytest.approx(0.05)  # 0.1 x 0.5
    assert position_tolerance(scene(np.zeros((1, 2, 2)), units="image").frames[0], "image") == pytest.approx(0.1)
