"""EnvConfig, everything that defines an environment, and EnvParts, the one builder of what it names."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..actions import FORMATS
from ..clients.tokens import QWEN_BPE, Encoder
from ..datasets import Dataset, make_dataset
from ..tasks import DEFAULT_TASK, Task, make_task
from ..tools import Toolbox
from ..tools.cache import CacheConfig
from ..tools.toolbox import MAX_REPLY_CHARS
from .secrets import redact_secrets


@dataclass(repr=False)
class EnvConfig:
    """Everything that defines an environment; each default works offline on a fresh machine."""

    task: Any = DEFAULT_TASK  # registered task name ("action_recognition", "spatiotemporal"), or a Task object
    task_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of a task named by `task`
    dataset: Any = "synthetic"  # registered dataset name, or a dataset object
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"split": "novel"} for synthetic
    num_frames: int = 16  # frames sampled uniformly from each video
    frame_size: tuple[int, int] = (128, 128)  # (height, width) of observed frames and tool images
    decoder: str = "auto"  # "auto" (decord, then PyAV), "decord" or "pyav"
    action_format: str = "hermes"  # "hermes" (multi-turn tool calls) or "videostar" (official two-turn)
    tools: Sequence[Any] | None = None  # tool names from the registry, or Tool objects; None: the task's tools
    max_turns: int = 6  # policy turns before the episode is truncated
    max_tool_frames: int = 8  # tool images and clip frames kept in the observation (the latest ones)
    max_dialogue_chars: int = 16384  # the dialogue observation keeps this many latest characters
    max_action_chars: int = 16384  # longer turns are rejected as invalid
    vision: Any = "oracle"  # vision backend: name, (name, options) or object
    explanation: Any = "knowledge"  # action-explanation backend
    description: Any = "kinematic"  # video-description backend
    objects: Any = "oracle"  # objects backend (object_detection, object_tracking, relation_graph)
    reward: Any = None  # the task's reward config (or a dict of its fields); None: the task's default
    tool_cache: CacheConfig | None = field(default_factory=CacheConfig)  # None: run every tool call afresh
    clip_memo: int = 0  # decoded clips the process keeps (LRU, shared by every env of the process); 0: none (clips still in use are shared anyway)
    frame_store: str | None = None  # folder of decoded frames (videostar precompute --frames DIR) read instead of decoding
    # The policy's response tokens for the whole episode (its turns and the env's replies, as verl's response_length);
    # None: unbounded. reset(options={"token_budget": n}) sets it per episode.
    token_budget: int | None = None
    token_counter: Any = QWEN_BPE  # "qwen" (the real Qwen BPE, from dashscope), a Hugging Face tokenizer name or
    # folder, or an object with encode(str) -> list
    answer_reserve: int = 512  # tokens tool replies leave for the final answer (at most half the budget)
    max_reply_chars: int = MAX_REPLY_CHARS  # one tool reply's bound, budget or not: longer ones are shortened or refused

    def __post_init__(self) -> None:
        for name, low in (("num_frames", 2), ("max_turns", 1), ("max_tool_frames", 0), ("max_dialogue_chars", 64),
                          ("max_action_chars", 1), ("clip_memo", 0), ("answer_reserve", 0),
                          ("max_reply_chars", 64)):
            setattr(self, name, checked_int(getattr(self, name), f"EnvConfig.{name}", low))
        self.token_budget = checked_budget(self.token_budget, "EnvConfig.token_budget")
        counter = self.token_counter
        if not (isinstance(counter, str) and counter.strip() or isinstance(counter, Encoder)):
            raise TypeError(f"EnvConfig.token_counter must be {QWEN_BPE!r}, a Hugging Face tokenizer name or folder, "
                            f"or an object with encode(str) -> list, got {counter!r} ({type(counter).__name__})")
        size = self.frame_size
        if (isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 8 for v in size)):
            raise TypeError(f"EnvConfig.frame_size must be (height, width), two integers of at least 8, "
                            f"got {size!r}; e.g. frame_size=(224, 224)")
        self.frame_size = (int(size[0]), int(size[1]))
        if self.action_format not in FORMATS:
            raise ValueError(f"EnvConfig.action_format must be one of {FORMATS}, got {self.action_format!r}")
        if isinstance(self.tools, (str, bytes)):
            raise TypeError(f"EnvConfig.tools must be a list of tool names, got the string {self.tools!r}; "
                            f"write tools=[{self.tools!r}]")
        for name in ("dataset_kwargs", "task_options"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(f"EnvConfig.{name} must be a dict, got {getattr(self, name)!r}")
        if self.frame_store is not None and not isinstance(self.frame_store, (str, os.PathLike)):
            raise TypeError(f"EnvConfig.frame_store must be a folder path or None, got {self.frame_store!r}")
        if self.tool_cache is not None and not isinstance(self.tool_cache, CacheConfig):
            raise TypeError(f"EnvConfig.tool_cache must be a CacheConfig or None, got {self.tool_cache!r}")

    def __repr__(self) -> str:
        # Backend options may hold API keys: a config is logged and saved, its keys must not be.
        fields = ", ".join(f"{f.name}={redact_secrets(getattr(self, f.name))!r}" for f in dataclasses.fields(self))
        return f"EnvConfig({fields})"


def checked_int(value: Any, name: str, low: int) -> int:
    """`value` as an int of at least `low`; TypeError or ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def checked_budget(value: Any, name: str) -> int | None:
    """A token budget: None (unbounded) or a positive int; an error naming `name` otherwise."""
    return None if value is None else checked_int(value, name, 1)


@dataclass
class EnvParts:
    """What a config names, built: the task and its reward config, the dataset, the toolbox (env, precompute and the
    benchmarks all build them here)."""

    task: Task
    reward_config: Any
    dataset: Dataset
    toolbox: Toolbox

    @classmethod
    def build(cls, config: EnvConfig) -> "EnvParts":
        """The parts of `config`; the toolbox holds the config's tools (None: the task's)."""
        task = make_task(config.task, **config.task_options)
        reward_config = task.reward_config(config.reward)
        dataset = make_dataset(config.dataset, **config.dataset_kwargs)
        if len(dataset) == 0:
            raise ValueError(f"dataset {getattr(dataset, 'name', config.dataset)!r} has no samples")
        tools = task.default_tools if config.tools is None else config.tools
        toolbox = Toolbox.build(tools, config.vision, config.explanation, config.description, config.objects,
                                config.tool_cache, config.max_reply_chars)
        return cls(task, reward_config, dataset, toolbox)
