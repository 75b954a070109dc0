"""Chat clients for Qwen: the DashScope SDK and any OpenAI-compatible server (vLLM, DashScope compatible mode).

Both take a system prompt, a user prompt and optional frames (sent inline as base64 JPEG),
classify every failure for retry.py, and never put the API key in an id, a repr or a message.
"""

from __future__ import annotations

import base64
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np
from PIL import Image

from .retry import PermanentError, RetryPolicy, TransientError, call_with_retries, parse_retry_after


class ChatClient(Protocol):
    """Sends one chat turn and returns the model's text."""

    id: str  # provider and model, for caches and logs (never the key)

    def complete(self, system: str, user: str, images: Sequence[np.ndarray] = ()) -> str: ...


def jpeg_data_url(frame: np.ndarray, quality: int = 85, max_side: int = 1024) -> str:
    """An RGB frame as a data:image/jpeg;base64 URL, shrunk to at most max_side pixels."""
    img = Image.fromarray(np.asarray(frame, dtype=np.uint8))
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _key(api_key: str | None, api_key_env: str) -> str | None:
    return api_key or os.environ.get(api_key_env) or None


def redact(text: str, secret: str | None) -> str:
    """The text with the secret replaced, in case a server echoes it."""
    return text.replace(secret, "***") if secret else text


def _status_error(status: int, detail: str, retry_after: float | None, key_hint: str) -> Exception:
    if status in (401, 403):
        return PermanentError(f"authentication failed (HTTP {status}: {detail}); check {key_hint}")
    if status == 429:
        return TransientError(f"rate limited (HTTP 429: {detail})", retry_after)
    if status >= 500 or status == 408:
        return TransientError(f"server error (HTTP {status}: {detail})", retry_after)
    return PermanentError(f"request rejected (HTTP {status}: {detail})")


@dataclass
class DashScopeChat:
    """Qwen through the native DashScope SDK: `Generation` for text, `MultiModalConversation` with frames."""

    model: str = "qwen2.5-72b-instruct"  # text model; use a VL model (qwen2.5-vl-72b-instruct) for frames
    api_key: str | None = field(default=None, repr=False)  # None: read from the api_key_env variable
    api_key_env: str = "DASHSCOPE_API_KEY"
    base_url: str | None = None  # None: the SDK's endpoint (dashscope.base_http_api_url)
    timeout: float = 60.0  # seconds per request
    temperature: float = 0.3
    max_tokens: int = 512
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if isinstance(self.retry, dict):  # from a YAML or JSON config
            self.retry = RetryPolicy(**self.retry)

    @property
    def id(self) -> str:
        return f"dashscope:{self.model}:t={self.temperature}:max={self.max_tokens}"

    def complete(self, system: str, user: str, images: Sequence[np.ndarray] = ()) -> str:
        """The model's reply; ToolError after retries or on a permanent failure."""
        key = _key(self.api_key, self.api_key_env)
        return call_with_retries(lambda: self._once(key, system, user, images), self.retry, f"DashScope {self.model}")

    def _once(self, key: str | None, system: str, user: str, images: Sequence[np.ndarray]) -> str:
        try:
            import dashscope
            import requests
        except ImportError as exc:
            raise PermanentError("the dashscope backend needs the SDK: pip install 'videostar-env[qwen]'") from exc
        if not key:
            raise PermanentError(f"no DashScope API key: set {self.api_key_env} or pass api_key in the backend options")
        options: dict[str, Any] = {"api_key": key, "temperature": self.temperature, "max_tokens": self.max_tokens,
                                   "result_format": "message", "request_timeout": self.timeout}
        if self.base_url:
            options["base_address"] = self.base_url
        try:
            if images:
                content = [{"image": jpeg_data_url(f)} for f in images] + [{"text": user}]
                messages = [{"role": "system", "content": [{"text": system}]}, {"role": "user", "content": content}]
                response = dashscope.MultiModalConversation.call(model=self.model, messages=messages, **options)
            else:
                messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
                response = dashscope.Generation.call(model=self.model, messages=messages, **options)
        except requests.exceptions.Timeout as exc:
            raise TransientError(f"no reply within {self.timeout:g}s") from exc
        except requests.exceptions.ConnectionError as exc:
            raise TransientError(f"cannot connect to {self.base_url or dashscope.base_http_api_url}") from exc
        except ValueError as exc:  # the SDK parses a 200 reply's body as JSON
            raise TransientError(f"malformed reply ({redact(str(exc), key)[:200]})") from exc
        except dashscope.common.error.AuthenticationError as exc:
            raise PermanentError(f"authentication failed ({redact(str(exc), key)[:200]}); "
                                 f"check {self.api_key_env}") from exc
        status = int(getattr(response, "status_code", 0) or 0)
        if status != 200:
            detail = redact(f"{getattr(response, 'code', '')} {getattr(response, 'message', '')}".strip(), key)[:300]
            headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
            raise _status_error(status, detail, parse_retry_after(headers.get("retry-after")), self.api_key_env)
        try:
            content = response.output["choices"][0]["message"]["content"]
            if isinstance(content, list):  # multimodal replies are a list of parts
                content = "".join(part.get("text", "") for part in content)
        except (KeyError, IndexError, TypeError) as exc:
            raise TransientError(f"malformed reply: no choices[0].message.content in {str(response.output)[:200]}") \
                from exc
        if not isinstance(content, str) or not content.strip():
            raise TransientError("malformed reply: empty content")
        return content.strip()


