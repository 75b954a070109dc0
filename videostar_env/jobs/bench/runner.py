"""`videostar bench`: play an agent through planned episodes of one or more splits, appending each result.

Episodes run in a Gymnasium vector env (sync or async sub-envs) or, with `ray`, on Ray actors.
Either way episode k of a split has the same sample and seeds (see plan.py) and its row goes to
results.jsonl the moment it finishes, so a killed run restarts where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from ..cluster import connect_ray
from ...core.secrets import redact_secrets
from ..vector import make_vec
from ..agents import agent_caveat
from ..rollout import play
from ...tasks import DEFAULT_TASK, Task, make_task
from .plan import EpisodePlan, PlannedEpisodes
from .record import episode_record, plain, unbatch
from .reference import matching
from .results import ResultsLog

OnEpisode = Callable[[dict[str, Any]], None]


class BenchError(RuntimeError):
    """A benchmark cannot start as asked (e.g. the output folder holds a different run)."""


@dataclass
class BenchConfig:
    """One benchmark run; every default works offline on the synthetic dataset."""

    agent: str = "heuristic"  # registered agent name or "module:Class"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the agent's constructor (seed is added)
    env_id: str = "VideoSTAR-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # gym.make kwargs: backends, tool cache, num_frames...
    dataset: str = "synthetic"  # registered dataset name
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"dataset": "hmdb51", "protocol": "cross"}
    splits: tuple[str | None, ...] = (None,)  # each split is evaluated on its own; None: the dataset's default
    episodes: int | None = None  # per split; None: every sample once
    seed: int = 0  # episode k of a split uses seed + k for the env and the agent
    shuffle: bool = True  # visit samples in a seeded random order (so --episodes takes a fair subset)
    num_envs: int = 1  # sub-envs of the vector env
    vectorization: str = "sync"  # "sync" or "async" (one process per sub-env)
    ray: str | None = None  # None: this process; "local": start Ray here; otherwise a Ray cluster address
    ray_workers: int = 2  # Ray actors per split

    def __post_init__(self) -> None:
        if self.vectorization not in ("sync", "async"):
            raise ValueError(f"vectorization must be 'sync' or 'async', got {self.vectorization!r}")
        if self.num_envs < 1 or self.ray_workers < 1:
            raise ValueError("num_envs and ray_workers must be at least 1")
        if self.episodes is not None and self.episodes < 1:
            raise ValueError("episodes must be at least 1 (or None for every sample)")
        self.splits = tuple(self.splits) or (None,)

    def identity(self) -> dict[str, Any]:
        """What decides each episode's result: a resumed run must match it (episodes and parallelism may change)."""
        keep = ("agent", "agent_kwargs", "env_id", "env_kwargs", "dataset", "dataset_kwargs", "seed", "shuffle")
        fields = {name: redact_secrets(getattr(self, name)) for name in keep}
        fields["env_kwargs"] = {k: v for k, v in fields["env_kwargs"].items() if k != "tool_cache"}
        return json.loads(json.dumps(fields, sort_keys=True, default=repr))

    def task(self) -> Task:
        """The task the env id (or env_kwargs["task"]) plays: it decides the rows' task columns and metrics."""
        return make_task(self.env_kwargs.get("task") or gym.spec(self.env_id).kwargs.get("task", DEFAULT_TASK))

    def part_name(self, split: str | None) -> str:
        """The name a split's rows carry."""
        return "default" if split is None else str(split)

    def part_kwargs(self, split: str | None) -> dict[str, Any]:
        """gym.make keyword arguments for one split.

        Without Gymnasium's PassiveEnvChecker: it breaks when the first reset raises (an unreadable first
        video), and the env is checked by the tests, not on every run.
        """
        dataset_kwargs = dict(self.dataset_kwargs)
        if split is not None:
            dataset_kwargs["split"] = split
        return {**self.env_kwargs, "dataset": self.dataset, "dataset_kwargs": dataset_kwargs, "disable_env_checker": True}


@dataclass
class Part:
    """One split of a run: its plan, how many episodes, and what its dataset reported."""

    name: str
    split: str | None
    plan: EpisodePlan
    episodes: int
    dataset_name: str
    missing: dict[str, Any] | None  # {"count", "total", "examples"} when the dataset lacks videos
    refused: dict[str, Any] | None = None  # {"count", "total", "rows"} when it refused rows it cannot score

    def keys(self) -> list[str]:
        """The row keys of every planned episode."""
        return [f"{self.name}/{k}" for k in range(self.episodes)]


