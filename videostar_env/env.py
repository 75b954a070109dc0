"""OVAREnv: open-vocabulary action recognition with tools, as a Gymnasium environment.

Thin by design: the episode state lives in episode.py, parsing in actions.py, tools in tools/,
the reward in reward.py; this module wires them to reset/step/render.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import prompts
from .actions import FORMATS, Answer, Invalid, ToolCall, parse
from .backends import make_backends
from .data import Clip, decode, make_dataset
from .episode import CHARSET, Episode
from .render import render_episode
from .reward import ZERO, RewardConfig, ToolRecord, score
from .tools import DEFAULT_TOOLS, ToolContext, make_tools, schema
from .tools.cache import CacheConfig, ToolCache
from .tools.runner import run_tool


SECRET_WORDS = ("key", "token", "secret", "password")  # option names whose values are never shown


def redact_secrets(value: Any) -> Any:
    """A copy of nested options with the value of every secret-looking key replaced by '***'."""
    if isinstance(value, dict):
        return {k: "***" if isinstance(k, str) and any(w in k.lower() for w in SECRET_WORDS) and v
                else redact_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_secrets(v) for v in value)
    return value


def vector_kwargs(mode: str, **extra: Any) -> dict[str, Any]:
    """`vector_kwargs` for gym.make_vec(mode) that keep the dialogue observation current.

    AsyncVectorEnv's shared memory (its default) reads non-array observations once, at creation
    (Gymnasium #1164): the Text dialogue would never change. Pipes carry it instead.
    """
    return {**({"shared_memory": False} if mode == "async" else {}), **extra}


@dataclass(repr=False)
class EnvConfig:
    """Everything that defines an environment; each default works offline on a fresh machine."""

    dataset: Any = "synthetic"  # registered dataset name, or a dataset object
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"split": "novel"} for synthetic
    num_frames: int = 16  # frames sampled uniformly from each video
    frame_size: tuple[int, int] = (128, 128)  # (height, width) of observed frames and tool images
    decoder: str = "auto"  # "auto" (decord, then PyAV), "decord" or "pyav"
    action_format: str = "hermes"  # "hermes" (multi-turn tool calls) or "videostar" (official two-turn)
    tools: Sequence[Any] = DEFAULT_TOOLS  # tool names from the registry, or Tool objects
    max_turns: int = 6  # policy turns before the episode is truncated
    max_tool_frames: int = 8  # tool images kept in the observation (the latest ones)
    max_dialogue_chars: int = 16384  # the dialogue observation keeps this many latest characters
    max_action_chars: int = 16384  # longer turns are rejected as invalid
    vision: Any = "oracle"  # vision backend: name, (name, options) or object
    explanation: Any = "knowledge"  # action-explanation backend
    description: Any = "kinematic"  # video-description backend
    reward: RewardConfig = field(default_factory=RewardConfig)
    tool_cache: CacheConfig | None = field(default_factory=CacheConfig)  # None: run every tool call afresh
    clip_memo: int = 0  # decoded clips kept in memory (LRU) for videos revisited by later episodes; 0: decode each reset

    def __post_init__(self) -> None:
        if self.action_format not in FORMATS:
            raise ValueError(f"action_format must be one of {FORMATS}, got {self.action_format!r}")
        if self.num_frames < 2:
            raise ValueError("num_frames must be at least 2")
        if self.max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if self.clip_memo < 0:
            raise ValueError("clip_memo must be 0 (off) or the number of decoded clips to keep")
        self.frame_size = tuple(int(v) for v in self.frame_size)

    def __repr__(self) -> str:
        # Backend options may hold API keys: a config is logged and saved, its keys must not be.
        fields = ", ".join(f"{f.name}={redact_secrets(getattr(self, f.name))!r}" for f in dataclasses.fields(self))
        return f"EnvConfig({fields})"


class OVAREnv(gym.Env[dict, str]):
    """One episode = one video and its candidate labels; actions are the policy's text turns."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, render_mode: str | None = None, config: EnvConfig | None = None, **overrides: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        unknown = set(overrides) - {f.name for f in dataclasses.fields(EnvConfig)}
        if unknown:
            raise TypeError(f"unknown OVAREnv options {sorted(unknown)}; see EnvConfig for the valid ones")
        self.config = dataclasses.replace(config or EnvConfig(), **overrides)
        self.render_mode = render_mode
        cfg = self.config
        self.dataset = make_dataset(cfg.dataset, **cfg.dataset_kwargs)
        if len(self.dataset) == 0:
            raise ValueError(f"dataset {getattr(self.dataset, 'name', cfg.dataset)!r} has no samples")
        self.tools = {tool.name: tool for tool in make_tools(cfg.tools)}
        self.tool_schemas = [schema(t) for t in self.tools.values()]
        self._system_prompt = prompts.system_prompt(cfg.action_format, self.tool_schemas)  # the same every episode
        self.backends = make_backends(cfg.vision, cfg.explanation, cfg.description)
        self.tool_cache = ToolCache(cfg.tool_cache) if cfg.tool_cache is not None else None
        h, w = cfg.frame_size
        self.observation_space = spaces.Dict({
            "frames": spaces.Box(0, 255, (cfg.num_frames, h, w, 3), np.uint8),
            "tool_frames": spaces.Box(0, 255, (cfg.max_tool_frames, h, w, 3), np.uint8),
            "num_tool_frames": spaces.Discrete(cfg.max_tool_frames + 1),
            "dialogue": spaces.Text(max_length=cfg.max_dialogue_chars, charset=CHARSET),
        })
        self.action_space = spaces.Text(max_length=cfg.max_action_chars, charset=CHARSET)
        self._episode: Episode | None = None
        self._done = True
        self._clips: OrderedDict[tuple, Clip] = OrderedDict()

    # -- gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start an episode on options["index"] if given, else on a sample drawn with the env's RNG."""
        super().reset(seed=seed)
        options = options or {}
        index = options.get("index")
        if index is None:
            index = int(self.np_random.integers(len(self.dataset)))
        sample = self.dataset[int(index)]
        cfg = self.config
        clip = self._clip(sample.video)
        ep = Episode(sample, clip, tuple(sample.label_space))
        ep.add_text("system", self._system_prompt)
        ep.add_video_prompt(prompts.user_prompt(cfg.action_format, ep.candidates, cfg.num_frames, list(self.tools)))
        self._episode, self._done = ep, False
        return self._observation(), self._info()

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        """Run one policy turn: call tools, reject invalid text, or score the final answer."""
        ep = self._episode
        if ep is None or self._done:
            raise RuntimeError("the episode is over (or never started): call reset() before step()")
        cfg = self.config
        ep.turns += 1
        text = action if isinstance(action, str) else repr(action)
        ep.add_text("assistant", text)
        parsed = parse(action, cfg.action_format, cfg.max_action_chars)
        if isinstance(parsed, ToolCall) and cfg.action_format == "videostar" and ep.tools_chosen:
            parsed = Invalid("the tools were already chosen in the first turn; now give the final <answer>.")
        reward, terminated, info_extra = 0.0, False, {}
        if isinstance(parsed, Answer):
            entry = self.dataset.knowledge.get(ep.sample.label)
            breakdown = score(text, ep.sample.label, aliases=self.dataset.knowledge.names(ep.sample.label)[1:],
                              definition=entry.explanation() if entry else "", tool_log=ep.tool_log, config=cfg.reward)
            reward, terminated = breakdown.total, True
            info_extra = {"reward": breakdown.as_dict(), "answer": parsed.label}
        elif isinstance(parsed, ToolCall):
            self._run_tools(ep, parsed)
        else:
            ep.add_text("user", prompts.invalid_turn(parsed.reason, cfg.max_turns - ep.turns))
        truncated = not terminated and ep.turns >= cfg.max_turns
        if truncated:
            info_extra = {"reward": ZERO.as_dict(), "answer": None}
        self._done = terminated or truncated
        info = self._info()
        info.update(info_extra)
        info["action"] = type(parsed).__name__
        if isinstance(parsed, Invalid):
            info["invalid_reason"] = parsed.reason
        return self._observation(), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The frames, the latest tool images and the dialogue as one rgb_array image."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='rgb_array'")
            return None
        if self._episode is None:
            raise RuntimeError("call reset() before render()")
        return render_episode(self._episode.clip.frames, self._episode.tool_images,
                              self._episode.dialogue(self.config.max_dialogue_chars))

    # -- internals -----------------------------------------------------------------------------

    def tool_context(self) -> ToolContext:
        """What tools see in the current episode (for running tools outside step, e.g. precompute)."""
        ep = self._episode
        if ep is None:
            raise RuntimeError("call reset() before tool_context()")
        return ToolContext(ep.sample, ep.clip, ep.candidates, self.dataset.knowledge, self.backends)

    def close(self) -> None:
        """Release the tool cache's database handle."""
        if self.tool_cache is not None:
            self.tool_cache.close()

    def _clip(self, path: str) -> Clip:
        """The video's sampled frames: from the memo when it holds them (frames are read-only, so shareable)."""
        cfg = self.config
        if not cfg.clip_memo or not os.path.isfile(path):  # decode() reports a missing file
            return decode(path, cfg.num_frames, cfg.frame_size, cfg.decoder)
        stat = os.stat(path)
        key = (path, stat.st_mtime_ns, stat.st_size)  # a rewritten file is decoded again
        clip = self._clips.pop(key, None) or decode(path, cfg.num_frames, cfg.frame_size, cfg.decoder)
        self._clips[key] = clip
        while len(self._clips) > cfg.clip_memo:
            self._clips.popitem(last=False)
        return clip

    def _run_tools(self, ep: Episode, call: ToolCall) -> None:
        ctx = self.tool_context()
        for c in call.calls:
            out = run_tool(self.tools, c.name, c.arguments, ctx, self.tool_cache)
            ep.add_tool(c.name, out.text, out.images)
            ep.tool_log.append(ToolRecord(c.name, c.arguments, out.ok))
            ep.tool_results.append({"name": c.name, "arguments": c.arguments, "ok": out.ok, "text": out.text,
                                    "data": out.data, "cached": out.cached})
        if self.config.action_format == "videostar":
            ep.tools_chosen = True
            if not call.calls:
                ep.add_text("user", "No tools were chosen.")
            ep.add_text("user", prompts.VIDEOSTAR_TURN_2)

    def _observation(self) -> dict[str, Any]:
        ep, cfg = self._episode, self.config
        h, w = cfg.frame_size
        tool_frames = np.zeros((cfg.max_tool_frames, h, w, 3), np.uint8)
        latest = ep.tool_images[-cfg.max_tool_frames:] if cfg.max_tool_frames else []
        for k, image in enumerate(latest):
            tool_frames[k] = image
        return {"frames": ep.clip.frames.copy(), "tool_frames": tool_frames, "num_tool_frames": len(latest),
                "dialogue": ep.dialogue(cfg.max_dialogue_chars)}

    def _info(self) -> dict[str, Any]:
        ep, cfg = self._episode, self.config
        return {
            "sample_id": ep.sample.id, "dataset": ep.sample.dataset, "video": ep.sample.video,
            "label": ep.sample.label,  # ground truth: for logging and oracle baselines, not for policies
            "group": ep.sample.meta.get("group"),  # base or novel class (open-vocabulary protocols), else None
            "candidates": list(ep.candidates), "action_format": cfg.action_format,
            "turn": ep.turns, "max_turns": cfg.max_turns,
            "num_frames": cfg.num_frames, "frame_size": cfg.frame_size, "fps": ep.clip.fps,
            "frame_indices": list(ep.clip.indices), "timestamps": list(ep.clip.timestamps),
            "total_frames": ep.clip.total_frames, "tools": self.tool_schemas,
            "messages": list(ep.messages), "tool_results": list(ep.tool_results),
        }
