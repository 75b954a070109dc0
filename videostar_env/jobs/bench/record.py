"""One finished episode as a JSON row (results.jsonl) plus its images as JPEG bytes (media/)."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from typing import Any

import numpy as np
from PIL import Image

THUMB = 96  # side in pixels of each image in the report's contact sheets


def plain(value: Any) -> Any:
    """A JSON-ready copy: numpy scalars and arrays become Python numbers and lists."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):  # tuples are JSON arrays already
        return list(value)
    return repr(value)


def unbatch(batch: Any, i: int) -> Any:
    """Sub-env i's observation or info out of a Gymnasium vector env's batch (info keys masked by `_key`)."""
    if isinstance(batch, dict):
        return {k: unbatch(v, i) for k, v in batch.items()
                if not k.startswith("_") and (f"_{k}" not in batch or batch[f"_{k}"][i])}
    return batch[i]


def contact_sheet(images: list[np.ndarray], columns: int = 8) -> bytes:
    """Images as one JPEG grid of THUMB-pixel tiles."""
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    sheet = Image.new("RGB", (cols * THUMB, rows * THUMB), "white")
    for k, image in enumerate(images):
        tile = Image.fromarray(np.asarray(image, np.uint8)).resize((THUMB, THUMB))
        sheet.paste(tile, ((k % columns) * THUMB, (k // columns) * THUMB))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=80)
    return out.getvalue()


def _message_text(message: dict[str, Any]) -> tuple[str, list[np.ndarray]]:
    texts, images = [], []
    for item in message["content"]:
        if item["type"] == "text":
            texts.append(item["text"])
        elif item["type"] == "image":
            images.append(item["image"])
    return "\n".join(texts), images


def episode_record(key: str, part: str, episode: int, seed: int, index: int, info: dict[str, Any],
                   invalid_turns: int, truncated: bool, seconds: float,
                   task_fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The results row of a finished episode (from its last info and the task's fields) and its media by name."""
    stem = key.replace("/", "-")
    media: dict[str, bytes] = {}
    trajectory = []
    for message in info["messages"]:
        text, images = _message_text(message)
        turn: dict[str, Any] = {"role": message["role"], "text": text}
        if message.get("name"):
            turn["name"] = message["name"]
        videos = [c for c in message["content"] if c["type"] == "video"]
        if videos:  # the prompt's sampled frames, or the clips a tool returned (a strip of its own per turn)
            name = f"media/{stem}-" + (f"tool{len(trajectory)}-clip.jpg" if message["role"] == "tool" else "frames.jpg")
            media[name] = contact_sheet([frame for video in videos for frame in video["video"]])
            turn["video"], turn["timestamps"] = name, [round(float(t), 2) for v in videos for t in v["timestamps"]]
        if images:
            name = f"media/{stem}-tool{len(trajectory)}.jpg"
            media[name] = contact_sheet(images)
            turn["images"], turn["num_images"] = name, len(images)
        trajectory.append(turn)
    results = info["tool_results"]
    reward = {k: float(v) for k, v in info["reward"].items()}
    row = {
        "key": key, "part": part, "episode": episode, "seed": seed, "index": index,
        "sample_id": info["sample_id"], "dataset": info["dataset"], "video": info["video"],
        **task_fields, "reward": reward,
        "turns": int(info["turn"]), "tool_calls": dict(Counter(r["name"] for r in results)),
        "tool_errors": dict(Counter(r["name"] for r in results if not r["ok"])),
        "tool_cached": sum(bool(r.get("cached")) for r in results),
        "invalid_turns": int(invalid_turns), "truncated": bool(truncated), "seconds": round(float(seconds), 4),
        "trajectory": trajectory,
    }
    return plain(row), media
