"""Qwen backends against a local server speaking the DashScope and OpenAI protocols: success and every fault."""

import base64
import io
import socket
import time

import gymnasium as gym
import pytest
from PIL import Image

import videostar_env  # noqa: F401
from videostar_env.actions import tool_call
from videostar_env.clients.retry import RetryPolicy

from servers import MULTIMODAL_PATH, OPENAI_PATH, TEXT_PATH, Reply, StubServer

pytest.importorskip("dashscope", reason="the qwen extra is not installed: pip install -e '.[qwen]'")
pytest.importorskip("openai", reason="the qwen extra is not installed: pip install -e '.[qwen]'")

KEY = "sk-test-0123456789abcdef"
FAST = RetryPolicy(attempts=3, backoff=0.05, max_wait=1.0)
PROTOCOLS = ["dashscope", "openai"]


@pytest.fixture
def server():
    with StubServer() as s:
        yield s


def options(protocol: str, base: str, **extra) -> dict:
    url = f"{base}/api/v1" if protocol == "dashscope" else f"{base}/v1"
    return {"base_url": url, "api_key": KEY, "timeout": 2.0, "retry": FAST, **extra}


def make_env(protocol: str, base: str, **extra):
    return gym.make("VideoSTAR-v0", explanation=(protocol, options(protocol, base, **extra)),
                    description=(protocol, options(protocol, base, **extra)), tool_cache=None)


def call(env, name: str):
    """One tool call in a fresh episode; returns the tool result and whether the episode ended."""
    env.reset(seed=0, options={"index": 0})
    _, _, terminated, truncated, info = env.step(tool_call(name))
    return info["tool_results"][-1], terminated or truncated, info


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_explanation_success(protocol, server):
    result, ended, info = call(make_env(protocol, server.url), "action_explanation")
    assert result["ok"] and not ended
    for label in info["candidates"]:
        assert f"{label}: the {label.lower()} motion, explained by the stand-in server." in result["text"]
    (request,) = server.requests
    assert request["path"] == (TEXT_PATH if protocol == "dashscope" else OPENAI_PATH)
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert all(label in server.prompt_of(request["body"]) for label in info["candidates"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_description_sends_the_keyframes_inline(protocol, server):
    result, ended, info = call(make_env(protocol, server.url), "video_description")
    assert result["ok"] and not ended
    assert result["text"].startswith("A person raises the right arm")
    assert len(result["data"]["keyframes"]) == 3
    (request,) = server.requests
    assert request["path"] == (MULTIMODAL_PATH if protocol == "dashscope" else OPENAI_PATH)
    if protocol == "dashscope":
        parts = request["body"]["input"]["messages"][-1]["content"]
        urls = [p["image"] for p in parts if "image" in p]
    else:
        parts = request["body"]["messages"][-1]["content"]
        urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 3
    for url in urls:
        assert url.startswith("data:image/jpeg;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.format == "JPEG" and image.size == (128, 128)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ERROR_BODY = {"code": "Throttling", "message": "slow down", "error": {"message": "slow down", "type": "rate"}}
AUTH_BODY = {"code": "InvalidApiKey", "message": "Invalid API-key provided.",
             "error": {"message": "Invalid API-key provided.", "type": "invalid_request_error"}}
SERVER_BODY = {"code": "InternalError", "message": "boom", "error": {"message": "boom", "type": "server_error"}}

# fault -> (script, requests the server sees, words the final message must contain)
FAULTS = {
    "401": ([Reply(401, AUTH_BODY)], 1, ["authentication failed", "HTTP 401"]),
    "429-then-ok": ([Reply(429, ERROR_BODY, {"Retry-After": "0.3"})] * 2, 3, None),
    "429": ([Reply(429, ERROR_BODY, {"Retry-After": "0.1"})] * 3, 3, ["failed after 3 attempts", "rate limited"]),
    "500": ([Reply(500, SERVER_BODY)] * 3, 3, ["failed after 3 attempts", "server error (HTTP 500"]),
    "503-then-ok": ([Reply(503, SERVER_BODY)], 2, None),
    "timeout": ([Reply(delay=1.5)] * 3, 3, ["failed after 3 attempts", "no reply within 0.4s"]),
    "malformed-json": ([Reply(200, b"{not json")] * 3, 3, ["failed after 3 attempts", "malformed reply"]),
    "empty-choices": ([Reply(200, {"output": {"choices": []}, "choices": []})] * 3, 3, ["malformed reply"]),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_are_retried_then_reported(protocol, fault, server):
    script, expected_requests, words = FAULTS[fault]
    server.script = list(script)
    env = make_env(protocol, server.url, timeout=0.4)
    start = time.monotonic()
    result, ended, _ = call(env, "action_explanation")
    elapsed = time.monotonic() - start
    assert not ended  # the episode goes on
    assert len(server.requests) == expected_requests
    if words is None:
        assert result["ok"], result["text"]
    else:
        assert not result["ok"]
        assert result["text"].startswith("Error: ")
        for word in words:
            assert word in result["text"], result["text"]
        assert KEY not in result["text"]
    if fault == "429-then-ok":  # Retry-After honoured: two waits of 0.3 s
        gaps = [b["time"] - a["time"] for a, b in zip(server.requests, server.requests[1:])]
        assert min(gaps) >= 0.28
    assert elapsed < 6


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_connection_refused(protocol):
    env = make_env(protocol, f"http://127.0.0.1:{free_port()}")
    start = time.monotonic()
    result, ended, _ = call(env, "action_explanation")
    assert not ended and not result["ok"]
    assert "failed after 3 attempts" in result["text"] and "cannot connect" in result["text"]
    assert time.monotonic() - start < 5


def test_missing_dashscope_key_is_a_clear_error(server, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    opts = options("dashscope", server.url)
    del opts["api_key"]
    env = gym.make("VideoSTAR-v0", explanation=("dashscope", opts), tool_cache=None)
    result, ended, _ = call(env, "action_explanation")
    assert not ended and not result["ok"]
    assert "no DashScope API key: set DASHSCOPE_API_KEY" in result["text"]
    assert server.requests == []


def test_key_is_read_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("MY_QWEN_KEY", KEY)
    opts = options("openai", server.url, api_key_env="MY_QWEN_KEY")
    del opts["api_key"]
    env = gym.make("VideoSTAR-v0", explanation=("openai", opts), tool_cache=None)
    result, _, _ = call(env, "action_explanation")
    assert result["ok"]
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"


def test_backend_ids_and_reprs_hide_the_key():
    from videostar_env.backends import make_backend

    for protocol in PROTOCOLS:
        backend = make_backend("explanation", (protocol, options(protocol, "http://127.0.0.1:1")))
        assert KEY not in backend.id and KEY not in repr(backend.client)


def test_retry_policy_waits_are_bounded():
    policy = RetryPolicy(attempts=5, backoff=1.0, max_wait=3.0)
    assert [policy.wait(a, None) for a in (1, 2, 3)] == [1.0, 2.0, 3.0]
    assert policy.wait(1, 120.0) == 3.0  # a huge Retry-After is capped
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
