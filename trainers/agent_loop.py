"""verl agent loop: each rollout sample plays one env episode (any task) against the policy being trained.

The first prompt is the env's first observation (system prompt with the tool schemas, the
sampled frames as a video with their timing metadata, the question); then generate -> env.step
-> the env's new messages (tool text and images) appended -> generate ... until the env ends
the episode or the response budget is spent. Policy tokens are masked 1, env tokens 0; the
env's total reward is the sample's reward_score and its breakdown (the task's own terms:
accuracy, format, tool, ... for action recognition; format, answer, node, edge, ... for
spatio-temporal questions) goes to extra_fields["reward_extra_info"], which verl logs. verl
stacks those keys over a batch, so one training set should hold rows of one task.

Registered for verl through trainers/config/agent_loop.yaml (name: videostar_agent). Rows of
`videostar verl-data` name the env id (extra_info.env_id, which wins over the YAML's env_id),
the dataset, the sample (extra_info.sample_index) and the episode seed.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar
from uuid import uuid4

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf
from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_agents.messages import qwen_chat


class VideoStarAgentLoop(AgentLoopBase):
    """One env episode per rollout sample, token in / token out through verl's server manager.

    env_id: the env of rows that name none (rows of `videostar verl-data` name theirs); env_kwargs:
    gym.make keyword arguments for every env the loop makes (a row's dataset replaces the dataset).
    """

    # Idle envs per configuration: concurrent trajectories each take one, and building an env
    # (dataset, backends, cache) happens once per worker rather than once per sample.
    _idle: ClassVar[dict[str, list[gym.Env]]] = {}

    def __init__(self, *args: Any, env_id: str = "VideoSTAR-v0", env_kwargs: dict | DictConfig | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        if isinstance(env_kwargs, DictConfig):
            env_kwargs = OmegaConf.to_container(env_kwargs, resolve=True)
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.response_length = int(self.rollout_config.response_length)

    def _env_kwargs(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The YAML's env kwargs, with the dataset the row was written from (videostar verl-data) when it names one."""
        kwargs = dict(self.env_kwargs)
        if extra.get("dataset"):
            kwargs["dataset"] = extra["dataset"]
            kwargs["dataset_kwargs"] = json.loads(extra.get("dataset_kwargs") or "{}")
        return kwargs

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        """Play the row's episode; returns prompt/response tokens, the mask and the env's reward."""
        extra = kwargs.get("extra_info") or {}
        env_id = extra.get("env_id") or self.env_id  # the env the row was written from
        env_kwargs = self._env_kwargs(extra)
        key = f"{env_id}:{json.dumps(env_kwargs, sort_keys=True, default=str)}"
        idle = self._idle.setdefault(key, [])
        env = idle.pop() if idle else gym.make(env_id, **env_kwargs)
        try:
            return await self._play(env, sampling_params, int(extra.get("sample_index", 0)), extra.get("seed"))
        finally:
            idle.append(env)

    async def _play(self, env: gym.Env, sampling_params: dict[str, Any], index: int, seed: int | None) -> AgentLoopOutput:
        timing = {"generate_sequences": 0.0, "tool_calls": 0.0}
        _, info = await self.loop.run_in_executor(None, lambda: env.reset(seed=seed, options={"index": index}))
        chat = qwen_chat(info["messages"])
        videos = list(zip(chat.videos, chat.video_metadata))
        messages = chat.messages
        prompt_ids = await self.ct_build_initial_tokens(messages, videos=videos)
        prompt_length = len(prompt_ids)
        tokens, mask = list(prompt_ids), []
        request_id = uuid4().hex
        ended, assistant_turns, env_turns = False, 0, 0
        while len(mask) < self.response_length:
            start = time.perf_counter()
            output = await self.server_manager.generate(
                request_id=request_id, prompt_ids=tokens, sampling_params=sampling_params,
                image_data=chat.images or None, video_data=videos)
            timing["generate_sequences"] += time.perf_counter() - start
            merged, mask, _ = await self.ct_merge_assistant_token(tokens, output.token_ids, mask)
            tokens = merged.token_ids
            assistant_turns += 1
            text = self.tokenizer.decode(output.token_ids, skip_special_tokens=True)
            start = time.perf_counter()
            _, _, terminated, truncated, info = await self.loop.run_in_executor(None, lambda: env.step(text))
            timing["tool_calls"] += time.perf_counter() - start
            if terminated or truncated:
                ended = True
                break
            if len(mask) >= self.response_length:
                break
            chat = qwen_chat(info["messages"])
            merged, mask, _ = await self.ct_merge_context_msg(chat.messages[:len(messages) + 1], chat.messages,
                                                              tokens, mask)
            tokens, messages = merged.token_ids, chat.messages
            env_turns += 1
        # The task's breakdown; every one of its terms at 0 when the response budget ran out first.
        reward = info["reward"] if ended else env.unwrapped.task.zero_reward()
        calls = [r["name"] for r in info["tool_results"]]
        multi_modal_data = {"videos": videos}
        if chat.images:
            multi_modal_data["images"] = chat.images
        return AgentLoopOutput(
            prompt_ids=tokens[:prompt_length],
            response_ids=tokens[prompt_length:][: self.response_length],
            response_mask=mask[: self.response_length],
            reward_score=float(reward["total"]),
            num_turns=1 + assistant_turns + env_turns,
            multi_modal_data=multi_modal_data,
            metrics=AgentLoopMetrics(**timing),
            # verl logs every reward_extra_info key per step: the reward terms and the tool use.
            extra_fields={"reward_extra_info": {**{k: float(v) for k, v in reward.items()},
                                                "tool_calls": float(len(calls)), "env_turns": float(env_turns)},
                          "tool_calls": len(calls), "env_ended": ended, "sample_id": info["sample_id"]},
        )
