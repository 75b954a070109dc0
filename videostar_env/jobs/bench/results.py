"""results.jsonl: one line per finished episode, appended and synced as it finishes, so a killed run resumes.

The file holds whole lines only: a line cut by a kill is dropped when the log reopens, and the
episode it described runs again. Keys already present are never run or written twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator


class ResultsLog:
    """Append-only episode rows keyed by row["key"], with the episode images stored beside them."""

    def __init__(self, folder: str | os.PathLike, identity: dict[str, Any] | None = None):
        """identity: the run's settings, written to run.json with the first row (a run that failed to start
        leaves nothing that would refuse the corrected command)."""
        self.folder = Path(folder)
        self.path = self.folder / "results.jsonl"
        self.identity = identity  # the folder is made with the first row: a run that fails to start leaves none
        self.dropped = self._truncate_partial_line()
        self.rows: dict[str, dict[str, Any]] = {row["key"]: row for row in self._read()}

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, row: dict[str, Any], media: dict[str, bytes] | None = None) -> None:
        """Write the episode's media, then its row as one synced line; a key already logged is an error."""
        if row["key"] in self.rows:
            raise ValueError(f"episode {row['key']} is already in {self.path}")
        self.folder.mkdir(parents=True, exist_ok=True)
        run_file = self.folder / "run.json"
        if self.identity is not None and not run_file.exists():
            run_file.write_text(json.dumps({"identity": self.identity}, indent=2))
        for name, data in (media or {}).items():
            target = self.folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        line = json.dumps(row, ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.rows[row["key"]] = row

    def _read(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self.path}:{number} is not a JSON row ({exc}); "
                                     "fix or remove that line, or start a new --out folder") from exc

    def _truncate_partial_line(self) -> int:
        """Cut a trailing line without its newline (a write the kill interrupted); returns the bytes dropped."""
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(keep)
        return len(data) - keep
