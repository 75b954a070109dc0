"""The env server (`videostar serve`) and its client: the same episodes as in-process, and no one let in where
they do not belong (docs/scaling-out.md#env-server)."""

import contextlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import httpx
import numpy as np
import pytest
import uvicorn
from gymnasium.utils.env_checker import check_env

import videostar_env  # noqa: F401  (registers the ids)
from videostar_env import answer, tool_call
from videostar_env.server.app import make_app
from videostar_env.server.config import ServerConfig

TOKEN = "test-token-" + "x7Qp" * 8
TOKEN_ENV = "VIDEOSTAR_TEST_SERVER_TOKEN"
SMALL = {"num_frames": 4, "frame_size": [32, 32], "max_tool_frames": 2}


@contextlib.contextmanager
def running(config: ServerConfig):
    """The server in a thread of this process on a free localhost port; its URL and the app."""
    app = make_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def server():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, TOKEN)
        with running(ServerConfig(token_env=TOKEN_ENV, max_sessions=40, max_body_bytes=64 * 1024)) as (url, app):
            yield url, app


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as client:
        yield client


def open_session(http, **body) -> str:
    reply = http.post("/sessions", json={"env_kwargs": SMALL, **body})
    assert reply.status_code == 200, reply.text
    return reply.json()["session_id"]


def refused(reply: httpx.Response, status: int, *words: str) -> str:
    """The reply is `status` with one line of JSON detail naming each word."""
    assert reply.status_code == status, (reply.status_code, reply.text)
    detail = reply.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail, detail
    for word in words:
        assert word in detail, detail
    return detail


def test_check_env_passes_through_the_client(server):
    env = gym.make("videostar/Remote-v0", url=server[0], token=TOKEN, env_kwargs=SMALL)
    try:
        check_env(env.unwrapped)
        local = gym.make("VideoSTAR-v0", **{**SMALL, "frame_size": (32, 32)})
        assert env.observation_space == local.observation_space
        assert env.action_space == local.action_space
    finally:
        env.close()


@pytest.mark.parametrize("encoding", ["png", "raw"])
def test_observations_are_the_in_process_ones_in_either_image_encoding(server, encoding):
    remote = gym.make("videostar/Remote-v0", url=server[0], token=TOKEN, env_kwargs=SMALL, image_encoding=encoding)
    local = gym.make("VideoSTAR-v0", **{**SMALL, "frame_size": (32, 32)})
    try:
        for env in (remote, local):
            env.reset(seed=3)
        for action in (None, tool_call("pose_estimation")):
            got = [env.reset(seed=3) if action is None else env.step(action) for env in (remote, local)]
            for key in ("frames", "tool_frames"):
                np.testing.assert_array_equal(got[0][0][key], got[1][0][key])
            assert got[0][0]["dialogue"] == got[1][0]["dialogue"]
            assert got[0][0]["num_tool_frames"] == got[1][0]["num_tool_frames"]
        assert got[0][0]["num_tool_frames"] > 0  # the pose tool's skeleton images came through
    finally:
        remote.close()
        local.close()


def play(env, seed: int) -> list[float]:
    """A tool call, then the right answer for even seeds and a wrong one for odd ones: the rewards."""
    _, info = env.reset(seed=seed)
    rewards = [env.step(tool_call("pose_estimation"))[1]]
    label = info["ground_truth"] if seed % 2 == 0 else next(c for c in info["candidates"] if c != info["ground_truth"])
    rewards.append(env.step(answer(label, [("Right wrist", "moves")]))[1])
    return rewards


def test_32_sessions_at_once_give_the_in_process_rewards(server):
    def remote(seed: int) -> list[float]:
        env = gym.make("videostar/Remote-v0", url=server[0], token=TOKEN, env_kwargs=SMALL)
        try:
            return play(env, seed)
        finally:
            env.close()

    with ThreadPoolExecutor(32) as pool:
        served = list(pool.map(remote, range(32)))
    local = gym.make("VideoSTAR-v0", **{**SMALL, "frame_size": (32, 32)})
    expected = [play(local, seed) for seed in range(32)]
    local.close()
    assert served == expected
    assert len({r[-1] for r in expected}) > 1  # right and wrong answers: the comparison can tell them apart


