"""The hierarchical reward, as pure functions usable without the environment.

    R = w_acc*R_acc + w_format*R_format + 1[R_acc > 0] * (w_tool*R_tool + w_sub*R_sub) - cost*calls

R_acc     1 if the single answered label names the ground truth (or an alias), else 0.
R_format  1 if the final turn is <think>...</think><answer>...</answer> and nothing else (the paper's tags; the
          task's ReasoningTags otherwise: with "qwen3", whose chat template writes <think>, the open tag may be absent).
R_tool    1 if at least one tool call succeeded and no call repeated a tool with the same arguments.
R_sub     rank-weighted share of the answer's sub-motions that match the ground-truth class's
          definition in the knowledge base.
An answer that names nothing (`answered`: no single label with a letter or digit: empty, blank, punctuation) earns
no term: R_acc is 0, so R_tool and R_sub are gated off, and R_format is 0 too (the form of an answer without one).
mode="official" is the released Video-STAR reward exactly (`official_reward`, its own code path):
accuracy_reward (action-detection branch) + format_reward of src/r1-v/src/open_r1/oss_grpo_4subtol.py,
repository Raymond-Qiancx/Video-STAR (read at commit 64c895713546fe34885b4d504d6b246cafa05ef7). It reads the
literal <think>...</think> whatever the task's ReasoningTags (see official_format).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

from ...actions import Answer, ReasoningTags, names_something, parse
from ...knowledge import normalize_label
from ...tools.base import ToolCallRecord
from .answer import ActionAnswer, parse_answer

RANK_WEIGHTINGS = ("linear", "exponential")
MODES = ("videostar", "official")

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


def answered(answer: ActionAnswer) -> bool:
    """Whether the turn answers one label that holds a letter or digit (not empty, blank or punctuation)."""
    return answer.label is not None and names_something(answer.label)


def accuracy(answer: ActionAnswer, label: str, aliases: Sequence[str] = ()) -> float:
    """1.0 if the answer gives exactly one label and it names the ground truth or an alias."""
    if answer.label is None:
        return 0.0
    return float(normalize_label(answer.label) in {normalize_label(n) for n in (label, *aliases)})


def format_ok(text: str, reasoning: ReasoningTags = ReasoningTags()) -> float:
    """1.0 if the turn is exactly one reasoning block (<think>...</think>) followed by exactly one <answer> block."""
    return float(bool(reasoning.final_turn().match(text)) and text.count("<answer>") == 1 and "<tool_call>" not in text)


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


# --- mode="official": the released code's reward, kept apart from the default path -------------------------------
# accuracy_reward = base + body-parts reward + tool bonus; format_reward = 1 on a full match. Every regex below
# has the released code's pattern and flags, because its quirks (which text they accept) are the behaviour.
OFFICIAL_SOURCE = ("github.com/Raymond-Qiancx/Video-STAR @ 64c895713546fe34885b4d504d6b246cafa05ef7, "
                   "src/r1-v/src/open_r1/oss_grpo_4subtol.py: accuracy_reward (action-detection) + format_reward")
_OFFICIAL_NESTED_ANSWER = re.compile(r"<answer>\s*<answer>(.*?)</answer>\s*</answer>", re.DOTALL)
_OFFICIAL_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_OFFICIAL_SECTION_1 = re.compile(r"\[1\]\s*Observed body parts and movement characteristics:\s*(.*?)(?=\[2\]|$)",
                                 re.DOTALL | re.IGNORECASE)
_OFFICIAL_SECTION_3 = re.compile(r"\[3\]\s*Pattern comparison for each candidate:\s*(.*?)(?=\[4\]|$)",
                                 re.DOTALL | re.IGNORECASE)
_OFFICIAL_PART_NAME = re.compile(r"-\s*([A-Za-z][A-Za-z ]*?):")
_OFFICIAL_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
# The first-turn decision tags whose "yes" earns the tool bonus, and the tool each one runs here. The released
# file's first turn has no video_explanation tag, so video_description earns nothing in this mode.
OFFICIAL_TOOL_TAGS = {"pose_estimation": "pose_estimation", "person_detection": "human_detection",
                      "noun_explanation": "action_explanation"}
_OFFICIAL_YES = [re.compile(rf"<{tag}>\s*yes\s*</{tag}>", re.IGNORECASE) for tag in OFFICIAL_TOOL_TAGS]


def official_answer(text: str) -> str:
    """The released extract_answer: the inside of <answer><answer>X</answer></answer> if present, else of the
    first <answer>...</answer>, stripped; "" when there is none. Tags are case-sensitive."""
    for pattern in (_OFFICIAL_NESTED_ANSWER, _OFFICIAL_ANSWER):
        found = pattern.search(text)
        if found:
            return found.group(1).strip()
    return ""


def official_normalize(text: str) -> str:
    """Lower case without spaces, underscores and newlines (tabs and other whitespace stay)."""
    return text.lower().replace(" ", "").replace("_", "").replace("\n", "")


def official_body_parts(text: str) -> list[str]:
    """Distinct (case-sensitive) "- Name:" names in section [1], in order; no cap on their number."""
    section = _OFFICIAL_SECTION_1.search(text)
    if not section:
        return []
    return list(dict.fromkeys(_OFFICIAL_PART_NAME.findall(section.group(1))))


def official_description(text: str, candidate: str) -> str:
    """The text after "- <candidate>:" in section [3], lower-cased, up to the next "- Name: " or the end."""
    section = _OFFICIAL_SECTION_3.search(text)
    if not section:
        return ""
    line = re.search(rf"-\s*{re.escape(candidate)}\s*:\s*(.*?)(?=(?:\s+-\s*[A-Za-z][A-Za-z ]*:\s)|$)",
                     section.group(1), re.IGNORECASE | re.DOTALL)
    return line.group(1).strip().lower() if line else ""


def official_body_parts_reward(text: str, truth: str) -> float:
    """Linear rank weights (n-i)/(1+..+n) summed over the section-[1] names found, lower-cased, as substrings of the
    description of the TRUE label's candidate in section [3] (whatever was answered)."""
    parts = official_body_parts(text)
    if not parts:
        return 0.0
    description = official_description(text, truth)
    if not description:
        return 0.0
    n = len(parts)
    denominator = n * (n + 1) // 2
    total = 0.0
    for i, part in enumerate(parts):
        if part.lower() in description:
            total += (n - i) / denominator
    return total


