"""How well a predicted relation graph matches the true one: a score a policy cannot game.

The definitions are ours (Video-STR, arXiv 2510.10976, names node and edge terms but not their formulas).
Every check compares relations between objects, never absolute coordinates, so no alignment is fitted to
the prediction (a fit to the matched nodes alone lets one node anywhere align perfectly onto its truth).

Frames: each true frame is compared with the predicted frame nearest in time. If that frame is further
    away than half the gap to the neighbouring true frame on its side (the other side's gap at the first or
    last true frame; no limit with one true frame), the true frame is missing and scores 0. Predicted frames
    that no true frame uses cost nothing.
Matching: predicted nodes are assigned one-to-one to true nodes of the same normalised label (lower case,
    "_" and "-" as spaces); ids are used only to read edges. Among the assignments, each term takes the one
    that scores it highest: every assignment is tried when there are at most MAX_ASSIGNMENTS; beyond, the
    prediction is laid onto the truth by its two furthest-apart nodes in each label-consistent way, nodes are
    assigned to the nearest true ones (linear_sum_assignment within each label), and the best of those is
    improved by swaps within a label. Predicted nodes left unassigned are invented.
Node term: a check looks at one true node k from an anchor, an ordered pair (i, j) of other true nodes: the
    prediction is turned about the vertical axis (and, with image units, scaled) so that its i -> j matches
    the truth's, with i on i; k's residual r is its distance from its true place; the check earns
    max(0, 1 - r / tol). In metric units j may be k itself (then r is the error of the distance i-k); in image
    units it may not, as scale is free. A check whose three nodes are not all assigned earns 0. Node k earns
    the mean of all its checks; the term is (sum over true nodes) / (true nodes + invented nodes). A true
    node with no checks at all (a one-node frame, or two nodes in image units) earns 1 if assigned.
    tol: 0.5 m for metric truth; 0.1 of the true frame's extent (its nodes' bounding-box diagonal) for image.
Edge term: per true edge e (per unordered pair), the written edge between its assigned ends, either
    direction (a reversed edge's angle turned by 180 degrees), is read in the frame of each anchor, an
    unordered pair (i, j) of assigned true nodes: turned by the anchor's turn it earns angle agreement
    (1 + cos(a_pred + turn - a_true)) / 2 and, with image units, also length agreement
    max(0, 1 - |d_pred * scale - d_true| / d_true) (the mean of the two); in image units e's own pair is not
    an anchor for it. In metric units length needs no anchor: the edge earns the mean of
    max(0, 1 - |d_pred - d_true| / d_true) and its mean angle agreement over all anchors. An anchor with an
    end unassigned earns 0. The term is (sum over true edges) / (true edges + invented edges); an edge whose
    ends are not both assigned, that duplicates another, or that joins a pair the true frame lacks, is
    invented. A true edge with no anchor at all (two nodes in image units) earns 1 if written.
A frame with nothing to score on a term (no true nodes/edges and none invented) scores 1 on it. Results are
clamped to [0, 1] and rounded to 1e-9, so identical graphs score exactly 1.

Why it cannot be gamed (tests/test_graph_properties.py checks each with Hypothesis): every check needs all
the nodes it names, so removing a node the truth has only turns checks to 0 and never raises a term, and
one node alone (or two in image units) earns nothing for position or edges; checks are relations between objects,
unchanged by rotation about the vertical, translation and (image units) uniform scale, but not by a mirror
image or a tilt; noise, missing or invented nodes and flipped edges each lower a term.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .relation_graph import GraphFrame, Node, RelationGraph

METRIC_TOLERANCE = 0.5  # metres
IMAGE_TOLERANCE = 0.1  # of the true frame's extent
MAX_ASSIGNMENTS = 120  # beyond this many label-consistent assignments, a local search replaces the full search
TERMS = ("node", "edge", "matched", "missing", "invented", "invented_edges", "frames")


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
    total = dict.fromkeys(TERMS, 0.0)
    for k, tf in enumerate(tframes):
        pf = _nearest_frame(k, ttimes, ptimes, pframes)
        if pf is None:
            total["missing"] += len(tf.nodes)
            continue
        tol = tolerance or position_tolerance(tf, truth.units)
        for key, value in FrameMatch(pf, tf, scaled, tol).best().items():
            total[key] += value
        total["frames"] += 1
    for key in ("node", "edge", "matched", "frames"):
        total[key] = round(min(1.0, max(0.0, total[key] / len(tframes))), 9)
    return total


@dataclass(frozen=True)
class Anchors:
    """Per ordered pair (i, j) of true nodes: the turn (radians) and scale taking the prediction's i -> j onto
    the truth's, and whether both ends are assigned and the predicted pair has a heading (usable)."""

    ok: np.ndarray  # [k] true node k is assigned
    dT: np.ndarray  # [i, k, D] true i -> k
    dP: np.ndarray  # [i, k, D] predicted i -> k (NaN where unassigned)
    turn: np.ndarray  # [i, j]
    scale: np.ndarray  # [i, j], 1 in metric units
    usable: np.ndarray  # [i, j]


