"""VideoToolEnv: the task-agnostic core of every video environment with tools, as a Gymnasium env.

Thin by design: the episode state lives in episode.py, parsing in actions.py, tools in tools/
(run through one Toolbox), and what differs per task (prompts, answers, reward) in tasks/;
this module wires them to reset/step/render. OVAREnv is its action-recognition name.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import prompts
from ..actions import FORMATS, Answer, Invalid, ReasoningTags, ToolCall, empty_answer, names_something, parse
from ..clients.tokens import QWEN_BPE, Encoder, ReplyRoom, TokenMeter, make_encoder
from ..datasets import Clip, decode, make_dataset
from ..video.frame_store import FrameStore
from ..video.memo import CLIPS
from .episode import CHARSET, Episode
from .info import EpisodeInfo
from .render import render_episode
from ..tasks import DEFAULT_TASK, Task, make_task
from ..tasks.base import answer_form
from ..tools import ToolContext, Toolbox
from ..tools.cache import CacheConfig


SECRET_WORDS = ("key", "token", "secret", "password")  # option names ending in these hold values never shown


def is_secret_name(name: Any) -> bool:
    """Whether an option name looks like a secret's: its last word ends in a SECRET_WORDS word, plural or not
    (api_key, hf_token, apikey, api_keys), unlike token_budget or num_keyframes."""
    if not isinstance(name, str):
        return False
    last = re.split(r"[\W_]+", name.lower().strip("_- "))[-1]
    return last.removesuffix("s").endswith(SECRET_WORDS)


def redact_secrets(value: Any) -> Any:
    """A copy of nested options with the value of every secret-looking key replaced by '***'."""
    if isinstance(value, dict):
        return {k: "***" if is_secret_name(k) and v else redact_secrets(v) for k, v in value.items()}
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
    max_tool_frames: int = 8  # tool images kept in the observation (the latest ones)
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

    def __post_init__(self) -> None:
        for name, low in (("num_frames", 2), ("max_turns", 1), ("max_tool_frames", 0), ("max_dialogue_chars", 64),
                          ("max_action_chars", 1), ("clip_memo", 0), ("answer_reserve", 0)):
            setattr(self, name, _checked_int(getattr(self, name), f"EnvConfig.{name}", low))
        self.token_budget = _checked_budget(self.token_budget, "EnvConfig.token_budget")
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


def _checked_int(value: Any, name: str, low: int) -> int:
    """`value` as an int of at least `low`; TypeError or ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _checked_budget(value: Any, name: str) -> int | None:
    """A token budget: None (unbounded) or a positive int; an error naming `name` otherwise."""
    return None if value is None else _checked_int(value, name, 1)