def plan_parts(config: BenchConfig) -> list[Part]:
    """Make each split's env once, before anything runs or is written: it checks the dataset, tools and backends
    (an error here is the user's to fix), sizes the plan and collects the missing-video report."""
    parts = []
    for split in config.splits:
        try:
            env = gym.make(config.env_id, **config.part_kwargs(split))
        except ValueError as exc:
            if "has no samples" in str(exc):
                raise BenchError(f"split {split!r} of {config.dataset!r} has no samples") from exc
            raise
        dataset = env.unwrapped.dataset
        env.close()
        missing = getattr(dataset, "missing", None)
        report = None
        if missing:
            report = {"count": len(missing), "total": missing.total, "examples": list(missing.paths[:5])}
        refused = getattr(dataset, "refused", None)
        refused = {"count": len(refused), "total": refused.total,
                   "rows": [f"{row}: {why}" for row, why in refused.rows]} if refused else None
        plan = EpisodePlan(config.seed, len(dataset), config.shuffle)
        name = config.part_name(split)
        parts.append(Part(name, split, plan, config.episodes or len(dataset),
                          getattr(dataset, "name", config.dataset), report, refused))
    return parts


def open_run(out: str | os.PathLike, config: BenchConfig) -> ResultsLog:
    """The results log of `out`, after checking a run already there is this run (run.json)."""
    out = Path(out)
    run_file = out / "run.json"
    identity = config.identity()
    if run_file.exists():
        previous = json.loads(run_file.read_text())["identity"]
        if previous != identity:
            changed = sorted(k for k in set(previous) | set(identity) if previous.get(k) != identity.get(k))
            raise BenchError(f"{out} holds a run with different settings ({', '.join(changed)}); "
                             "use another --out folder, or --overwrite to start afresh")
    return ResultsLog(out, identity)


def _make_agent(config: BenchConfig) -> Any:
    from ..agents import make_agent

    agent = make_agent(config.agent, **{"seed": config.seed, **config.agent_kwargs})
    check_reasoning(getattr(agent, "reasoning", None), config.env_kwargs.get("task_options", {}))
    return agent


def check_reasoning(agent_form: str | None, task_options: dict[str, Any]) -> None:
    """Refuse a policy whose chat template writes the reasoning tags differently from what the env would score."""
    if agent_form in (None, "paper") or "reasoning" in task_options:
        return
    raise BenchError(f"the model's chat template opens the reasoning itself (reasoning form {agent_form!r}), so its "
                     "replies would fail the paper's format reward; score them in that form with --env-options "
                     f"'{{\"task_options\": {{\"reasoning\": \"{agent_form}\"}}}}', or name \"paper\" there to keep the "
                     "paper's strict form")


def _failed_record(key: str, part: Part, episode: int, info: dict[str, Any]) -> dict[str, Any]:
    """The row of an episode whose video could not be read: kept, counted, never played."""
    return plain({"key": key, "part": part.name, "episode": episode, "seed": part.plan.seed_of(episode),
                  "index": part.plan.index_of(episode), "error": info["error"], "correct": False,
                  "label": None, "answer": None, "turns": 0, "reward": {}, "tool_calls": {}, "trajectory": []})


