"""Scripted baselines for spatio-temporal questions: one that reads the relation_graph tool, one that guesses.

The graph reader reads the question's wording (the templates of data/scene_questions.py) and the
tool's output only, never the ground truth: with the noise-free oracle backend it answers every
question type exactly, and its accuracy falls as the oracle's noise rises.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import numpy as np

from videostar_env import tool_call
from videostar_env.datasets.scenes import questions as geometry

_AT = re.compile(r"At (\d+(?:\.\d+)?)s")


def _question(info: dict[str, Any]) -> str:
    user = next(m for m in info["messages"] if m["role"] == "user")  # official prompts come without a system one
    return next(part["text"] for part in user["content"] if part["type"] == "text")


def _options(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-D])\. (.+)$", text, re.MULTILINE))


def _final(graph: dict[str, Any] | None, reasoning: str, value: Any) -> str:
    block = json.dumps(graph if graph is not None else {"units": "metres", "frames": []})
    return f"<think>\n<graph>{block}</graph>\n{reasoning}\n</think>\n<answer>{value}</answer>"


class GraphReaderAgent:
    """Calls relation_graph (at the time the question names, if any), then answers from the graph and motion."""

    name = "graph-reader"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the plan follows from info."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Call the tool once, then answer."""
        text = _question(info)
        done = [r for r in info["tool_results"] if r["name"] == "relation_graph" and r["ok"]]
        offered = {t["function"]["name"] for t in info["tools"]}
        if not done and "relation_graph" in offered and not any(r["name"] == "relation_graph" for r in info["tool_results"]):
            at = _AT.search(text)
            return tool_call("relation_graph", **({"times": [float(at.group(1))]} if at else {}))
        if not done:
            return _final(None, "The relation graph could not be built.", self._fallback(text))
        data = done[-1]["data"]
        try:
            value = answer_from_tool(text, data["graph"], data["motion"])
        except (KeyError, IndexError, TypeError, ValueError):  # an object the (noisy) tool missed
            value = None
        return _final(data["graph"], "Read from the relation graph and the tracks.",
                      value if value is not None else self._fallback(text))

    def _fallback(self, text: str) -> str:
        options = _options(text)
        return next(iter(options)) if options else "1"


class GuessAgent:
    """Answers at once without tools: a random option, or a random number of the right size (the chance baseline)."""

    name = "guess"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: guesses depend on the agent seed and the video only."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """One guess, with an empty graph."""
        rng = np.random.default_rng([self.seed, zlib.crc32(info["sample_id"].encode())])
        options = _options(_question(info))
        value = rng.choice(sorted(options)) if options else round(float(rng.uniform(0.5, 5.0)), 1)
        return _final(None, "Guessing.", value)


def answer_from_tool(text: str, graph: dict[str, Any], motion: dict[str, dict[str, Any]]) -> Any:
    """The answer the relation_graph tool's output implies for a question's wording, or None."""
    options = _options(text)
    by_label = {m["label"]: m for m in motion.values()}
    frame = graph["frames"][0] if graph.get("frames") else {"nodes": []}
    at = {n["label"]: n["position"] for n in frame["nodes"]}

    def letter(option: str) -> str | None:
        return next((k for k, v in options.items() if v == option), None)

    if m := re.search(r"How many (\w+)s appear", text):  # "objects", or a shape: "cubes"
        return sum(m.group(1) in ("object", label.split()[-1]) for label in by_label)
    if m := re.search(r"stand at the (.+?) facing the (.+?), where is the (.+?)\?", text):
        return letter(geometry.direction_of(at[m.group(1)], at[m.group(2)], at[m.group(3)])[0])
    if m := re.search(r"which object is closest to the (.+?)\?", text):
        return letter(geometry.closest(at, m.group(1))[0])
    if m := re.search(r"distance between the centres of the (.+?) and the (.+?), in metres", text):
        return round(geometry.distance(at[m.group(1)], at[m.group(2)]), 2)
    if m := re.search(r"longest dimension .* of the (.+?), in centimetres", text):
        size = by_label[m.group(1)].get("size")
        return round(max(size) * 100, 1) if size else None
    if m := re.search(r"How far is the (.+?) at the end", text):
        return by_label[m.group(1)]["displacement"]
    if m := re.search(r"How many metres does the (.+?) travel", text):
        return by_label[m.group(1)]["path_length"]
    if m := re.search(r"average speed of the (.+?) over", text):
        return by_label[m.group(1)]["speed"]
    if m := re.search(r"first appear in the video: (.+?)\?", text):
        objects = sorted(m.group(1).split(", "), key=lambda label: by_label[label]["first_seen"])
        return letter(", ".join(objects))
    if "is the last to appear" in text:
        return letter(max(options.values(), key=lambda label: by_label[label]["first_seen"]))
    if m := re.search(r"direction does the (.+?) move overall", text):
        track = by_label[m.group(1)]
        return letter(geometry.motion_direction(track["start"], track["end"])[0])
    return None
