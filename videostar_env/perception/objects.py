"""Labelled objects in frames, the one format every objects backend speaks, and what their tracks say.

Per sampled frame, a list of ObjectBox(label, box=[x1, y1, x2, y2] in pixels of the episode's
frames, score, track_id when the backend tracks, position on the ground plane in metres when the
backend knows it: the oracle does, a detector does not).

A track without ground-plane positions is placed in image units (IMAGE_UNITS): one scale for both
axes, so shapes, distances and angles keep the video's geometry, and y up, so angles run
counter-clockwise as they do on the ground plane.
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

IMAGE_UNITS = ("image units: the source video's pixels divided by its larger side, from the frame's bottom-left "
               "corner, x to the right and y up (a 640x360 video spans x 0-1, y 0-0.5625)")


@dataclass(frozen=True)
class Track:
    """One tracked object: where it is in each sampled frame it was seen in."""

    track_id: int
    label: str
    frames: tuple[int, ...]  # positions in the sampled frames
    points: np.ndarray  # (len(frames), 2): ground-plane metres, or box centres in image units (IMAGE_UNITS)
    metric: bool
    size: tuple[float, float, float] | None = None  # metres, when the backend knows it

    def at(self, frame: int) -> np.ndarray | None:
        """The point at a sampled frame, or None when the track was not seen there."""
        return self.points[self.frames.index(frame)] if frame in self.frames else None


def image_units(points: Any, frame_size: tuple[int, int], source_size: tuple[int, int]) -> np.ndarray:
    """Pixel points (..., 2) of frames of frame_size=(H, W), decoded from a video of source_size, in image units."""
    h, w = frame_size
    src_h, src_w = source_size
    if min(h, w, src_h, src_w) <= 0:
        raise ValueError(f"frame and source sizes must be positive (height, width), got {frame_size} and {source_size}")
    # Back to source pixels first: frames are resized to the episode's size (often square), which stretches the axes.
    xy = np.asarray(points, dtype=float) * (src_w / w, src_h / h)
    side = max(src_h, src_w)
    return np.stack([xy[..., 0] / side, (src_h - xy[..., 1]) / side], axis=-1)


def tracks_of(frames: Sequence[FrameObjects], frame_size: tuple[int, int],
              source_size: tuple[int, int] | None = None) -> list[Track]:
    """Tracks from tracked frames: metric when every box of a track has a position, else box centres in image units.

    frame_size: (H, W) of the frames the boxes are in; source_size: (H, W) of the video they were decoded
    from (None: the same), whose shape image units keep.
    """
    seen: dict[int, list[tuple[int, ObjectBox]]] = {}
    for t, objects in enumerate(frames):
        for obj in objects:
            if obj.track_id is not None:
                seen.setdefault(int(obj.track_id), []).append((t, obj))
    tracks = []
    for track_id, hits in sorted(seen.items()):
        metric = all(obj.position is not None for _, obj in hits)
        points = ([obj.position for _, obj in hits] if metric else image_units(
            [((o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2) for _, o in hits], frame_size,
            source_size or frame_size))
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
