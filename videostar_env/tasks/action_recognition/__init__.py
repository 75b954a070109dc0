"""Open-vocabulary action recognition (Video-STAR): name the action from candidate labels, with ranked sub-motions."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from ...actions import Answer, ReasoningTags, reasoning_tags
from ...datasets.sample import VideoSample
from ...knowledge import KnowledgeBase
from ...tools.base import ToolCallRecord
from ..base import reward_config_from
from . import prompts
from .answer import ActionAnswer, answer, parse_answer, parse_submotions
from .metrics import action_metrics
from .reward import ABLATIONS, ZERO, RewardBreakdown, RewardConfig, official_reward, score, score_answer

TOOLS = ("human_detection", "pose_estimation", "action_explanation", "video_description")


class ActionRecognition:
    """The first task: one video, its candidate labels, an answer scored by the hierarchical reward.

    reasoning: the reasoning tags of the final turn (prompts, sub-motion reading, R_format): a preset of
    actions.REASONING_TAGS ("paper", the default; "qwen3", whose chat template opens <think>), a dict of
    ReasoningTags fields, or a ReasoningTags.
    """

    name = "action_recognition"
    default_tools = TOOLS
    role = prompts.ROLE
    answer_form = "exactly one candidate label"  # what the parser's hints ask for inside <answer>

    def __init__(self, reasoning: Any = "paper"):
        self.reasoning: ReasoningTags = reasoning_tags(reasoning)
        self.answer_format = prompts.reasoning_format(self.reasoning)
        self.after_tools = prompts.after_tools(self.reasoning)

    def options(self) -> dict[str, Any]:
        """The options that rebuild this task, as JSON-ready values (verl rows carry them to compute_score)."""
        return {"reasoning": dataclasses.asdict(self.reasoning)}

    def reward_config(self, spec: Any) -> RewardConfig:
        """RewardConfig from None (the paper's full reward), a dict of its fields, an ablation name, or itself."""
        return reward_config_from(spec, RewardConfig, ABLATIONS)

    def check(self, dataset: Any, config: RewardConfig) -> list[str]:
        """Warnings about a dataset this task can play but not fully score, or a reward that ignores the tags."""
        warnings = []
        if config.mode == "official" and self.reasoning != ReasoningTags():
            warnings.append("reward mode 'official' scores R_format as the released code does, on the literal "
                            f"<think>...</think>, not on the task's reasoning tags {self.reasoning}: a reply without "
                            "the literal <think> (a chat template wrote it) scores format 0; mode='videostar' scores "
                            "the configured tags")
        if config.w_sub and config.mode != "official" and not dataset.knowledge.defined_labels():
            warnings.append(f"R_sub will always be 0 on dataset {getattr(dataset, 'name', dataset)!r}: its knowledge "
                            "base defines none of its labels, so no sub-motion can match a definition. Give the "
                            "dataset label explanations (explanations=FILE; --dataset-options "
                            "'{\"explanations\": \"FILE\"}') or use reward=ABLATIONS['no_sub'].")
        return warnings

    def candidates(self, sample: VideoSample) -> tuple[str, ...]:
        """The sample's label space."""
        return tuple(sample.label_space)

    def question(self, sample: VideoSample, candidates: Sequence[str], num_frames: int) -> str:
        """How the frames are shown, the question and the candidate labels."""
        return prompts.question(candidates, num_frames)

    def parse_answer(self, answer: Answer) -> ActionAnswer:
        """The label and the ranked sub-motions."""
        return parse_answer(answer, self.reasoning)

    def score(self, answer: ActionAnswer, sample: VideoSample, knowledge: KnowledgeBase,
              calls: Sequence[ToolCallRecord], config: RewardConfig) -> RewardBreakdown:
        """The hierarchical reward, sub-motions matched against the true class's knowledge-base entry."""
        entry = knowledge.get(sample.label)
        return score_answer(answer, sample.label, aliases=knowledge.names(sample.label)[1:],
                            definition=entry.explanation() if entry and entry.defined else "", tool_log=calls,
                            config=config, reasoning=self.reasoning)

    def score_unanswered(self, text: str, sample: VideoSample, knowledge: KnowledgeBase,
                         calls: Sequence[ToolCallRecord], config: RewardConfig) -> RewardBreakdown | None:
        """The reward of a last turn that is no answer (no <answer> block, a tool call, too long): the released
        code scores every final turn, so mode="official" does too; the default mode gives None (reward 0)."""
        if config.mode != "official":
            return None
        return official_reward(text if isinstance(text, str) else repr(text), sample.label, calls, config=config)

    def zero_reward(self) -> dict[str, float]:
        """Every term at 0."""
        return ZERO.as_dict()

    def answer_value(self, answer: ActionAnswer) -> str | None:
        """The answered label (None when the turn gave several)."""
        return answer.label

    def ground_truth(self, sample: VideoSample) -> dict[str, Any]:
        """The true label and whether its class is base or novel (open-vocabulary protocols; else None)."""
        return {"label": sample.label, "group": sample.meta.get("group")}

    def bench_fields(self, info: dict[str, Any]) -> dict[str, Any]:
        """label, group, candidates, answer and whether it was right."""
        truth, reward = info["ground_truth"], info["reward"]
        return {"label": truth["label"], "group": truth["group"], "num_candidates": len(info["candidates"]),
                "answer": info.get("answer"), "correct": reward.get("accuracy", 0.0) > 0}

    def bench_metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Base/novel/HM, per-class accuracy, the top confusions."""
        return action_metrics(rows)


__all__ = ["ABLATIONS", "ActionAnswer", "ActionRecognition", "RewardBreakdown", "RewardConfig", "answer",
           "official_reward", "parse_answer", "parse_submotions", "score", "score_answer"]
