"""Spatio-temporal questions answered through a relation graph (Video-STR), the second task.

A sample is one question about one multi-object video (sample.meta["question"], see
data/scene_questions.py; sample.meta["truth"], the scene's ground truth). The policy writes the
scene's relation graph inside its reasoning, then the answer: a letter, a number or a count.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import Any, Sequence


from ...actions import Answer, ReasoningTags, reasoning_tags
from ...datasets.sample import VideoSample
from ...datasets.scenes import SceneTruth
from ...knowledge import KnowledgeBase
from ...perception.relation_graph import RelationGraph, build_graph
from ...tools.base import ToolCallRecord
from ..base import reward_config_from
from . import prompts
from .answer import GraphAnswer, parse_answer
from .metrics import graph_metrics
from .reward import ABLATIONS, ZERO, GraphRewardBreakdown, GraphRewardConfig, graph_answer, score_answer

TOOLS = ("object_detection", "object_tracking", "relation_graph")
_TAG = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


PROMPTS = ("graph", "official")


def true_graph(sample: VideoSample) -> RelationGraph | None:
    """The ground-truth relation graph of a sample's question (every visible object at its keyframes); None for
    a benchmark's real video, which has no scene ground truth."""
    if not sample.meta.get("truth"):
        return None
    return _graph_at(sample.meta["truth"], tuple(sample.meta["question"]["keyframes"]))


@lru_cache(maxsize=1024)
def _graph_at(truth_path: str, keyframes: tuple[int, ...]) -> RelationGraph:
    # Reset (ground_truth) and the answer (score) both need it: the scene's file is read and the graph built once.
    truth = SceneTruth.load(truth_path)
    keyframes = list(keyframes)
    return build_graph([k / truth.fps for k in keyframes], [str(i) for i in range(len(truth.labels))],
                       list(truth.labels), truth.positions[keyframes][..., :2], "metres", truth.visible[keyframes])


