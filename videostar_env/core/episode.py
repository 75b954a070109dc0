"""One episode's state: the sample, its frames, and the conversation as one list of entries.

A tool call is stored once, as its ToolCallRecord; the chat messages, the dialogue text, the tool
images and frames and the call list are views derived from the entries. A tool's videos (a clip it
decoded) are video parts of its message, with the same timing metadata as the prompt's video.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..tools.base import ToolCallRecord

# What prompts, tools and models write: printable ASCII plus common typographic characters.
# Anything else is escaped as \uXXXX in the dialogue observation (the raw text stays in messages).
CHARSET: str = string.printable + "°×÷±≤≥–—‘’“”…·•→←↑↓éèêàâüöäïçñß"
_OUTSIDE_CHARSET = re.compile("[^" + re.escape(CHARSET) + "]")  # a regex scan: fast enough for every step


def _escape_char(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: str) -> str:
    """Text with every character outside CHARSET written as a \\uXXXX (or \\UXXXXXXXX) escape."""
    return _OUTSIDE_CHARSET.sub(_escape_char, text)


def video_part(clip: Clip) -> dict[str, Any]:
    """A clip as a chat video part: its frames with the metadata that places them in time (source fps, indices,
    and span_frames: the source frames they were drawn from, the window's or the whole video's)."""
    return {"type": "video", "video": clip.frames, "fps": clip.fps, "frame_indices": list(clip.indices),
            "timestamps": list(clip.timestamps), "total_num_frames": clip.total_frames,
            "span_frames": clip.span_frames}


def video_mark(timestamps: Any) -> str:
    """How the dialogue text shows a video: <video: N frames, a-bs>."""
    return f"<video: {len(timestamps)} frames, {timestamps[0]:.1f}s-{timestamps[-1]:.1f}s>"


@dataclass(frozen=True)
class Turn:
    """A text-only message: the system prompt, a policy turn, or the env's reply."""

    role: str
    text: str


@dataclass(frozen=True)
class VideoPrompt:
    """The first user message: the episode's clip as a video, then the question."""

    text: str


Entry = Union[Turn, VideoPrompt, ToolCallRecord]


@dataclass
class Episode:
    """Everything that happened in one episode so far."""

    sample: VideoSample
    clip: Clip
    candidates: tuple[str, ...]
    entries: list[Entry] = field(default_factory=list)
    turns: int = 0
    tools_chosen: bool = False  # videostar format: the tool-decision turn has happened

    def add_text(self, role: str, text: str) -> None:
        """Append a text-only message."""
        self.entries.append(Turn(role, text))

    def add_video_prompt(self, text: str) -> None:
        """Append the first user message: the sampled frames as a video, then the question."""
        self.entries.append(VideoPrompt(text))

    def add_call(self, record: ToolCallRecord) -> None:
        """Append one tool call and its result."""
        self.entries.append(record)

    @property
    def calls(self) -> list[ToolCallRecord]:
        """Every tool call so far, in order."""
        return [e for e in self.entries if isinstance(e, ToolCallRecord)]

    @property
    def tool_images(self) -> list[np.ndarray]:
        """Every image the tools returned, in order."""
        return [image for call in self.calls for image in call.images]

    @property
    def tool_frames(self) -> list[np.ndarray]:
        """Every image and video frame the tools returned, in order (per call: its images, then its videos' frames)."""
        return [frame for call in self.calls for frame in [*call.images, *(f for v in call.videos for f in v.frames)]]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation in OpenAI/Qwen chat format, images and videos as arrays; a tool's images, then its videos,
        come before its text."""
        return [self._message(e) for e in self.entries]

    def dialogue(self, max_chars: int) -> str:
        """The conversation as role-tagged text in CHARSET, keeping the most recent max_chars characters."""
        text = escape("\n\n".join(self._tagged(e) for e in self.entries))
        if len(text) <= max_chars:
            return text
        marker = "[... earlier dialogue omitted ...]\n"
        return marker + text[len(text) - max_chars + len(marker):]

    def _message(self, entry: Entry) -> dict[str, Any]:
        if isinstance(entry, Turn):
            return {"role": entry.role, "content": [{"type": "text", "text": entry.text}]}
        if isinstance(entry, VideoPrompt):
            return {"role": "user", "content": [video_part(self.clip), {"type": "text", "text": entry.text}]}
        content = ([{"type": "image", "image": img} for img in entry.images] + [video_part(v) for v in entry.videos]
                   + [{"type": "text", "text": entry.text}])
        return {"role": "tool", "name": entry.name, "content": content}

    def _tagged(self, entry: Entry) -> str:
        if isinstance(entry, Turn):
            return f"[{entry.role}]\n{entry.text}"
        if isinstance(entry, VideoPrompt):
            return f"[user]\n{video_mark(self.clip.timestamps)}\n{entry.text}"
        marks = "<image>" * len(entry.images) + "".join(video_mark(v.timestamps) for v in entry.videos)
        return f"[tool {entry.name}]\n{marks}{chr(10) if marks else ''}{entry.text}"
