"""Relation graph of a multi-object scene: its structure, building it from positions, and its written format.

After Video-STR (arXiv 2510.10976): the policy writes an inter-object relation graph in its reasoning
(nodes are objects at their centres, edges carry relative distance and angle); perception/graph_score.py
scores it against the true graph.

Graph
    Node(id, label, position): an object's centre, 2 or 3 coordinates (x, y[, z]). In "metres" units x-y
        is the world ground plane and z the height; in "image" units (x, y) are the source video's pixels over
        its larger side, x right and y up from the bottom-left corner (perception/objects.py IMAGE_UNITS).
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
                     f"(the video's pixels over its larger side, y up), got {_show(value)}")


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
