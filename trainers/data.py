"""verl RL parquet from any env id, dataset and task: one row per sample, played by the agent loop.

Each row carries what verl's RLHFDataset reads (prompt with a <video> placeholder, videos,
reward_model.ground_truth, extra_info, agent_name) and what our agent loop needs
(extra_info.env_id, dataset, sample_index and seed: the loop replays that sample in the same env,
so the policy sees exactly the env's frames). The ability is the task's name.

What trainers/reward.py needs to score a row without the env depends on the task:
- action_recognition: reward_model.ground_truth is the label; extra_info holds the candidates, the
  label's definition and its aliases.
- spatiotemporal: reward_model.ground_truth is the task's ground truth as JSON (question type,
  kind, answer, unit and the true relation graph at the question's keyframes); extra_info holds the
  question (JSON: text, options, names, times, ...).
- both: extra_info.task_options, the options that rebuild the env's task (JSON: the reasoning tags,
  the graph tag and prompt), so the reward reads the reasoning form the policy was prompted with.
- any other task: reward_model.ground_truth is its ground truth as JSON.
JSON strings keep the parquet's columns one type whatever the question (numbers or letters,
options or none). Paths are absolute (the video, the dataset's path options), so the rows play
from any directory.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any, Iterable

from videostar_env.datasets import VideoDecodeError

AGENT_NAME = "videostar_agent"
ACTION_RECOGNITION = "action_recognition"
SPATIOTEMPORAL = "spatiotemporal"


def env_id_of(env: Any) -> str | None:
    """The Gymnasium id an env was made with (gym.make), or None for an env built directly."""
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None)


def absolute_path(path: str | os.PathLike) -> str:
    """A path as a row holds it: absolute, so the row reads from any directory (a URL passes through)."""
    path = os.fspath(path)
    return path if "://" in path else os.path.abspath(path)


def portable_dataset_kwargs(dataset: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The dataset's options with its path options (parameters annotated os.PathLike) made absolute."""
    params = inspect.signature(type(dataset)).parameters
    return {k: absolute_path(v) if isinstance(v, (str, os.PathLike)) and k in params
            and "PathLike" in str(params[k].annotation) else v for k, v in kwargs.items()}


def ground_truth_of(info: dict[str, Any]) -> str:
    """reward_model.ground_truth of a row: the label (action recognition), else the task's truth as JSON."""
    truth = info["ground_truth"]
    if info["task"] == ACTION_RECOGNITION:
        return truth["label"]
    return json.dumps(truth, default=str)


def task_extra_info(base: Any, info: dict[str, Any], index: int) -> dict[str, Any]:
    """The extra_info fields the row's task needs to be scored offline (trainers/reward.py)."""
    task = info["task"]
    if task == ACTION_RECOGNITION:
        label = info["ground_truth"]["label"]
        entry = base.dataset.knowledge.get(label)
        return {"definition": entry.explanation() if entry and entry.defined else "",
                "aliases": list(base.dataset.knowledge.names(label)[1:]),
                "task_options": json.dumps(base.task.options())}
    if task == SPATIOTEMPORAL:
        return {"question": json.dumps(base.dataset[int(index)].meta["question"], default=str),
                "task_options": json.dumps(base.task.options())}
    return {}


def verl_rows(env: Any, indices: Iterable[int], seed: int = 0, agent_name: str = AGENT_NAME,
              failures: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One verl row per dataset index of a made env (gym.make(...)); episode i is seeded seed + i.

    A video that cannot be read raises, unless `failures` is given: then it is left out and recorded there
    ({"sample_id", "error"}).
    """
    base = env.unwrapped
    # The row names its env id and dataset, so the agent loop replays the sample in the same env.
    env_id = env_id_of(env)
    dataset = base.config.dataset if isinstance(base.config.dataset, str) else None
    kwargs = portable_dataset_kwargs(base.dataset, base.config.dataset_kwargs)
    rows = []
    for i, index in enumerate(indices):
        try:
            _, info = env.reset(seed=seed + i, options={"index": int(index)})
        except (VideoDecodeError, FileNotFoundError) as exc:
            if failures is None:
                raise
            failures.append({"sample_id": base.dataset[int(index)].id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        # A benchmark's own prompt comes without a system message (the official modes): the user turn opens it.
        system = [m for m in info["messages"][:1] if m["role"] == "system"]
        user = info["messages"][len(system)]
        question = next(p["text"] for p in user["content"] if p["type"] == "text")
        rows.append({
            "data_source": f"videostar/{info['dataset']}",
            "prompt": [{"role": "system", "content": m["content"][0]["text"]} for m in system]
                      + [{"role": "user", "content": "<video>" + question}],
            "videos": [{"video": absolute_path(info["video"]), "nframes": int(info["num_frames"])}],
            "ability": info["task"],
            "reward_model": {"style": "rule", "ground_truth": ground_truth_of(info)},
            "extra_info": {"index": i, "sample_index": int(index), "seed": seed + i, "sample_id": info["sample_id"],
                           "split": str(base.dataset[int(index)].split), "candidates": list(info["candidates"]),
                           **task_extra_info(base, info, int(index)),
                           "dataset": dataset, "dataset_kwargs": json.dumps(kwargs, default=str),
                           "env_id": env_id, "task": info["task"]},
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
