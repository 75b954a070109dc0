"""Relation graph of a multi-object scene, and how well a predicted graph matches the true one.

After Video-STR (arXiv 2510.10976): the policy writes an inter-object relation graph in its reasoning
(nodes are objects at their centres, edges carry relative distance and angle) and is rewarded with a
rotation-invariant graph score. The paper does not publish its formulas; these definitions are ours.

Graph
    Node(id, label, position): an object's centre, 2 or 3 coordinates (x, y[, z]). In "metres" units x-y
        is the world ground plane and z the height; in "image" units (x, y) are image-normalised, in [0, 1].
    Edge(source, target, distance, angle): distance is Euclidean over all coordinates; angle is
        atan2(dy, dx) in degrees, in (-180, 180]: the direction from source to target in the x-y plane.
    GraphFrame(time, nodes, edges): one keyframe, time in seconds.
    RelationGraph(frames, units): units "metres" or "image".

Written format (RelationGraph.to_json / from_json)
    {"units": "metres", "frames": [{"time": 0.5,
        "nodes": [{"id": "1", "label": "car", "position": [x, y]}],
        "edges": [{"source": "1", "target": "2", "distance": 3.2, "angle": -45.0}]}]}
    from_json also takes: a JSON string; integer ids; positions as {"x", "y"(, "z")} (or under "centre",
    "center", "pos"); a missing "label" (the id is used); edge ends as "from"/"to"; a missing "edges";
    a missing "units" ("metres"; aliases such as "meters", "m", "normalized", "pixels" are understood);
    a bare list of frames; a single frame object without "frames" (its "time" defaults to 0). Anything
    else malformed raises ValueError saying where and why (missing keys, non-numbers, NaN, duplicate ids
    or times, an edge naming a node the frame lacks, 2- and 3-coordinate positions mixed).

Score (graph_score): terms in [0, 1], averaged over the true frames.
    Frames: each true frame is compared with the predicted frame nearest in time. If that frame is
        further away than half the gap to the neighbouring true frame on its side (the other side's gap
        at the first/last true frame; no limit when there is one true frame), the true frame is missing
        and scores 0. Predicted frames that no true frame uses cost nothing.
    Nodes: matched by id, then the rest by normalised label (lower case, "_" and "-" as spaces, runs of
        spaces collapsed; first come first served), one-to-one. Predicted nodes matching no true node are
        invented.
    Alignment: the predicted positions of matched nodes are mapped onto the true ones by the least-squares
        proper rotation about the vertical (z) axis, i.e. in the x-y plane with z kept (ground-plane
        coordinates: heading is arbitrary, "up" is not), plus translation in every coordinate, plus a
        uniform scale when either graph's units are "image" (Kabsch/Umeyama, no reflection). With 0 matched
        nodes nothing is fitted; with 1, translation only (one object alone carries no relational
        information, so it scores 1); with 2 or more, the full fit (2 image-unit nodes always fit exactly).
        When predicted and true positions differ in dimension, only x and y are compared.
    Node term: per true node max(0, 1 - residual / tolerance), 0 for a missing node; divided by
        (true nodes + invented nodes). Tolerance defaults to 0.5 (metres) for metric true graphs and to 0.1
        of the true frame's extent (the diagonal of its nodes' bounding box; the whole image, 1, when that
        is 0) for image-unit true graphs; an explicit tolerance is in the true graph's units.
    Edge term: per true edge (the true frame's edges, per unordered pair), the predicted edge between the
        matched nodes, either direction (a reversed edge's angle is turned by 180 degrees), scores the mean of
        distance agreement max(0, 1 - |d_pred * s - d_true| / d_true) (s the fitted scale, 1 for metric)
        and angle agreement (1 + cos(a_pred + rotation - a_true)) / 2 (rotation from the node alignment);
        missing pairs score 0. Predicted edges not used for a true edge (an end unmatched, a duplicate, a
        pair the true frame lacks) are invented and add to the denominator.
    A frame with nothing to score on a term (no true nodes/edges and none invented) scores 1 on it.
    Results are clamped to [0, 1] and rounded to 1e-9, so identical graphs score exactly 1.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

UNITS = {"metres": "metres", "meters": "metres", "metre": "metres", "meter": "metres", "m": "metres",
         "metric": "metres", "world": "metres", "image": "image", "normalised": "image", "normalized": "image",
         "pixels": "image", "pixel": "image", "px": "image"}
POSITION_KEYS = ("position", "centre", "center", "pos")
METRIC_TOLERANCE = 0.5  # metres
IMAGE_TOLERANCE = 0.1  # of the true frame's extent


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    position: tuple[float, ...]  # (x, y) or (x, y, z)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    distance: float
    angle: float  # degrees in (-180, 180], atan2(dy, dx) from source to target


@dataclass(frozen=True)
class GraphFrame:
    time: float  # seconds
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class RelationGraph:
    frames: tuple[GraphFrame, ...]
    units: str  # "metres" or "image"

    def to_json(self) -> dict:
        return {"units": self.units, "frames": [{
            "time": f.time,
            "nodes": [{"id": n.id, "label": n.label, "position": list(n.position)} for n in f.nodes],
            "edges": [{"source": e.source, "target": e.target, "distance": e.distance, "angle": e.angle}
                      for e in f.edges]} for f in self.frames]}

    @classmethod
    def from_json(cls, obj: Any) -> RelationGraph:
        if isinstance(obj, (str, bytes)):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as e:
                raise ValueError(f"the graph is not valid JSON: {e}") from None
        units, single = "metres", False
        if isinstance(obj, list):
            raw = obj
        elif isinstance(obj, Mapping):
            if "units" in obj:
                units = _units(obj["units"])
            if "frames" in obj:
                raw = obj["frames"]
                if not isinstance(raw, list):
                    raise ValueError(f"'frames' must be a list of frames, got {_show(raw)}")
            elif "nodes" in obj:
                raw, single = [obj], True
            else:
                raise ValueError("the graph must be an object with 'frames' (a list of {'time', 'nodes', "
                                 f"'edges'}}) or a single frame with 'nodes'; got keys {sorted(map(str, obj))}")
        else:
            raise ValueError(f"the graph must be a JSON object or a list of frames, got {_show(obj)}")
        frames = tuple(_frame(f, "frame" if single else f"frames[{k}]", single) for k, f in enumerate(raw))
        times = [f.time for f in frames]
        if len(set(times)) < len(times):
            raise ValueError(f"two frames have the same time (times {times}); give each keyframe its own time")
        dims = {len(n.position) for f in frames for n in f.nodes}
        if len(dims) > 1:
            raise ValueError("positions mix 2 and 3 coordinates across frames; use the same for every node")
        return cls(frames, units)


def build_graph(times: Sequence[float], ids: Sequence[Any], labels: Sequence[str], positions: Any,
                units: str = "metres", visible: Any = None) -> RelationGraph:
    """The complete relation graph of N objects over K keyframes: positions (K, N, D=2|3), visible (K, N)
    bool or None (all); objects not visible, or with non-finite positions, get no node in that frame."""
    t = np.asarray(times, dtype=float).reshape(-1)
    p = np.asarray(positions, dtype=float)
    names = [str(i) for i in ids]
    if p.ndim != 3 or p.shape[:2] != (len(t), len(names)) or p.shape[2] not in (2, 3):
        raise ValueError(f"positions must have shape (K={len(t)}, N={len(names)}, 2 or 3), got {p.shape}")
    if len(labels) != len(names) or len(set(names)) < len(names):
        raise ValueError("ids must be distinct and labels must have one entry per id")
    show = np.isfinite(p).all(-1)
    if visible is not None:
        v = np.asarray(visible, dtype=bool)
        if v.shape != show.shape:
            raise ValueError(f"visible must have shape {show.shape}, got {v.shape}")
        show &= v
    frames = []
    for k in range(len(t)):
        idx = np.flatnonzero(show[k])
        nodes = tuple(Node(names[i], str(labels[i]), tuple(float(c) for c in p[k, i])) for i in idx)
        edges = tuple(_edge(names[i], names[j], p[k, i], p[k, j]) for a, i in enumerate(idx) for j in idx[a + 1:])
        frames.append(GraphFrame(float(t[k]), nodes, edges))
    return RelationGraph(tuple(frames), _units(units))


def graph_score(predicted: RelationGraph | Any, true: RelationGraph | Any, *,
                tolerance: float | None = None) -> dict[str, float]:
    """{"node", "edge", "matched" (fraction of true nodes matched), "frames" (fraction of true frames
    found)}: means over true frames; {"missing", "invented", "invented_edges"}: counts summed over them."""
    pred = predicted if isinstance(predicted, RelationGraph) else RelationGraph.from_json(predicted)
    truth = true if isinstance(true, RelationGraph) else RelationGraph.from_json(true)
    if not truth.frames:
        raise ValueError("the true graph has no frames")
    if tolerance is not None and not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    scaled = "image" in (pred.units, truth.units)
    tframes = sorted(truth.frames, key=lambda f: f.time)
    pframes = sorted(pred.frames, key=lambda f: f.time)
    ttimes, ptimes = [f.time for f in tframes], np.array([f.time for f in pframes])
    total = dict.fromkeys(("node", "edge", "matched", "missing", "invented", "invented_edges", "frames"), 0.0)
    for k, tf in enumerate(tframes):
        pf = _nearest_frame(k, ttimes, ptimes, pframes)
        if pf is None:
            total["missing"] += len(tf.nodes)
            continue
        tol = tolerance or (IMAGE_TOLERANCE * _extent(tf) if truth.units == "image" else METRIC_TOLERANCE)
        for key, value in _compare(pf, tf, scaled, tol).items():
            total[key] += value
        total["frames"] += 1
    for key in ("node", "edge", "matched", "frames"):
        total[key] = round(min(1.0, max(0.0, total[key] / len(tframes))), 9)
    return total


# --- scoring -------------------------------------------------------------------------------------------


def _compare(pf: GraphFrame, tf: GraphFrame, scaled: bool, tol: float) -> dict[str, float]:
    pairs = _match(pf.nodes, tf.nodes)  # (true index, predicted index)
    invented = len(pf.nodes) - len(pairs)
    dim = min([len(n.position) for n in (*pf.nodes, *tf.nodes)] or [2])  # 2 when 2-D meets 3-D
    T = np.array([tf.nodes[t].position[:dim] for t, _ in pairs], dtype=float).reshape(-1, dim)
    P = np.array([pf.nodes[p].position[:dim] for _, p in pairs], dtype=float).reshape(-1, dim)
    rot, scale, aligned = _align(P, T, scaled)
    residual = np.linalg.norm(aligned - T, axis=1)
    node = _ratio(float(np.clip(1 - residual / tol, 0, 1).sum()), len(tf.nodes) + invented)

    to_true = {pf.nodes[p].id: tf.nodes[t].id for t, p in pairs}
    true_edges: dict[frozenset, Edge] = {}
    for e in tf.edges:
        true_edges.setdefault(frozenset((e.source, e.target)), e)
    used: dict[frozenset, tuple[float, float]] = {}  # pair -> (angle as seen from the true source, distance)
    invented_edges = 0
    for e in pf.edges:
        s, t = to_true.get(e.source), to_true.get(e.target)
        key = frozenset((s, t))
        if s is None or t is None or key not in true_edges or key in used:
            invented_edges += 1
            continue
        used[key] = (e.angle if s == true_edges[key].source else e.angle + 180.0, e.distance)
    agree = 0.0
    for key, te in true_edges.items():
        if key in used:
            angle, distance = used[key]
            d = max(0.0, 1 - abs(distance * scale - te.distance) / max(te.distance, 1e-12))
            a = (1 + math.cos(math.radians(angle + rot - te.angle))) / 2
            agree += (d + a) / 2
    edge = _ratio(agree, len(true_edges) + invented_edges)
    matched = _ratio(len(pairs), len(tf.nodes))
    return {"node": node, "edge": edge, "matched": matched, "missing": len(tf.nodes) - len(pairs),
            "invented": invented, "invented_edges": invented_edges}


def _align(P: np.ndarray, T: np.ndarray, scaled: bool) -> tuple[float, float, np.ndarray]:
    """Least-squares rotation about z (degrees), scale and translation taking P onto T: (rot, scale, P mapped)."""
    if len(P) == 0:
        return 0.0, 1.0, P
    p, t = P - P.mean(0), T - T.mean(0)
    rot, scale = 0.0, 1.0
    if len(P) >= 2:
        a = float((p[:, 0] * t[:, 0] + p[:, 1] * t[:, 1]).sum())
        b = float((p[:, 0] * t[:, 1] - p[:, 1] * t[:, 0]).sum())
        if math.hypot(a, b) > 1e-12 * math.sqrt(float((p ** 2).sum() * (t ** 2).sum())):
            rot = math.atan2(b, a)
        c, s = math.cos(rot), math.sin(rot)
        p = p.copy()
        p[:, :2] = p[:, :2] @ np.array([[c, s], [-s, c]])  # rows (x, y) -> (x c - y s, x s + y c)
        den = float((p ** 2).sum())
        if scaled and den > 0:
            scale = max(0.0, float((p * t).sum()) / den)
    return math.degrees(rot), scale, scale * p + T.mean(0)


def _match(pred: Sequence[Node], true: Sequence[Node]) -> list[tuple[int, int]]:
    """One-to-one (true index, predicted index) pairs: by id first, then by normalised label."""
    by_id = {n.id: i for i, n in enumerate(pred)}
    pairs = {t: by_id[n.id] for t, n in enumerate(true) if n.id in by_id}
    used = set(pairs.values())
    for t, n in enumerate(true):
        if t in pairs:
            continue
        for p, m in enumerate(pred):
            if p not in used and _norm_label(m.label) == _norm_label(n.label):
                pairs[t] = p
                used.add(p)
                break
    return sorted(pairs.items())


def _nearest_frame(k: int, ttimes: list[float], ptimes: np.ndarray, pframes: list[GraphFrame]) -> GraphFrame | None:
    if not len(ptimes):
        return None
    j = int(np.argmin(np.abs(ptimes - ttimes[k])))
    dt = float(ptimes[j]) - ttimes[k]
    before = ttimes[k] - ttimes[k - 1] if k > 0 else None
    after = ttimes[k + 1] - ttimes[k] if k + 1 < len(ttimes) else None
    gap = (before if before is not None else after) if dt < 0 else (after if after is not None else before)
    return pframes[j] if gap is None or abs(dt) <= gap / 2 + 1e-9 else None


def _extent(frame: GraphFrame) -> float:
    if not frame.nodes:
        return 1.0
    pos = np.array([n.position for n in frame.nodes], dtype=float)
    diagonal = float(np.linalg.norm(pos.max(0) - pos.min(0)))
    return diagonal if diagonal > 1e-12 else 1.0


def _ratio(x: float, n: int) -> float:
    return 1.0 if n == 0 else x / n


def _norm_label(label: str) -> str:
    return " ".join(label.lower().replace("_", " ").replace("-", " ").split())


# --- building and parsing ------------------------------------------------------------------------------


def _wrap(angle: float) -> float:
    """Degrees into (-180, 180]; values already there are kept exactly."""
    if -180.0 < angle <= 180.0:
        return angle
    angle %= 360.0
    return angle - 360.0 if angle > 180.0 else angle


def _edge(source: str, target: str, a: np.ndarray, b: np.ndarray) -> Edge:
    d = b - a
    return Edge(source, target, float(np.linalg.norm(d)), _wrap(math.degrees(math.atan2(d[1], d[0]))))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _units(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in UNITS:
        return UNITS[value.strip().lower()]
    raise ValueError(f"'units' must be \"metres\" (world ground-plane coordinates) or \"image\" "
                     f"(image-normalised coordinates in [0, 1]), got {_show(value)}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where} must be a number, got {_show(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{where} must be a finite number, got {_show(value)}")
    return x


def _ident(value: Any, where: str) -> str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    raise ValueError(f"{where} must be a non-empty string or an integer, got {_show(value)}")


def _position(value: Any, where: str) -> tuple[float, ...]:
    if isinstance(value, Mapping):
        if "x" not in value or "y" not in value:
            raise ValueError(f"{where} as an object needs keys 'x' and 'y' (and optionally 'z'), got {_show(value)}")
        value = [value[k] for k in ("x", "y", "z") if k in value]
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        raise ValueError(f"{where} must be [x, y], [x, y, z] or {{\"x\": .., \"y\": ..}}, got {_show(value)}")
    return tuple(_number(c, f"{where}[{i}]") for i, c in enumerate(value))


def _frame(obj: Any, where: str, single: bool) -> GraphFrame:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object with 'time', 'nodes' and 'edges', got {_show(obj)}")
    if "nodes" not in obj:
        raise ValueError(f"{where} has no 'nodes' (a list of {{'id', 'label', 'position'}})")
    if "time" in obj:
        time = _number(obj["time"], f"{where}.time")
    elif single:
        time = 0.0
    else:
        raise ValueError(f"{where} has no 'time' (the keyframe's time in seconds)")
    raw_nodes, raw_edges = obj["nodes"], obj.get("edges", [])
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        raise ValueError(f"{where}.nodes and {where}.edges must be lists")
    nodes = tuple(_node(n, f"{where}.nodes[{i}]") for i, n in enumerate(raw_nodes))
    ids = [n.id for n in nodes]
    if len(set(ids)) < len(ids):
        raise ValueError(f"{where} has duplicate node ids {sorted({i for i in ids if ids.count(i) > 1})}")
    if len({len(n.position) for n in nodes}) > 1:
        raise ValueError(f"{where} mixes 2- and 3-coordinate positions; use the same for every node")
    edges = tuple(_parse_edge(e, f"{where}.edges[{j}]", ids) for j, e in enumerate(raw_edges))
    return GraphFrame(time, nodes, edges)


def _node(obj: Any, where: str) -> Node:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object with 'id', 'label' and 'position', got {_show(obj)}")
    if "id" not in obj:
        raise ValueError(f"{where} has no 'id'")
    ident = _ident(obj["id"], f"{where}.id")
    label = obj.get("label", ident)
    if not isinstance(label, str):
        raise ValueError(f"{where}.label must be a string, got {_show(label)}")
    key = next((k for k in POSITION_KEYS if k in obj), None)
    if key is None:
        raise ValueError(f"{where} has no 'position' (the object's centre, [x, y] or [x, y, z])")
    return Node(ident, label, _position(obj[key], f"{where}.{key}"))


def _parse_edge(obj: Any, where: str, ids: list[str]) -> Edge:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object with 'source', 'target', 'distance', 'angle', got {_show(obj)}")
    ends = []
    for key, alias in (("source", "from"), ("target", "to")):
        if key not in obj and alias not in obj:
            raise ValueError(f"{where} has no '{key}'")
        end = _ident(obj[key] if key in obj else obj[alias], f"{where}.{key}")
        if end not in ids:
            raise ValueError(f"{where}.{key} names node {end!r}, which is not among this frame's nodes {ids}")
        ends.append(end)
    if ends[0] == ends[1]:
        raise ValueError(f"{where} joins node {ends[0]!r} to itself; an edge joins two different nodes")
    for key in ("distance", "angle"):
        if key not in obj:
            raise ValueError(f"{where} has no '{key}'")
    distance = _number(obj["distance"], f"{where}.distance")
    if distance < 0:
        raise ValueError(f"{where}.distance must not be negative, got {distance}")
    return Edge(ends[0], ends[1], distance, _wrap(_number(obj["angle"], f"{where}.angle")))