def answer_reserve(reserve: int, budget: int | None) -> int:
    """The tokens an episode's tool replies leave for the answer: the config's reserve, at most half the budget."""
    return reserve if budget is None else min(reserve, budget // 2)


@functools.lru_cache(maxsize=16)
def image_box(count: int, height: int, width: int) -> spaces.Box:
    """The Box of `count` RGB images, built once per shape: its bound arrays are as big as the images (4 of
    them, 14 MB at 16 + 8 frames of 224 px), and every env of a process shares them through a shallow copy."""
    box = spaces.Box(0, 255, (count, height, width, 3), np.uint8)
    for bound in (box.low, box.high, box.bounded_below, box.bounded_above):
        bound.flags.writeable = False
    return box


def frame_window(task: Task, sample: Any) -> tuple[float, float] | None:
    """The seconds of the video a sample's frames come from: the task's choice, else the sample's window."""
    choose = getattr(task, "frame_window", None)
    return choose(sample) if choose is not None else sample.meta.get("window")


def frame_sampler(task: Task, sample: Any) -> str | None:
    """The named frame sampler (data.decode.SAMPLERS) a task reads a sample's frames with; None: uniform frames."""
    choose = getattr(task, "frame_sampler", None)
    return choose(sample) if choose is not None else None


def sends_system_prompt(task: Task, sample: Any, tools: Sequence[str]) -> bool:
    """Whether an episode opens with our system prompt: yes, unless the task puts the sample in its benchmark's own
    words and no tool needs describing (the benchmarks' scripts send no system prompt)."""
    own_words = getattr(task, "benchmark_prompt", None)
    return bool(tools) or own_words is None or not own_words(sample)


def make_toolbox(config: EnvConfig, task: Task) -> Toolbox:
    """The tools a config asks for (None: the task's), with their backends and cache."""
    tools = task.default_tools if config.tools is None else config.tools
    return Toolbox.build(tools, config.vision, config.explanation, config.description, config.objects,
                         config.tool_cache)


class VideoToolEnv(gym.Env[dict, str]):
    """One episode = one video and the task's question; actions are the policy's text turns."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, render_mode: str | None = None, config: EnvConfig | None = None, **overrides: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        unknown = set(overrides) - {f.name for f in dataclasses.fields(EnvConfig)}
        if unknown:
            raise TypeError(f"unknown OVAREnv options {sorted(unknown)}; valid: {[f.name for f in dataclasses.fields(EnvConfig)]}")
        self.config = dataclasses.replace(config or EnvConfig(), **overrides)
        self.render_mode = render_mode
        cfg = self.config
        self.task: Task = make_task(cfg.task, **cfg.task_options)
        self.reward_config = self.task.reward_config(cfg.reward)
        self._reasoning: ReasoningTags = getattr(self.task, "reasoning", ReasoningTags())  # a task without tags: the paper's
        self._answer_form = answer_form(self.task)
        self.dataset = make_dataset(cfg.dataset, **cfg.dataset_kwargs)
        if len(self.dataset) == 0:
            raise ValueError(f"dataset {getattr(self.dataset, 'name', cfg.dataset)!r} has no samples")
        self.toolbox = make_toolbox(cfg, self.task)
        self.toolbox.check(self.dataset)
        for warning in getattr(self.task, "check", lambda *_: [])(self.dataset, self.reward_config):
            gym.logger.warn(warning)
        self.tool_schemas = self.toolbox.schemas()
        self._system_prompt = prompts.system_prompt(self.task.role, cfg.action_format, self.tool_schemas)
        h, w = cfg.frame_size
        self.observation_space = spaces.Dict({
            "frames": copy.copy(image_box(cfg.num_frames, h, w)),
            "tool_frames": copy.copy(image_box(cfg.max_tool_frames, h, w)),
            "num_tool_frames": spaces.Discrete(cfg.max_tool_frames + 1),
            "dialogue": spaces.Text(max_length=cfg.max_dialogue_chars, charset=CHARSET),
        })
        self.action_space = spaces.Text(max_length=cfg.max_action_chars, charset=CHARSET)
        self._episode: Episode | None = None
        self._ctx: ToolContext | None = None
        self._static: dict[str, Any] = {}
        self._done = True
        self._read = FrameStore(cfg.frame_store).load if cfg.frame_store is not None else decode
        self._meter: TokenMeter | None = None
        if cfg.token_budget is not None:
            self._token_meter()  # a counter that cannot be loaded fails when the env is made, not mid-episode
        self._tokens_left: int | None = None  # None: this episode is unbounded
        self._exact_left: int | None = None  # set by a driver that counts the tokens itself, for the next step
        self._reserve = cfg.answer_reserve  # the episode's tokens kept for the answer

    # -- gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, EpisodeInfo]:
        """Start an episode on options["index"] (a dataset position) if given, else on a sample drawn with the env's
        RNG; options["token_budget"] replaces the config's token budget for this episode."""
        super().reset(seed=seed)
        options = options or {}
        index = options.get("index")
        if index is None:
            index = int(self.np_random.integers(len(self.dataset)))
        sample = self.dataset[int(index)]
        cfg, task = self.config, self.task
        budget = _checked_budget(options.get("token_budget", cfg.token_budget), 'reset option "token_budget"')
        if budget is not None:
            self._token_meter()
        window = frame_window(task, sample)
        clip = self._clip(sample.video, window, frame_sampler(task, sample))
        candidates = task.candidates(sample)
        ep = Episode(sample, clip, candidates)
        if sends_system_prompt(task, sample, self.toolbox.names):
            ep.add_text("system", self._system_prompt)
        question = task.question(sample, candidates, cfg.num_frames)
        ep.add_video_prompt(prompts.user_prompt(question, task.answer_format, cfg.action_format, self.toolbox.names,
                                                  self._reasoning))
        self._episode, self._done = ep, False
        self._tokens_left, self._exact_left = budget, None
        self._reserve = answer_reserve(cfg.answer_reserve, budget)
        self._ctx = self.toolbox.context(sample, clip, candidates, self.dataset.knowledge)
        self._static = {
            "task": task.name, "sample_id": sample.id, "dataset": sample.dataset, "video": sample.video,
            "candidates": list(candidates), "action_format": cfg.action_format, "max_turns": cfg.max_turns,
            "num_frames": cfg.num_frames, "frame_size": cfg.frame_size, "fps": clip.fps,
            "frame_indices": list(clip.indices), "timestamps": list(clip.timestamps),
            "window": list(window) if window else None,
            "total_frames": clip.total_frames, "tools": self.tool_schemas, "ground_truth": task.ground_truth(sample),
            "token_budget": budget,
        }
        return self._observation(), self._info()

    def step(self, action: str) -> tuple[dict, float, bool, bool, EpisodeInfo]:
        """Run one policy turn: call tools, reject invalid text, or score the final answer."""
        ep = self._episode
        if ep is None or self._done:
            raise RuntimeError("the episode is over (or never started): call reset() before step()")
        cfg = self.config
        ep.turns += 1
        calls_before = list(ep.calls)  # the tool log as it stood when this turn was written
        text = action if isinstance(action, str) else repr(action)
        ep.add_text("assistant", text)
        if self._exact_left is not None:  # the driver's exact count, the policy's turn included
            self._tokens_left, self._exact_left = self._exact_left, None
        elif self._tokens_left is not None:
            self._tokens_left -= self._token_meter().turn("assistant", text)
        bare = getattr(self.task, "bare_answers", False)
        parsed = parse(action, cfg.action_format, cfg.max_action_chars, bare, self._reasoning,
                       tools=bool(self.toolbox.names), answer_form=self._answer_form)
        # An answer that names nothing has no score to give: say so, and the turn counts as invalid (a benchmark's
        # own protocol reads the whole reply, which is empty only when all of it is).
        if isinstance(parsed, Answer) and parsed.empty and not (bare and names_something(parsed.text)):
            parsed = empty_answer(self._answer_form, self._reasoning, bare)
        if isinstance(parsed, ToolCall) and cfg.action_format == "videostar" and ep.tools_chosen:
            parsed = Invalid("the tools were already chosen in the first turn; now give the final <answer>.")
        reward, terminated, info_extra = 0.0, False, {}
        if isinstance(parsed, Answer):
            answer = self.task.parse_answer(parsed)
            breakdown = self.task.score(answer, ep.sample, self.dataset.knowledge, ep.calls, self.reward_config)
            reward, terminated = breakdown.total, True
            info_extra = {"reward": breakdown.as_dict(), "answer": self.task.answer_value(answer)}
        elif isinstance(parsed, ToolCall):
            self._run_tools(ep, parsed)
        else:
            self._env_says(prompts.invalid_turn(parsed.reason, cfg.max_turns - ep.turns))
        # Out of tokens, the policy cannot write another turn (verl's loop stops there too).
        spent = self._tokens_left is not None and self._tokens_left <= 0
        truncated = not terminated and (ep.turns >= cfg.max_turns or spent)
        if truncated:
            # A task may score a last turn that is no answer (action recognition's official mode does, as the
            # released code scores every final turn); otherwise the truncated episode earns 0.
            late = getattr(self.task, "score_unanswered", None)
            breakdown = late(text, ep.sample, self.dataset.knowledge, calls_before, self.reward_config) if late else None
            if breakdown is not None:
                reward = breakdown.total
                info_extra = {"reward": breakdown.as_dict(), "answer": None}
            else:
                info_extra = {"reward": self.task.zero_reward(), "answer": None}
        self._done = terminated or truncated
        info = self._info()
        info.update(info_extra)
        info["action"] = type(parsed).__name__
        if isinstance(parsed, Invalid):
            info["invalid_reason"] = parsed.reason
        return self._observation(), float(reward), terminated, truncated, info

    def set_tokens_left(self, tokens: int) -> None:
        """The exact budget tokens left once the next step's action is in the context, from a driver that counts
        its tokens (verl's agent loop: response_length minus the response so far); the env counts on from there."""
        if self._episode is None or self._done:
            raise RuntimeError("set_tokens_left() applies to the next step of a running episode: call reset() first")
        if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)):
            raise TypeError(f"set_tokens_left(tokens) takes an integer, got {tokens!r} ({type(tokens).__name__})")
        self._exact_left = int(tokens)  # 0 or less: spent, the step ends the episode after the policy's turn

    def render(self) -> np.ndarray | None:
        """The frames, the latest tool images and the dialogue as one rgb_array image."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='rgb_array'")
            return None
        if self._episode is None:
            raise RuntimeError("call reset() before render()")
        return render_episode(self._episode.clip.frames, self._episode.tool_images,
                              self._episode.dialogue(self.config.max_dialogue_chars))

    def close(self) -> None:
        """Release the tool cache's database handle."""
        self.toolbox.close()

    # -- internals -----------------------------------------------------------------------------

    def _clip(self, path: str, window: tuple[float, float] | None = None, sampler: str | None = None) -> Clip:
        """The video's sampled frames, through the process's clip memo (frames are read-only, so shareable)."""
        cfg = self.config
        return CLIPS.clip(path, cfg.num_frames, cfg.frame_size, cfg.decoder, window, keep=cfg.clip_memo, read=self._read,
                          sampler=sampler)

    def _run_tools(self, ep: Episode, call: ToolCall) -> None:
        for c in call.calls:
            left = self._tokens_left
            room = None if left is None else ReplyRoom(left - self._reserve, left, self._token_meter())
            record = self.toolbox.run(c.name, c.arguments, self._ctx, room)
            ep.add_call(record)
            if room is not None:
                self._tokens_left -= room.cost(record.text, record.images)
        if self.config.action_format == "videostar":
            ep.tools_chosen = True
            if not call.calls:
                self._env_says("No tools were chosen.")
            self._env_says(self.task.after_tools)

    def _env_says(self, text: str) -> None:
        """Add a plain env message, counting its tokens against the budget."""
        self._episode.add_text("user", text)
        if self._tokens_left is not None:
            self._tokens_left -= self._token_meter().turn("user", text)

    def _token_meter(self) -> TokenMeter:
        if self._meter is None:
            self._meter = TokenMeter(make_encoder(self.config.token_counter))
        return self._meter

    def _observation(self) -> dict[str, Any]:
        ep, cfg = self._episode, self.config
        h, w = cfg.frame_size
        tool_frames = np.zeros((cfg.max_tool_frames, h, w, 3), np.uint8)
        latest = ep.tool_images[-cfg.max_tool_frames:] if cfg.max_tool_frames else []
        for k, image in enumerate(latest):
            tool_frames[k] = image
        frames = np.zeros((cfg.num_frames, h, w, 3), np.uint8)
        # A benchmark's own sampler may read fewer frames (STI-Bench's script: 28 of 30 at times); the rest stay
        # blank, and info["frame_indices"] (and the messages' video) hold only the frames read.
        frames[:len(ep.clip.frames)] = ep.clip.frames
        return {"frames": frames, "tool_frames": tool_frames, "num_tool_frames": len(latest),
                "dialogue": ep.dialogue(cfg.max_dialogue_chars)}

    def _info(self) -> EpisodeInfo:
        ep = self._episode
        calls = ep.calls
        return {**self._static, "ground_truth": copy.deepcopy(self._static["ground_truth"]),  # fresh per call
                "turn": ep.turns, "messages": ep.messages, "tool_results": [c.as_dict() for c in calls],
                "tokens_left": None if self._tokens_left is None else max(self._tokens_left, 0)}


OVAREnv = VideoToolEnv  # the action-recognition env's historical name; the task is a config field now
