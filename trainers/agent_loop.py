"""verl agent loop: each rollout sample plays one env episode (any task) against the policy being trained.

The first prompt is the env's first observation (system prompt with the tool schemas, the
sampled frames as a video with their timing metadata, the question), rendered by the policy's
processor; then generate -> env.step -> the env's new messages (tool text and images) appended
-> generate ... until the env ends the episode or the response budget is spent. The env's total
reward is the sample's reward_score; its breakdown (the task's own terms: accuracy, format, tool,
... for action recognition; format, answer, node, edge, ... for spatio-temporal questions) goes to
extra_fields["reward_extra_info"], which verl logs. verl stacks those keys over a batch, so one
training set should hold rows of one task.

Tokens. The sequence is built turn by turn with verl's continuous-token helpers (ct_*): the
policy's sampled tokens are appended as they are (mask 1, its end-of-turn token included), the
env's turns are rendered by the processor and appended (mask 0), and the newline the chat
template writes after an end-of-turn token is inserted as the env's (mask 0), so each request's
prompt extends the previous one and holds exactly what the policy saw (verl #6501 dropped that
newline). For the same final conversation this equals the processor's rendering
(apply_chat_template + processor on the same frames and images), except where written here:
- the rendering ends with the template's newline after the last end-of-turn token; the sequence
  ends at that token, the policy's last (nothing follows it to train);
- a template that rewrites earlier assistant turns renders them differently: Qwen3 Thinking
  writes a turn before the last user query without its reasoning and without the `<think>\n` its
  generation prompt had given. The sequence keeps each turn as the policy wrote it after the
  prompt it was given (token in, token out), which is what the rollout's log-probs belong to;
- a turn that stopped without its end-of-turn token (a length or stop limit, or eos) is closed
  by the loop with one (mask 0), as the template writes it, before the env's turn;
- the policy's own tokens are kept: re-encoding its text may split it differently (BPE merges).

The policy's turn reaches the env as the policy wrote it: every token decoded, special or not
(a tokenizer that marks `<think>` special would lose it to skip_special_tokens), only pad, eos
and end-of-turn tokens left out.

Media. multi_modal_data holds the prompt's video, every clip a tool returned (video_clip) and every
tool image kept in the sequence, videos and images each in the order of their placeholders, each
video with its own metadata (fps, source frame indices, and the source frames it was drawn from, so
that Qwen2.5-VL's second_per_grid_ts and Qwen3-VL's timestamps follow the clip's own times; see
agents/messages.py video_metadata). Every request carries all the videos and tool images so far
(slime #1847: later turns lost their images). verl's server client hands them to the back-end named
by actor_rollout_ref.rollout.name: vLLM takes the frames with their metadata; SGLang cannot take
raw frames, so the loop also passes the processor's features of all the videos (mm_processor_output,
computed again when a turn returns clips), which the client sends to SGLang as its video_data. (A Qwen3-VL video on vLLM: verl 0.9.1's vLLM server
collapses every placeholder run, leaving one per frame group of the one video, verl #5024.) An env
turn that does not fit in the response budget is left out whole, so no image is cut from its
placeholders.

Registered for verl through trainers/config/agent_loop.yaml (name: videostar_agent). Rows of
`videostar verl-data` name the env id (extra_info.env_id, which wins over the YAML's env_id),
the dataset and the task options (which win over the YAML's env_kwargs), the sample
(extra_info.sample_index) and the episode seed.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Sequence
from uuid import uuid4

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf
from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput
from verl.utils.tokenizer.tokenizer import build_multimodal_processor_inputs

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents.messages import qwen_chat
from videostar_env.actions import MEDIA_TOKENS
from videostar_env.errors import warn
from videostar_trainers.env_pool import NICE, EnvPool, load_models
from videostar_trainers.process import tuned
from videostar_trainers.verl_fixes import pass_second_per_grid

END_OF_TURN = "<|im_end|>"  # ChatML's, which every Qwen template closes a turn with
# A vision token sampled in a policy turn leaves verl's postprocess (get_rope_index) with more placeholders than
# media: "coroutine raised StopIteration" kills the whole rollout (verl 0.9.1). They are banned when sampling.
BANNED = -100.0  # vLLM clamps a logit bias to [-100, 100]: the strongest ban it takes


def media_token_ids(tokenizer: Any) -> list[int]:
    """The ids of the vision tokens this tokenizer has."""
    vocab = tokenizer.get_vocab()
    return sorted(vocab[t] for t in MEDIA_TOKENS if t in vocab)


def ban_media_tokens(sampling_params: dict[str, Any], media_ids: Sequence[int], backend: str) -> dict[str, Any]:
    """The sampling params with the vision tokens banned through a logit bias, in the back-end's form (vLLM: int
    keys; SGLang: string keys); a bias the caller set for other tokens is kept."""
    bias = {int(k): float(v) for k, v in (sampling_params.get("logit_bias") or {}).items()}
    bias.update({i: BANNED for i in media_ids})
    return {**sampling_params, "logit_bias": {(str(k) if backend == "sglang" else k): v for k, v in bias.items()}}


def cut_at_media(token_ids: Sequence[int], media_ids: Sequence[int]) -> list[int]:
    """The policy's tokens before the first vision token (all of them when it wrote none)."""
    media = set(media_ids)
    return next((list(token_ids[:i]) for i, t in enumerate(token_ids) if t in media), list(token_ids))


