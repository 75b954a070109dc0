"""Token counts as the policy's model sees its context: text through a real tokenizer, images through Qwen-VL's grid.

Text is counted exactly by a tokenizer: by default the real Qwen BPE vocabulary that ships inside
dashscope (the vocabulary Qwen2.5 uses), or a Hugging Face tokenizer, or any object with
`encode(str) -> list`. Chat messages are counted with the ChatML tokens Qwen2.5's template puts
around them (tool results as `<tool_response>` blocks in a user turn). Images are an estimate:
Qwen2-VL / Qwen2.5-VL resize an image to multiples of 28 pixels (14-pixel patches merged 2×2,
within the image processor's default pixel range) and spend one token per 28×28 cell, plus the
two vision markers. Videos likewise, as the video processor does: each frame resized within the
video pixel range, frames paired into temporal patches of 2 (an odd count padded by the last),
one token per 28×28 cell per pair, two markers per video. A driver that tokenizes the real
context (verl's agent loop) knows better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import MissingDependency

QWEN_BPE = "qwen"  # the Qwen BPE vocabulary inside dashscope (dashscope.get_tokenizer("qwen-7b-chat"))
CELL = 28  # pixels per image token side: 14-pixel patches, merged 2×2
MIN_PIXELS, MAX_PIXELS = 56 * 56, 28 * 28 * 1280  # Qwen2VLImageProcessor's default resize range
VISION_MARKERS = 2  # <|vision_start|> and <|vision_end|> around each image's (and video's) tokens
VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS = 128 * 28 * 28, 768 * 28 * 28  # Qwen2VLVideoProcessor's default frame range
TEMPORAL_PATCH = 2  # frames per temporal patch of Qwen2/2.5-VL's vision encoder


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns text into a list of token ids."""

    def encode(self, text: str) -> list: ...


@lru_cache(maxsize=8)
def _named_encoder(name: str) -> Encoder:
    # Loading a vocabulary takes about a second: once per process and name.
    if name == QWEN_BPE:
        try:
            from dashscope import get_tokenizer
        except ImportError as exc:
            raise MissingDependency(f"token counter {QWEN_BPE!r} is the Qwen BPE inside dashscope, which is not installed: "
                              f"pip install 'videostar-env[qwen]' (or dashscope), or give a Hugging Face tokenizer "
                              f"name or folder") from exc
        return get_tokenizer("qwen-7b-chat")
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    except Exception as exc:  # a missing package, folder or hub name: all say the same to the user
        raise ValueError(f"token counter {name!r} is not {QWEN_BPE!r} and could not be loaded as a Hugging Face "
                         f"tokenizer ({type(exc).__name__}: {exc}); give {QWEN_BPE!r} (the Qwen BPE from dashscope), "
                         f"a local tokenizer folder, or an object with encode(str) -> list") from exc


def make_encoder(spec: Any = QWEN_BPE) -> Encoder:
    """An encoder from "qwen" (the real Qwen BPE), a Hugging Face tokenizer name or folder, or an object with encode."""
    if isinstance(spec, str) and spec.strip():
        return _named_encoder(spec.strip())
    if isinstance(spec, Encoder) and callable(spec.encode):
        return spec
    raise TypeError(f"a token counter must be {QWEN_BPE!r}, a Hugging Face tokenizer name or folder, or an object "
                    f"with encode(str) -> list, got {spec!r} ({type(spec).__name__})")


