"""Errors every layer may raise; the bottom layer, so that lower layers need not import the tools."""

from __future__ import annotations


class ToolError(Exception):
    """A tool could not do what was asked; the message goes to the agent, so say how to fix it."""


class MissingDependency(ImportError):
    """An optional package a chosen feature needs is not installed; the message names what to install."""
