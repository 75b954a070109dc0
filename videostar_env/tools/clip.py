"""The video_clip tool: look again at part of the episode's video, denser or sharper, as a video.

It decodes the source frames between `start` and `end` seconds (inside the episode's window: the
sample's, or the whole video) afresh from the video file, never resampling the observation's
frames, and returns them as a clip with their own source indices, timestamps and fps. Frames are
chosen as the decoder chooses them (video/decode.py window_indices: the centres of equal segments
of the window's source frames), `frames` of them or `fps` a second. Asking for more than the
source has is capped, never repeated or refused: `fps` above the video's frame rate, or `frames`
above the frames in the window, give every source frame in the window, and the reply says so;
more than MAX_CLIP_FRAMES are spread evenly over the window. A `region` box in source pixels is
cropped from the full-resolution frames; every returned frame is resized to the episode's frame
size (a region stretched to it), so the clip fits the observation's tool_frames.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import ToolError
from ..video.decode import Clip, decode_indices, window_indices, window_span
from .base import ToolContext, ToolResult

MAX_CLIP_FRAMES = 32  # the most frames one clip holds (a token budget may show fewer)
DEFAULT_FRAMES = 8  # frames returned when neither fps nor frames is given


def episode_window(clip: Clip) -> tuple[float, float]:
    """The (start, end) seconds an episode is about: its clip's window, else the whole video."""
    return clip.window if clip.window is not None else (0.0, clip.total_frames / clip.fps)


def clip_plan(start: float, end: float, window: tuple[float, float], total_frames: int, source_fps: float,
              fps: float | None = None, frames: int | None = None) -> tuple[list[int], list[str]]:
    """The source frame indices a clip of start..end seconds reads, and the notes on any cap; ToolError names the
    argument that is wrong."""
    if fps is not None and frames is not None:
        raise ToolError(f"give either 'fps' or 'frames', not both (got fps={fps}, frames={frames})")
    low, high = window
    if not end > start:
        raise ToolError(f"'end' ({end} s) must be after 'start' ({start} s)")
    for name, value in (("start", start), ("end", end)):
        if not low - 1e-6 <= value <= high + 1e-6:
            raise ToolError(f"'{name}' ({value} s) is outside the episode's window, {low:.2f}-{high:.2f} s")
    first, last = window_span(total_frames, source_fps, (start, end))
    available = last - first + 1  # source frames in start..end
    notes = []
    if frames is not None:
        count = frames
        if frames > available:
            count = available
            notes.append(f"frames={frames} is more than the {available} source frames between {start} and {end} s: "
                         f"capped at {available} (every source frame)")
    else:
        rate = float(fps) if fps is not None else None
        if rate is not None and rate > source_fps:
            notes.append(f"fps={rate:g} is above the video's {source_fps:.2f} fps: capped at {source_fps:.2f} fps "
                         f"(every source frame)")
            count = available
        elif rate is not None:
            count = min(max(1, round((end - start) * rate)), available)
        else:
            count = min(DEFAULT_FRAMES, available)
    if count > MAX_CLIP_FRAMES:
        notes.append(f"{count} frames is more than the {MAX_CLIP_FRAMES} a clip may hold: {MAX_CLIP_FRAMES} spread "
                     f"evenly instead (ask for a shorter span to see every frame)")
        count = MAX_CLIP_FRAMES
    return window_indices(total_frames, source_fps, count, (start, end)), notes


def checked_region(region: Sequence[float] | None, source_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The region box as whole source pixels [x1, y1, x2, y2] inside the frame; ToolError if it is not one."""
    if region is None:
        return None
    height, width = source_size
    x1, y1, x2, y2 = (float(v) for v in region)
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise ToolError(f"'region' {list(region)} must be [x1, y1, x2, y2] in source pixels with 0 <= x1 < x2 <= "
                        f"{width} and 0 <= y1 < y2 <= {height} (the video is {width}x{height})")
    box = (int(math.floor(x1)), int(math.floor(y1)), int(math.ceil(x2)), int(math.ceil(y2)))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        raise ToolError(f"'region' {list(region)} is smaller than 2x2 source pixels")
    return box


def cropped(clip: Clip, box: tuple[int, int, int, int], size: tuple[int, int]) -> Clip:
    """The clip's frames cropped to box (source pixels) and resized to size=(H, W), with the same indices."""
    x1, y1, x2, y2 = box
    frames = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(f[y1:y2, x1:x2])).resize(
        (size[1], size[0]), Image.BILINEAR)) for f in clip.frames])
    return Clip(frames, clip.indices, clip.fps, clip.total_frames, clip.path, clip.window)


class VideoClip:
    """A sub-clip of the episode's video, decoded from the source at the times asked, optionally cropped."""

    name = "video_clip"
    description = ("Look again at part of the video: the source frames between start and end seconds (inside the "
                   "video you were shown), `frames` of them spread evenly or `fps` a second (not both; 8 frames if "
                   "neither), optionally cropped to a region box [x1, y1, x2, y2] in source pixels. Returns a video "
                   "with each frame's timestamp.")
    parameters = {
        "type": "object",
        "properties": {
            "start": {"type": "number", "minimum": 0, "description": "Start of the clip, in seconds of the video."},
            "end": {"type": "number", "exclusiveMinimum": 0, "description": "End of the clip, in seconds."},
            "fps": {"type": "number", "exclusiveMinimum": 0,
                    "description": "Frames per second to sample (capped at the video's frame rate)."},
            "frames": {"type": "integer", "minimum": 1, "maximum": MAX_CLIP_FRAMES,
                       "description": "How many frames to sample, spread evenly over start..end."},
            "region": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                       "description": "Optional crop [x1, y1, x2, y2] in source pixels, from the top-left corner."},
        },
        "required": ["start", "end"],
        "additionalProperties": False,
    }
    uses = ("video",)  # the video file and the episode's frames (their window and size); no backend
    version = "1"

    def __call__(self, ctx: ToolContext, start: float, end: float, fps: float | None = None,
                 frames: int | None = None, region: Sequence[float] | None = None) -> ToolResult:
        episode = ctx.clip
        indices, notes = clip_plan(float(start), float(end), episode_window(episode), episode.total_frames,
                                   episode.fps, fps, frames)
        size = tuple(episode.frames.shape[1:3])
        box = checked_region(region, episode.source_size) if region is not None else None
        window = (float(start), float(end))
        if box is None:
            clip = decode_indices(ctx.sample.video, indices, size, window=window)
        else:
            clip = cropped(decode_indices(ctx.sample.video, indices, episode.source_size, window=window), box, size)
        times = clip.timestamps
        rate = len(times) / (float(end) - float(start))
        where = f", cropped to [{', '.join(str(v) for v in box)}] of the source" if box else ""
        text = (f"A video of {len(times)} frames from {start} to {end} s ({rate:.2f} frames a second; source frames "
                f"{indices[0]}-{indices[-1]} at {episode.fps:.2f} fps, first at {times[0]:.2f} s, last at "
                f"{times[-1]:.2f} s){where}.")
        if notes:
            text += " Note: " + "; ".join(notes) + "."
        data = {"start": float(start), "end": float(end), "frames": len(times), "fps": rate,
                "source_fps": episode.fps, "frame_indices": list(clip.indices), "timestamps": list(times),
                "region": list(box) if box else None, "notes": notes}
        return ToolResult(text, [], data, [clip])


CLIP_TOOLS = (VideoClip,)
