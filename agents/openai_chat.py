"""OpenAIChatAgent: a policy served behind any OpenAI-compatible chat endpoint.

vLLM serving Qwen2.5-VL (`vllm serve Qwen/Qwen2.5-VL-7B-Instruct`, base URL
http://127.0.0.1:8000/v1), DashScope's compatible mode
(https://dashscope.aliyuncs.com/compatible-mode/v1 with DASHSCOPE_API_KEY), or any other. Frames
and tool images travel as base64 JPEG data URLs; in the hermes format the tool schemas also go
in the request's `tools`, and tool calls the server parses come back as the hermes text the env
reads. Timeouts and retries are the tool backends' (one RetryPolicy); a failure that outlasts
them raises, so a benchmark stops with the reason and resumes later without losing episodes.
"""

from __future__ import annotations

from typing import Any

from videostar_env.clients.chat import OpenAIChat
from videostar_env.clients.retry import RetryPolicy

from .messages import openai_messages


class OpenAIChatAgent:
    """A chat-completions model as a policy."""

    name = "openai"

    def __init__(self, model: str = "Qwen/Qwen2.5-VL-7B-Instruct", base_url: str = "http://127.0.0.1:8000/v1",
                 seed: int = 0, api_key: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 120.0, temperature: float = 0.0, max_tokens: int = 1024,
                 retry: RetryPolicy | dict | None = None, send_tools: bool = True, max_side: int = 1024):
        """model: the served name; api_key: None reads api_key_env (vLLM needs none); send_tools: pass the tool
        schemas as `tools` in the hermes format; max_side: frames are shrunk to at most this many pixels."""
        self.client = OpenAIChat(model=model, base_url=base_url, api_key=api_key, api_key_env=api_key_env,
                                 timeout=timeout, temperature=temperature, max_tokens=max_tokens,
                                 retry=retry or RetryPolicy())
        self.seed = seed
        self.send_tools = send_tools
        self.max_side = max_side
        self._episode_seed: int | None = None

    def reset(self, seed: int | None = None) -> None:
        """Remember the episode seed, sent with each request (servers that honour `seed` then repeat themselves)."""
        self._episode_seed = seed

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The served model's next turn given the whole chat so far."""
        tools = info["tools"] if self.send_tools and info["action_format"] == "hermes" else ()
        seed = None if self._episode_seed is None else self._episode_seed * 1000 + int(info["turn"])
        return self.client.converse(openai_messages(info["messages"], self.max_side), tools, seed)