@dataclass
class OpenAIChat:
    """Any OpenAI-compatible chat-completions server: vLLM serving Qwen, or DashScope compatible mode
    (base_url https://dashscope.aliyuncs.com/compatible-mode/v1, api_key_env DASHSCOPE_API_KEY)."""

    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # the served model name
    base_url: str = "http://127.0.0.1:8000/v1"  # vLLM's default address
    api_key: str | None = field(default=None, repr=False)  # None: read from api_key_env; vLLM needs none
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    temperature: float = 0.3
    max_tokens: int = 512
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if isinstance(self.retry, dict):
            self.retry = RetryPolicy(**self.retry)
        self._client: Any = None

    @property
    def id(self) -> str:
        return f"openai:{self.model}:t={self.temperature}:max={self.max_tokens}"

    def complete(self, system: str, user: str, images: Sequence[np.ndarray] = ()) -> str:
        """The model's reply; ToolError after retries or on a permanent failure."""
        content: Any = user
        if images:
            content = [{"type": "image_url", "image_url": {"url": jpeg_data_url(f)}} for f in images]
            content.append({"type": "text", "text": user})
        return self.converse([{"role": "system", "content": system}, {"role": "user", "content": content}])

    def converse(self, messages: list[dict[str, Any]], tools: Sequence[dict[str, Any]] = (),
                 seed: int | None = None) -> str:
        """The reply to a whole chat in OpenAI format; tool calls the server parsed come back as hermes text."""
        return call_with_retries(lambda: self._once(messages, tools, seed), self.retry, f"{self.base_url} {self.model}")

    def _client_once(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as exc:
                raise PermanentError("the openai backend needs the client: pip install 'videostar-env[qwen]'") from exc
            # Retries are ours (one policy for every backend), so the client's own are off.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=_key(self.api_key, self.api_key_env) or "EMPTY",
                                         timeout=self.timeout, max_retries=0)
        return self._client

    def _once(self, messages: list[dict[str, Any]], tools: Sequence[dict[str, Any]], seed: int | None) -> str:
        import openai

        client = self._client_once()
        key = _key(self.api_key, self.api_key_env)
        extra: dict[str, Any] = {"tools": list(tools)} if tools else {}
        if seed is not None:
            extra["seed"] = seed
        try:
            reply = client.chat.completions.create(model=self.model, messages=messages, temperature=self.temperature,
                                                   max_tokens=self.max_tokens, **extra)
        except openai.APITimeoutError as exc:
            raise TransientError(f"no reply within {self.timeout:g}s") from exc
        except openai.APIConnectionError as exc:
            raise TransientError(f"cannot connect to {self.base_url}") from exc
        except openai.APIStatusError as exc:
            detail = redact(_error_detail(exc), key)[:300]
            raise _status_error(exc.status_code, detail, parse_retry_after(exc.response.headers.get("retry-after")),
                                self.api_key_env) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise TransientError(f"malformed reply ({redact(str(exc), key)[:200]})") from exc
        try:
            message = reply.choices[0].message
            text = (message.content or "") + "".join(_hermes(call) for call in (message.tool_calls or []))
        except (AttributeError, IndexError, TypeError) as exc:
            raise TransientError(f"malformed reply: no choices[0].message.content in {str(reply)[:200]}") from exc
        if not text.strip():
            raise TransientError("malformed reply: empty content")
        return text.strip()


def _hermes(call: Any) -> str:
    """A tool call the server parsed out of the text, written back as the hermes text the env parses."""
    arguments = call.function.arguments or "{}"  # kept as sent: malformed JSON is the env parser's to report
    return f'<tool_call>{{"name": {json.dumps(call.function.name)}, "arguments": {arguments}}}</tool_call>'


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error)
    return str(getattr(exc, "message", exc))
