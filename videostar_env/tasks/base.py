"""The Task protocol: everything that differs between kinds of episode, as data the env core reads.

The core (env.py) owns the loop: reset/step, the turn budget, tool-call formats, running tools
through the toolbox, the observation, render and info. A task says what a sample asks, how
the final answer reads, what it earns, and what `videostar bench` measures.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Protocol, Sequence, TypeVar, runtime_checkable

from ..actions import ANSWER_FORM, Answer, ReasoningTags
from ..datasets.sample import VideoSample
from ..knowledge import KnowledgeBase
from ..registry import check_types
from ..tools.base import ToolCallRecord


C = TypeVar("C")


def reward_config_from(spec: Any, config_type: type[C], ablations: Mapping[str, C]) -> C:
    """A task's reward config from None (defaults), a dict of its fields, an ablation name, or a config object."""
    if spec is None:
        return config_type()
    if isinstance(spec, config_type):
        return spec
    if isinstance(spec, str) and spec in ablations:
        return ablations[spec]
    if isinstance(spec, dict):
        known = {f.name for f in dataclasses.fields(config_type)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown reward options {unknown}; valid: {sorted(known)}")
        check_types(config_type, spec, "the reward")
        return config_type(**spec)
    raise TypeError(f"reward must be a {config_type.__name__}, a dict of its fields or one of {sorted(ablations)}, "
                    f"got {spec!r}")


@runtime_checkable
class Breakdown(Protocol):
    """A task's reward: the total and every term."""

    total: float

    def as_dict(self) -> dict[str, float]: ...


@runtime_checkable
class Task(Protocol):
    """One kind of episode. Register it with tasks.register_task; choose it with gym.make(..., task=name).

    Its optional members, and what the core does without them, are in OPTIONAL.
    """

    name: str
    default_tools: tuple[str, ...]  # the tools an env of this task offers unless told otherwise
    role: str  # the system prompt's first paragraph
    answer_format: str  # how to write the final turn (ends the first user message)
    after_tools: str  # the videostar format's second user turn, after the chosen tools ran

    def reward_config(self, spec: Any) -> Any:
        """The task's validated reward config from None (defaults), a dict of fields, or a config object."""

    def candidates(self, sample: VideoSample) -> tuple[str, ...]:
        """The options the policy chooses from (empty for open answers); tools see them too."""

    def question(self, sample: VideoSample, candidates: Sequence[str], num_frames: int) -> str:
        """The user message after the video, before the tool or answer instructions."""

    def parse_answer(self, answer: Answer) -> Any:
        """The task's reading of a final turn the core parser found."""

    def score(self, answer: Any, sample: VideoSample, knowledge: KnowledgeBase, calls: Sequence[ToolCallRecord],
              config: Any) -> Breakdown:
        """The reward of a parsed final answer given the episode's tool calls."""

    def zero_reward(self) -> dict[str, float]:
        """Every reward term at 0 (a truncated episode)."""

    def answer_value(self, answer: Any) -> Any:
        """The answer as JSON for info["answer"] and the bench's results."""

    def ground_truth(self, sample: VideoSample) -> dict[str, Any]:
        """What is true of the sample, for logs and oracle baselines (info["ground_truth"], never the policy)."""

    def bench_fields(self, info: dict[str, Any]) -> dict[str, Any]:
        """The task's columns of a bench results row from a finished episode's info; must include "correct"."""

    def bench_metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The task's sections of metrics.json from the played episodes' rows."""


def _no_warnings(dataset: Any, reward_config: Any) -> list[str]:
    return []


# The optional members of a Task and their defaults: the one place they are read with (`option`).
OPTIONAL: dict[str, Any] = {
    # check(dataset, reward_config) -> list[str]: warnings the env logs when it is made (a dataset the task can play
    # but not fully score)
    "check": _no_warnings,
    # score_unanswered(text, sample, knowledge, calls, reward_config) -> Breakdown | None: the reward of a last turn
    # that is no answer; absent (or None): 0
    "score_unanswered": None,
    "frame_window": None,  # frame_window(sample) -> (start, end) | None: the seconds the frames come from
    # frame_sampler(sample) -> str | None: a benchmark's own frame sampler (video.decode.SAMPLERS) to read frames with
    "frame_sampler": None,
    # benchmark_prompt(sample) -> bool: the sample is asked in its benchmark's own words (no system prompt, unless
    # tools need describing)
    "benchmark_prompt": None,
    "bare_answers": False,  # a turn without tags is the answer
    "reasoning": ReasoningTags(),  # the tags of the final turn's reasoning, which prompts and parser hints show
    "answer_form": ANSWER_FORM,  # what goes inside <answer>, which the hints and the empty-answer reply name
}


def option(task: Task, name: str) -> Any:
    """The task's optional member `name`, or its default from OPTIONAL."""
    return getattr(task, name, OPTIONAL[name])


def frame_window(task: Task, sample: VideoSample) -> tuple[float, float] | None:
    """The seconds of the video a sample's frames come from: the task's choice, else the sample's window."""
    choose = option(task, "frame_window")
    return choose(sample) if choose is not None else sample.meta.get("window")


def frame_sampler(task: Task, sample: VideoSample) -> str | None:
    """The named frame sampler (video.decode.SAMPLERS) a task reads a sample's frames with; None: uniform frames."""
    choose = option(task, "frame_sampler")
    return choose(sample) if choose is not None else None


def sends_system_prompt(task: Task, sample: VideoSample, tools: Sequence[str]) -> bool:
    """Whether an episode opens with our system prompt: yes, unless the task puts the sample in its benchmark's own
    words and no tool needs describing (the benchmarks' scripts send no system prompt)."""
    own_words = option(task, "benchmark_prompt")
    return bool(tools) or own_words is None or not own_words(sample)
