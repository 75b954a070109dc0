"""The env core's parts: the one builder of a config's parts, the token budget, optional members' defaults, and
the bound on every tool reply."""

import ast
from pathlib import Path

import pytest

import videostar_env
from videostar_env import EnvConfig, ToolResult, VideoToolEnv, tool_call
from videostar_env.clients.tokens import TokenMeter
from videostar_env.core.budget import TokenBudget
from videostar_env.core.config import EnvParts
from videostar_env.jobs.precompute import PrecomputeWorker
from videostar_env.tasks import make_task
from videostar_env.tasks.base import OPTIONAL as TASK_OPTIONAL
from videostar_env.tasks.base import option as task_option
from videostar_env.tools.base import OPTIONAL as TOOL_OPTIONAL
from videostar_env.tools.base import option as tool_option
from videostar_env.tools.cache import CacheConfig

PACKAGE = Path(videostar_env.__file__).parent


class Words:
    """A counter of one token per word."""

    def encode(self, text):
        return text.split()


class Flood:
    """A misbehaving tool: its reply is millions of characters (a description server gone wrong)."""

    name = "flood"
    description = "Says too much."
    parameters = {"type": "object", "properties": {}}
    cacheable = False

    def __call__(self, ctx):
        return ToolResult("word " * 1_050_000, data={"words": 1_050_000})


class ShortFlood(Flood):
    """The same, but it can say less."""

    name = "short_flood"

    def shorten(self, data, fits):
        text = f"{data['words']} words, left out"
        return text if fits(text) else None


def test_a_runaway_tool_reply_is_refused_with_its_size_and_never_enters_the_dialogue():
    env = VideoToolEnv(tools=[Flood()], max_reply_chars=1000)
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step(tool_call("flood"))
    record = info["tool_results"][0]
    assert not record["ok"] and not terminated
    assert "5250000 characters, more than the 1000 a reply may have" in record["text"]
    assert "word word" not in obs["dialogue"] and all("word word" not in str(m) for m in info["messages"])


def test_by_default_a_reply_is_bounded_and_a_tool_that_can_say_less_does():
    assert EnvConfig().max_reply_chars == 65536
    env = VideoToolEnv(tools=[Flood(), ShortFlood()])
    env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call("flood"))
    assert not info["tool_results"][0]["ok"] and "65536" in info["tool_results"][0]["text"]
    _, _, _, _, info = env.step(tool_call("short_flood"))
    assert info["tool_results"][1]["ok"] and info["tool_results"][1]["text"] == "1050000 words, left out"


@pytest.mark.parametrize("bad", [0, 10, "big", 1.5])
def test_max_reply_chars_is_checked(bad):
    with pytest.raises((TypeError, ValueError), match="EnvConfig.max_reply_chars"):
        EnvConfig(max_reply_chars=bad)


def test_the_env_and_precompute_build_their_parts_in_one_place(tmp_path, monkeypatch):
    built = []
    original = EnvParts.build.__func__
    monkeypatch.setattr(EnvParts, "build", classmethod(lambda cls, config: built.append(config) or original(cls, config)))
    config = EnvConfig(dataset_kwargs={"per_class": 1}, tool_cache=CacheConfig(str(tmp_path)))
    env = VideoToolEnv(config=config)
    worker = PrecomputeWorker(config)
    assert built == [config, config]
    assert type(env.task) is type(worker.task) and env.toolbox.names == worker.toolbox.names
    assert len(env.dataset) == len(worker.dataset)
    env.close(), worker.toolbox.close()


def test_the_token_budget_counts_turns_replies_and_keeps_the_answer_reserve():
    budget = TokenBudget(Words(), reserve=10)
    budget.start(None)
    budget.policy_turn("many words " * 100)
    assert budget.left is None and budget.room() is None and not budget.spent and budget.shown is None
    budget.start(100)
    assert budget.left == 100
    meter = TokenMeter(Words())
    budget.policy_turn("call a tool")
    assert budget.left == 100 - meter.turn("assistant", "call a tool")
    room = budget.room()
    assert room.left == budget.left and room.tokens == budget.left - 10  # the reply leaves 10 for the answer
    before = budget.left
    budget.spend_reply(room, "a reply", [])
    assert budget.left == before - room.cost("a reply")
    budget.set_exact(3)  # the driver's exact count replaces the estimate for the next policy turn
    budget.policy_turn("anything at all")
    assert budget.left == 3
    budget.env_turn("a long env message " * 5)
    assert budget.spent and budget.shown == 0
    budget.start(8)  # a small budget keeps at most half for the answer
    assert budget.room().tokens == 4
    with pytest.raises(TypeError, match="takes an integer"):
        budget.set_exact("3")


def test_a_task_or_tool_without_optional_members_gets_the_documented_defaults():
    class Bare:
        pass

    assert {name: task_option(Bare(), name) for name in TASK_OPTIONAL} == TASK_OPTIONAL
    assert {name: tool_option(Bare(), name) for name in TOOL_OPTIONAL} == TOOL_OPTIONAL
    task = make_task("spatiotemporal")
    assert task_option(task, "answer_form") == task.answer_form  # a member that is there wins


OPTIONAL_NAMES = set(TASK_OPTIONAL) | set(TOOL_OPTIONAL)


def test_optional_members_are_read_only_through_option():
    """No getattr(x, "<optional member>", default) anywhere else: each default is written once."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and len(node.args) == 3
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value in OPTIONAL_NAMES
                    and ast.unparse(node.args[0]).split(".")[-1] in ("tool", "t", "task")):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.args[1].value}")
    assert found == []
