"""Text <-> Action: the one parser for every agent, and helpers that write valid turns.

Two action formats:
  hermes     Qwen2.5's native tool calls, any number of turns:
             <tool_call>{"name": "pose_estimation", "arguments": {}}</tool_call>
  videostar  the official two-turn protocol: turn 1 answers yes/no per tool,
             <pose_estimation>yes</pose_estimation><person_detection>no</person_detection>...
             and the environment runs the chosen tools; turn 2 answers.
Both end with a final turn holding <answer>...</answer>, after the reasoning in the task's
ReasoningTags (the paper's <think>...</think> unless the policy's chat template says otherwise);
what the answer means (a label, a number, a graph) is the task's to read (tasks/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, Sequence, Union

FORMATS = ("hermes", "videostar")
# Official decision tags -> the tool each one runs.
DECISION_TAGS: dict[str, str] = {
    "pose_estimation": "pose_estimation",
    "person_detection": "human_detection",
    "video_explanation": "video_description",
    "noun_explanation": "action_explanation",
}
MAX_ACTION_CHARS = 16384
# Qwen-VL's vision tokens: the chat template writes them around the env's images and videos. A policy turn holding
# one would add a placeholder with no medium behind it (verl's rollout dies on it), so such a turn is refused.
MEDIA_TOKENS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")
ANSWER_FORM = "your answer"  # what the hints ask to write inside <answer></answer> when the task does not say

_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_XML_FUNCTION = re.compile(r"<function=([^>\s]+)>(.*?)</function>\s*$", re.DOTALL)
_XML_PARAMETER = re.compile(r"<parameter=([^>\s]+)>(.*?)</parameter>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_DECISION = re.compile(r"<(" + "|".join(DECISION_TAGS) + r")>\s*(yes|no)\s*</\1>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z_]+>")
_RESERVED = ("<answer>", "</answer>", "<tool_call>", "</tool_call>")  # the parser's own tags
_NAMED = re.compile(r"[^\W_]")  # a letter or digit, of any script


@dataclass(frozen=True)
class ReasoningTags:
    """How a final turn marks its reasoning before <answer>; the defaults are the Video-STAR paper's form.

    opened_by_template: the policy's chat template ends the generation prompt with `open` (thinking
    templates of the Qwen3 family write "<think>\\n", a reserved token), so a reply begins inside the
    reasoning and holds only `close`; a reply that writes `open` again is accepted too.
    """

    open: str = "<think>"
    close: str = "</think>"
    opened_by_template: bool = False

    def __post_init__(self) -> None:
        for name in ("open", "close"):
            tag = getattr(self, name)
            if not isinstance(tag, str) or not tag or tag != tag.strip():
                raise ValueError(f"ReasoningTags.{name} must be a non-empty tag without surrounding spaces, e.g. "
                                 f"{getattr(ReasoningTags, name)!r}; got {tag!r}")
            clash = next((r for r in _RESERVED if r in tag), None)
            if clash:
                raise ValueError(f"ReasoningTags.{name} {tag!r} contains the parser's own tag {clash}; "
                                 "choose another reasoning tag")
        if self.open == self.close:
            raise ValueError(f"ReasoningTags.open and .close must differ, both are {self.open!r}")
        if not isinstance(self.opened_by_template, bool):
            raise TypeError(f"ReasoningTags.opened_by_template must be True or False, got {self.opened_by_template!r}")

    def block(self, reasoning: str) -> str:
        """The reasoning as the policy writes it: open + reasoning + close, without open when the template wrote it."""
        return (reasoning if self.opened_by_template else self.open + reasoning) + self.close

    def prompt_note(self) -> str:
        """A line for the prompts when the template opens the reasoning ("" otherwise)."""
        if not self.opened_by_template:
            return ""
        return (f"Your reply begins inside your reasoning ({self.open} is already written for you): "
                f"write the reasoning directly and end it with {self.close}.\n")

    def reasoning(self, text: str) -> str | None:
        """The reasoning of a turn: inside open...close, or (template-opened) all before close; None if absent."""
        inside = re.search(f"{re.escape(self.open)}(.*?){re.escape(self.close)}", text, re.DOTALL)
        if inside:
            return inside.group(1)
        if self.opened_by_template and self.close in text:
            return text.split(self.close, 1)[0]
        return None

    def final_turn(self) -> re.Pattern[str]:
        """The whole of a well-formed final turn: the reasoning block, then <answer>...</answer>, nothing around.

        Template-opened, the reasoning may start with `open` but holds it nowhere else.
        """
        opening, close = re.escape(self.open), re.escape(self.close)
        reasoning = f"(?:{opening})?(?:(?!{opening}).)*?" if self.opened_by_template else f"{opening}.*?"
        return re.compile(rf"^\s*{reasoning}{close}\s*<answer>.*?</answer>\s*$", re.DOTALL)


REASONING_TAGS: dict[str, ReasoningTags] = {
    "paper": ReasoningTags(),  # Video-STAR, Video-STR: the policy writes <think>...</think>
    "qwen3": ReasoningTags(opened_by_template=True),  # Qwen3 thinking templates pre-fill "<think>\n"
}


def reasoning_tags(spec: Any = None) -> ReasoningTags:
    """ReasoningTags from None (the paper's), a preset name of REASONING_TAGS, a dict of its fields, or itself."""
    if spec is None:
        return REASONING_TAGS["paper"]
    if isinstance(spec, ReasoningTags):
        return spec
    if isinstance(spec, str):
        if spec not in REASONING_TAGS:
            raise ValueError(f"unknown reasoning form {spec!r}; presets: {sorted(REASONING_TAGS)}, or a dict "
                             "of ReasoningTags fields, e.g. {'open': '<reasoning>', 'close': '</reasoning>'}")
        return REASONING_TAGS[spec]
    if isinstance(spec, dict):
        known = [f.name for f in fields(ReasoningTags)]
        unknown = sorted(set(spec) - set(known))
        if unknown:
            raise ValueError(f"unknown reasoning options {unknown}; valid: {known}")
        return ReasoningTags(**spec)
    raise TypeError(f"reasoning must be a preset name {sorted(REASONING_TAGS)}, a dict of ReasoningTags fields or "
                    f"a ReasoningTags, got {spec!r}")


def names_something(text: str) -> bool:
    """Whether a text, its tags aside, holds a letter or digit of any script (not empty, blank or punctuation only)."""
    return _NAMED.search(_TAG.sub("", text)) is not None


@dataclass(frozen=True)
class Call:
    """One tool invocation."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCall:
    """A turn that calls tools (videostar turn 1 may choose none)."""

    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Answer:
    """A final turn. `labels` holds every distinct <answer> block; a valid answer has exactly one."""

    labels: tuple[str, ...]
    text: str

    @property
    def label(self) -> str | None:
        """The answered label, or None when the turn gave several."""
        return self.labels[0] if len(self.labels) == 1 else None

    @property
    def empty(self) -> bool:
        """Whether no <answer> block holds a letter or digit (empty, blank or punctuation only)."""
        return not any(map(names_something, self.labels))


@dataclass(frozen=True)
class Invalid:
    """A turn that could not be used; `reason` is written for the model to act on."""

    reason: str


Action = Union[ToolCall, Answer, Invalid]


def _answer(text: str) -> Answer | None:
    blocks = _ANSWER.findall(text)
    if not blocks:
        return None
    # Nested or stray tags inside the block (<answer><answer>x</answer></answer>) are dropped.
    labels = tuple(dict.fromkeys(_TAG.sub("", b).strip() for b in blocks))
    return Answer(labels, text)


def _hermes_calls(text: str) -> ToolCall | Invalid | None:
    if "<tool_call>" not in text:
        return None
    bodies = _TOOL_CALL.findall(text)
    if not bodies:  # an unclosed block, as when generation stopped early
        bodies = [text.split("<tool_call>", 1)[1]]
    calls = []
    for body in bodies:
        if body.lstrip().startswith("<function="):
            call = _xml_call(body)
            if isinstance(call, Invalid):
                return call
            calls.append(call)
            continue
        try:
            obj, _ = json.JSONDecoder().raw_decode(body.strip())
        except (ValueError, RecursionError) as exc:
            return Invalid(f"the text inside <tool_call> is not valid JSON ({exc}). Write "
                           '<tool_call>{"name": "<tool name>", "arguments": {...}}</tool_call>.')
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            return Invalid('a tool call must be a JSON object with a string "name" and an "arguments" object, e.g. '
                           '<tool_call>{"name": "pose_estimation", "arguments": {}}</tool_call>.')
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):  # OpenAI-style arguments serialised as a string
            try:
                args = json.loads(args) if args.strip() else {}
            except (ValueError, RecursionError):
                return Invalid(f'the "arguments" of {obj["name"]!r} is a string that is not JSON; give a JSON object.')
        if args is None:
            args = {}
        if not isinstance(args, dict):
            return Invalid(f'the "arguments" of {obj["name"]!r} must be a JSON object, not {type(args).__name__}.')
        calls.append(Call(obj["name"], args))
    return ToolCall(tuple(calls))


def _xml_call(body: str) -> Call | Invalid:
    """A call in the XML form Qwen3.5's and Qwen3-Coder's templates teach: <function=NAME> holding
    <parameter=KEY>VALUE</parameter> blocks; a value is read as JSON where it parses (numbers, lists), else as text."""
    match = _XML_FUNCTION.match(body.strip())
    if match is None:
        return Invalid("a tool call in the XML form must be <function=NAME> with <parameter=KEY>VALUE</parameter> "
                       "blocks and a closing </function>, e.g. <tool_call>\n<function=pose_estimation>\n"
                       "</function>\n</tool_call>.")
    body, arguments = match.group(2), {}
    if _XML_PARAMETER.sub("", body).strip():
        return Invalid(f"inside <function={match.group(1)}> write only <parameter=KEY>VALUE</parameter> blocks.")
    for key, value in _XML_PARAMETER.findall(body):
        if key in arguments:
            return Invalid(f"the parameter {key!r} of {match.group(1)!r} is given twice; give it once.")
        value = value.strip("\n")
        try:
            arguments[key] = json.loads(value)
        except (ValueError, RecursionError):
            arguments[key] = value
    return Call(match.group(1), arguments)


def _videostar_calls(text: str) -> ToolCall | None:
    decisions = _DECISION.findall(text)
    if not decisions:
        return None
    chosen = dict.fromkeys(DECISION_TAGS[tag.lower()] for tag, value in decisions if value.lower() == "yes")
    return ToolCall(tuple(Call(name) for name in chosen))


def parse(text: Any, fmt: str = "hermes", max_chars: int = MAX_ACTION_CHARS, bare_answers: bool = False,
          reasoning: ReasoningTags = ReasoningTags(), tools: bool = True, answer_form: str = ANSWER_FORM) -> Action:
    """Parse one policy turn. Never raises: anything unusable becomes Invalid with a reason.

    bare_answers: a turn with neither a tool call nor an <answer> block is the answer itself (the way
    benchmarks' own scripts read a reply), instead of Invalid. The Invalid hints show what this env takes:
    `reasoning`'s tags, the tool-call syntax only when it offers `tools`, and the task's `answer_form`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown action format {fmt!r}; choose one of {FORMATS}")
    finish = (f"reply with {answer_form} alone" if bare_answers
              else f"to finish write {reasoning.block('...')}<answer>{answer_form}</answer>")
    if not isinstance(text, str):
        return Invalid(f"an action must be text, got {type(text).__name__}.")
    if len(text) > max_chars:
        return Invalid(f"the turn is {len(text)} characters long; the limit is {max_chars}. Be more concise.")
    media = next((token for token in MEDIA_TOKENS if token in text), None)
    if media is not None:
        # named without its <| |> marks: written whole, the reply would hold the placeholder it refuses
        return Invalid(f"the turn contains the vision token {media.strip('<|>')}, which is reserved for the images "
                       f"and videos the environment sends; write text only: {finish}.")
    calls = _hermes_calls(text) if fmt == "hermes" else _videostar_calls(text)
    answer = _answer(text)
    if calls is not None and not tools:
        return Invalid(f"this environment offers no tools; {finish}.")
    if calls is not None and answer is not None:
        return Invalid("a turn must either call tools or give the final <answer>, not both.")
    if calls is not None:
        return calls
    if answer is not None:
        return answer
    if bare_answers and text.strip():
        return Answer((text.strip(),), text)
    if bare_answers or not tools:
        return Invalid(f"no answer found; {finish}.")
    if fmt == "hermes":
        how = '<tool_call>{"name": "<tool name>", "arguments": {...}}</tool_call>'
    else:
        how = "<pose_estimation>yes|no</pose_estimation><person_detection>yes|no</person_detection>" \
              "<video_explanation>yes|no</video_explanation><noun_explanation>yes|no</noun_explanation>"
    return Invalid(f"no tool call and no <answer> found. To use tools write {how}; {finish}.")


def empty_answer(answer_form: str = ANSWER_FORM, reasoning: ReasoningTags = ReasoningTags(),
                 bare_answers: bool = False) -> Invalid:
    """The reply to an answer that names nothing (Answer.empty): what to write instead."""
    how = (f"reply with {answer_form}" if bare_answers
           else f"write {answer_form} inside it: {reasoning.block('...')}<answer>{answer_form}</answer>")
    return Invalid(f"your answer is empty (no letter or digit in it); {how}.")


def tool_call(name: str, **arguments: Any) -> str:
    """A hermes-format turn calling one tool."""
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def tool_decisions(tools: Sequence[str], reasoning: str = "") -> str:
    """A videostar turn 1 choosing these tools (by tool name) and declining the rest."""
    unknown = set(tools) - set(DECISION_TAGS.values())
    if unknown:
        raise ValueError(f"the videostar format has no decision tag for {sorted(unknown)}")
    tags = "".join(f"<{tag}>{'yes' if tool in tools else 'no'}</{tag}>" for tag, tool in DECISION_TAGS.items())
    return f"<think>{reasoning or 'Choosing the tools that help identify the action.'}</think>\n{tags}"
