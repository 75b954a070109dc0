"""The API key given to a backend appears in no file an episode, a benchmark or the cache writes, nor in the logs."""

import json
import logging

import gymnasium as gym
import pytest
from PIL import Image

import videostar_env  # noqa: F401
from videostar_env.actions import tool_call
from videostar_env.clients.retry import RetryPolicy
from videostar_env.tools.cache import CacheConfig

from servers import Reply, StubServer

pytest.importorskip("dashscope", reason="the qwen extra is not installed")
pytest.importorskip("openai", reason="the qwen extra is not installed")

KEY = "sk-secret-7f3a9c1e5b2d4f6a8c0e"


def backends(url: str) -> dict:
    retry = RetryPolicy(attempts=2, backoff=0.01)
    return {"explanation": ("openai", {"base_url": f"{url}/v1", "api_key": KEY, "retry": retry}),
            "description": ("dashscope", {"base_url": f"{url}/api/v1", "api_key": KEY, "retry": retry})}


def scan(folder) -> list[str]:
    """Files under folder whose bytes contain the key."""
    return [str(p) for p in folder.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


def test_no_file_or_log_line_holds_the_key(tmp_path, caplog):
    from videostar_benchmarks.tools import run as run_benchmark

    caplog.set_level(logging.DEBUG)
    episode_dir, cache_dir, bench_dir = tmp_path / "episode", tmp_path / "cache", tmp_path / "bench"
    episode_dir.mkdir()
    with StubServer() as server:
        env = gym.make("VideoSTAR-v0", render_mode="rgb_array", tool_cache=CacheConfig(str(cache_dir)),
                       **backends(server.url))
        env.reset(seed=0)
        server.script = [Reply(401, {"code": "InvalidApiKey", "message": f"bad key {KEY}",
                                     "error": {"message": f"bad key {KEY}"}})]
        env.step(tool_call("action_explanation"))  # a server that echoes the key in its error
        obs, _, _, _, info = env.step(tool_call("action_explanation") + tool_call("video_description"))
        assert [r["ok"] for r in info["tool_results"]] == [False, True, True]
        _, _, _, _, final = env.step(f"<answer>{info['candidates'][0]}</answer>")
        Image.fromarray(env.render()).save(episode_dir / "episode.png")
        record = {"config": repr(env.unwrapped.config), "backends": {k: getattr(env.unwrapped.toolbox.backends, k).id
                                                                       for k in ("vision", "explanation", "description")},
                  "tool_results": final["tool_results"], "messages": final["messages"], "reward": final["reward"],
                  "dialogue": obs["dialogue"]}
        (episode_dir / "trajectory.json").write_text(json.dumps(record, default=str))
        env.close()
        run_benchmark(bench_dir, backends(server.url), yolo=False)
        assert len(server.requests) > 3
        assert all(r["headers"]["authorization"] == f"Bearer {KEY}" for r in server.requests)  # the key was used
    assert any(cache_dir.rglob("*.db")) and (bench_dir / "tools.json").exists()
    assert scan(tmp_path) == []
    assert KEY not in caplog.text


def test_a_config_shows_every_option_but_keys():
    from videostar_env.core.config import EnvConfig

    text = repr(EnvConfig(explanation=("openai", {"api_key": KEY, "model": "qwen-test"})))
    assert KEY not in text and "'api_key': '***'" in text and "'model': 'qwen-test'" in text