class FrameMatch:
    """One predicted frame against one true frame: the terms of any assignment, and the best assignment."""

    def __init__(self, pf: GraphFrame, tf: GraphFrame, scaled: bool, tol: float):
        self.pf, self.tf, self.scaled, self.tol = pf, tf, scaled, tol
        dim = min([len(n.position) for n in (*pf.nodes, *tf.nodes)] or [2])  # 2 when 2-D meets 3-D
        self.P = np.array([n.position[:dim] for n in pf.nodes], float).reshape(-1, dim)
        self.T = np.array([n.position[:dim] for n in tf.nodes], float).reshape(-1, dim)
        self.groups = _label_groups(pf.nodes, tf.nodes)
        tindex = {n.id: i for i, n in enumerate(tf.nodes)}
        pairs: dict[frozenset, tuple[int, int, float, float]] = {}
        for e in tf.edges:
            pairs.setdefault(frozenset((e.source, e.target)), (tindex[e.source], tindex[e.target], e.distance, e.angle))
        self.true_edges = list(pairs.values())
        self.pindex = {n.id: i for i, n in enumerate(pf.nodes)}

    def best(self) -> dict[str, float]:
        """Each term at its best assignment, with the counts of the edge term's assignment."""
        node, edge, edge_counts = -1.0, -1.0, (0, 0.0)
        for match in self._assignments():
            n, e, invented_edges = self.terms(match)
            node = max(node, n)
            if e > edge:
                edge, edge_counts = e, invented_edges
        assigned = sum(min(len(p), len(t)) for p, t in self.groups)
        n_true = len(self.tf.nodes)
        return {"node": node, "edge": edge, "matched": 1.0 if n_true == 0 else assigned / n_true,
                "missing": n_true - assigned, "invented": len(self.pf.nodes) - assigned,
                "invented_edges": edge_counts}

    def anchors(self, match: np.ndarray) -> Anchors:
        """The assigned predicted positions in true order and every anchor's turn and scale."""
        ok = match >= 0
        P = np.full(self.T.shape, np.nan)
        P[ok] = self.P[match[ok]]
        dT, dP = self.T[None] - self.T[:, None], P[None] - P[:, None]  # [i, k]: i -> k
        size_t, size_p = np.hypot(dT[..., 0], dT[..., 1]), np.hypot(dP[..., 0], dP[..., 1])
        turn = np.where(size_t <= 1e-12, 0.0, np.arctan2(dT[..., 1], dT[..., 0]) - np.arctan2(dP[..., 1], dP[..., 0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(size_p > 1e-12, size_t / size_p, np.nan) if self.scaled else np.ones_like(turn)
        usable = ((size_p > 1e-12) | (size_t <= 1e-12)) & ok[:, None] & ok[None, :]  # a point fixes no heading
        np.fill_diagonal(usable, False)
        return Anchors(ok, dT, dP, turn, scale, usable)

    def terms(self, match: np.ndarray) -> tuple[float, float, int]:
        """(node term, edge term, invented edges) of an assignment, its anchors computed once for both."""
        a = self.anchors(match)
        edge, invented = self.edge_term(match, a)
        return self.node_term(match, a), edge, invented

    def node_term(self, match: np.ndarray, a: Anchors | None = None) -> float:
        """The node term of an assignment (match[true index] = predicted index or -1)."""
        n, invented = len(self.T), len(self.P) - int((match >= 0).sum())
        if n == 0:
            return 1.0 if invented == 0 else 0.0
        a = self.anchors(match) if a is None else a
        c, s = np.cos(a.turn)[..., None], np.sin(a.turn)[..., None]  # [i, j, 1]
        v = a.dP[:, None, :, :]  # [i, 1, k, D]: the prediction's i -> k, turned and scaled per anchor (i, j)
        moved = np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)
        moved = np.concatenate([moved, np.broadcast_to(v[..., 2:], (n, n, n, v.shape[-1] - 2))],
                               axis=-1) * a.scale[..., None, None]
        residual = np.linalg.norm(moved - a.dT[:, None, :, :], axis=-1)  # [i, j, k]
        credit = np.clip(1 - residual / self.tol, 0, 1)
        i, j, k = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
        checks = (i != j) & (i != k) & ((j != k) if self.scaled else True)
        valid = checks & a.usable[..., None] & a.ok[k]
        earned = np.where(valid, np.nan_to_num(credit), 0.0).sum(axis=(0, 1))
        count = checks.sum(axis=(0, 1))
        per_node = np.where(count > 0, earned / np.maximum(count, 1), a.ok.astype(float))
        return float(per_node.sum() / (n + invented))

    def edge_term(self, match: np.ndarray, an: Anchors | None = None) -> tuple[float, int]:
        """The edge term of an assignment and how many written edges it leaves invented."""
        to_true = {self.pf.nodes[p].id: t for t, p in enumerate(match) if p >= 0}
        where = {frozenset((a, b)): e for e, (a, b, _, _) in enumerate(self.true_edges)}
        written = np.full((len(self.true_edges), 2), np.nan)  # per true edge: (distance, angle from its source)
        invented = 0
        for e in self.pf.edges:
            a, b = to_true.get(e.source), to_true.get(e.target)
            slot = where.get(frozenset((a, b))) if a is not None and b is not None else None
            if slot is None or not np.isnan(written[slot, 0]):
                invented += 1
                continue
            forward = self.true_edges[slot][0] == a
            written[slot] = (e.distance, e.angle if forward else e.angle + 180.0)
        m = len(self.true_edges)
        if m == 0:
            return (1.0 if invented == 0 else 0.0), invented
        true = np.array([(d, a) for _, _, d, a in self.true_edges], float)
        ends = np.array([(a, b) for a, b, _, _ in self.true_edges])
        have = ~np.isnan(written[:, 0])
        an = self.anchors(match) if an is None else an
        n = len(self.T)
        i, j = np.triu_indices(n, 1)  # unordered anchors: (i, j) and (j, i) give the same turn and scale
        angle = (1 + np.cos(np.radians(written[:, 1:] - true[:, 1:]) + an.turn[i, j][None])) / 2  # [edge, anchor]
        length = np.clip(1 - np.abs(written[:, :1] * an.scale[i, j][None] - true[:, :1])
                         / np.maximum(true[:, :1], 1e-12), 0, 1)
        own = (np.sort(ends, 1)[:, :1] == i[None]) & (np.sort(ends, 1)[:, 1:] == j[None])
        checks = ~own if self.scaled else np.ones_like(own)
        valid = checks & an.usable[i, j][None] & have[:, None]
        per_anchor = (angle + length) / 2 if self.scaled else angle
        count = checks.sum(1)
        earned = np.where(valid, np.nan_to_num(per_anchor), 0.0).sum(1)
        relational = np.where(count > 0, earned / np.maximum(count, 1), have.astype(float))
        if not self.scaled:  # metric lengths need no anchor
            own_length = np.clip(1 - np.abs(written[:, 0] - true[:, 0]) / np.maximum(true[:, 0], 1e-12), 0, 1)
            relational = (np.where(have, own_length, 0.0) + relational) / 2
        return float(np.where(have, relational, 0.0).sum() / (m + invented)), invented

    def _assignments(self):
        """Every label-consistent assignment, or those a local search visits when there are too many."""
        options = [list(_injections(p, t)) for p, t in self.groups]
        if math.prod(len(o) for o in options) <= MAX_ASSIGNMENTS:
            for combo in itertools.product(*options):
                yield self._join(combo)
            return
        seed = max(self._aligned_assignments(), key=lambda m: sum(self.terms(m)[:2]))
        yield from self._local_search(seed)

    def _aligned_assignments(self):
        """Nearest-position assignments (linear_sum_assignment per label) after moving the prediction so that
        its two furthest-apart nodes lie on each same-labelled pair of true nodes in turn."""
        # Imported here: scipy.optimize costs every process that imports the env ~50 MB, and only this search needs it.
        from scipy.optimize import linear_sum_assignment

        grouped = [p for preds, _ in self.groups for p in preds]
        far = np.hypot(*(self.P[grouped][None, :, :2] - self.P[grouped][:, None, :2]).transpose(2, 0, 1))
        a, b = (grouped[i] for i in np.unravel_index(np.argmax(far), far.shape))
        labels = {p: trues for preds, trues in self.groups for p in preds}
        for ta, tb in itertools.product(labels[a], labels[b]):
            if ta == tb:
                continue
            moved = _move(self.P, self.P[a], self.P[b], self.T[ta], self.T[tb], self.scaled)
            match = np.full(len(self.tf.nodes), -1)
            for preds, trues in self.groups:
                cost = np.linalg.norm(moved[preds][None] - self.T[trues][:, None], axis=-1)
                rows, cols = linear_sum_assignment(cost)
                match[np.array(trues)[rows]] = np.array(preds)[cols]
            yield match

    def _join(self, combo: Sequence[dict[int, int]]) -> np.ndarray:
        match = np.full(len(self.tf.nodes), -1)
        for part in combo:
            for t, p in part.items():
                match[t] = p
        return match

    def _local_search(self, match: np.ndarray):
        best = sum(self.terms(match)[:2])
        yield match
        improved = True
        while improved:
            improved = False
            for preds, trues in self.groups:
                for a, b in itertools.combinations(trues + [-1 - p for p in preds], 2):
                    candidate = _swap(match, a, b)
                    if candidate is None:
                        continue
                    score = sum(self.terms(candidate)[:2])
                    yield candidate
                    if score > best + 1e-12:
                        match, best, improved = candidate, score, True


def _move(P: np.ndarray, pa: np.ndarray, pb: np.ndarray, ta: np.ndarray, tb: np.ndarray, scaled: bool) -> np.ndarray:
    """P turned about the vertical (and scaled, for image units) so that pa -> pb points as ta -> tb, pa on ta."""
    vp, vt = pb[:2] - pa[:2], tb[:2] - ta[:2]
    turn = math.atan2(vt[1], vt[0]) - math.atan2(vp[1], vp[0])
    scale = float(np.hypot(*vt) / np.hypot(*vp)) if scaled and np.hypot(*vp) > 1e-12 else 1.0
    c, s = math.cos(turn), math.sin(turn)
    d = P - pa
    out = d.copy()
    out[:, 0], out[:, 1] = c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]
    return scale * out + ta


def _swap(match: np.ndarray, a: int, b: int) -> np.ndarray | None:
    """Exchange the partners of two true nodes (indices >= 0), or hand one true node's partner over to an
    unassigned predicted node p (given as -1 - p); None when the move changes nothing."""
    out = match.copy()
    if a >= 0 and b >= 0:
        out[a], out[b] = match[b], match[a]
    else:
        t, p = (a, -1 - b) if a >= 0 else (b, -1 - a)
        if t < 0 or p in match:
            return None
        out[t] = p
    return None if (out == match).all() else out


def _label_groups(pred: Sequence[Node], true: Sequence[Node]) -> list[tuple[list[int], list[int]]]:
    """(predicted indices, true indices) of each normalised label both graphs use."""
    labels: dict[str, tuple[list[int], list[int]]] = {}
    for i, n in enumerate(true):
        labels.setdefault(_norm_label(n.label), ([], []))[1].append(i)
    for i, n in enumerate(pred):
        if _norm_label(n.label) in labels:
            labels[_norm_label(n.label)][0].append(i)
    return [group for group in labels.values() if group[0]]


def _injections(preds: list[int], trues: list[int]):
    """Every one-to-one map of min(len) true nodes to predicted nodes of one label, as {true: predicted}."""
    if len(preds) >= len(trues):
        for chosen in itertools.permutations(preds, len(trues)):
            yield dict(zip(trues, chosen))
    else:
        for chosen in itertools.permutations(trues, len(preds)):
            yield dict(zip(chosen, preds))


def _nearest_frame(k: int, ttimes: list[float], ptimes: np.ndarray, pframes: list[GraphFrame]) -> GraphFrame | None:
    if not len(ptimes):
        return None
    j = int(np.argmin(np.abs(ptimes - ttimes[k])))
    dt = float(ptimes[j]) - ttimes[k]
    before = ttimes[k] - ttimes[k - 1] if k > 0 else None
    after = ttimes[k + 1] - ttimes[k] if k + 1 < len(ttimes) else None
    gap = (before if before is not None else after) if dt < 0 else (after if after is not None else before)
    return pframes[j] if gap is None or abs(dt) <= gap / 2 + 1e-9 else None


def position_tolerance(frame: GraphFrame, units: str) -> float:
    """The position error the score forgives on a true frame: 0.5 m, or in image units 0.1 of its extent."""
    return IMAGE_TOLERANCE * _extent(frame) if units == "image" else METRIC_TOLERANCE


def _extent(frame: GraphFrame) -> float:
    if not frame.nodes:
        return 1.0
    pos = np.array([n.position for n in frame.nodes], dtype=float)
    diagonal = float(np.linalg.norm(pos.max(0) - pos.min(0)))
    return diagonal if diagonal > 1e-12 else 1.0


def _norm_label(label: str) -> str:
    return " ".join(label.lower().replace("_", " ").replace("-", " ").split())
