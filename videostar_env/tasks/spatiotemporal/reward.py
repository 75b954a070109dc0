"""The relation-graph reward, as pure functions usable without the environment.

Video-STR (arXiv 2510.10976) names its terms (format, answer by question type, node, edge,
length) but not their formulas; these are ours:

    R = w_format*R_format + w_answer*R_answer + g * (w_node*R_node + w_edge*R_edge)
        + w_length*R_length + w_consistency*R_consistency,      g = 1[R_answer > 0] if gated else 1

R_format       1 if the turn is <think>...</think><answer>...</answer> (the task's ReasoningTags: with "qwen3",
               whose chat template writes <think>, the open tag may be absent) and the reasoning holds a graph
               that parses and has at least one node, else 0.
R_answer       multiple choice: exact letter (VSI-Bench's matching); numbers: VSI-Bench's Mean Relative
               Accuracy; counts: exact.
R_node, R_edge graph_score of the written graph against the true one at the question's keyframes
               (perception/relation_graph.py: invariant to rotation and translation, missing and invented
               nodes penalised).
R_length       with R_format only (no reasoning block, no length to reward): 1 while the reasoning, graph block
               aside, has at most max_reasoning_words words, falling linearly to 0 at twice that (a graph grows
               with the scene; its size is not verbosity).
R_consistency  ours, beyond the paper: 1 if the answer the model's own graph implies equals its stated answer
               (question types a graph cannot decide, object size and appearance order, score 0 for every
               response, which GRPO's per-question advantages cancel).

An answer the question's scorer reads nothing from (answer_read: empty, blank, punctuation, the graph, a letter
that is no option, a word where a number is asked) earns no term at all, whatever its format, length or graph:
otherwise a policy could be paid for the form of an answer without giving one.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from ...actions import ReasoningTags
from ...datasets.scenes import questions as geometry
from ...perception.graph_score import graph_score
from ...perception.relation_graph import RelationGraph
from ...datasets.vsibench.scoring import choice_score, fuzzy_matching, numeric_score, parse_number, relative_error, vsibench_score
from ...datasets.stibench.scoring import sti_choice_score, sti_extract_letter
from .answer import GraphAnswer


@dataclass(frozen=True)
class GraphRewardConfig:
    """Weights and switches of the relation-graph reward; every term can be turned off with a weight of 0."""

    w_format: float = 1.0
    w_answer: float = 1.0
    w_node: float = 1.0
    w_edge: float = 1.0
    w_length: float = 0.5
    w_consistency: float = 0.5
    gate_graph: bool = True  # graph terms count only when the answer earns something
    max_reasoning_words: int = 400  # R_length is 1 up to this many words in the reasoning

    def __post_init__(self) -> None:
        if self.max_reasoning_words < 1:
            raise ValueError("max_reasoning_words must be at least 1")


ABLATIONS: dict[str, GraphRewardConfig] = {
    "full": GraphRewardConfig(),
    "answer_format": GraphRewardConfig(w_node=0.0, w_edge=0.0, w_length=0.0, w_consistency=0.0),
    "no_graph": GraphRewardConfig(w_node=0.0, w_edge=0.0),
    "no_consistency": GraphRewardConfig(w_consistency=0.0),
    "ungated": GraphRewardConfig(gate_graph=False),
    "answer_only": GraphRewardConfig(w_format=0.0, w_node=0.0, w_edge=0.0, w_length=0.0, w_consistency=0.0),
}


@dataclass(frozen=True)
class GraphRewardBreakdown:
    """Every term of the reward and the weighted total."""

    format: float
    answer: float
    node: float
    edge: float
    length: float
    consistency: float
    total: float

    def as_dict(self) -> dict[str, float]:
        """The breakdown as a plain dict (for info, logs and JSON)."""
        return asdict(self)


ZERO = GraphRewardBreakdown(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def answer_score(value: str | None, question: Mapping[str, Any], benchmark: str = "scenes") -> float:
    """R_answer of an answer text for a question ({"type", "kind", "answer"}), scored as its benchmark scores it."""
    if value is None:
        return 0.0
    if benchmark == "vsi-bench":
        return vsibench_score(question["type"], value, question["answer"])
    if benchmark == "sti-bench":
        return sti_choice_score(value, str(question["answer"]))
    if question["kind"] == "choice":
        return choice_score(value, str(question["answer"]))
    if question["kind"] == "count":
        number = parse_number(value.strip())
        return float(number is not None and number == float(question["answer"]))
    target = float(question["answer"])
    if target == 0:  # VSI-Bench's MRA divides by the target; our questions never ask for 0, but be safe
        return float(parse_number(value.strip()) == 0.0)
    return numeric_score(value.strip(), target)


def answer_read(value: str | None, question: Mapping[str, Any], benchmark: str = "scenes") -> bool:
    """Whether the question's scorer reads an answer from the text: one of its option letters (choice; any letter
    when it lists none), or a finite number (numbers, counts)."""
    if value is None:
        return False
    if question["kind"] == "choice":
        letter = sti_extract_letter(value) if benchmark == "sti-bench" else fuzzy_matching(value)
        options = {str(option).upper() for option in question.get("options") or ()}
        return bool(letter) and (letter.upper() in options if options else len(letter) == 1 and letter.isalpha())
    number = parse_number(value.strip())
    return number is not None and math.isfinite(number)


def length_score(reasoning: str | None, max_words: int, graph_tag: str = "graph") -> float:
    """1 up to max_words words outside the graph block, linearly down to 0 at twice as many."""
    tag = re.escape(graph_tag)
    words = len(re.sub(rf"<{tag}>.*?</{tag}>", " ", reasoning or "", flags=re.DOTALL).split())
    return 1.0 if words <= max_words else max(0.0, 1.0 - (words - max_words) / max_words)


def _positions(frame: Any) -> dict[str, np.ndarray]:
    return {re.sub(r"[\s_]+", " ", n.label.strip().lower()): np.asarray(n.position[:2], float) for n in frame.nodes}


def _frame_at(graph: RelationGraph, time: float) -> Any:
    return min(graph.frames, key=lambda f: abs(f.time - time))


def _letter(options: Mapping[str, str], text: str | None) -> str | None:
    return next((letter for letter, option in options.items() if option == text), None)


def graph_answer(graph: RelationGraph, question: Mapping[str, Any]) -> Any:
    """The answer a relation graph implies for a question, or None when the graph cannot decide it."""
    names = [re.sub(r"[\s_]+", " ", n.lower()) for n in question.get("names", ())]
    times = question.get("times", ())
    kind = question["type"]
    if not graph.frames:
        return None
    try:
        if kind == "counting":
            labels = {label for frame in graph.frames for label in _positions(frame)}
            shape = re.search(r"How many (\w+)s appear", question["text"])
            return len([lab for lab in labels if not shape or shape.group(1) in ("object", lab.split()[-1])])
        if kind in ("relative_direction", "relative_distance", "absolute_distance"):
            at = _positions(_frame_at(graph, times[0]))
            if kind == "relative_direction":
                a, b, c = (at[n] for n in names[:3])
                return _letter(question["options"], geometry.direction_of(a, b, c)[0])
            if kind == "absolute_distance":
                return geometry.distance(at[names[0]], at[names[1]])
            near, _ = geometry.closest(at, names[0])
            return _letter(question["options"], next((o for o in question["options"].values() if o.lower() == near), None))
        if kind in ("displacement", "path_length", "speed"):
            frames = sorted(graph.frames, key=lambda f: f.time)
            track = [(f.time, _positions(f)[names[0]]) for f in frames if names[0] in _positions(f)]
            if len(track) < 2:
                return None
            if kind == "displacement":
                return geometry.distance(track[0][1], track[-1][1])
            length = geometry.path_length([p for _, p in track])
            return length if kind == "path_length" else length / max(track[-1][0] - track[0][0], 1e-9)
    except (KeyError, IndexError, ValueError):
        return None
    return None


def consistency(stated: str | None, implied: Any, question: Mapping[str, Any]) -> float:
    """1 when the stated answer is the one the graph implies (numbers within 25%), else 0."""
    if stated is None or implied is None:
        return 0.0
    if question["kind"] == "choice":
        return choice_score(stated, str(implied))
    number = parse_number(stated.strip())
    if number is None or not math.isfinite(number):
        return 0.0
    if question["kind"] == "count":
        return float(number == implied)
    return float(implied != 0 and abs(relative_error(number, implied)) <= 0.25)


def score_answer(answer: GraphAnswer, question: Mapping[str, Any], true_graph: RelationGraph | None,
                 config: GraphRewardConfig = GraphRewardConfig(), reasoning: ReasoningTags = ReasoningTags(),
                 graph: str = "graph", benchmark: str = "scenes") -> GraphRewardBreakdown:
    """The reward of a parsed final turn for a question and the true relation graph at its keyframes.

    Without a true graph (a benchmark's real video) the node and edge terms are 0. An answer the scorer reads
    nothing from earns nothing (answer_read).
    """
    if not answer_read(answer.value, question, benchmark):
        return ZERO
    r_answer = answer_score(answer.value, question, benchmark)
    shape_ok = bool(reasoning.final_turn().match(answer.text))
    has_graph = answer.graph is not None and any(frame.nodes for frame in answer.graph.frames)
    r_format = float(shape_ok and has_graph and answer.text.count("<answer>") == 1)
    known = answer.graph is not None and true_graph is not None
    terms = graph_score(answer.graph, true_graph) if known else {"node": 0.0, "edge": 0.0}
    r_node, r_edge = float(terms["node"]), float(terms["edge"])
    r_length = length_score(answer.reasoning, config.max_reasoning_words, graph) if r_format else 0.0
    implied = graph_answer(answer.graph, question) if answer.graph is not None else None
    r_consistency = consistency(answer.value, implied, question)
    gate = 1.0 if (r_answer > 0 or not config.gate_graph) else 0.0
    total = (config.w_format * r_format + config.w_answer * r_answer + gate * (config.w_node * r_node
             + config.w_edge * r_edge) + config.w_length * r_length + config.w_consistency * r_consistency)
    return GraphRewardBreakdown(r_format, r_answer, r_node, r_edge, r_length, r_consistency, total)
