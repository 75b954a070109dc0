"""The tool cache keys on a tool's code: editing a tool's source misses its old results."""

import importlib
import sys
import textwrap

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401  (registers the env ids)
from videostar_env.actions import tool_call
from videostar_env.tools.cache import CacheConfig, code_digest

TOOL = '''
from videostar_env.tools.base import ToolResult


class Echo:
    """A tool of the test's own."""

    name = "echo"
    description = "Say something."
    parameters = {{"type": "object", "properties": {{}}, "additionalProperties": False}}
    uses = ()
    version = "{version}"

    def __call__(self, ctx):
        return ToolResult({text!r})
'''


def _load(folder, name, text, version="1"):
    (folder / f"{name}.py").write_text(textwrap.dedent(TOOL.format(text=text, version=version)))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name).Echo()


def _run(tool, cache_dir):
    env = gym.make("VideoSTAR-v0", tools=[tool], tool_cache=CacheConfig(str(cache_dir)))
    env.reset(seed=0, options={"index": 0})
    _, _, _, _, info = env.step(tool_call("echo"))
    env.close()
    result = info["tool_results"][-1]
    assert result["ok"], result
    return result["text"], result["cached"]


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    folder = tmp_path / "src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edit within one second must not hit a stale .pyc
    return folder


def test_an_edited_tool_misses_its_old_results(module_dir, tmp_path):
    name = "videostar_test_echo_tool"
    cache = tmp_path / "cache"
    assert _run(_load(module_dir, name, "old text"), cache) == ("old text", False)
    assert _run(_load(module_dir, name, "old text"), cache) == ("old text", True)  # the same code: kept across envs
    assert _run(_load(module_dir, name, "new, longer text"), cache) == ("new, longer text", False)
    sys.modules.pop(name, None)


def test_the_version_still_counts(module_dir, tmp_path):
    name = "videostar_test_echo_version"
    cache = tmp_path / "cache"
    assert _run(_load(module_dir, name, "same"), cache) == ("same", False)
    assert _run(_load(module_dir, name, "same", version="2"), cache) == ("same", False)
    sys.modules.pop(name, None)


def test_a_tool_without_source_warns_and_keys_on_its_version():
    namespace = {}
    exec(TOOL.format(text="x", version="7"), namespace)  # no file holds this class
    with pytest.warns(UserWarning, match="bump `version`"):
        assert code_digest(namespace["Echo"]()) is None


def test_builtin_tools_have_a_code_digest():
    from videostar_env.tools import PEOPLE_TOOLS
    digests = {code_digest(cls()) for cls in PEOPLE_TOOLS}
    assert None not in digests and len(digests) == len(PEOPLE_TOOLS)
