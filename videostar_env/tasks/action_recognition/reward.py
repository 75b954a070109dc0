"""The hierarchical reward, as pure functions usable without the environment.

    R = w_acc*R_acc + w_format*R_format + 1[R_acc > 0] * (w_tool*R_tool + w_sub*R_sub) - cost*calls

R_acc     1 if the single answered label names the ground truth (or an alias), else 0.
R_format  1 if the final turn is <think>...</think><answer>...</answer> and nothing else.
R_tool    1 if at least one tool call succeeded and no call repeated a tool with the same arguments.
R_sub     rank-weighted share of the answer's sub-motions that match the ground-truth class's
          definition in the knowledge base.
mode="official" reproduces the released Video-STAR code: sub-motions matched against the
model's own description of the ground-truth candidate, R_sub not gated on accuracy, and
R_tool = 1 for any tool use when correct.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

from ...actions import Answer, parse
from ...knowledge import normalize_label
from ...tools.runner import ToolCallRecord
from .answer import ActionAnswer, parse_answer

RANK_WEIGHTINGS = ("linear", "exponential")
MODES = ("videostar", "official")

_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)
_WORD = re.compile(r"[a-z]+")
_SIDE_WORDS = {"left", "right", "both", "upper", "lower", "the", "a", "an", "of", "and", "body", "part", "parts", "main", "whole"}
# Words for the same body part; a sub-motion naming any one matches a definition naming another.
_SYNONYMS = [
    {"hand", "wrist", "fist", "palm", "finger"},
    {"foot", "feet", "ankle", "toe", "heel"},
    {"hip", "pelvis", "waist"},
    {"torso", "trunk", "back", "chest", "spine"},
    {"head", "neck", "face"},
    {"arm", "forearm"},
    {"leg", "thigh", "shin"},
]


@dataclass(frozen=True)
class RewardConfig:
    """Weights and switches of the reward; the defaults are the paper's full reward."""

    w_acc: float = 1.0
    w_format: float = 1.0
    w_tool: float = 1.0  # 0 disables the tool term (paper ablation "w/o tool")
    w_sub: float = 1.0  # 0 disables the sub-motion term (paper ablation "w/o sub-motion")
    rank_weighting: str = "linear"  # "linear": (n-i+1)/sum(1..n), official; "exponential": 2^-(i-1), normalised
    max_submotions: int = 5  # more distinct sub-motions than this is a list, not a ranking: R_sub = 0
    tool_call_cost: float = 0.0  # subtracted per tool call (successful or not)
    mode: str = "videostar"  # or "official" (released-code compatibility)

    def __post_init__(self) -> None:
        if self.rank_weighting not in RANK_WEIGHTINGS:
            raise ValueError(f"rank_weighting must be one of {RANK_WEIGHTINGS}, got {self.rank_weighting!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")


ABLATIONS: dict[str, RewardConfig] = {
    "full": RewardConfig(),
    "acc_format": RewardConfig(w_tool=0.0, w_sub=0.0),
    "no_tool": RewardConfig(w_tool=0.0),
    "no_sub": RewardConfig(w_sub=0.0),
    "tool_cost": RewardConfig(tool_call_cost=0.1),
    "official": RewardConfig(mode="official"),
}


@dataclass(frozen=True)
class RewardBreakdown:
    """Every term of the reward and the weighted total."""

    accuracy: float
    format: float
    tool: float
    submotion: float
    tool_cost: float
    total: float

    def as_dict(self) -> dict[str, float]:
        """The breakdown as a plain dict (for info, logs and JSON)."""
        return asdict(self)


