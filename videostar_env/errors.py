"""Errors every layer may raise; the bottom layer, so that lower layers need not import the tools."""

from __future__ import annotations

import re
import warnings

ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ToolError(Exception):
    """A tool could not do what was asked; the message goes to the agent, so say how to fix it."""


class MissingDependency(ImportError):
    """An optional package a chosen feature needs is not installed; the message names what to install."""


def plain(text: str) -> str:
    """text without terminal colour codes (gym.logger.warn colours what it warns, terminal or not)."""
    return ANSI_CODES.sub("", text)


def warn(message: str, stacklevel: int = 2, category: type[Warning] = UserWarning) -> None:
    """Warn in plain text, never colour codes: the one way the package warns."""
    warnings.warn(plain(message), category, stacklevel=stacklevel + 1)
