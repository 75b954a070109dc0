"""The wire format of the env server: spaces, observations and info as JSON, images as PNG or raw bytes.

Images travel as base64 PNG (lossless, readable by any language's image library; mostly-blank tool
frames shrink to a few hundred bytes) or, when the client asks for "raw", as the array's C-order
bytes in base64 with its shape and dtype (no codec on either side). Both decode to the same uint8
arrays the in-process env returns.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
from gymnasium import spaces
from PIL import Image

ENCODINGS = ("png", "raw")


class WireError(ValueError):
    """A value that cannot travel in the server's JSON (an unknown encoding, space kind or malformed array)."""


def encode_images(images: np.ndarray, encoding: str, memo: dict[int, tuple[bytes, str]] | None = None) -> dict[str, Any]:
    """A (count, H, W, 3) uint8 stack as JSON: {"encoding", "shape", "dtype", "data"}; memo reuses the PNGs of
    images identical to the last ones in the same slot (the clip's frames stay the same all episode)."""
    images = np.ascontiguousarray(images)
    head = {"encoding": encoding, "shape": list(images.shape), "dtype": str(images.dtype)}
    if encoding == "raw":
        return {**head, "data": base64.b64encode(images.tobytes()).decode("ascii")}
    if encoding != "png":
        raise WireError(f"image encoding must be one of {ENCODINGS}, got {encoding!r}")
    pngs = []
    for slot, image in enumerate(images):
        raw = image.tobytes()
        if memo is not None and slot in memo and memo[slot][0] == raw:
            pngs.append(memo[slot][1])
            continue
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", compress_level=1)  # level 1: ~5x faster, a little larger
        text = base64.b64encode(buffer.getvalue()).decode("ascii")
        if memo is not None:
            memo[slot] = (raw, text)
        pngs.append(text)
    return {**head, "data": pngs}


def decode_images(value: dict[str, Any], memo: dict[int, tuple[str, np.ndarray]] | None = None) -> np.ndarray:
    """The uint8 array `encode_images` described; memo reuses the decoded image of a slot whose PNG is the same as
    last time (a step resends the episode's frames: decoded once per episode)."""
    try:
        shape, dtype, data, encoding = tuple(value["shape"]), np.dtype(value["dtype"]), value["data"], value["encoding"]
    except (KeyError, TypeError) as exc:
        raise WireError(f"an encoded image stack needs encoding, shape, dtype and data; got keys {sorted(value)}") from exc
    if encoding == "raw":
        return np.frombuffer(base64.b64decode(data), dtype).reshape(shape).copy()
    if encoding != "png":
        raise WireError(f"unknown image encoding {encoding!r}; expected one of {ENCODINGS}")
    out = np.zeros(shape, dtype)
    for k, text in enumerate(data):
        if memo is not None and k in memo and memo[k][0] == text:
            out[k] = memo[k][1]
            continue
        out[k] = np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))
        if memo is not None:
            memo[k] = (text, out[k].copy())
    return out


def encode_observation(obs: dict[str, Any], encoding: str, memo: dict[str, dict] | None = None) -> dict[str, Any]:
    """An observation as JSON: image arrays encoded, numbers and text as they are."""
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if isinstance(value, np.ndarray) and value.ndim == 4:
            out[key] = encode_images(value, encoding, None if memo is None else memo.setdefault(key, {}))
        else:
            out[key] = json_safe(value)
    return out


def decode_observation(obs: dict[str, Any], memo: dict[str, dict] | None = None) -> dict[str, Any]:
    """The observation `encode_observation` wrote, with its image stacks as arrays again (memo: see decode_images)."""
    return {key: decode_images(value, None if memo is None else memo.setdefault(key, {}))
            if isinstance(value, dict) and "encoding" in value else value for key, value in obs.items()}


def json_safe(value: Any) -> Any:
    """A JSON-safe copy: numpy numbers as Python ones, tuples as lists, arrays as a note of their shape (the images
    are in the observation), anything else as its type's name rather than its repr (a repr may hold a secret)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"omitted": "array", "shape": list(value.shape), "dtype": str(value.dtype)}
    return {"omitted": type(value).__name__}


def to_json(value: Any) -> bytes:
    """value as compact JSON bytes, numpy values and arrays as json_safe writes them: json's own walk, in C, with
    json_safe only for what it cannot take (a key that is no str or number), which is slower (~3 ms a step)."""
    try:
        return json.dumps(value, separators=(",", ":"), default=_wire_default).encode()
    except TypeError:
        return json.dumps(json_safe(value), separators=(",", ":")).encode()


def _wire_default(value: Any) -> Any:
    return json_safe(value) if isinstance(value, (np.generic, np.ndarray)) else {"omitted": type(value).__name__}


def describe_space(space: spaces.Space) -> dict[str, Any]:
    """A space as JSON (Dict, Box, Discrete, Text): what a client needs to build the same space."""
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: describe_space(s) for k, s in space.spaces.items()}}
    if isinstance(space, spaces.Box):
        # min and max, not np.unique: the bounds are as large as the images (unique sorts them: 10+ ms).
        low, high = space.low.min().item(), space.high.min().item()
        if space.low.max() != low or space.high.max() != high:
            raise WireError("only Boxes with one low and one high bound travel as JSON")
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype), "low": low, "high": high}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Text):
        return {"type": "Text", "min_length": space.min_length, "max_length": space.max_length,
                "charset": space.characters}
    raise WireError(f"space {type(space).__name__} has no JSON description")


def build_space(description: dict[str, Any]) -> spaces.Space:
    """The space `describe_space` described."""
    kind = description.get("type")
    if kind == "Dict":
        return spaces.Dict({k: build_space(v) for k, v in description["spaces"].items()})
    if kind == "Box":
        return spaces.Box(description["low"], description["high"], tuple(description["shape"]),
                          np.dtype(description["dtype"]))
    if kind == "Discrete":
        return spaces.Discrete(description["n"], start=description.get("start", 0))
    if kind == "Text":
        return spaces.Text(max_length=description["max_length"], min_length=description["min_length"],
                           charset=description["charset"])
    raise WireError(f"unknown space type {kind!r} in the server's reply")