class SpatioTemporal:
    """Video-STR's task: one question about a multi-object video, answered after writing its relation graph.

    reasoning: the reasoning tags of the final turn (prompts, reading, R_format): a preset of
    actions.REASONING_TAGS ("paper", the default; "qwen3", whose chat template opens <think>), a dict of
    ReasoningTags fields (e.g. {"open": "<reasoning>", "close": "</reasoning>"}), or a ReasoningTags.
    graph: the name of the graph block's tag. prompt: "graph" (write the relation graph, then <answer>)
    or "official" (a benchmark's own prompt text, where the sample has one, and its own reading of the
    reply: a bare letter or number; only the answer is scored).
    """

    name = "spatiotemporal"
    default_tools = TOOLS
    role = prompts.ROLE
    answer_form = prompts.ANSWER_FORM

    def __init__(self, reasoning: Any = "paper", graph: str = "graph", prompt: str = "graph"):
        if prompt not in PROMPTS:
            raise ValueError(f"prompt must be one of {PROMPTS}, got {prompt!r}")
        self.prompt = prompt
        self.bare_answers = prompt == "official"  # benchmarks read the reply itself, not an <answer> block
        self.reasoning: ReasoningTags = reasoning_tags(reasoning)
        if not isinstance(graph, str) or not _TAG.match(graph) or graph == "answer":
            raise ValueError(f"the graph tag must be a name like 'graph' (letters, digits, _ and -; not 'answer'), "
                             f"got {graph!r}")
        if {f"<{graph}>", f"</{graph}>"} & {self.reasoning.open, self.reasoning.close}:
            raise ValueError(f"the graph tag <{graph}> is also a reasoning tag of {self.reasoning}; give them "
                             "different names")
        self.graph = graph
        self.answer_format = prompts.answer_format(self.reasoning, graph) if prompt == "graph" else ""
        self.after_tools = (prompts.after_tools(self.reasoning, graph) if prompt == "graph"
                            else prompts.AFTER_TOOLS_OFFICIAL)

    def options(self) -> dict[str, Any]:
        """The options that rebuild this task, as JSON-ready values (verl rows carry them to compute_score)."""
        return {"reasoning": dataclasses.asdict(self.reasoning), "graph": self.graph, "prompt": self.prompt}

    def reward_config(self, spec: Any) -> GraphRewardConfig:
        """GraphRewardConfig from None (the full reward), a dict of its fields, an ablation name, or itself."""
        return reward_config_from(spec, GraphRewardConfig, ABLATIONS)

    def frame_window(self, sample: VideoSample) -> tuple[float, float] | None:
        """The sample's window, except where a benchmark's own sampler reads the whole video (STI-Bench's
        script samples the whole video and only names the window in the prompt)."""
        if self.frame_sampler(sample) is not None:
            return None
        return sample.meta.get("window")

    def frame_sampler(self, sample: VideoSample) -> str | None:
        """In the official mode, the benchmark's own frame sampler that the sample names (data.decode.SAMPLERS)."""
        return sample.meta.get("frame_sampler") if self.prompt == "official" else None

    def benchmark_prompt(self, sample: VideoSample) -> bool:
        """Whether the sample is asked in its benchmark's own words (the official mode, where it has them)."""
        return self.prompt == "official" and bool(sample.meta.get("official_prompt"))

    def check(self, dataset: Any, config: GraphRewardConfig) -> list[str]:
        """Refuse a dataset whose samples carry no question; nothing to warn about otherwise."""
        if len(dataset) and "question" not in dataset[0].meta:
            raise ValueError(f"the spatiotemporal task needs samples with a question (sample.meta['question']); "
                             f"dataset {getattr(dataset, 'name', dataset)!r} has none: use dataset='scenes', or "
                             "your own videos' questions file: dataset='questions', dataset_kwargs={'path': "
                             "'questions.jsonl'} (--dataset questions --annotations FILE; docs/datasets.md, "
                             "\"Spatial questions about your own videos\")")
        return []

    def candidates(self, sample: VideoSample) -> tuple[str, ...]:
        """The option letters of a multiple-choice question; none for numbers."""
        return tuple(sample.meta["question"]["options"])

    def question(self, sample: VideoSample, candidates: Sequence[str], num_frames: int) -> str:
        """How the frames are shown, the question with its options, and how to write the answer."""
        q = sample.meta["question"]
        if self.benchmark_prompt(sample):
            return sample.meta["official_prompt"]
        return prompts.question(q["text"], q["kind"], q["unit"], num_frames, float(sample.meta.get("duration", 0.0)),
                                q.get("options") if "\nA. " not in q["text"] else None, sample.meta.get("window"))

    def parse_answer(self, answer: Answer) -> GraphAnswer:
        """The answer text and the relation graph of the reasoning."""
        return parse_answer(answer, self.reasoning, self.graph)

    def score(self, answer: GraphAnswer, sample: VideoSample, knowledge: KnowledgeBase,
              calls: Sequence[ToolCallRecord], config: GraphRewardConfig) -> GraphRewardBreakdown:
        """Format, answer, graph (node, edge), length and consistency terms (official prompts: the answer only)."""
        return self.score_question(answer, sample.meta["question"], true_graph(sample), config,
                                   sample.meta.get("benchmark", "scenes"))

    def score_question(self, answer: GraphAnswer, question: dict[str, Any], graph: RelationGraph | None,
                       config: GraphRewardConfig, benchmark: str = "scenes") -> GraphRewardBreakdown:
        """The reward of an answer to a question with its true graph, without the sample (verl's compute_score)."""
        if self.prompt == "official":  # a benchmark's own protocol scores the answer only
            config = ABLATIONS["answer_only"]
            if benchmark != "scenes":  # and its script reads the whole reply, an <answer> block's tags included
                answer = dataclasses.replace(answer, labels=(answer.text,))
        return score_answer(answer, question, graph, config, self.reasoning, self.graph, benchmark)

    def zero_reward(self) -> dict[str, float]:
        """Every term at 0."""
        return ZERO.as_dict()

    def answer_value(self, answer: GraphAnswer) -> dict[str, Any]:
        """The answer text, the graph the model wrote (JSON) and why it could not be read, if so."""
        return {"text": answer.value, "graph": answer.graph.to_json() if answer.graph else None,
                "graph_error": answer.graph_error}

    def ground_truth(self, sample: VideoSample) -> dict[str, Any]:
        """The question's type, kind, answer and unit, and the true relation graph at its keyframes."""
        q, graph = sample.meta["question"], true_graph(sample)
        return {"type": q["type"], "kind": q["kind"], "answer": q["answer"], "unit": q["unit"],
                "scene": sample.meta.get("scene"), "benchmark": sample.meta.get("benchmark", "scenes"),
                "graph": graph.to_json() if graph else None}

    def bench_fields(self, info: dict[str, Any]) -> dict[str, Any]:
        """Question type and kind, the true and the given answer, the answer's score, and both graphs."""
        truth, reward, given = info["ground_truth"], info["reward"], info.get("answer") or {}
        return {"label": f"{truth['type']}: {truth['answer']}", "question_type": truth["type"], "kind": truth["kind"],
                "scene": truth.get("scene"), "benchmark": truth.get("benchmark", "scenes"),
                "truth": truth["answer"], "answer": given.get("text"), "score": reward.get("answer", 0.0),
                "correct": reward.get("answer", 0.0) >= 1.0, "graph": given.get("graph"),
                "true_graph": truth["graph"]}

    def bench_metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Per question type: accuracy (choices, counts) or mean MRA (numbers); the graph terms."""
        return graph_metrics(rows)


__all__ = ["ABLATIONS", "GraphAnswer", "GraphRewardBreakdown", "GraphRewardConfig", "SpatioTemporal", "graph_answer",
           "parse_answer", "score_answer", "true_graph"]
