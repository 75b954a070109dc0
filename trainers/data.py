"""verl RL parquet from any dataset and protocol: one row per sample, played by the agent loop.

Each row carries what verl's RLHFDataset reads (prompt with a <video> placeholder, videos,
reward_model.ground_truth, extra_info, agent_name) and what our agent loop needs
(extra_info.sample_index and seed: the loop replays that sample in the env, so the policy sees
exactly the env's frames). extra_info also holds the label's definition and aliases, so
trainers/reward.py can score a row without the env.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from videostar_env.data import VideoDecodeError

AGENT_NAME = "videostar_agent"


def verl_rows(env: Any, indices: Iterable[int], seed: int = 0, agent_name: str = AGENT_NAME,
              failures: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One verl row per dataset index of a made env (gym.make(...)); episode i is seeded seed + i.

    A video that cannot be read raises, unless `failures` is given: then it is left out and recorded there
    ({"sample_id", "error"}).
    """
    base = env.unwrapped
    # The row names its dataset, so the agent loop replays the sample from the same one.
    dataset = base.config.dataset if isinstance(base.config.dataset, str) else None
    rows = []
    for i, index in enumerate(indices):
        try:
            _, info = env.reset(seed=seed + i, options={"index": int(index)})
        except (VideoDecodeError, FileNotFoundError) as exc:
            if failures is None:
                raise
            failures.append({"sample_id": base.dataset[int(index)].id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        system, user = info["messages"][0], info["messages"][1]
        question = next(p["text"] for p in user["content"] if p["type"] == "text")
        entry = base.dataset.knowledge.get(info["ground_truth"]["label"])
        rows.append({
            "data_source": f"videostar/{info['dataset']}",
            "prompt": [{"role": "system", "content": system["content"][0]["text"]},
                       {"role": "user", "content": "<video>" + question}],
            "videos": [{"video": info["video"], "nframes": int(info["num_frames"])}],
            "ability": "action_recognition",
            "reward_model": {"style": "rule", "ground_truth": info["ground_truth"]["label"]},
            "extra_info": {"index": i, "sample_index": int(index), "seed": seed + i, "sample_id": info["sample_id"],
                           "split": str(base.dataset[int(index)].split), "candidates": list(info["candidates"]),
                           "definition": entry.explanation() if entry and entry.defined else "",
                           "aliases": list(base.dataset.knowledge.names(info["ground_truth"]["label"])[1:]),
                           "dataset": dataset, "dataset_kwargs": json.dumps(base.config.dataset_kwargs, default=str)},
            "agent_name": agent_name,
        })
    return rows


def write_parquet(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write rows to a parquet file (its folder is created)."""
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path
