"""One episode's state: the sample, its frames, the chat messages, the tool log and the dialogue text."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data.decode import Clip
from .data.sample import VideoSample
from .reward import ToolRecord

# What prompts, tools and models write: printable ASCII plus common typographic characters.
# Anything else is escaped as \uXXXX in the dialogue observation (the raw text stays in messages).
CHARSET: str = string.printable + "°×÷±≤≥–—‘’“”…·•→←↑↓éèêàâüöäïçñß"
_OUTSIDE_CHARSET = re.compile("[^" + re.escape(CHARSET) + "]")  # a regex scan: the dialogue is rebuilt every step


def _escape_char(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: str) -> str:
    """Text with every character outside CHARSET written as a \\uXXXX (or \\UXXXXXXXX) escape."""
    return _OUTSIDE_CHARSET.sub(_escape_char, text)


@dataclass
class Episode:
    """Everything that happened in one episode so far."""

    sample: VideoSample
    clip: Clip
    candidates: tuple[str, ...]
    messages: list[dict[str, Any]] = field(default_factory=list)  # OpenAI/Qwen chat format, images as arrays
    tool_log: list[ToolRecord] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)  # name, arguments, ok, text, data
    tool_images: list[np.ndarray] = field(default_factory=list)
    turns: int = 0
    tools_chosen: bool = False  # videostar format: the tool-decision turn has happened
    _dialogue: list[str] = field(default_factory=list)

    def add_text(self, role: str, text: str) -> None:
        """Append a text-only message."""
        self.messages.append({"role": role, "content": [{"type": "text", "text": text}]})
        self._dialogue.append(f"[{role}]\n{text}")

    def add_video_prompt(self, text: str) -> None:
        """Append the first user message: the sampled frames as a video, then the question."""
        video = {
            "type": "video", "video": self.clip.frames, "fps": self.clip.fps,
            "frame_indices": list(self.clip.indices), "timestamps": list(self.clip.timestamps),
            "total_num_frames": self.clip.total_frames,
        }
        self.messages.append({"role": "user", "content": [video, {"type": "text", "text": text}]})
        t = self.clip.timestamps
        self._dialogue.append(f"[user]\n<video: {len(t)} frames, {t[0]:.1f}s-{t[-1]:.1f}s>\n{text}")

    def add_tool(self, name: str, text: str, images: list[np.ndarray]) -> None:
        """Append a tool message with its images first, as Qwen2.5-VL reads them."""
        content = [{"type": "image", "image": img} for img in images] + [{"type": "text", "text": text}]
        self.messages.append({"role": "tool", "name": name, "content": content})
        self.tool_images.extend(images)
        marks = "<image>" * len(images)
        self._dialogue.append(f"[tool {name}]\n{marks}{chr(10) if marks else ''}{text}")

    def dialogue(self, max_chars: int) -> str:
        """The conversation as role-tagged text in CHARSET, keeping the most recent max_chars characters."""
        text = escape("\n\n".join(self._dialogue))
        if len(text) <= max_chars:
            return text
        marker = "[... earlier dialogue omitted ...]\n"
        return marker + text[len(text) - max_chars + len(marker):]
