"""One registry convention for every pluggable kind: tools, tasks, datasets, backends, agents, env ids.

A registry maps a name to a factory. Names come from code (`register`), from other packages
(an entry-point group, loaded on first lookup), or from an import path "module:attribute"
given where a name is expected. Unknown names raise KeyError listing what is registered.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import threading
import types
import typing
from dataclasses import is_dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Literal, TypeVar, Union

T = TypeVar("T")
JSON_TYPES = (str, int, float, list, dict)  # and bool, an int; None is left out (it often means "the default")


def check_options(factory: Callable[..., Any], options: dict[str, Any], what: str) -> None:
    """TypeError naming the unknown options and the valid ones, when factory takes named options only."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call itself complain
        return
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    valid = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        raise TypeError(f"unknown option{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))} for {what}"
                        + (f" (did you mean {close[0]!r}?)" if close else "")
                        + f"; valid options: {', '.join(valid) or 'none'}")
    check_types(factory, options, what)


def type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The parameter annotations of a function or a class's constructor; {} where they cannot be resolved."""
    for target in ((factory.__init__, factory) if isinstance(factory, type) else (factory,)):
        try:
            hints = typing.get_type_hints(target)
        except Exception:  # a forward reference only a type checker sees, a builtin, ...
            continue
        if hints:
            return hints
    return {}


def fits(value: Any, hint: Any) -> bool:
    """Whether value fits the annotation (only the outer type of a generic is checked; unknown kinds fit)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(fits(value, h) for h in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    hint = origin or hint
    if hint is Any or not isinstance(hint, type):
        return True
    if hint is type(None):
        return value is None
    if hint in (int, float):  # JSON has one kind of number: 2 is a float, but 2.5 is no int and true no number
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    if hint is tuple:  # JSON has lists only
        return isinstance(value, (tuple, list))
    if isinstance(value, str) and issubclass(hint, os.PathLike) or isinstance(value, dict) and is_dataclass(hint):
        return True  # a path spelt as text; a config's fields (its constructor checks them)
    try:
        return isinstance(value, hint)
    except TypeError:  # a Protocol that is not runtime-checkable
        return True


def describe(hint: Any) -> str:
    """An annotation as a reader writes it: int, float | None, str."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "").replace("NoneType", "None")


def check_types(factory: Callable[..., Any], options: dict[str, Any], what: str) -> None:
    """TypeError naming the first option whose value is not of its annotated type, and the type it must be."""
    hints = type_hints(factory)
    for name, value in options.items():
        # Only what a JSON option can hold is checked: code may pass a Path for a str, a numpy int for an int, ...
        if name in hints and isinstance(value, JSON_TYPES) and not fits(value, hints[name]):
            raise TypeError(f"option {name!r} of {what} must be {describe(hints[name])}, got {value!r}")


class Registry(Generic[T]):
    """Named factories of one kind (`kind` names it in messages: "tool", "dataset", ...)."""

    def __init__(self, kind: str, entry_point_group: str | None = None, plural: str | None = None,
                 as_factory: Callable[[Any], Callable[..., T]] | None = None):
        """as_factory turns what is registered (e.g. a ready object) into a factory; default: used as it is."""
        self.kind = kind
        self.as_factory = as_factory or (lambda obj: obj)
        self.plural = plural or f"{kind}s"
        self.entry_point_group = entry_point_group
        self._factories: dict[str, Callable[..., T]] = {}
        self._entry_points_loaded = entry_point_group is None
        self._entry_points_lock = threading.RLock()  # re-entrant: a plugin's import may look names up again
        self._loading = False

    def register(self, name: str, factory: Callable[..., T], overwrite: bool = False) -> None:
        """Make `factory` available as `name`; ValueError if the name is taken and overwrite is False."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._factories and not overwrite:
            raise ValueError(f"a {self.kind} named {name!r} is already registered; pass overwrite=True to replace it")
        self._factories[name] = self.as_factory(factory)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load_entry_points()
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._factories

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as `name`, or the object an import path "module:attribute" names."""
        self._load_entry_points()
        if name in self._factories:
            return self._factories[name]
        if ":" in name:
            module, _, attr = name.partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise KeyError(f"cannot import {self.kind} {name!r}: {exc}") from exc
        raise KeyError(f"unknown {self.kind} {name!r}; available: the registered {self.plural} "
                       f"{sorted(self._factories)}, or an import path 'module:attribute'")

    def make(self, name: str, **kwargs: Any) -> T:
        """factory(name)(**kwargs); a misspelt option is a TypeError listing the valid ones."""
        factory = self.factory(name)
        check_options(factory, kwargs, f"{self.kind} {name!r}")
        return factory(**kwargs)

    def _load_entry_points(self) -> None:
        # Envs are built on many threads at once (an env pool): the others wait until every plugin is registered,
        # and a plugin that fails to load fails every lookup instead of leaving the rest unloaded.
        if self._entry_points_loaded:
            return
        with self._entry_points_lock:
            if self._entry_points_loaded or self._loading:
                return
            self._loading = True
            try:
                for ep in entry_points(group=self.entry_point_group):
                    if ep.name not in self._factories:
                        self.register(ep.name, ep.load())
                self._entry_points_loaded = True
            finally:
                self._loading = False