class EpisodeWorker:
    """Plays single episodes of one split in its own env (the unit a Ray actor runs)."""

    def __init__(self, config: BenchConfig, part: Part):
        self.part = part
        env = gym.make(config.env_id, **config.part_kwargs(part.split))
        self.env = PlannedEpisodes(env, config.seed, config.shuffle)
        self.agent = _make_agent(config)
        self.task = config.task()

    def run(self, episode: int) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Episode `episode` of the split to its end: its row and media."""
        part, seed = self.part, self.part.plan.seed_of(episode)
        key = f"{part.name}/{episode}"
        start = time.perf_counter()
        obs, info = self.env.reset(seed=seed)
        if "error" in info:
            return _failed_record(key, part, episode, info), {}
        end = play(self.env, self.agent, obs, info, seed)
        return episode_record(key, part.name, episode, seed, part.plan.index_of(episode), end.info, end.invalid_turns,
                              end.truncated, time.perf_counter() - start, self.task.bench_fields(end.info))

    def close(self) -> None:
        """Close the env."""
        self.env.close()


def run_vector(config: BenchConfig, part: Part, todo: Iterable[int], log: ResultsLog,
               on_episode: OnEpisode | None = None) -> None:
    """Play the `todo` episodes of a split in a Gymnasium vector env, appending each row as it finishes."""
    queue = deque(todo)
    if not queue:
        return
    n = min(config.num_envs, len(queue))
    vec = make_vec(config.env_id, n, config.vectorization, vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED},
                   wrappers=[partial(PlannedEpisodes, seed=config.seed, shuffle=config.shuffle)],
                   **config.part_kwargs(part.split))
    first = _make_agent(config)
    task = config.task()
    # A batch-capable agent (one model) answers every sub-env in one call; others get one instance per sub-env.
    batched = n > 1 and callable(getattr(first, "act_batch", None))
    agents = [first] * n if batched else [first] + [_make_agent(config) for _ in range(n - 1)]
    slot_episode: list[int | None] = [None] * n
    obs: list[Any] = [None] * n
    info: list[Any] = [None] * n
    invalid, started = [0] * n, [0.0] * n
    try:
        pending = list(range(n))
        while queue or any(k is not None for k in slot_episode):
            if pending:
                # A finished sub-env must be reset before the next step even when no episode is left for it:
                # it then idles on a random sample, stepped with empty turns it ignores, until the run ends.
                seeds: list[int | None] = [None] * n
                for i in pending:
                    slot_episode[i] = queue.popleft() if queue else None
                    seeds[i] = None if slot_episode[i] is None else part.plan.seed_of(slot_episode[i])
                mask = np.zeros(n, np.bool_)
                mask[pending] = True
                batch_obs, batch_info = vec.reset(seed=seeds, options={"reset_mask": mask})
                for i in pending:
                    obs[i], info[i] = unbatch(batch_obs, i), unbatch(batch_info, i)
                    invalid[i], started[i] = 0, time.perf_counter()
                    k = slot_episode[i]
                    if k is not None and "error" in info[i]:
                        _finish(log, on_episode, _failed_record(f"{part.name}/{k}", part, k, info[i]), {})
                        slot_episode[i] = None  # the stand-in sample is never played
                    elif k is not None:
                        agents[i].reset(seed=seeds[i])
                pending = [i for i in pending if slot_episode[i] is None and queue]
                if pending or not any(k is not None for k in slot_episode):
                    continue
            actions = _actions(agents, slot_episode, obs, info, batched)
            batch_obs, _, terminated, truncated, batch_info = vec.step(actions)
            for i in range(n):
                obs[i], info[i] = unbatch(batch_obs, i), unbatch(batch_info, i)
                invalid[i] += info[i]["action"] == "Invalid"
                if not (terminated[i] or truncated[i]):
                    continue
                k = slot_episode[i]
                if k is not None:
                    row, media = episode_record(f"{part.name}/{k}", part.name, k, part.plan.seed_of(k),
                                                part.plan.index_of(k), info[i], invalid[i], bool(truncated[i]),
                                                time.perf_counter() - started[i], task.bench_fields(info[i]))
                    _finish(log, on_episode, row, media)
                slot_episode[i] = None
                pending.append(i)
    finally:
        vec.close()


def _actions(agents: list[Any], slot_episode: list[int | None], obs: list[Any], info: list[Any],
             batched: bool) -> list[str]:
    """Each sub-env's next turn; idle sub-envs get an empty turn."""
    active = [i for i, k in enumerate(slot_episode) if k is not None]
    actions = [""] * len(slot_episode)
    if batched:
        texts = agents[0].act_batch([obs[i] for i in active], [info[i] for i in active])
    else:
        texts = [agents[i].act(obs[i], info[i]) for i in active]
    for i, text in zip(active, texts):
        actions[i] = text
    return actions


