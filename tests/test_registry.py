"""The registry convention: plugins from an entry-point group are registered before any lookup sees the registry."""

import threading
import time
from types import SimpleNamespace

import pytest

from videostar_env import registry as registry_module
from videostar_env.registry import Registry

from test_inflight import concurrently


def slow_entry_points(loads):
    """entry_points(group=...) offering one plugin whose import takes a while, counting its loads."""
    def load():
        loads.append(threading.get_ident())
        time.sleep(0.2)
        return lambda: "plugged in"

    return lambda group: [SimpleNamespace(name="plugin", load=load)]


def test_threads_looking_up_a_plugin_at_once_all_find_it(monkeypatch):
    loads = []
    monkeypatch.setattr(registry_module, "entry_points", slow_entry_points(loads))
    things = Registry("thing", entry_point_group="videostar_env.things")
    # An env pool builds its envs on many threads: before, every thread but the first saw the group as loaded while
    # its plugin was still importing, and failed with "unknown thing 'plugin'".
    made = concurrently([lambda: things.make("plugin")] * 8)
    assert made == ["plugged in"] * 8 and len(loads) == 1


def test_a_plugin_that_fails_to_load_fails_every_lookup_not_just_the_first(monkeypatch):
    def broken(group):
        return [SimpleNamespace(name="broken", load=lambda: 1 / 0)]

    monkeypatch.setattr(registry_module, "entry_points", broken)
    things = Registry("thing", entry_point_group="videostar_env.things")
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            things.names()
