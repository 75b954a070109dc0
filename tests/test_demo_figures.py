"""The README's demo table is what `make demo` prints: each figure, rounded as the table shows it."""

import json
import re
from pathlib import Path

from videostar_env.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\|[^|]*\| ([\w-]+) \(.*?\) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$")


def readme_rows() -> dict[str, tuple[str, str, str]]:
    """agent -> (accuracy, mean reward, tool calls / episode) as the README's demo table writes them."""
    table = README.read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m.groups()[1:] for line in table.splitlines() if (m := ROW.match(line))}


def test_the_readme_demo_table_is_what_the_demo_measures(tmp_path):
    assert main(["demo", "--episodes", "40", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    measured = {**summary["agents"], **summary["spatiotemporal"]["agents"]}
    rows = readme_rows()
    assert set(rows) == set(measured) == {"heuristic", "no-tool", "graph-reader", "guess"}
    for agent, (accuracy, reward, tools) in rows.items():
        m = measured[agent]
        decimals = [len(text.split(".")[1]) for text in (accuracy, reward, tools)]
        assert (accuracy, reward, tools) == tuple(f"{m[key]:.{d}f}" for key, d in zip(
            ("accuracy", "mean_reward", "tool_calls_per_episode"), decimals)), agent
