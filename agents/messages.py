"""The env's chat (info["messages"]) in the two shapes models read: Qwen2.5-VL's processor and OpenAI's API.

Tool results follow Qwen2.5's hermes convention: a user turn holding the tool's images, then its
text inside <tool_response> tags; consecutive tool messages (several calls in one turn) share
one user turn. The video is the env's sampled frames, with the metadata that places them in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from videostar_env.clients.chat import jpeg_data_url
from videostar_env.video.memo import ArrayMemo


@dataclass
class QwenChat:
    """Messages for `processor.apply_chat_template` plus the media, in the order their placeholders appear.

    Each media part also carries its media inline ({"type": "video", "video": (frames, metadata)},
    {"type": "image", "image": PIL image}), the form verl's token builder reads from messages.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    videos: list[np.ndarray] = field(default_factory=list)  # (T, H, W, 3) uint8 each
    video_metadata: list[dict[str, Any]] = field(default_factory=list)  # video_metadata(part) of each video
    images: list[Image.Image] = field(default_factory=list)


def _tool_text(text: str) -> str:
    return f"<tool_response>\n{text}\n</tool_response>"


def chat_turns(messages: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(role, content parts) per turn, tool messages turned into user turns and merged when consecutive.

    The one rendering of tool results that every model-facing shape uses (Qwen, OpenAI, SFT rows).
    """
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    previous = None
    for message in messages:
        role = message["role"]
        parts = list(message["content"])
        if role == "tool":
            parts = [p if p["type"] != "text" else {"type": "text", "text": _tool_text(p["text"])} for p in parts]
            if previous == "tool":
                turns[-1][1].append({"type": "text", "text": "\n"})
                turns[-1][1].extend(parts)
                continue
        turns.append(("user" if role == "tool" else role, parts))
        previous = role
    return turns


# The agent loop converts an episode's whole chat at every turn, and a GRPO group's rollouts share
# one clip: converting afresh copied the frames (2.4 MB at 16 frames of 224 px) and made a PIL
# image of every tool image again, per episode and per turn. Now once per read-only source.
_writable_frames = ArrayMemo(lambda video: np.array(video, np.uint8))  # torch warns on read-only arrays
# From a copy: PIL shares a grayscale array's memory, and a value that holds its source keeps it alive for good.
_pil_image = ArrayMemo(lambda image: Image.fromarray(np.array(image, np.uint8)))


def video_metadata(part: dict[str, Any]) -> dict[str, Any]:
    """A video part's metadata as the Qwen processors read it.

    total_num_frames is the number of source frames the samples were drawn from (the clip's window, or the whole
    video), as qwen-vl-utils counts it for a video with a start and end: Qwen2.5-VL's processor takes the sampled
    rate as len(frames_indices) / total_num_frames x fps, so a clip's second_per_grid_ts (its temporal positions)
    follows the clip's own frame spacing, not the whole video's. Qwen3-VL reads the timestamps from frames_indices
    and fps."""
    return {"fps": float(part["fps"]), "total_num_frames": int(part["span_frames"]),
            "frames_indices": [int(i) for i in part["frame_indices"]]}


def qwen_chat(messages: list[dict[str, Any]]) -> QwenChat:
    """The env's messages as Qwen2.5-VL's processor takes them (video frames with their timing metadata).

    The frames (a writable copy) and the tool images (PIL) are converted once per read-only source
    array and shared by every chat that holds it: read them, do not modify them."""
    chat = QwenChat()
    for role, parts in chat_turns(messages):
        content = []
        for part in parts:
            if part["type"] == "video":
                frames = _writable_frames(part["video"])
                metadata = video_metadata(part)
                chat.videos.append(frames)
                chat.video_metadata.append(metadata)
                content.append({"type": "video", "video": (frames, metadata)})
            elif part["type"] == "image":
                image = _pil_image(part["image"])
                chat.images.append(image)
                content.append({"type": "image", "image": image})
            else:
                content.append({"type": "text", "text": part["text"]})
        chat.messages.append({"role": role, "content": content})
    return chat


def openai_messages(messages: list[dict[str, Any]], max_side: int = 1024, quality: int = 85) -> list[dict[str, Any]]:
    """The env's messages for a chat-completions API: frames and tool images as base64 JPEG data URLs."""
    out = []
    for role, parts in chat_turns(messages):
        content: list[dict[str, Any]] = []
        for part in parts:
            if part["type"] == "video":
                times = ", ".join(f"{t:.1f}s" for t in part["timestamps"])
                content.append({"type": "text", "text": f"The video, as {len(part['timestamps'])} frames at {times}:"})
                content += [{"type": "image_url", "image_url": {"url": jpeg_data_url(f, quality, max_side)}}
                            for f in part["video"]]
            elif part["type"] == "image":
                content.append({"type": "image_url", "image_url": {"url": jpeg_data_url(part["image"], quality, max_side)}})
            else:
                content.append({"type": "text", "text": part["text"]})
        if role in ("system", "assistant") and all(p["type"] == "text" for p in content):
            out.append({"role": role, "content": "".join(p["text"] for p in content)})
        else:
            out.append({"role": role, "content": content})
    return out
