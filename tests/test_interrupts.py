"""Ctrl-C in a long command: one line on stderr, never a traceback; the resumable ones print the command that resumes."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videostar_env.cli import main

CLI = sys.modules["videostar_env.cli.main"]  # the module (videostar_env.cli.main is also the name of the function)

TESTS = Path(__file__).resolve().parent
MODULE = [sys.executable, "-m", "videostar_env.cli"]


def test_ctrl_c_in_bench_is_one_line_with_the_exact_command_that_resumes(tmp_path):
    out, n = tmp_path / "run", 12
    args = ["bench", "--agent", "slow_agent:SlowHeuristic", "--agent-options", '{"delay": 0.1}', "--episodes", str(n),
            "--out", str(out), "--overwrite"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    first = subprocess.Popen(MODULE + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not results.exists() or results.read_text().count("\n") < 3):
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "interrupted" in err and str(results) in err
    resume = shlex.split(err.split("resume with: ")[1])
    assert resume[0] == "videostar" and "--overwrite" not in resume  # --overwrite would throw the episodes away
    assert resume[1:] == [a for a in args if a != "--overwrite"]
    second = subprocess.run(MODULE + resume[1:], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    assert len(keys) == n and len(set(keys)) == n


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_in_precompute_names_the_command_that_resumes(monkeypatch, capsys):
    monkeypatch.setattr(CLI, "precompute", interrupt)
    assert main(["precompute", "--limit", "2", "--no-cache", "--frames"]) == 130
    err = capsys.readouterr().err
    assert err == "videostar precompute: interrupted; the finished samples are kept in the tool cache; resume with: " \
                  "videostar precompute --limit 2 --no-cache --frames\n"


def test_ctrl_c_in_demo_says_what_was_not_written(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(CLI, "run_episode", interrupt)
    assert main(["demo", "--episodes", "2", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err == f"videostar demo: interrupted; {tmp_path}/summary.json was not written; run it again to start over\n"


def test_ctrl_c_in_verl_data_says_the_file_was_not_written(monkeypatch, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    monkeypatch.setattr("videostar_trainers.data.verl_rows", interrupt)
    out = tmp_path / "rows.parquet"
    assert main(["verl-data", "--out", str(out), "--limit", "2"]) == 130
    assert capsys.readouterr().err == f"videostar verl-data: interrupted; {out} was not written; run it again to start over\n"
    assert not out.exists()


def test_debug_shows_the_traceback_of_a_ctrl_c(monkeypatch):
    monkeypatch.setattr(CLI, "run_episode", interrupt)
    with pytest.raises(KeyboardInterrupt):
        main(["demo", "--episodes", "1", "--debug"])
