"""Object tools for spatio-temporal questions: detection, tracking, and the scene's relation graph.

Any task may offer them; they ask the `objects` backend. Detection reads the episode's sampled
frames. Tracking and the relation graph read the video densely instead: every source frame up to
TRACK_FRAMES (spread evenly beyond that), because trackers match boxes between nearby frames and
motion (path length, speed) needs every turn of the path; the episode's 16 frames are too sparse.
Positions are ground-plane metres when the backend knows them (the oracle), else box centres in
image units (perception/objects.py IMAGE_UNITS: one scale for both axes, y up); graph node ids are
the tracker's ids, the same object's at every keyframe.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from ..video.decode import Clip, decode
from ..errors import ToolError
from ..perception.detections import spread
from ..perception.objects import IMAGE_UNITS, Track, motion, tracks_of
from ..perception.overlay import draw_objects
from ..perception.relation_graph import RelationGraph, build_graph
from .base import ToolContext, ToolResult

TRACK_FRAMES = 64  # frames decoded for tracking: every frame of a short clip, evenly spread beyond

_MAX_IMAGES = {"type": "integer", "minimum": 0, "maximum": 8, "default": 4,
               "description": "How many annotated frames to return as images."}


def _shown_images(clip: Clip, frames: list, max_images: int) -> tuple[list[int], list[np.ndarray]]:
    shown = spread(len(frames), max_images) if max_images else []
    return shown, [draw_objects(clip.frames[i], frames[i]) for i in shown]


def dense_clip(ctx: ToolContext) -> Clip:
    """The episode's video decoded densely (up to TRACK_FRAMES frames) at the episode's frame size."""
    window = ctx.clip.window  # the frames the episode is about
    span = ctx.clip.total_frames if window is None else int((window[1] - window[0]) * ctx.clip.fps) + 1
    return decode(ctx.sample.video, max(2, min(span, TRACK_FRAMES)), tuple(ctx.clip.frames.shape[1:3]), window=window)


class ObjectDetection:
    """Labelled boxes of every object in each sampled frame, drawn on the frames."""

    name = "object_detection"
    description = "Detect the objects in the video: labelled bounding boxes per sampled frame, drawn on the frames."
    parameters = {"type": "object", "properties": {"max_images": _MAX_IMAGES}, "additionalProperties": False}
    uses = ("video", "objects")
    objects_tasks = ("detect",)  # the object models it needs loaded (EnvPool loads them while it fills)
    version = "2"  # 2: the text says what the box numbers are

    def __call__(self, ctx: ToolContext, max_images: int = 4) -> ToolResult:
        frames = ctx.backends.objects.detect(ctx.clip, ctx.sample)
        if not any(frames):
            raise ToolError("no object was detected in any sampled frame.")
        shown, images = _shown_images(ctx.clip, frames, max_images)
        h, w = ctx.clip.frames.shape[1:3]
        lines = [f"Objects per sampled frame: {[len(f) for f in frames]}; boxes are [x1, y1, x2, y2] in pixels of the "
                 f"{w}x{h} frames, from the top-left corner, y down."]
        for i in shown:
            boxes = "; ".join(f"{o.label} [" + ", ".join(f"{v:.0f}" for v in o.box) + f"] {o.score:.2f}" for o in frames[i])
            lines.append(f"Frame {ctx.clip.indices[i]} ({ctx.clip.timestamps[i]:.1f}s): {boxes or 'nothing'}")
        return ToolResult("\n".join(lines), images, {"frames": [[o.to_json() for o in f] for f in frames]})


class ObjectTracking:
    """Tracks with stable ids across the sampled frames, and how far and fast each object moved."""

    name = "object_tracking"
    description = ("Track the objects through the video: a stable id per object, when it is first and last seen, "
                   "its displacement, path length and speed, and its size when known.")
    parameters = {"type": "object", "properties": {"max_images": _MAX_IMAGES}, "additionalProperties": False}
    uses = ("video", "objects")
    objects_tasks = ("track",)
    version = "2"  # 2: image positions in IMAGE_UNITS (one scale, y up), stated in the text

    def __call__(self, ctx: ToolContext, max_images: int = 4) -> ToolResult:
        clip = dense_clip(ctx)
        frames = ctx.backends.objects.track(clip, ctx.sample)
        tracks = tracks_of(frames, clip.frames.shape[1:3], clip.source_size)
        if not tracks:
            raise ToolError("no object could be tracked in the video.")
        shown, images = _shown_images(clip, frames, max_images)
        unit = "m" if all(t.metric for t in tracks) else IMAGE_UNITS
        lines = [f"{len(tracks)} tracks over {len(frames)} frames read at {len(frames) / max(clip.timestamps[-1], 1e-9):.1f} "
                 f"per second (positions in {unit})."]
        summary = {str(t.track_id): _track_summary(t, clip) for t in tracks}
        for track_id, entry in summary.items():
            size = f", size {entry['size']} m" if "size" in entry else ""
            lines.append(f"#{track_id} {entry['label']}: seen {entry['first_seen']:.2f}s-{entry['last_seen']:.2f}s in "
                         f"{entry['seen_in']} of {len(frames)} frames, displacement {entry['displacement']:.2f}, path "
                         f"{entry['path_length']:.2f}, speed {entry['speed']:.2f} per second{size}")
        return ToolResult("\n".join(lines), images, {"tracks": summary, "metric": unit == "m",
                                                      "units": "metres" if unit == "m" else IMAGE_UNITS})


class RelationGraphTool:
    """The scene's relation graph at keyframes: objects with positions, and distance and angle between each pair."""

    name = "relation_graph"
    description = ("Build the relation graph of the scene at keyframes: each object's position, and the distance "
                   "and angle between every pair; plus each object's displacement, path length and speed. Says "
                   "whether coordinates are metric (ground-plane metres) or image units (one scale for both "
                   "axes, y up).")
    parameters = {"type": "object", "properties": {
        "times": {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 1, "maxItems": 8,
                  "description": "Seconds of the keyframes (the nearest sampled frames); default: 4 spread evenly."},
    }, "additionalProperties": False}
    uses = ("video", "objects")
    objects_tasks = ("track",)
    version = "3"  # 2: the text's numbers rounded to 3 decimals; 3: image positions in IMAGE_UNITS (one scale, y up)

    def __call__(self, ctx: ToolContext, times: list[float] | None = None) -> ToolResult:
        clip = dense_clip(ctx)
        tracks = tracks_of(ctx.backends.objects.track(clip, ctx.sample), clip.frames.shape[1:3], clip.source_size)
        if not tracks:
            raise ToolError("no object could be tracked, so there is no graph to build.")
        stamps = np.asarray(clip.timestamps)
        keyframes = (sorted({int(np.abs(stamps - t).argmin()) for t in times}) if times
                     else spread(len(stamps), 4))
        graph = keyframe_graph(tracks, clip.timestamps, keyframes)
        metric = graph.units == "metres"
        moved = {str(t.track_id): _track_summary(t, clip) for t in tracks}
        units = "metric: ground-plane metres" if metric else f"{IMAGE_UNITS}; not metres"
        # The model reads millimetres (every digit is a token); programs get the exact graph in data.
        text = (f"Relation graph at {len(keyframes)} keyframes; coordinates are {units}.\n"
                f"{json.dumps(_rounded(graph.to_json()))}\nMotion per object: {json.dumps(moved)}")
        return ToolResult(text, [], {"graph": graph.to_json(), "motion": moved, "metric": metric,
                                     "units": "metres" if metric else IMAGE_UNITS})


