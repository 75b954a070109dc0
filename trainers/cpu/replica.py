"""Generation on the CPU behind the exact interface of verl's vLLM server: transformers' `generate`.

verl's agent loop reaches its rollout server through LLMServerClient -> GlobalRequestLoadBalancer -> a replica's
`generate(prompt_ids, sampling_params, request_id, image_data, video_data, ...)`, returning a TokenOutput. This
replica takes the same keywords as verl 0.9.1's vLLMHttpServer.generate (tests/test_cpu_training.py checks the
signature against verl's source), turns the media into the model's inputs with verl's own processor helper (as
verl does for the trainer's forward pass), samples with the request's temperature, top-p, top-k and logit bias,
and returns the sampled tokens with their log-probs under the sampling temperature (what the actor recomputes).
The trainer hands it the actor's weights after every update (`load_weights`).
"""

from __future__ import annotations

import asyncio
import inspect
import zlib
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
from verl.utils.tokenizer import build_multimodal_processor_inputs, get_processor_token_id
from verl.workers.rollout.replica import TokenOutput

from videostar_trainers.cpu.shims import original_forwards


class HFReplica:
    """One rollout replica: a transformers copy of the policy that generates token in, token out.

    path: the checkpoint; processor: verl's hf_processor of it; prompt_length, response_length: the rollout
    config's budgets (max_tokens defaults to what fits, as vLLM's server computes it); seed: the base of each
    request's sampling seed (it also depends on the prompt and how many requests had that prompt before, so a
    group's rollouts differ and concurrent episodes stay reproducible);
    choices: constrained decoding, a function of (request id, the prompt as text) returning the turns allowed
    there, or None for free sampling. A constrained turn is decoded token by token from the policy's next-token
    distribution restricted to the tokens that continue an allowed turn; its tokens carry their log-probs under
    the unrestricted policy, which is what the trainer recomputes and updates.
    """

    def __init__(self, path: str, processor: Any, prompt_length: int, response_length: int, seed: int = 0,
                 choices: Optional[Callable[[str, str], Optional[Sequence[str]]]] = None):
        from transformers import AutoModelForImageTextToText

        with original_forwards():
            self.model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32,
                                                                     attn_implementation="sdpa").eval()
        self.processor, self.tokenizer = processor, processor.tokenizer
        self.prompt_length, self.response_length, self.seed = prompt_length, response_length, seed
        self.media_ids = {i for i in (get_processor_token_id(processor, "image"),
                                      get_processor_token_id(processor, "video")) if i is not None}
        self.stop_ids = [i for i in {self.tokenizer.eos_token_id,
                                     self.tokenizer.convert_tokens_to_ids("<|im_end|>")} if i is not None]
        self.end_of_turn = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.choices = choices
        self.lock = asyncio.Lock()
        self.requests = 0
        self.seen: dict[int, int] = {}  # requests per prompt (crc32 of its tokens)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> int:
        """Copy the trainer's parameters (HF names, as verl's engine exports them) in; returns how many."""
        state = self.model.state_dict()
        count = 0
        with torch.no_grad():
            for name, tensor in weights:
                if name not in state:
                    raise KeyError(f"the trainer sent {name!r}, which the rollout model does not have")
                state[name].copy_(tensor.detach().to(state[name].dtype))
                count += 1
        return count

    async def generate(self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str,
                       image_data: Optional[list[Any]] = None, video_data: Optional[list[Any]] = None,
                       audio_data: Optional[list[Any]] = None, mm_processor_kwargs: Optional[dict[str, Any]] = None,
                       priority: int = 0, kv_transfer_params: Optional[dict] = None) -> TokenOutput:
        """verl's vLLM server `generate`, run by transformers on the CPU (one request at a time)."""
        if audio_data:
            raise ValueError("the CPU replica takes images and videos, not audio")
        async with self.lock:
            return await asyncio.to_thread(self._generate, request_id, list(prompt_ids), dict(sampling_params),
                                           image_data, video_data, mm_processor_kwargs or {})

    def _generate(self, request_id: str, prompt_ids: list[int], params: dict[str, Any], images: Any, videos: Any,
                  mm_kwargs: dict[str, Any]) -> TokenOutput:
        room = self.prompt_length + self.response_length - len(prompt_ids)
        max_tokens = params.pop("max_tokens", params.pop("max_new_tokens", min(self.response_length, room)))
        max_tokens = max(1, int(max_tokens))
        temperature = float(params.get("temperature", 1.0))
        inputs = self._inputs(prompt_ids, images, videos, mm_kwargs)
        bias = {int(k): float(v) for k, v in (params.get("logit_bias") or {}).items()}
        top_k = int(params.get("top_k", -1))
        kwargs: dict[str, Any] = dict(max_new_tokens=max_tokens, do_sample=temperature > 0, output_logits=True,
                                      return_dict_in_generate=True, eos_token_id=self.stop_ids,
                                      pad_token_id=self.tokenizer.pad_token_id)
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)),
                          top_k=top_k if top_k > 0 else None)
        if bias:
            kwargs["sequence_bias"] = {(token,): value for token, value in bias.items()}
        # The k-th request with this prompt draws with seed (base, prompt, k): the rollouts of a group share their
        # first prompt and must differ, and the group's draws stay the same from run to run.
        key = zlib.crc32(torch.tensor(prompt_ids).numpy().tobytes())
        self.seen[key] = self.seen.get(key, 0) + 1
        torch.manual_seed(hash((self.seed, key, self.seen[key])) % 2**63)
        allowed = self.choices(request_id, self.tokenizer.decode(prompt_ids)) if self.choices else None
        if allowed:
            self.requests += 1
            return self._choose(inputs, [self._turn_ids(t) for t in allowed], temperature)
        with original_forwards(), torch.no_grad():
            out = self.model.generate(**inputs, **kwargs)
        self.requests += 1
        tokens = out.sequences[0, len(prompt_ids):].tolist()
        logits = torch.stack(out.logits, 1)[0].float()  # raw logits, before bias and sampling filters
        scale = temperature if temperature > 0 else 1.0
        logprobs = torch.log_softmax(logits / scale, -1).gather(-1, torch.tensor(tokens)[:, None])[:, 0]
        return TokenOutput(token_ids=tokens, log_probs=logprobs.tolist(), stop_reason="completed")

    def _turn_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False) + [self.end_of_turn]

    def _choose(self, inputs: dict[str, Any], turns: list[list[int]], temperature: float) -> TokenOutput:
        """One of the allowed turns, decoded token by token with the policy's next-token distribution restricted
        to the tokens that continue an allowed turn; returned with its tokens' log-probs under the policy."""
        scale = temperature if temperature > 0 else 1.0
        chosen: list[int] = []
        while True:
            open_turns = [t for t in turns if t[:len(chosen)] == chosen and len(t) > len(chosen)]
            if not open_turns:
                break
            options = sorted({t[len(chosen)] for t in open_turns})
            if len(options) == 1:
                chosen.append(options[0])
                continue
            logits = self._next_logits(inputs, chosen)[options] / scale
            pick = int(torch.multinomial(torch.softmax(logits, 0), 1)) if temperature > 0 else int(logits.argmax())
            chosen.append(options[pick])
        return TokenOutput(token_ids=chosen, log_probs=self.turn_logprobs(inputs, chosen, scale).tolist(),
                           stop_reason="completed")

    def _next_logits(self, inputs: dict[str, Any], prefix: list[int]) -> torch.Tensor:
        full = self._extended(inputs, prefix)
        with original_forwards(), torch.no_grad():
            return self.model(**full).logits[0, -1].float()

    def _extended(self, inputs: dict[str, Any], turn: list[int]) -> dict[str, Any]:
        """The inputs with the turn's tokens after the prompt."""
        ids = torch.cat([inputs["input_ids"], torch.tensor([turn], dtype=torch.long)], 1)
        full = {**inputs, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if "mm_token_type_ids" in inputs:
            types = inputs["mm_token_type_ids"]
            full["mm_token_type_ids"] = torch.cat([types, torch.zeros(1, len(turn), dtype=types.dtype)], 1)
        return full

    def turn_logprobs(self, inputs: dict[str, Any], turn: list[int], temperature: float = 1.0) -> torch.Tensor:
        """The log-prob of each token of a turn after the prompt in inputs, at the temperature (one forward pass)."""
        with original_forwards(), torch.no_grad():
            logits = self.model(**self._extended(inputs, turn)).logits[0, inputs["input_ids"].shape[1] - 1:-1]
        return torch.log_softmax(logits.float() / temperature, -1).gather(-1, torch.tensor(turn)[:, None])[:, 0]

    def _inputs(self, prompt_ids: list[int], images: Any, videos: Any, mm_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The model's inputs: the prompt tokens as given, the media's features made by verl's processor helper
        (from one placeholder per medium: re-encoding the prompt's text could split the policy's tokens otherwise)."""
        input_ids = torch.tensor([prompt_ids])
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        if not images and not videos:
            return inputs
        image_id, video_id = (get_processor_token_id(self.processor, kind) for kind in ("image", "video"))
        text = (self.tokenizer.convert_ids_to_tokens(image_id) * len(images or ())
                + self.tokenizer.convert_ids_to_tokens(video_id) * len(videos or ()))
        media = build_multimodal_processor_inputs(self.processor, text=[text], images=images or None,
                                                  videos=videos or None, mm_processor_kwargs=mm_kwargs)
        expanded = media["input_ids"][0].tolist()
        for token in (image_id, video_id):
            if expanded.count(token) != prompt_ids.count(token):
                raise ValueError(f"the request's media make {expanded.count(token)} placeholder tokens "
                                 f"{self.tokenizer.convert_ids_to_tokens(token)} and its prompt has "
                                 f"{prompt_ids.count(token)}: the loop and the replica disagree on the media's sizes")
        for key, value in dict(media.convert_to_tensors("pt")).items():
            if key not in ("input_ids", "attention_mask", "mm_token_type_ids"):
                inputs[key] = value
        if "mm_token_type_ids" in _forward_parameters(self.model):  # Qwen3-VL's generate needs it, Qwen2.5-VL's refuses it
            types = torch.zeros_like(input_ids)
            types[input_ids == image_id], types[input_ids == video_id] = 1, 2
            inputs["mm_token_type_ids"] = types
        return inputs


def _forward_parameters(model: Any) -> set[str]:
    with original_forwards():
        return set(inspect.signature(type(model).forward).parameters)