def test_a_session_sees_only_its_own_episode(http):
    a, b = open_session(http), open_session(http)
    obs_a = http.post(f"/sessions/{a}/reset", json={"options": {"index": 0}}).json()
    obs_b = http.post(f"/sessions/{b}/reset", json={"options": {"index": 5}}).json()
    http.post(f"/sessions/{b}/step", json={"action": tool_call("pose_estimation")})
    state_a = http.get(f"/sessions/{a}/state").json()
    assert state_a["step_count"] == 0 and obs_a["info"]["sample_id"] != obs_b["info"]["sample_id"]
    step_a = http.post(f"/sessions/{a}/step", json={"action": "not sure"}).json()
    assert step_a["info"]["sample_id"] == obs_a["info"]["sample_id"] and step_a["info"]["tool_results"] == []
    for session in (a, b):
        assert http.delete(f"/sessions/{session}").json() == {"closed": True}


def test_malformed_requests_are_4xx_with_one_clear_message(http):
    session = open_session(http)
    refused(http.post("/sessions", content=b"{not json", headers={"content-type": "application/json"}), 422,
            "not valid JSON")
    refused(http.post(f"/sessions/{session}/step", json={"action": 3}), 422, "action")
    refused(http.post(f"/sessions/{session}/step", json={"text": "hi"}), 422, "action")
    refused(http.post(f"/sessions/{session}/reset", json={"seed": -1}), 422, "seed")
    refused(http.post(f"/sessions/{session}/reset", json={"options": {"shuffle": True}}), 422, "shuffle")
    refused(http.post(f"/sessions/{session}/reset", json={"options": {"index": 10**6}}), 400)
    refused(http.post(f"/sessions/{session}/step", json={"action": "hi"}), 409, "reset")
    refused(http.post("/sessions", json={"env_kwargs": {"num_frames": 1}}), 400, "num_frames")
    refused(http.post("/sessions", json={"env_kwargs": {"num_frames": 10**6}}), 400, "num_frames")
    refused(http.post("/sessions", json={"env_kwargs": {"num_frames": 200, "frame_size": [1000, 1000]}}), 400, "MiB")
    refused(http.post("/sessions", json={"env_kwargs": {"tools": ["mymodule:Evil"]}}), 400, "tools")
    refused(http.post("/sessions", json={"env_id": "VideoSTR-v0"}), 400, "VideoSTAR-v0")
    refused(http.post("/sessions", json={"image_encoding": "jpeg"}), 400, "image_encoding")
    refused(http.get("/nowhere"), 404)
    http.delete(f"/sessions/{session}")


def test_unknown_closed_and_forged_session_ids_are_404(http):
    session = open_session(http)
    forged = session[:-2] + ("AA" if not session.endswith("AA") else "BB")
    for sid in ("nope", forged, session.upper()):
        refused(http.post(f"/sessions/{sid}/reset", json={}), 404, "unknown session")
    http.delete(f"/sessions/{session}")
    refused(http.post(f"/sessions/{session}/reset", json={}), 404, "unknown session")
    refused(http.delete(f"/sessions/{session}"), 404, "unknown session")


def test_session_ids_are_unguessable(http):
    ids = [open_session(http) for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) >= 40 for i in ids)  # 32 random bytes each
    for i in ids:
        http.delete(f"/sessions/{i}")


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0000000000000000", f"Basic {TOKEN}", TOKEN])
def test_requests_without_the_right_token_are_401(server, header):
    headers = {} if header is None else {"Authorization": header}
    with httpx.Client(base_url=server[0], headers=headers) as client:
        for method, path in (("GET", "/health"), ("POST", "/sessions"), ("POST", "/sessions/x/step")):
            detail = refused(client.request(method, path, json={}), 401, "token")
            assert TOKEN not in detail


@pytest.mark.parametrize("field", [
    {"env_kwargs": {"dataset": "synthetic"}},
    {"env_kwargs": {"dataset_kwargs": {"root": "/etc"}}},
    {"env_kwargs": {"frame_store": "../../etc/passwd"}},
    {"env_kwargs": {"task_options": {"prompt": "../../etc/passwd"}}},
    {"env_kwargs": {"tools": ["/etc/passwd"]}},
    {"env_kwargs": {"reward": {"weights": "C:\\Windows\\system.ini"}}},
    {"env_id": "../../etc/passwd"},
    {"env_kwargs": {"../../etc/passwd": 1}},
])
def test_paths_in_any_field_are_refused(http, field):
    detail = refused(http.post("/sessions", json=field), 400)
    assert "path" in detail or "set by the server" in detail


