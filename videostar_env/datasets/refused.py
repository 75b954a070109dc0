"""Benchmark rows that the official scoring cannot score: left out at load, counted and named, never a crash later."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import warn


@dataclass(frozen=True)
class RefusedRows:
    """Which rows of an annotation file were refused, each as (sample id, why), out of how many rows."""

    total: int
    rows: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    def message(self, dataset: str, examples: int = 10) -> str:
        """One line: how many rows are refused, and the first `examples` of them with why."""
        shown = "; ".join(f"{row}: {why}" for row, why in self.rows[:examples])
        more = f"; and {len(self) - examples} more" if len(self) > examples else ""
        return (f"{dataset}: {len(self)} of {self.total} rows are refused, the official scoring cannot score them "
                f"({shown}{more}); they are skipped")

    def warn(self, dataset: str) -> None:
        """Warn with message() when any row is refused."""
        if self.rows:
            warn(self.message(dataset), stacklevel=3)