def official_format(text: str) -> float:
    """The released format_reward: 1.0 on a full match of <think>.*?</think>\\s*<answer>.*?</answer>.

    The literal tags, whatever the task's ReasoningTags: a reply in the reserved form ("qwen3": the chat template
    wrote <think>, so the reply holds only </think>) scores 0, as the released code would score it; a reply that
    writes <think> itself scores as in the paper.
    """
    return 1.0 if _OFFICIAL_FORMAT.fullmatch(text) else 0.0


def official_tool_chosen(tool_log: Sequence[ToolCallRecord] = (), first_turn: str | None = None) -> bool:
    """Whether the first turn chose a tool: a yes tag in its text when given, else a call (ok or not) of a tool
    those tags run."""
    if first_turn is not None:
        return any(p.search(first_turn) for p in _OFFICIAL_YES)
    return any(record.name in OFFICIAL_TOOL_TAGS.values() for record in tool_log)


def official_reward(text: str, label: str, tool_log: Sequence[ToolCallRecord] = (), *, first_turn: str | None = None,
                    config: RewardConfig | None = None) -> RewardBreakdown:
    """The released reward of a final turn: accuracy_reward + format_reward.

    accuracy = 1 if normalised answers are equal; submotion = official_body_parts_reward; tool = 1 if the answer is
    right and a tool was chosen. The ground truth is read as the released code reads its solution,
    "<answer>label</answer>". Aliases and definitions play no part. Weights and the per-call cost of `config` apply
    (the defaults, 1 and 0, give the released numbers); rank_weighting and max_submotions do not.
    """
    config = config or RewardConfig(mode="official")
    truth = official_answer(f"<answer>{label}</answer>")
    r_acc = 1.0 if official_normalize(truth) == official_normalize(official_answer(text)) else 0.0
    r_sub = official_body_parts_reward(text, truth)
    r_tool = 1.0 if r_acc > 0.0 and official_tool_chosen(tool_log, first_turn) else 0.0
    r_format = official_format(text)
    cost = config.tool_call_cost * len(tool_log)
    total = config.w_acc * r_acc + config.w_sub * r_sub + config.w_tool * r_tool + config.w_format * r_format - cost
    return RewardBreakdown(r_acc, r_format, r_tool, r_sub, cost, total)


def score_answer(answer: ActionAnswer, label: str, *, aliases: Sequence[str] = (), definition: str = "",
                 tool_log: Sequence[ToolCallRecord] = (), config: RewardConfig = RewardConfig(),
                 reasoning: ReasoningTags = ReasoningTags()) -> RewardBreakdown:
    """The reward of a parsed final turn.

    definition: the ground-truth class's knowledge-base text; tool_log: every tool call of the episode;
    reasoning: the tags R_format expects (mode="official" reads the released code's literal ones).
    """
    if config.mode == "official":
        return official_reward(answer.text, label, tool_log, config=config)
    response = answer.text
    r_acc = accuracy(answer, label, aliases)
    r_format = format_ok(response, reasoning) if answered(answer) else 0.0  # the form of an answer without one
    r_tool = tool_use(tool_log)
    r_sub = submotion_score(answer.submotions, definition, config.rank_weighting, config.max_submotions)
    gate = 1.0 if r_acc > 0 else 0.0
    cost = config.tool_call_cost * len(tool_log)
    total = (config.w_acc * r_acc + config.w_format * r_format + gate * config.w_tool * r_tool
             + gate * config.w_sub * r_sub - cost)
    return RewardBreakdown(r_acc, r_format, r_tool, r_sub, cost, total)


def score(response: str, label: str, *, aliases: Sequence[str] = (), definition: str = "",
          tool_log: Sequence[ToolCallRecord] = (), config: RewardConfig = RewardConfig(),
          reasoning: ReasoningTags = ReasoningTags()) -> RewardBreakdown:
    """The reward of a final turn given as text (for verl's compute_score); the env scores the parsed answer.

    response: the policy's final turn only (never tool output); a turn that is not an answer scores as one
    without a label.
    """
    if config.mode == "official":  # the released code reads the raw text, whatever it holds
        return official_reward(response, label, tool_log, config=config)
    action = parse(response, "hermes")
    parsed = parse_answer(action, reasoning) if isinstance(action, Answer) else ActionAnswer((), (), response)
    return score_answer(parsed, label, aliases=aliases, definition=definition, tool_log=tool_log, config=config,
                        reasoning=reasoning)
