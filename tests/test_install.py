"""What the distribution installs: top-level import names unique to this project; the benchmarks run from anywhere."""

import importlib.metadata
import re
import subprocess
import sys

GENERIC = {"agents", "trainers", "benchmarks", "tests", "tools", "data", "utils", "common", "core", "envs", "scripts"}


def installed_top_level_names() -> set[str]:
    """Top-level names of the installed videostar-env: top_level.txt, and the editable finder's mapping if any."""
    dist = importlib.metadata.distribution("videostar-env")
    names = set((dist.read_text("top_level.txt") or "").split())
    for path in dist.files or ():
        if path.name.endswith("_finder.py") and path.name.startswith("__editable__"):
            mapping = re.search(r"MAPPING\s*(?::[^=]*)?=\s*(\{.*?\})", path.read_text(), re.DOTALL)
            names |= set(eval(mapping.group(1))) if mapping else set()  # noqa: S307 (setuptools' own literal)
    return names


def test_every_installed_top_level_name_is_this_projects():
    names = installed_top_level_names()
    assert names == {"videostar_env", "videostar_agents", "videostar_trainers", "videostar_benchmarks"}
    assert not names & GENERIC  # openai-agents installs `agents`; both must import side by side


def test_the_renamed_folders_import_under_their_installed_names():
    import videostar_agents
    import videostar_trainers.reward

    assert "heuristic" in videostar_agents.AGENTS
    assert callable(videostar_trainers.reward.compute_score)


def test_the_benchmarks_run_from_any_directory(tmp_path):
    import videostar_benchmarks.tracking

    assert videostar_benchmarks.tracking.TRUTH.is_file()  # package data
    help_text = subprocess.run([sys.executable, "-m", "videostar_benchmarks.perf", "--help"], cwd=tmp_path,
                               capture_output=True, text=True, check=True).stdout
    assert help_text.startswith("usage: python -m videostar_benchmarks.perf")
    subprocess.run([sys.executable, "-m", "videostar_benchmarks.perf", "--quick", "--only", "step", "--out", "out"],
                   cwd=tmp_path, capture_output=True, text=True, check=True)
    assert (tmp_path / "out" / "perf.json").is_file()