ZERO = RewardBreakdown(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def accuracy(answer: ActionAnswer, label: str, aliases: Sequence[str] = ()) -> float:
    """1.0 if the answer gives exactly one label and it names the ground truth or an alias."""
    if answer.label is None:
        return 0.0
    return float(normalize_label(answer.label) in {normalize_label(n) for n in (label, *aliases)})


def format_ok(text: str) -> float:
    """1.0 if the turn is exactly one <think> block followed by exactly one <answer> block."""
    return float(bool(_FORMAT.match(text)) and text.count("<answer>") == 1 and "<tool_call>" not in text)


def tool_use(tool_log: Sequence[ToolCallRecord]) -> float:
    """1.0 if some tool call succeeded and no two calls share tool and arguments."""
    keys = [record.key for record in tool_log]
    return float(any(r.ok for r in tool_log) and len(keys) == len(set(keys)))


def rank_weights(n: int, scheme: str = "linear") -> list[float]:
    """Weights of ranks 1..n, summing to 1, largest first."""
    if n <= 0:
        return []
    raw = [float(n - i) for i in range(n)] if scheme == "linear" else [2.0 ** -i for i in range(n)]
    total = sum(raw)
    return [w / total for w in raw]


def _words(text: str) -> set[str]:
    words = set()
    for w in _WORD.findall(text.lower()):
        words.add(w)
        if len(w) > 3 and w.endswith("s"):
            words.add(w[:-1])  # plural -> singular
    return words


def submotion_matches(part: str, reference: str) -> bool:
    """Lexical match: the body part (or a synonym of it) is named in the reference text."""
    ref = _words(reference)
    wanted = _words(part) - _SIDE_WORDS
    for word in wanted:
        group = next((g for g in _SYNONYMS if word in g), {word})
        if group & ref:
            return True
    return False


def submotion_score(submotions: Sequence[tuple[str, str]], reference: str,
                    scheme: str = "linear", max_submotions: int = 5) -> float:
    """Rank-weighted share of distinct sub-motions whose body part the reference names."""
    parts = list(dict.fromkeys(p.strip().lower() for p, _ in submotions if p.strip()))
    if not parts or len(parts) > max_submotions or not reference:
        return 0.0
    weights = rank_weights(len(parts), scheme)
    return sum(w for w, part in zip(weights, parts) if submotion_matches(part, reference))


def _own_description(text: str, label: str) -> str:
    """The model's own words about a candidate in its [3] section (official-mode reference)."""
    section = re.search(r"\[3\](.*?)(?=\[4\]|</think>|$)", text, re.DOTALL)
    if not section:
        return ""
    for line in section.group(1).splitlines():
        m = re.match(r"\s*[-*]\s*([^:]+):(.*)", line)
        if m and normalize_label(m.group(1)) == normalize_label(label):
            return m.group(2)
    return ""


def score_answer(answer: ActionAnswer, label: str, *, aliases: Sequence[str] = (), definition: str = "",
                 tool_log: Sequence[ToolCallRecord] = (), config: RewardConfig = RewardConfig()) -> RewardBreakdown:
    """The reward of a parsed final turn.

    definition: the ground-truth class's knowledge-base text; tool_log: every tool call of the episode.
    """
    response = answer.text
    r_acc = accuracy(answer, label, aliases)
    r_format = format_ok(response)
    if config.mode == "official":
        r_tool = float(any(r.ok for r in tool_log))
        reference = _own_description(response, label)
    else:
        r_tool = tool_use(tool_log)
        reference = definition
    r_sub = submotion_score(answer.submotions, reference, config.rank_weighting, config.max_submotions)
    gate = 1.0 if r_acc > 0 else 0.0
    sub_gate = 1.0 if config.mode == "official" else gate
    cost = config.tool_call_cost * len(tool_log)
    total = (config.w_acc * r_acc + config.w_format * r_format + gate * config.w_tool * r_tool
             + sub_gate * config.w_sub * r_sub - cost)
    return RewardBreakdown(r_acc, r_format, r_tool, r_sub, cost, total)


def score(response: str, label: str, *, aliases: Sequence[str] = (), definition: str = "",
          tool_log: Sequence[ToolCallRecord] = (), config: RewardConfig = RewardConfig()) -> RewardBreakdown:
    """The reward of a final turn given as text (for verl's compute_score); the env scores the parsed answer.

    response: the policy's final turn only (never tool output); a turn that is not an answer scores as one
    without a label.
    """
    action = parse(response, "hermes")
    parsed = parse_answer(action) if isinstance(action, Answer) else ActionAnswer((), (), response)
    return score_answer(parsed, label, aliases=aliases, definition=definition, tool_log=tool_log, config=config)
