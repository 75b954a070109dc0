"""Concurrent episodes in one event loop, driven through EnvPool as verl's agent loop drives it.

    python -m videostar_benchmarks.perf.concurrency --out DIR [--quick] [--data synthetic,clips] [--ks 1,16] [--threads N] ...

A cell is K episodes started together (one agent-loop worker's share of a rollout batch; GRPO
groups of 4 rollouts on one video), each: reset, then 3 turns of a simulated generation
(asyncio.sleep(G): the LLM server's time, no CPU here) and a step (pose_estimation, human_detection,
the answer), messages converted by qwen_chat as the agent loop does. Without env cost a cell runs
K / (3 G) episodes per second (ideal); the env overhead is the share of that lost. Per cell, in a
fresh process (so that its peak RSS is its own), median of `repeats` processes: episodes/s over the
ideal, CPU ms per episode (all threads: the env's cost, which other load hardly changes), the event
loop's lag (a ticker coroutine), peak RSS, and the tool runs against the unique (video, tool,
arguments) keys, with the backend calls counted by wrapping each env's vision backend and the
frames its models ran. Cache: off (no tool cache, and the YOLO service keeps no results per clip:
every tool run is model work), results (no tool cache, the YOLO service keeping results per clip
as it does by default), cold (empty at the start) or warm (filled before timing). Mode "pool" is EnvPool; mode "before" is
the agent loop's pattern before it (verl's default executor, envs made on the loop, messages
converted on the loop, no gc.freeze, equal CPU priority, Python's GIL switch interval, malloc left alone), for comparison. Data: synthetic videos (oracle vision) and
the three real clips (YOLO11n int8 pose and detection, 224 px frames). Each process runs one
episode's work (no cache) on its first env before timing; in mode "pool" it first sets the worker's
process settings and imports the heavy libraries (tune_worker_process and preload_libraries, as Ray's
worker_process_setup_hook does when a verl worker starts), so the fill's loop lag is that of building envs, not of importing torch. Plus Gymnasium's async vector env on the real clips:
2 sub-envs over 1. Writes DIR/concurrency.json and DIR/concurrency.md. Here the grid runs and the
command; the cells are in grid.py, one cell's process in measure.py (with looplag.py and
envs_before.py), the vector envs on the clips in vector.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from .grid import CACHES, DATA, GENERATION_S, GROUP, KS, MODES, QUICK, TOOLS, TURNS, Cell, cells, data_kwargs
from .measure import measure_cell, median_row
from .vector import vector_on_clips


def concurrency(ks: tuple[int, ...] = KS, generation_s: tuple[float, ...] = GENERATION_S, data: tuple[str, ...] = DATA,
                caches: tuple[str, ...] = CACHES, modes: tuple[str, ...] = MODES, rounds: int = 2, repeats: int = 3,
                threads: tuple[int | None, ...] = (None,), vector_episodes: int = 24,
                vision_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every cell in fresh processes (repeats interleaved, so load on a shared machine hits all alike), then the
    vector env on the clips (vector_episodes=0: skipped). threads: EnvPool sizes to compare (None: the default);
    vision_options: YOLO options added on the clips (e.g. {"replicas": 1, "batch_size": 8})."""
    for name, given, known in (("data", data, DATA), ("caches", caches, CACHES), ("modes", modes, MODES)):
        if not given or set(given) - set(known):
            raise ValueError(f"{name} must be some of {known}, got {given}")
    if min(ks) < 1 or min(generation_s) <= 0 or rounds < 1 or repeats < 1:
        raise ValueError(f"ks, rounds and repeats must be at least 1 and generation_s above 0, got ks={ks}, "
                         f"generation_s={generation_s}, rounds={rounds}, repeats={repeats}")
    grid = [Cell(d, c, m, k, g, rounds, {}, None, t, dict(vision_options or {})) for d, c, m, t, k, g in cells(ks, generation_s, data, caches, modes,
                                                                                  threads)]
    runs: list[list[dict[str, Any]]] = [[] for _ in grid]
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="videostar-perf-") as scratch:
        found = data_kwargs(data, Path(scratch))
        for repeat in range(repeats):
            for n, cell in enumerate(grid):
                cell = dataclasses.replace(cell, data_kwargs=found[cell.data][0],
                                           cache_dir=str(Path(scratch) / f"cache-{repeat}-{n}"))  # fresh, empty
                with context.Pool(1) as pool:
                    runs[n].append(pool.apply(measure_cell, (dataclasses.asdict(cell), found[cell.data][1])))
        vector = vector_on_clips(found["clips"][0], vector_episodes, 1 if repeats == 1 else 2) \
            if "clips" in found and vector_episodes else None
    rows = [median_row(cell, cell_runs) for cell, cell_runs in zip(grid, runs)]
    return {"turns": TURNS, "group_size": GROUP, "rounds": rounds, "repeats": repeats,
            "tools": list(TOOLS), "rows": rows, "vector_clips": vector}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from . import machine
    from .report import concurrency_table

    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.perf.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/perf", help="output folder (default runs/perf)")
    parser.add_argument("--quick", action="store_true", help="K 1, 16, 64 at G 0.05 s, one process per cell: a smoke run")
    parser.add_argument("--data", default=",".join(DATA), help=f"comma-separated, some of {','.join(DATA)}")
    parser.add_argument("--caches", default=",".join(CACHES), help=f"comma-separated, some of {','.join(CACHES)}")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, some of {','.join(MODES)}")
    parser.add_argument("--ks", help=f"comma-separated episodes at once (default {','.join(map(str, KS))})")
    parser.add_argument("--generation", help=f"comma-separated seconds per generation (default "
                                             f"{','.join(map(str, GENERATION_S))})")
    parser.add_argument("--rounds", type=int, help="rounds of K episodes per process (default 2; quick 1)")
    parser.add_argument("--repeats", type=int, help="processes per cell (default 3; quick 1)")
    parser.add_argument("--vector-episodes", type=int, help="timed episodes of the vector envs on the clips (0: skip)")
    parser.add_argument("--threads", help="comma-separated EnvPool thread counts to compare (default: 4 per core)")
    parser.add_argument("--vision-options", metavar="JSON", help='more YOLO options on the clips, e.g. {"replicas": 1}')
    args = parser.parse_args(argv)
    options: dict[str, Any] = {"data": tuple(args.data.split(",")), "caches": tuple(args.caches.split(",")),
                               "modes": tuple(args.modes.split(","))}
    if args.quick:
        options.update(QUICK)
    given = {"ks": args.ks and tuple(int(k) for k in args.ks.split(",")),
             "generation_s": args.generation and tuple(float(g) for g in args.generation.split(",")),
             "threads": args.threads and tuple(int(t) for t in args.threads.split(",")), "rounds": args.rounds,
             "repeats": args.repeats, "vector_episodes": args.vector_episodes,
             "vision_options": args.vision_options and json.loads(args.vision_options)}
    options.update({k: v for k, v in given.items() if v is not None})
    start = time.perf_counter()
    report = {"machine": machine(), "quick": args.quick, "concurrency": concurrency(**options)}
    report["seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "concurrency.json").write_text(json.dumps(report, indent=2))
    table = concurrency_table(report["concurrency"])
    (out / "concurrency.md").write_text(table)
    print(table)
    print(f"Wrote {out / 'concurrency.json'} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
