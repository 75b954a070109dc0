"""Labelled objects in frames, the one format every objects backend speaks, and what their tracks say.

Per sampled frame, a list of ObjectBox(label, box=[x1, y1, x2, y2] in pixels of the episode's
frames, score, track_id when the backend tracks, position on the ground plane in metres when the
backend knows it: the oracle does, a detector does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class ObjectBox:
    """One object in one frame."""

    label: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    track_id: int | None = None
    position: tuple[float, float] | None = None  # ground-plane metres, when known
    size: tuple[float, float, float] | None = None  # width, depth, height in metres, when known

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (tool data and caches)."""
        out: dict[str, Any] = {"label": self.label, "box": [round(float(v), 2) for v in self.box],
                               "score": round(float(self.score), 4)}
        if self.track_id is not None:
            out["track_id"] = int(self.track_id)
        if self.position is not None:
            out["position"] = [round(float(v), 3) for v in self.position]
        if self.size is not None:
            out["size"] = [round(float(v), 3) for v in self.size]
        return out


FrameObjects = list[ObjectBox]


@dataclass(frozen=True)
class Track:
    """One tracked object: where it is in each sampled frame it was seen in."""

    track_id: int
    label: str
    frames: tuple[int, ...]  # positions in the sampled frames
    points: np.ndarray  # (len(frames), 2): ground-plane metres, or image-normalised box centres
    metric: bool
    size: tuple[float, float, float] | None = None  # metres, when the backend knows it

    def at(self, frame: int) -> np.ndarray | None:
        """The point at a sampled frame, or None when the track was not seen there."""
        return self.points[self.frames.index(frame)] if frame in self.frames else None


def tracks_of(frames: Sequence[FrameObjects], frame_size: tuple[int, int]) -> list[Track]:
    """Tracks from tracked frames: metric when every box of a track has a position, else image-normalised centres."""
    h, w = frame_size
    seen: dict[int, list[tuple[int, ObjectBox]]] = {}
    for t, objects in enumerate(frames):
        for obj in objects:
            if obj.track_id is not None:
                seen.setdefault(int(obj.track_id), []).append((t, obj))
    tracks = []
    for track_id, hits in sorted(seen.items()):
        metric = all(obj.position is not None for _, obj in hits)
        points = [obj.position if metric else ((obj.box[0] + obj.box[2]) / 2 / w, (obj.box[1] + obj.box[3]) / 2 / h)
                  for _, obj in hits]
        labels = [obj.label for _, obj in hits]
        tracks.append(Track(track_id, max(set(labels), key=labels.count), tuple(t for t, _ in hits),
                            np.asarray(points, float), metric, hits[0][1].size))
    return tracks


def motion(track: Track, times: Sequence[float]) -> dict[str, float]:
    """When a track is first and last seen (seconds), and its displacement, path length and mean speed between."""
    points = track.points
    steps = np.linalg.norm(np.diff(points, axis=0), axis=-1) if len(points) > 1 else np.zeros(0)
    first, last = float(times[track.frames[0]]), float(times[track.frames[-1]])
    path = float(steps.sum())
    return {"first_seen": first, "last_seen": last, "displacement": float(np.linalg.norm(points[-1] - points[0])),
            "path_length": path, "speed": path / (last - first) if last > first else 0.0}
