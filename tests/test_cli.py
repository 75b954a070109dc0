"""`videostar demo`: the main job, and the tool ablation in miniature."""

import json

from videostar_env.cli import main


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