def _cells(height: int, width: int, min_pixels: int, max_pixels: int) -> int:
    """28-pixel cells of an image resized as Qwen-VL's smart_resize does within [min_pixels, max_pixels]."""
    if min(height, width) < 1:
        raise ValueError(f"an image must be at least 1×1 pixels, got {height}×{width}")
    h, w = round(height / CELL) * CELL, round(width / CELL) * CELL
    if h * w > max_pixels:
        scale = math.sqrt(height * width / max_pixels)
        h, w = max(CELL, math.floor(height / scale / CELL) * CELL), max(CELL, math.floor(width / scale / CELL) * CELL)
    elif h * w < min_pixels:
        scale = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * scale / CELL) * CELL, math.ceil(width * scale / CELL) * CELL
    return (h // CELL) * (w // CELL)


def image_tokens(height: int, width: int) -> int:
    """Tokens Qwen2/2.5-VL spends on one image of this size: its resized 28-pixel grid plus the vision markers."""
    return _cells(height, width, MIN_PIXELS, MAX_PIXELS) + VISION_MARKERS


def video_tokens(num_frames: int, height: int, width: int) -> int:
    """Tokens Qwen2/2.5-VL spends on one video: a 28-pixel grid per pair of frames, plus the vision markers."""
    if num_frames < 1:
        raise ValueError(f"a video must have at least one frame, got {num_frames}")
    patches = math.ceil(num_frames / TEMPORAL_PATCH)
    return patches * _cells(height, width, VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS) + VISION_MARKERS


def _video_shape(video: Any) -> tuple[int, int, int]:
    """(frames, height, width) of a video: an object with `frames` (T, H, W, 3) or the array itself."""
    return tuple(np.shape(getattr(video, "frames", video))[:3])  # type: ignore[return-value]


@dataclass(frozen=True)
class TokenMeter:
    """Token counts of the messages of an episode, as Qwen2.5's ChatML template lays them out."""

    encoder: Encoder

    def text(self, text: str) -> int:
        """Tokens of plain text."""
        return len(self.encoder.encode(text))

    def turn(self, role: str, text: str) -> int:
        """Tokens of one text message (system, user, or a policy turn with its generation prompt)."""
        return self.text(f"<|im_start|>{role}\n{text}<|im_end|>\n")

    def tool_reply(self, text: str, images: Sequence[np.ndarray] = (), videos: Sequence[Any] = ()) -> int:
        """Tokens of one tool result: its images and videos (estimated) and its text inside <tool_response> in a
        user turn."""
        wrapped = self.text(f"<|im_start|>user\n<tool_response>\n{text}\n</tool_response><|im_end|>\n")
        return (wrapped + sum(image_tokens(*np.shape(image)[:2]) for image in images)
                + sum(video_tokens(*_video_shape(video)) for video in videos))


@dataclass(frozen=True)
class ReplyRoom:
    """How many tokens the env's reply to one tool call may take, out of those left, and how replies are counted."""

    tokens: int  # the reply's share: the tokens left minus those kept for the final answer (may be <= 0)
    left: int  # the tokens left in the episode's budget
    meter: TokenMeter
    # Counted replies: the toolbox asks whether a reply fits, then the env charges the same reply.
    _costs: dict[tuple, int] = field(default_factory=dict, compare=False, repr=False)

    def cost(self, text: str, images: Sequence[np.ndarray] = (), videos: Sequence[Any] = ()) -> int:
        """Tokens this reply would take (each reply encoded once per room)."""
        key = (text, tuple(np.shape(image)[:2] for image in images), tuple(_video_shape(v) for v in videos))
        if key not in self._costs:
            self._costs[key] = self.meter.tool_reply(text, images, videos)
        return self._costs[key]

    def fits(self, text: str, images: Sequence[np.ndarray] = (), videos: Sequence[Any] = ()) -> bool:
        """Whether this reply fits in the room."""
        return self.cost(text, images, videos) <= self.tokens

    def refusal(self, record: Any) -> str:
        """The error a tool call's record (name, text, images, videos) becomes when its reply does not fit."""
        needs = self.cost(record.text, record.images, getattr(record, "videos", ()))
        return (f"Error: the {record.name} reply needs {needs} tokens, but only "
                f"{max(self.tokens, 0)} of the {max(self.left, 0)} tokens left in your budget may go to tool replies "
                f"(the rest is kept for your answer). Ask for less (fewer labels, images or frames) or give your "
                f"answer now.")