def test_paths_in_reset_options_and_session_ids_are_refused(http):
    session = open_session(http)
    for options in ({"index": "../../etc/passwd"}, {"index": "/etc/passwd"}, {"video": "/etc/passwd"}):
        refused(http.post(f"/sessions/{session}/reset", json={"options": options}), 422, "options.")
    for sid in ("..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
        refused(http.post(f"/sessions/{sid}/reset", json={}), 404)
    http.delete(f"/sessions/{session}")


def test_an_action_naming_a_file_is_only_text_to_the_env(http):
    """The action is the policy's words: the env parses it, never opens it; the file's content never comes back."""
    session = open_session(http)
    http.post(f"/sessions/{session}/reset", json={"seed": 0})
    reply = http.post(f"/sessions/{session}/step", json={"action": '<tool_call>{"name": "pose_estimation", '
                                                          '"arguments": {"path": "../../etc/passwd"}}</tool_call>'})
    assert reply.status_code == 200 and "root:" not in reply.text
    http.delete(f"/sessions/{session}")


def test_a_100_mb_body_is_413_before_it_is_read(server):
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        big = json.dumps({"action": "a" * (100 * 2**20)})
        refused(client.post("/sessions/x/step", content=big, headers={"content-type": "application/json"}),
                413, "--max-body-bytes")

        def chunks():  # no Content-Length: the bound is checked as the bytes arrive
            yield b'{"action": "'
            for _ in range(100):
                yield b"a" * 2**20

        refused(client.post("/sessions/x/step", content=chunks()), 413, "--max-body-bytes")


def test_the_token_is_in_no_log_line_or_reply(server, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as client:
        replies = [client.get("/health"), client.post("/sessions", json={"env_kwargs": SMALL})]
        session = replies[-1].json()["session_id"]
        replies += [client.post(f"/sessions/{session}/reset", json={"seed": 1}),
                    client.post(f"/sessions/{session}/step", json={"action": tool_call("pose_estimation")}),
                    client.post("/sessions", json={"env_kwargs": {"dataset": TOKEN}}),
                    client.delete(f"/sessions/{session}")]
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN[:-1]}"}) as client:
        replies.append(client.get("/health"))
    out = capsys.readouterr()
    assert all(TOKEN not in r.text and TOKEN not in str(r.headers) for r in replies)
    assert replies[-1].status_code == 401
    assert TOKEN not in caplog.text and TOKEN not in out.out + out.err
    assert any("session" in r.getMessage() for r in caplog.records)  # the server does log, without the token


def test_idle_sessions_expire_and_a_full_server_says_so():
    with running(ServerConfig(max_sessions=2, idle_timeout=0.3)) as (url, app):
        with httpx.Client(base_url=url, timeout=120) as client:
            first = client.post("/sessions", json={"env_kwargs": SMALL}).json()["session_id"]
            client.post("/sessions", json={"env_kwargs": SMALL})
            refused(client.post("/sessions", json={"env_kwargs": SMALL}), 429, "--max-sessions")
            deadline = time.monotonic() + 10
            while app.app.state.store.sessions and time.monotonic() < deadline:
                time.sleep(0.1)
            refused(client.post(f"/sessions/{first}/reset", json={}), 404, "expired")
            assert client.post("/sessions", json={"env_kwargs": SMALL}).status_code == 200


def test_another_host_needs_a_token_and_the_token_must_be_set(monkeypatch):
    with pytest.raises(ValueError, match="--token-env"):
        ServerConfig(host="0.0.0.0")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ValueError, match=TOKEN_ENV):
        make_app(ServerConfig(token_env=TOKEN_ENV))


def test_a_server_bug_is_500_with_a_number_and_no_message(server, http):
    session = open_session(http)
    http.post(f"/sessions/{session}/reset", json={"seed": 0})

    def broken(action):
        raise OSError("disk failed at /srv/secret-path")

    server[1].app.state.store.sessions[session].env.step = broken
    detail = refused(http.post(f"/sessions/{session}/step", json={"action": "hi"}), 500, "internal error #")
    assert "disk" not in detail and "secret-path" not in detail
    assert http.get(f"/sessions/{session}/state").status_code == 200  # the server and the connection go on
    http.delete(f"/sessions/{session}")


