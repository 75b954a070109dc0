"""QwenVLAgent: any image-text-to-text chat model through transformers' Auto classes.

Qwen2.5-VL (base, SFT, RL, GD-ML/Video-STAR-{3B,7B}), Qwen3-VL (Instruct and Thinking) and other
image-text-to-text chat models load with `AutoProcessor` and `AutoModelForImageTextToText`; the
chat goes through the checkpoint's own chat template.

Frame timing, per family:
- a processor with a video processor (Qwen2.5-VL, Qwen3-VL, ...) gets the env's sampled frames as
  one video (do_sample_frames=False) with their metadata (source fps, total frames, sampled
  indices), so the model sees exactly the frames the env and its tools saw, at their true times.
  Without metadata transformers assumes 24 fps: Qwen2.5-VL then spaces the frames wrongly in its
  rotary positions, Qwen3-VL writes wrong `<t seconds>` stamps into the text;
- a processor without one (e.g. LLaVA) gets the frames as images after a line of text giving each
  frame's time in seconds.

`min_pixels` / `max_pixels` bound each frame's (and tool image's) pixels for Qwen-VL processors;
None keeps the checkpoint's settings. The action format is the env's: `hermes` for base models
(tool schemas are in the env's system prompt), `videostar` for the released Video-STAR checkpoints.
`reasoning` says how the template leaves the reply's reasoning: "qwen3" when its generation prompt
pre-fills `<think>` (Qwen3-VL Thinking: the reply starts inside the thought), else "paper".
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from PIL import Image

from .messages import QwenChat, qwen_chat


class QwenVLAgent:
    """An image-text-to-text chat model (Qwen2.5-VL, Qwen3-VL, ...) run locally with transformers."""

    name = "qwen-vl"

    def __init__(self, model: str, seed: int = 0, device: str = "auto", dtype: str = "auto",
                 max_new_tokens: int = 1024, temperature: float = 0.0, top_p: float = 1.0, top_k: int | None = None,
                 min_pixels: int | None = None, max_pixels: int | None = None,
                 attn_implementation: str | None = None):
        """model: a local folder or hub id; device: auto (cuda when there is one), cpu, cuda, cuda:1...;
        dtype: auto (the checkpoint's), bfloat16, float16 or float32; temperature 0 decodes greedily."""
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.seed = seed
        self.processor = AutoProcessor.from_pretrained(model)
        if not hasattr(self.processor, "image_processor"):
            raise ValueError(f"{model} has no image processor ({type(self.processor).__name__}): the qwen-vl agent "
                             f"needs an image-text-to-text chat model, e.g. Qwen/Qwen2.5-VL-7B-Instruct")
        self.processor.tokenizer.padding_side = "left"  # batched generation continues every row from its end
        self.video_processor = getattr(self.processor, "video_processor", None)
        kwargs: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        self.model = AutoModelForImageTextToText.from_pretrained(model, **kwargs).to(self.device).eval()
        self.generation = {"max_new_tokens": max_new_tokens, "do_sample": temperature > 0}
        if temperature > 0:
            self.generation.update(temperature=temperature, top_p=top_p, **({"top_k": top_k} if top_k else {}))
        self.pixels = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        if self.pixels and not _takes(self.processor.image_processor, "min_pixels"):
            raise ValueError(f"min_pixels / max_pixels apply to Qwen-VL processors; {model}'s "
                             f"{type(self.processor.image_processor).__name__} sizes images by its own settings: "
                             f"leave them out")
        self.reasoning = template_reasoning(self.processor)
        self._stop_ids = _stop_ids(self.processor.tokenizer, self.model.generation_config)
        self._episode_seed: int | None = None
        self.last_inputs: dict[str, Any] | None = None  # the latest model inputs, for inspection and tests

    def reset(self, seed: int | None = None) -> None:
        """Remember the episode seed: sampling in each turn is seeded from it."""
        self._episode_seed = seed

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The model's next turn given the whole chat so far."""
        return self.act_batch([observation], [info])[0]

    def act_batch(self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]) -> list[str]:
        """One generate call for several episodes (left-padded), e.g. the sub-envs of a vector env."""
        import torch
        from transformers import set_seed

        chats = [qwen_chat(info["messages"]) for info in infos]
        inputs = self.inputs(chats)
        if self.generation["do_sample"] and self._episode_seed is not None:
            set_seed(self._episode_seed * 1000 + int(infos[0]["turn"]))
        with torch.inference_mode():
            output = self.model.generate(**inputs, **self.generation)
        return self.decode(output[:, inputs["input_ids"].shape[1]:].tolist())

    def decode(self, rows: Sequence[Sequence[int]]) -> list[str]:
        """Generated token ids as text, cut at the first end token; other tokens, special or not, are kept.

        `<think>` / `</think>` survive even where a tokenizer marks them special (skip_special_tokens would drop them).
        """
        texts = []
        for row in rows:
            ends = [k for k, token in enumerate(row) if token in self._stop_ids]
            kept = row[:ends[0]] if ends else row
            texts.append(self.processor.tokenizer.decode(kept, skip_special_tokens=False).strip())
        return texts

    def inputs(self, chats: list[QwenChat]) -> dict[str, Any]:
        """Processor outputs (token ids, pixel values, grids, frame timing) for a batch of chats."""
        if self.video_processor is None:
            chats = [frames_as_images(c) for c in chats]
        texts = [self.processor.apply_chat_template(c.messages, tokenize=False, add_generation_prompt=True)
                 for c in chats]
        videos = [v for c in chats for v in c.videos]
        images = [i for c in chats for i in c.images]
        kwargs: dict[str, Any] = self._pixel_bounds(videos)
        if videos:
            kwargs.update(videos=videos, video_metadata=[m for c in chats for m in c.video_metadata],
                          do_sample_frames=False)
        if images:
            kwargs["images"] = images
        inputs = self.processor(text=texts, padding=True, return_tensors="pt", **kwargs).to(self.device)
        self.last_inputs = inputs
        return inputs

    def _pixel_bounds(self, videos: list[np.ndarray]) -> dict[str, Any]:
        """min_pixels / max_pixels as the `size` (pixel area bounds) each of the processor's parts takes."""
        if not self.pixels:
            return {}
        # Qwen-VL processors read min_pixels / max_pixels only when both are given; a `size` applies either alone.
        bounds = {"shortest_edge": self.pixels.get("min_pixels"), "longest_edge": self.pixels.get("max_pixels")}

        def size(processor: Any, frames: int = 1) -> dict[str, Any]:
            own = {edge: getattr(processor.size, edge) for edge in bounds}
            return {"size": {**own, **{edge: v * frames for edge, v in bounds.items() if v is not None}}}

        kwargs = {"images_kwargs": size(self.processor.image_processor)}
        if videos:
            frames = 1
            if not _takes(self.video_processor, "min_pixels"):
                # Qwen3-VL's video processor bounds all the frames of a video together, counted in whole temporal
                # patches; one size serves the batch, so the longest video sets it.
                step = getattr(self.video_processor, "temporal_patch_size", 1)
                frames = max(math.ceil(len(v) / step) * step for v in videos)
            kwargs["videos_kwargs"] = size(self.video_processor, frames)
        return kwargs


