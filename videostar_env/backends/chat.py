"""Qwen as the explanation and description backends, through any ChatClient (DashScope or OpenAI-compatible)."""

from __future__ import annotations

import re
from typing import Sequence

from ..clients.chat import ChatClient, DashScopeChat, OpenAIChat
from ..video.decode import Clip
from ..datasets.sample import VideoSample
from ..knowledge import KnowledgeBase, normalize_label
from ..perception.detections import FrameDetections
from .base import Description

EXPLAIN_SYSTEM = ("You are an expert in human movement. You explain action categories so that they can be "
                  "recognised in video from body motion alone.")
EXPLAIN_USER = (
    "Explain each action label below for action recognition. For each label write one or two sentences that "
    "define it through its transitional phases (how it starts, develops and ends) and the sub-motions of the "
    "body parts involved, most distinctive first.\n"
    "Answer with exactly one line per label, in the given order, formatted as `Label: explanation`.\n\n"
    "Labels:\n{labels}")
DESCRIBE_SYSTEM = "You describe human motion in video frames precisely and briefly."
DESCRIBE_USER = (
    "These are {count} keyframes of one video, in time order ({times}); they are the frames where the person's "
    "joints moved most. Describe the person's movement: which body parts move, in which direction and order, "
    "posture changes, and the scene. Do not name the action. At most {words} words.")
PROMPT_VERSION = "1"  # part of the backend ids: a prompt change must not reuse cached replies


class ChatExplainer:
    """Asks a language model to redefine every requested label in one request, then matches lines to labels."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.id = f"explain-v{PROMPT_VERSION}:{client.id}"

    def explain(self, labels: Sequence[str], knowledge: KnowledgeBase | None = None) -> dict[str, str | None]:
        """label -> 'Label: explanation', or None for a label the reply skipped."""
        reply = self.client.complete(EXPLAIN_SYSTEM, EXPLAIN_USER.format(labels="\n".join(labels)))
        found: dict[str, str] = {}
        for line in reply.splitlines():
            match = re.match(r"^\s*(?:[-*\d.)\s]+)?\**([^:*]+?)\**\s*:\s*(.+)$", line)
            if match:
                found.setdefault(normalize_label(match.group(1)), match.group(2).strip())
        return {label: f"{label}: {found[normalize_label(label)]}" if normalize_label(label) in found else None
                for label in labels}


class ChatDescriber:
    """Sends the salient keyframes (the paper used 3) to a vision-language model and returns its description."""

    def __init__(self, client: ChatClient, max_words: int = 120):
        self.client = client
        self.max_words = max_words
        self.id = f"describe-v{PROMPT_VERSION}:w={max_words}:{client.id}"

    def describe(self, clip: Clip, sample: VideoSample, keyframes: Sequence[int],
                 poses: Sequence[FrameDetections] | None = None) -> Description:
        """The model's description of the movement in the keyframes."""
        times = ", ".join(f"{clip.timestamps[k]:.1f}s" for k in keyframes)
        prompt = DESCRIBE_USER.format(count=len(keyframes), times=times, words=self.max_words)
        text = self.client.complete(DESCRIBE_SYSTEM, prompt, [clip.frames[k] for k in keyframes])
        return Description(text, tuple(keyframes))


def dashscope_explainer(**options) -> ChatExplainer:
    """Explanations from a Qwen text model through the DashScope SDK (options: see DashScopeChat)."""
    return ChatExplainer(DashScopeChat(**options))


def dashscope_describer(max_words: int = 120, **options) -> ChatDescriber:
    """Descriptions from a Qwen-VL model through the DashScope SDK (default qwen2.5-vl-72b-instruct)."""
    options.setdefault("model", "qwen2.5-vl-72b-instruct")
    return ChatDescriber(DashScopeChat(**options), max_words)


def openai_explainer(**options) -> ChatExplainer:
    """Explanations from an OpenAI-compatible server (options: see OpenAIChat)."""
    return ChatExplainer(OpenAIChat(**options))


def openai_describer(max_words: int = 120, **options) -> ChatDescriber:
    """Descriptions from a vision-language model on an OpenAI-compatible server."""
    return ChatDescriber(OpenAIChat(**options), max_words)