def keyframe_graph(tracks: list[Track], times: Sequence[float], keyframes: Sequence[int]) -> RelationGraph:
    """The tracks' relation graph at keyframes (positions in the dense frames): node ids are the track ids."""
    metric = all(t.metric for t in tracks)
    positions = np.full((len(keyframes), len(tracks), 2), np.nan)
    for j, track in enumerate(tracks):
        for k, frame in enumerate(keyframes):
            point = track.at(frame)
            if point is not None:
                positions[k, j] = point
    return build_graph([float(times[f]) for f in keyframes], [str(t.track_id) for t in tracks],
                       [t.label for t in tracks], positions, "metres" if metric else "image",
                       visible=~np.isnan(positions[..., 0]))


def _rounded(value: Any, digits: int = 3) -> Any:
    """A JSON value with every float rounded."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def _track_summary(track: Any, clip: Clip) -> dict[str, Any]:
    summary = {"label": track.label, "seen_in": len(track.frames),
               **{k: round(v, 3) for k, v in motion(track, clip.timestamps).items()},
               "start": [round(float(v), 3) for v in track.points[0]], "end": [round(float(v), 3) for v in track.points[-1]]}
    if track.size is not None:
        summary["size"] = [round(float(v), 3) for v in track.size]
    return summary


OBJECT_TOOLS = (ObjectDetection, ObjectTracking, RelationGraphTool)