def test_serve_command_errors_are_one_line(capsys, monkeypatch):
    from videostar_env.cli.main import main

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    for argv in (["serve", "--host", "0.0.0.0"], ["serve", "--token-env", TOKEN_ENV], ["serve", "--max-sessions", "0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("videostar serve: error:") and "\n" not in err and "Traceback" not in err, err


def test_the_client_says_when_no_server_answers():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError, match="videostar serve"):
        gym.make("videostar/Remote-v0", url=f"http://127.0.0.1:{port}")


def test_client_errors_carry_the_servers_message(server):
    with pytest.raises(PermissionError, match="token"):
        gym.make("videostar/Remote-v0", url=server[0], token="wrong-token-0000000000000000")
    with pytest.raises(ValueError, match="set by the server"):
        gym.make("videostar/Remote-v0", url=server[0], token=TOKEN, env_kwargs={"dataset": "synthetic"})


def test_a_session_whose_env_fails_to_close_is_logged_and_expiry_goes_on(caplog):
    with running(ServerConfig(max_sessions=3, idle_timeout=0.3)) as (url, app):
        store = app.app.state.store
        with httpx.Client(base_url=url, timeout=120) as client:
            broken = client.post("/sessions", json={"env_kwargs": SMALL}).json()["session_id"]

            def fail():
                raise OSError("the cache's disk went away")
            store.sessions[broken].env.close = fail
            client.post("/sessions", json={"env_kwargs": SMALL})
            deadline = time.monotonic() + 10
            while store.sessions and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not store.sessions  # both expired: the broken close did not stop the expiry task
            later = client.post("/sessions", json={"env_kwargs": SMALL}).json()["session_id"]
            deadline = time.monotonic() + 10
            while store.sessions and time.monotonic() < deadline:
                time.sleep(0.1)
            assert later not in store.sessions
    assert "closing a session" in caplog.text and "the cache's disk went away" in caplog.text


def test_a_session_is_idle_from_its_last_reply_not_from_the_start_of_a_long_step():
    with running(ServerConfig(max_sessions=2, idle_timeout=0.5)) as (url, app):
        with httpx.Client(base_url=url, timeout=120) as client:
            session = client.post("/sessions", json={"env_kwargs": SMALL}).json()["session_id"]
            client.post(f"/sessions/{session}/reset", json={"seed": 0})
            env = app.app.state.store.sessions[session].env
            step = env.step

            def slow_step(action):
                time.sleep(1.0)  # longer than the idle timeout
                return step(action)
            env.step = slow_step
            assert client.post(f"/sessions/{session}/step", json={"action": tool_call("pose_estimation")}).is_success
            env.step = step
            reply = client.post(f"/sessions/{session}/step", json={"action": tool_call("human_detection")})
            assert reply.is_success, reply.text  # not expired right after the long step's reply


def test_a_failed_reset_leaves_the_session_unsteppable(http, server):
    session = open_session(http)
    assert http.post(f"/sessions/{session}/reset", json={"seed": 0}).is_success
    refused(http.post(f"/sessions/{session}/reset", json={"options": {"index": 10**9}}), 400)
    refused(http.post(f"/sessions/{session}/step", json={"action": "<answer>A</answer>"}), 409, "reset")


def test_the_client_hides_session_ids_in_its_log_strips_the_token_and_closes_after_errors(server, caplog,
                                                                                         monkeypatch):
    monkeypatch.setenv("VIDEOSTAR_TEST_TOKEN_FILE_LINE", TOKEN + "\n")  # as read from a token file
    caplog.set_level(logging.INFO, logger="httpx")
    env = gym.make("videostar/Remote-v0", url=server[0], token_env="VIDEOSTAR_TEST_TOKEN_FILE_LINE",
                   env_kwargs=SMALL).unwrapped
    session = env._session
    env.reset(seed=0)
    assert "/sessions/<id>/reset" in caplog.text and session not in caplog.text
    env._http.close = lambda close=env._http.close: (close(), setattr(env, "closed_http", True))
    env._call = lambda *a, **k: (_ for _ in ()).throw(ConnectionError("no server"))
    env.close()  # the server is gone: the session cannot be closed there, the connection still is
    assert env.closed_http and env._session is None


def test_the_server_benchmark_measures_steps_and_sessions_against_in_process(tmp_path):
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "videostar_benchmarks.perf.server", "--out", str(tmp_path),
                          "--repeats", "3", "--clients", "2", "--rounds", "1"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cached tool step, median ms" in out.stdout
    results = json.loads((tmp_path / "server.json").read_text())
    assert results and TOKEN not in json.dumps(results)
