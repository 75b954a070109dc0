"""The `info` dict of reset and step, as one written contract.

Fields a policy may read describe the episode and its conversation. Ground truth lives apart,
under "ground_truth": for logs, the bench and oracle baselines, never for a policy's decisions.
Fields fixed for the episode are built once at reset and shared by every step's info (treat them
as read-only).
"""

from __future__ import annotations

from typing import Any, TypedDict


class EpisodeInfo(TypedDict, total=False):
    """What reset and step return as info."""

    # Fixed for the episode (built at reset).
    task: str  # the task's registered name
    sample_id: str
    dataset: str
    video: str  # the video file's path
    candidates: list[str]  # the options offered to the policy (empty for open answers)
    action_format: str  # "hermes" or "videostar"
    max_turns: int
    num_frames: int
    frame_size: tuple[int, int]  # (height, width) of frames and tool images
    fps: float  # the source video's frame rate
    frame_indices: list[int]  # source frame index of each sampled frame
    timestamps: list[float]  # seconds of each sampled frame (Qwen-VL video metadata)
    window: list[float] | None  # [start, end] seconds the frames are drawn from, when the sample has a window
    total_frames: int  # frames in the source video
    tools: list[dict[str, Any]]  # the offered tools in OpenAI function format
    ground_truth: dict[str, Any]  # the task's truth about the sample (e.g. label, group): never for a policy
    token_budget: int | None  # the policy's response tokens for the episode (None: unbounded)
    # Updated every step.
    turn: int  # policy turns taken
    messages: list[dict[str, Any]]  # the conversation in OpenAI/Qwen chat format, images and videos as arrays
    tool_results: list[dict[str, Any]]  # one per tool call: name, arguments, ok, text, data, cached
    tokens_left: int | None  # of the budget, after the env's replies (None: unbounded); 0 ends the episode
    # Set by step.
    action: str  # "ToolCall", "Answer" or "Invalid"
    invalid_reason: str  # why an Invalid turn could not be used
    reward: dict[str, float]  # the reward breakdown, on the final step (all 0 when truncated)
    answer: Any  # the task's answer value, on the final step (None when truncated)