def end_token_ids(tokenizer: Any) -> set[int]:
    """The ids that end a policy turn: pad, eos and the chat's end-of-turn token."""
    ids = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    if END_OF_TURN in tokenizer.get_vocab():
        ids.add(tokenizer.convert_tokens_to_ids(END_OF_TURN))
    return {i for i in ids if i is not None}


def turn_text(tokenizer: Any, token_ids: Sequence[int], ends: set[int]) -> str:
    """The policy's turn as the env reads it: every token decoded (reasoning tags included) except those in ends."""
    return tokenizer.decode([t for t in token_ids if t not in ends], skip_special_tokens=False)


class VideoStarAgentLoop(AgentLoopBase):
    """One env episode per rollout sample, token in / token out through verl's server manager.

    env_id: the env of rows that name none (rows of `videostar verl-data` name theirs); env_kwargs:
    gym.make keyword arguments for every env the loop makes (a row's dataset and task options replace theirs);
    env_threads: env calls of this worker that run at once (None: 4 per core; see trainers/env_pool.py);
    env_prefill: envs built when the worker starts (None: its share of a step's rollouts, train_batch_size
    x rollout.n / rollout.agent.num_workers); env_nice: CPU priority steps the env threads run below the worker's
    event loop (0: equal; see trainers/env_pool.py). The worker process's GIL switch interval and malloc are set
    by Ray's worker set-up hook (verl_fixes.setup_worker, which train_grpo.sh names); without it the loop warns.

    Envs live in the process's EnvPool for the configuration: built off the event loop, reset and stepped
    on the pool's threads with the chat conversion, and the garbage collector frozen once the pool is full.
    """

    def __init__(self, *args: Any, env_id: str = "VideoSTAR-v0", env_kwargs: dict | DictConfig | None = None,
                 env_threads: int | None = None, env_prefill: int | None = None, env_nice: int = NICE, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if isinstance(env_kwargs, DictConfig):
            env_kwargs = OmegaConf.to_container(env_kwargs, resolve=True)
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.env_threads, self.env_nice = env_threads, env_nice
        if tuned() is None:
            warn("this agent-loop worker's process settings were not tuned: start Ray with "
                 "ray_kwargs.ray_init.runtime_env.worker_process_setup_hook="
                 "videostar_trainers.verl_fixes.setup_worker (train_grpo.sh does), or call "
                 "videostar_trainers.process.tune_worker_process() once in the worker", stacklevel=2)
        self.env_prefill = self._worker_share() if env_prefill is None else int(env_prefill)
        self.response_length = int(self.rollout_config.response_length)
        self.processor_kwargs = self._get_mm_processor_kwargs()
        if self.rollout_config.get("name") == "sglang" and self.processor_kwargs:
            # verl 0.9.1's SGLang server takes no mm_processor_kwargs: it would size the media by the
            # checkpoint's own settings while our placeholders follow these.
            raise ValueError(f"data.mm_processor_kwargs={self.processor_kwargs} cannot reach verl's SGLang rollout "
                             "server; leave it empty and set the pixel bounds in the checkpoint's processor config")
        if self.processor is not None:
            pass_second_per_grid(self.processor)  # verl's training positions would place every video at 1 s a step
        self.ends = end_token_ids(self.tokenizer)
        self.media_ids = media_token_ids(self.tokenizer)
        self.end_of_turn = (self.tokenizer.convert_tokens_to_ids(END_OF_TURN)
                            if END_OF_TURN in self.tokenizer.get_vocab() else self.tokenizer.eos_token_id)

    def _worker_share(self) -> int:
        """This worker's rollouts per step: the episodes it plays at once (1 when the config does not say)."""
        batch = (self.config.get("data") or {}).get("train_batch_size")
        workers = (self.rollout_config.get("agent") or {}).get("num_workers") or 1
        return max(1, math.ceil(batch * int(self.rollout_config.get("n") or 1) / workers)) if batch else 1

    def _env_kwargs(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The YAML's env kwargs, with the dataset and task options the row was written with (videostar verl-data).

        The row's task options (e.g. the reasoning tags of a Thinking template) make the env read the policy's turns
        as the row's reward function does.
        """
        kwargs = dict(self.env_kwargs)
        if extra.get("dataset"):
            kwargs["dataset"] = extra["dataset"]
            kwargs["dataset_kwargs"] = json.loads(extra.get("dataset_kwargs") or "{}")
        if extra.get("task_options"):
            kwargs["task_options"] = json.loads(extra["task_options"])
        # The env counts its replies against the response budget with the policy's own tokenizer.
        if "token_counter" not in kwargs and isinstance(getattr(self.tokenizer, "name_or_path", None), str) \
                and self.tokenizer.name_or_path:
            kwargs["token_counter"] = self.tokenizer.name_or_path
        return kwargs

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        """Play the row's episode; returns prompt/response tokens, the mask, the media and the env's reward."""
        extra = kwargs.get("extra_info") or {}
        env_id = extra.get("env_id") or self.env_id  # the env the row was written from
        env_kwargs = self._env_kwargs(extra)
        pool = EnvPool.shared(env_id, env_kwargs, self.env_threads, self.env_nice)
        # The first episodes of a worker wait for one fill (the models load then, not mid-rollout); later ones pass.
        await pool.start(self.env_prefill, warm=load_models)
        async with pool.env() as env:
            sampling_params = ban_media_tokens(sampling_params, self.media_ids, self.rollout_config.get("name"))
            return await self._play(pool, env, sampling_params, int(extra.get("sample_index", 0)), extra.get("seed"))

    async def _video_payload(self, videos: list[tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]] | None:
        """SGLang's video_data for every video so far (the prompt's, then each returned clip): the processor's
        features of all of them, as the sequence's placeholders were rendered (same processor kwargs)."""
        text = [self.processor.video_token * len(videos)]  # one placeholder per video: only the features are kept
        features = await self.loop.run_in_executor(None, lambda: dict(build_multimodal_processor_inputs(
            self.processor, text=text, videos=videos, mm_processor_kwargs=self.processor_kwargs)))
        return self.build_sglang_video_payload(videos, features)

    async def _play(self, pool: EnvPool, env: gym.Env, sampling_params: dict[str, Any], index: int,
                    seed: int | None) -> AgentLoopOutput:
        timing = {"generate_sequences": 0.0, "tool_calls": 0.0}
        start = await pool.reset(env, seed=seed, options={"index": index, "token_budget": self.response_length},
                                 convert=qwen_chat, observe=False)
        info, chat = start.info, start.converted
        messages, images = chat.messages, chat.images
        videos = list(zip(chat.videos, chat.video_metadata))  # (frames, metadata): verl's and vLLM's video form
        self._assert_mm_supported(bool(videos or images))
        features: dict[str, Any] = {}
        tokens = await self.ct_build_initial_tokens(messages, images=images or None, videos=videos or None,
                                                    mm_inputs_out=features)
        prompt_length = len(tokens)
        # The video as SGLang takes it: the processor's features of the frames just rendered.
        video_features = self.build_sglang_video_payload(videos, features)
        mask: list[int] = []
        logprobs: list[float] | None = None
        request_id = uuid4().hex
        ended, assistant_turns, env_turns = False, 0, 0
        while len(mask) < self.response_length:
            start = time.perf_counter()
            output = await self.server_manager.generate(
                request_id=request_id, prompt_ids=tokens, sampling_params=sampling_params,
                image_data=images or None, video_data=videos or None, mm_processor_output=video_features,
                mm_processor_kwargs=self.processor_kwargs)
            timing["generate_sequences"] += time.perf_counter() - start
            # A vision token that arrives despite the ban: the turn keeps what came before it (mask 1), the env
            # reads the whole turn and answers that the token is the env's to write.
            kept = cut_at_media(output.token_ids, self.media_ids)
            sampled = (output.log_probs or [])[:len(kept)] or None
            merged, mask, logprobs = await self.ct_merge_assistant_token(
                tokens, kept, mask, logprobs if sampled is None else (logprobs or []), assistant_logprobs=sampled)
            tokens = merged.token_ids
            assistant_turns += 1
            text = turn_text(self.tokenizer, output.token_ids, self.ends)
            start = time.perf_counter()
            env.unwrapped.set_tokens_left(self.response_length - len(mask))  # exact: the env fits its reply to it
            step = await pool.step(env, text, convert=qwen_chat, observe=False)
            timing["tool_calls"] += time.perf_counter() - start
            info = step.info
            if step.done:
                ended = True
                break
            if kept[-1:] != [self.end_of_turn]:  # stopped short, at eos or a vision token: closed as the template does
                tokens, mask = tokens + [self.end_of_turn], mask + [0]
                logprobs = None if logprobs is None else logprobs + [0.0]
            if len(mask) >= self.response_length:
                break
            chat = step.converted
            merged, turn_mask, turn_logprobs = await self.ct_merge_context_msg(
                chat.messages[:len(messages) + 1], chat.messages, tokens, mask, logprobs)
            if len(turn_mask) >= self.response_length:
                break  # the env's turn does not fit: left out whole (its images with it)
            tokens, mask, logprobs = merged.token_ids, turn_mask, turn_logprobs
            messages, images = chat.messages, chat.images
            if len(chat.videos) > len(videos):  # the env's turn returned clips: later requests carry them too
                videos = list(zip(chat.videos, chat.video_metadata))
                video_features = await self._video_payload(videos)
            env_turns += 1
        # The task's breakdown; every one of its terms at 0 when the response budget ran out first.
        reward = info["reward"] if ended else env.unwrapped.task.zero_reward()
        calls = [r["name"] for r in info["tool_results"]]
        multi_modal_data: dict[str, Any] = {}
        if videos:
            multi_modal_data["videos"] = videos
        if images:
            multi_modal_data["images"] = images
        return AgentLoopOutput(
            prompt_ids=tokens[:prompt_length],
            response_ids=tokens[prompt_length:][: self.response_length],
            response_mask=mask[: self.response_length],
            response_logprobs=None if logprobs is None else logprobs[: self.response_length],
            reward_score=float(reward["total"]),
            num_turns=1 + assistant_turns + env_turns,
            multi_modal_data=multi_modal_data,
            mm_processor_kwargs=self.processor_kwargs,
            mm_processor_output=video_features,
            metrics=AgentLoopMetrics(**timing),
            # verl logs every reward_extra_info key per step: the reward terms and the tool use.
            extra_fields={"reward_extra_info": {**{k: float(v) for k, v in reward.items()},
                                                "tool_calls": float(len(calls)), "env_turns": float(env_turns)},
                          "tool_calls": len(calls), "env_ended": ended, "sample_id": info["sample_id"]},
        )
