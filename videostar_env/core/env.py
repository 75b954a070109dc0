"""VideoToolEnv: the task-agnostic core of every video environment with tools, as a Gymnasium env.

Thin by design: the config and its parts live in config.py, the episode state in episode.py,
the token budget in budget.py, parsing in actions.py, tools in tools/ (run through one Toolbox),
and what differs per task (prompts, answers, reward) in tasks/; this module wires them to
reset/step/render.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..actions import DECISION_TAGS, Answer, Invalid, ToolCall, empty_answer, names_something, parse
from ..datasets import Clip, decode
from ..errors import warn
from ..tasks.base import frame_sampler, frame_window, option, sends_system_prompt
from ..tools import ToolContext
from ..video.frame_store import FrameStore
from ..video.memo import CLIPS
from . import prompts
from .budget import TokenBudget
from .config import EnvConfig, EnvParts, checked_budget
from .episode import CHARSET, Episode
from .info import EpisodeInfo
from .render import render_episode


@functools.lru_cache(maxsize=16)
def image_box(count: int, height: int, width: int) -> spaces.Box:
    """The Box of `count` RGB images, built once per shape: its bound arrays are as big as the images (4 of
    them, 14 MB at 16 + 8 frames of 224 px), and every env of a process shares them through a shallow copy."""
    box = spaces.Box(0, 255, (count, height, width, 3), np.uint8)
    for bound in (box.low, box.high, box.bounded_below, box.bounded_above):
        bound.flags.writeable = False
    return box


class VideoToolEnv(gym.Env[dict, str]):
    """One episode = one video and the task's question; actions are the policy's text turns."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, render_mode: str | None = None, config: EnvConfig | None = None, **overrides: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        unknown = set(overrides) - {f.name for f in dataclasses.fields(EnvConfig)}
        if unknown:
            raise TypeError(f"unknown VideoToolEnv options {sorted(unknown)}; valid: {[f.name for f in dataclasses.fields(EnvConfig)]}")
        self.config = dataclasses.replace(config or EnvConfig(), **overrides)
        self.render_mode = render_mode
        cfg = self.config
        parts = EnvParts.build(cfg)
        self.task, self.reward_config, self.dataset, self.toolbox = (parts.task, parts.reward_config, parts.dataset,
                                                                     parts.toolbox)
        self._reasoning = option(self.task, "reasoning")
        self._answer_form = option(self.task, "answer_form")
        self.toolbox.check(self.dataset)
        if cfg.action_format == "videostar":
            unoffered = sorted(set(self.toolbox.tools) - set(DECISION_TAGS.values()))
            if unoffered:  # its first turn has a yes/no tag for the paper's four tools only: these could never run
                raise ValueError(f"tools {unoffered} cannot be chosen in the videostar action format (its first turn "
                                 f"is a yes/no tag for each of {sorted(DECISION_TAGS.values())}, without arguments); "
                                 f"use action_format='hermes' for them")
        for warning in option(self.task, "check")(self.dataset, self.reward_config):
            warn(warning)
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
        self.budget = TokenBudget(cfg.token_counter, cfg.answer_reserve)
        if cfg.token_budget is not None:
            self.budget.meter()  # a counter that cannot be loaded fails when the env is made, not mid-episode

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
        budget = checked_budget(options.get("token_budget", cfg.token_budget), 'reset option "token_budget"')
        self.budget.start(budget)
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
        self.budget.policy_turn(text)
        bare = option(self.task, "bare_answers")
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
        truncated = not terminated and (ep.turns >= cfg.max_turns or self.budget.spent)
        if truncated:
            # A task may score a last turn that is no answer (action recognition's official mode does, as the
            # released code scores every final turn); otherwise the truncated episode earns 0.
            late = option(self.task, "score_unanswered")
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
        self.budget.set_exact(tokens)

    def render(self) -> np.ndarray | None:
        """The frames, the latest tool images and the dialogue as one rgb_array image."""
        if self.render_mode is None:
            warn("render() called without a render_mode; make the env with render_mode='rgb_array'")
            return None
        if self._episode is None:
            raise RuntimeError("call reset() before render()")
        return render_episode(self._episode.clip.frames, self._episode.tool_frames,
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
            room = self.budget.room()
            record = self.toolbox.run(c.name, c.arguments, self._ctx, room)
            ep.add_call(record)
            self.budget.spend_reply(room, record.text, record.images, record.videos)
        if self.config.action_format == "videostar":
            ep.tools_chosen = True
            if not call.calls:
                self._env_says("No tools were chosen.")
            self._env_says(self.task.after_tools)

    def _env_says(self, text: str) -> None:
        """Add a plain env message, counting its tokens against the budget."""
        self._episode.add_text("user", text)
        self.budget.env_turn(text)

    def _observation(self) -> dict[str, Any]:
        ep, cfg = self._episode, self.config
        h, w = cfg.frame_size
        tool_frames = np.zeros((cfg.max_tool_frames, h, w, 3), np.uint8)
        # The latest images and clip frames the tools returned (a clip's frames count one each, in order).
        latest = ep.tool_frames[-cfg.max_tool_frames:] if cfg.max_tool_frames else []
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
                "tokens_left": self.budget.shown}
