"""What the distribution installs: top-level import names unique to this project."""

import importlib.metadata
import re

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
    assert names == {"videostar_env", "videostar_agents", "videostar_trainers"}
    assert not names & GENERIC  # openai-agents installs `agents`; both must import side by side


def test_the_renamed_folders_import_under_their_installed_names():
    import videostar_agents
    import videostar_trainers.reward

    assert "heuristic" in videostar_agents.AGENTS
    assert callable(videostar_trainers.reward.compute_score)