def run_ray(config: BenchConfig, part: Part, todo: Iterable[int], log: ResultsLog,
            on_episode: OnEpisode | None = None) -> None:
    """Play the `todo` episodes of a split on Ray actors (`config.ray_workers` of them), appending rows as they land."""
    import ray

    queue = deque(todo)
    if not queue:
        return
    remote = ray.remote(EpisodeWorker)
    workers = [remote.remote(config, part) for _ in range(min(config.ray_workers, len(queue)))]
    running: dict[Any, Any] = {}

    def submit(worker: Any) -> None:
        if queue:
            running[worker.run.remote(queue.popleft())] = worker

    for worker in workers:
        for _ in range(2):  # two in flight per actor: the next episode is queued while one is played
            submit(worker)
    try:
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            worker = running.pop(done[0])
            row, media = ray.get(done[0])
            _finish(log, on_episode, row, media)
            submit(worker)
    finally:
        for worker in workers:
            ray.kill(worker)


def _finish(log: ResultsLog, on_episode: OnEpisode | None, row: dict[str, Any], media: dict[str, bytes]) -> None:
    log.append(row, media)
    if on_episode is not None:
        on_episode(row)


def run_bench(config: BenchConfig, out: str | os.PathLike,
              on_episode: OnEpisode | None = None, on_start: Callable[[int, int], None] | None = None
              ) -> tuple[list[Part], ResultsLog]:
    """Run every planned episode not yet in out/results.jsonl; on_start(total, already_done) is called first."""
    parts = plan_parts(config)
    log = open_run(out, config)
    todo = {p.name: [k for k, key in enumerate(p.keys()) if key not in log] for p in parts}
    if on_start is not None:
        on_start(sum(p.episodes for p in parts), sum(p.episodes - len(todo[p.name]) for p in parts))
    started_ray = connect_ray(config.ray) if config.ray and any(todo.values()) else False
    try:
        for part in parts:
            runner = run_ray if config.ray else run_vector
            runner(config, part, todo[part.name], log, on_episode)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return parts, log


def planned_rows(parts: list[Part], log: ResultsLog) -> list[dict[str, Any]]:
    """The logged rows of the planned episodes, in plan order."""
    return [log.rows[key] for part in parts for key in part.keys() if key in log]


__all__ = ["BenchConfig", "BenchError", "EpisodeWorker", "Part", "open_run", "plan_parts",
           "planned_rows", "run_bench", "run_ray", "run_vector"]


def dataset_label(config: BenchConfig) -> tuple[str, str | None]:
    """(dataset, protocol) as the paper's rows name them; protocol None outside the Video-STAR layout."""
    if config.dataset == "videostar":
        return config.dataset_kwargs.get("dataset", "hmdb51"), config.dataset_kwargs.get("protocol", "base2novel")
    return config.dataset, None


def missing_videos(parts: list[Part]) -> dict[str, Any] | None:
    """The videos the annotations name but the disk lacks, over every split: count, total and a few examples."""
    found = [p.missing for p in parts if p.missing]
    if not found:
        return None
    return {"count": sum(m["count"] for m in found), "total": sum(m["total"] for m in found),
            "examples": [e for m in found for e in m["examples"]][:5]}


def write_outputs(config: BenchConfig, parts: list[Part], log: ResultsLog, references: list[dict[str, Any]],
                  max_report_episodes: int = 100) -> dict[str, Any]:
    """metrics.json, the plots and report.html from the logged rows of the planned episodes; returns the metrics."""
    from .metrics import compute_metrics
    from .plots import write_plots
    from .report import write_report

    rows = planned_rows(parts, log)
    metrics = compute_metrics(rows, [p.name for p in parts], config.task())
    dataset, protocol = dataset_label(config)
    metrics["run"] = {"agent": config.agent, "caveat": agent_caveat(config.agent, config.dataset),
                      "env_id": config.env_id, "dataset_label": dataset, "protocol": protocol,
                      "seed": config.seed, "splits": {p.name: {"dataset": p.dataset_name, "planned": p.episodes,
                                                               "missing_videos": p.missing,
                                                               "refused_rows": p.refused} for p in parts},
                      "identity": config.identity()}
    log.folder.mkdir(parents=True, exist_ok=True)  # made by the first row, unless there was none
    metrics["missing_videos"] = missing_videos(parts)
    metrics["references"] = matching(references, dataset, protocol)
    (log.folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plots = write_plots(metrics, rows, log.folder, metrics["references"]) if metrics["overall"]["episodes"] else {}
    write_report(log.folder, metrics, rows, plots, references, metrics["run"], max_report_episodes)
    return metrics
