"""`videostar demo`: the main job, and the tool ablation in miniature."""

import json

from videostar_env.cli.main import main


def test_demo_tool_use_beats_no_tool(tmp_path, capsys):
    assert main(["demo", "--episodes", "40", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    tool, no_tool = summary["agents"]["heuristic"], summary["agents"]["no-tool"]
    for stats in (tool, no_tool):
        assert stats["episodes"] == 40
        assert {"accuracy", "mean_reward", "tool_calls_per_episode"} <= stats.keys()
    assert tool["accuracy"] >= 0.8
    assert tool["accuracy"] - no_tool["accuracy"] >= 0.3
    assert tool["tool_calls_per_episode"] > 0 and no_tool["tool_calls_per_episode"] == 0
    assert (tmp_path / "episode.png").stat().st_size > 0
    assert "heuristic" in capsys.readouterr().out


def test_cache_store_and_size_are_set_from_the_command_line(tmp_path, capsys):
    from videostar_env.tools.stores import DirectoryStore

    folder = tmp_path / "shared"
    assert main(["precompute", "--limit", "1", "--tools", "pose_estimation", "--cache-dir", str(folder),
                 "--cache-store", "directory", "--cache-size-gb", "0.5"]) == 0
    assert len(DirectoryStore(str(folder), 10**9)) == 1  # one entry file, in the directory store's layout
    assert main(["precompute", "--limit", "1", "--cache-dir", str(folder), "--cache-store", "redis"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "redis" in err and "directory" in err


def test_help_lists_every_command_including_those_the_trainers_plug_in(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "precompute", "bench", "verl-data", "sft-data", "train"):
        assert command in out


def test_agents_reach_the_env_package_through_entry_points():
    from videostar_env.jobs.agents import AGENTS

    assert {"heuristic", "no-tool", "oracle", "random", "graph-reader", "guess", "qwen-vl", "openai"} <= set(AGENTS.names())


def test_cache_lock_wait_is_set_from_the_command_line():
    import argparse

    from videostar_env import ENV_IDS
    from videostar_env.cli.options import add_env_args, env_spec

    parser = argparse.ArgumentParser()
    add_env_args(parser, sorted(ENV_IDS), "split")
    cache = env_spec(parser.parse_args(["--cache-lock-wait", "12.5"]))["tool_cache"]
    assert cache.lock_wait_s == 12.5 and cache.store == "diskcache"
    assert "tool_cache" not in env_spec(parser.parse_args([]))  # the default config: the env's own
