"""Retries for remote model calls: bounded exponential backoff that honours Retry-After.

A client classifies each failure: TransientError (rate limit, 5xx, timeout, refused
connection, malformed reply) is tried again; PermanentError (bad key, bad request) is not.
After the last try the failure becomes a ToolError, a message the agent reads; the episode goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from ..errors import ToolError

T = TypeVar("T")


class TransientError(Exception):
    """A failure worth trying again; `retry_after` is the server's requested wait in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that trying again will not fix (authentication, a malformed request)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try a remote call."""

    attempts: int = 4  # tries in all, the first included
    backoff: float = 1.0  # seconds before the second try; doubled before each further try
    max_wait: float = 30.0  # no single wait is longer, whatever Retry-After asks

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        delay = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
        return max(0.0, min(delay, self.max_wait))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (HTTP dates are ignored), or None."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def call_with_retries(call: Callable[[], T], policy: RetryPolicy, what: str,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """call() until it succeeds, a PermanentError, or the attempts run out; failures raise ToolError."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except PermanentError as exc:
            raise ToolError(f"{what} failed: {exc}") from exc
        except TransientError as exc:
            if attempt == policy.attempts:
                raise ToolError(f"{what} failed after {attempt} attempt{'s' * (attempt > 1)}: {exc}. "
                                "The service may be down or overloaded; try again later.") from exc
            sleep(policy.wait(attempt, exc.retry_after))
    raise AssertionError("unreachable: RetryPolicy guarantees at least one attempt")
