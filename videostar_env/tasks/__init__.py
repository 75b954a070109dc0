"""Tasks: one module per kind of episode, registered by name like tools.

Another package adds tasks with an entry point in the group "videostar_env.tasks" whose object
is a Task instance or a zero-argument factory of one.
"""

from __future__ import annotations

from typing import Any, Callable, Union

from ..registry import Registry
from .action_recognition import ActionRecognition
from .base import Breakdown, Task
from .spatiotemporal import SpatioTemporal

ENTRY_POINT_GROUP = "videostar_env.tasks"


def _as_factory(obj: Union[Task, Callable[[], Task]]) -> Callable[[], Task]:
    return (lambda: obj) if isinstance(obj, Task) and not isinstance(obj, type) else obj


TASKS: Registry[Task] = Registry("task", ENTRY_POINT_GROUP, as_factory=_as_factory)
TASKS.register(ActionRecognition.name, ActionRecognition)
TASKS.register(SpatioTemporal.name, SpatioTemporal)
DEFAULT_TASK = ActionRecognition.name


def register_task(task: Union[Task, Callable[[], Task]], name: str | None = None, overwrite: bool = False) -> None:
    """Make a task (or a factory of tasks) available by name to gym.make(..., task=name)."""
    TASKS.register(name or getattr(task, "name", None) or _as_factory(task)().name, task, overwrite=overwrite)


def make_task(spec: Any, **options: Any) -> Task:
    """A task from a registered name (or "module:attribute") built with options, or a Task object passed through."""
    if isinstance(spec, str):
        return TASKS.make(spec, **options)
    if isinstance(spec, Task) and not isinstance(spec, type):
        return spec
    raise TypeError(f"task must be a registered task name or a Task object, got {spec!r}; "
                    f"registered tasks: {TASKS.names()}")


__all__ = ["ActionRecognition", "Breakdown", "DEFAULT_TASK", "ENTRY_POINT_GROUP", "SpatioTemporal", "TASKS", "Task", "make_task",
           "register_task"]