def _takes(processor: Any, key: str) -> bool:
    """Whether an image or video processor accepts the keyword argument key."""
    valid = getattr(processor, "valid_kwargs", None)
    return valid is not None and key in getattr(valid, "__annotations__", {})


def _stop_ids(tokenizer: Any, generation_config: Any) -> set[int]:
    """Token ids that end a reply: the generation config's eos ids (end of turn), the tokenizer's eos and pad."""
    ids = generation_config.eos_token_id
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids])
    ids |= {tokenizer.eos_token_id, tokenizer.pad_token_id, generation_config.pad_token_id}
    return {i for i in ids if i is not None}


def template_reasoning(processor: Any) -> str:
    """"qwen3" when the chat template's generation prompt pre-fills `<think>` (a Thinking template), else "paper"."""
    probe = [{"role": "user", "content": [{"type": "text", "text": "?"}]}]
    bare = processor.apply_chat_template(probe, tokenize=False, add_generation_prompt=False)
    prompt = processor.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    return "qwen3" if prompt[len(bare):].rstrip().endswith("<think>") else "paper"


def frames_as_images(chat: QwenChat) -> QwenChat:
    """The chat with each video turned into a line giving its frames' times, then the frames as images."""
    out = QwenChat()
    for message in chat.messages:
        content = []
        for part in message["content"]:
            if part["type"] == "video":
                frames, metadata = part["video"]
                times = ", ".join(f"{i / metadata['fps']:.1f}s" for i in metadata["frames_indices"])
                content.append({"type": "text", "text": f"The video, as {len(frames)} frames at {times}:"})
                for frame in frames:
                    image = Image.fromarray(frame)
                    out.images.append(image)
                    content.append({"type": "image", "image": image})
            elif part["type"] == "image":
                out.images.append(part["image"])
                content.append(part)
            else:
                content.append(part)
        out.messages.append({"role": message["role"], "content": content})
    return out
