"""Published rows to compare a run with: the paper's numbers, plus any a user adds from a JSON file.

The built-in rows are read from the paper's full text (arXiv 2510.08480): Table 1 (base-to-novel:
base, novel, HM per dataset) and Table 2 (cross-dataset: full validation set and mean \u00b1 std over
splits), for Video-STAR-3B/7B and the Qwen2.5-VL-3B/7B baselines; each row names its table. Add or correct rows with `videostar bench --reference
FILE` (a JSON list of rows in the same shape) rather than editing numbers here.
"""

from __future__ import annotations

import json
import os
from typing import Any

PAPER = "Video-STAR paper (arXiv 2510.08480)"
TABLE_1 = f"{PAPER}, Table 1 (base-to-novel; Video-STAR trained on HMDB-51 base classes only)"
TABLE_2 = f"{PAPER}, Table 2 (cross-dataset; split = mean \u00b1 std over the three splits)"
SOURCE = PAPER  # kept for callers of the old name

# Table 1: base, novel and harmonic mean (hm) per dataset, in %.
_TABLE_1 = {  # method -> dataset -> (base, novel, hm)
    "Qwen2.5-VL-3B": {"kinetics400": (48.3, 40.5, 44.1), "hmdb51": (54.0, 40.8, 46.5),
                      "ucf101": (71.4, 62.4, 66.6), "ssv2": (3.5, 3.2, 3.3)},
    "Qwen2.5-VL-7B": {"kinetics400": (87.8, 84.8, 86.3), "hmdb51": (41.7, 50.3, 45.6),
                      "ucf101": (85.0, 82.4, 83.7), "ssv2": (14.0, 9.9, 11.6)},
    "Video-STAR-3B": {"kinetics400": (86.0, 86.4, 86.2), "hmdb51": (92.1, 91.7, 91.9),
                      "ucf101": (96.9, 98.9, 97.9), "ssv2": (13.5, 11.3, 12.3)},
    "Video-STAR-7B": {"kinetics400": (96.3, 97.2, 96.7), "hmdb51": (92.3, 91.9, 92.1),
                      "ucf101": (99.6, 99.8, 99.7), "ssv2": (19.2, 13.0, 15.5)},
}
# Table 2: top-1 on the full validation set ("full"; not given for K-600) and mean, std over the three splits.
_TABLE_2 = {  # method -> dataset -> (full or None, split mean, split std)
    "Qwen2.5-VL-3B": {"ucf101": (58.3, 58.1, 0.2), "hmdb51": (39.2, 42.1, 0.3), "kinetics600": (None, 37.7, 1.8)},
    "Qwen2.5-VL-7B": {"ucf101": (77.5, 77.2, 0.6), "hmdb51": (50.6, 53.1, 0.1), "kinetics600": (None, 68.0, 1.5)},
    "Video-STAR-3B": {"ucf101": (96.8, 96.7, 0.3), "hmdb51": (83.5, 86.2, 0.2), "kinetics600": (None, 90.5, 0.7)},
    "Video-STAR-7B": {"ucf101": (99.4, 99.4, 0.2), "hmdb51": (90.1, 92.5, 0.1), "kinetics600": (None, 98.2, 0.1)},
}


def _paper_rows() -> tuple[dict[str, Any], ...]:
    rows: list[dict[str, Any]] = []
    for method, datasets in _TABLE_1.items():
        for dataset, values in datasets.items():
            rows += [{"dataset": dataset, "protocol": "base2novel", "metric": metric, "method": method, "value": value,
                      "source": TABLE_1} for metric, value in zip(("base", "novel", "hm"), values)]
    for method, datasets in _TABLE_2.items():
        for dataset, (full, mean, std) in datasets.items():
            if full is not None:
                rows.append({"dataset": dataset, "protocol": "cross", "metric": "full", "method": method,
                             "value": full, "source": TABLE_2})
            rows.append({"dataset": dataset, "protocol": "cross", "metric": "split", "method": method, "value": mean,
                         "std": std, "source": TABLE_2})
    return tuple(rows)


# dataset and protocol as `videostar bench` names them; metric: base, novel, hm (base2novel), full or split (cross,
# split with its std); value in %; source: the paper's table.
PAPER_ROWS: tuple[dict[str, Any], ...] = _paper_rows()


def load_references(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The built-in rows (with their source), then the rows of a user's JSON file."""
    rows = [dict(row) for row in PAPER_ROWS]
    if path is None:
        return rows
    try:
        extra = json.loads(open(path, encoding="utf-8").read())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read reference rows from {path}: {exc}") from exc
    need = {"dataset", "protocol", "metric", "method", "value"}
    if not isinstance(extra, list) or not all(isinstance(r, dict) and need <= set(r) for r in extra):
        raise ValueError(f"{path} must hold a JSON list of objects with the keys {sorted(need)}")
    return rows + [dict(r, source=r.get("source", str(path))) for r in extra]


def matching(references: list[dict[str, Any]], dataset: str, protocol: str | None) -> list[dict[str, Any]]:
    """The rows for one dataset and protocol."""
    return [r for r in references if r["dataset"] == dataset and (protocol is None or r["protocol"] == protocol)]
