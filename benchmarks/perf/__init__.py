"""Environment performance: every figure measured as a ratio in one run on one machine.

    python -m videostar_benchmarks.perf --out DIR [--quick] [--only reset,step,...] [--docs docs]

Writes DIR/perf.json, DIR/perf.png and DIR/perf.md (the table of docs/performance.md); with --docs
(a markdown file, or a folder searched for one), puts the table between the perf-table markers of
whichever file holds them. Sections: reset (vs the decode floor and
the decoders), step (overhead), grpo (tool runs with and without the cache), yolo (batched
vs per-frame pose), vector (sync/async episodes per second), memory (per env, by frames),
concurrency (K episodes at once through EnvPool, as verl's agent loop plays them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

from ..tools import machine as python_machine

SECTIONS = ("reset", "step", "grpo", "vector", "memory", "concurrency", "yolo")  # yolo last: it imports torch


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU model, cores, memory, GPU, versions."""
    info = python_machine()
    model = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    info["cpu_model"] = model
    info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return info


def sections(quick: bool) -> dict[str, Callable[[], Any]]:
    """Each section's measurement; quick: fewer repeats and episodes, for a smoke run."""
    from .concurrency import concurrency
    from .grid import QUICK, documented_grid
    from .decoding import reset_vs_decode
    from .memory import memory_per_env
    from .stepping import step_overhead
    from .vector import vector_throughput
    from .workload import POLICIES, grpo_workload
    from .yolo import yolo_pose

    return {
        "reset": lambda: reset_vs_decode(repeats=3 if quick else 20),
        "step": lambda: step_overhead(repeats=20 if quick else 300),
        "grpo": lambda: [grpo_workload(policy, videos=2 if quick else 8) for policy in POLICIES],
        "vector": lambda: vector_throughput(episodes=4 if quick else 48, counts=(1, 2) if quick else (1, 2, 4),
                                            rounds=1 if quick else 2),
        "memory": lambda: memory_per_env(frame_counts=(8, 16) if quick else (8, 16, 32, 64), episodes=2 if quick else 20),
        "concurrency": lambda: concurrency(**(QUICK if quick else documented_grid())),
        "yolo": lambda: yolo_pose(repeats=1 if quick else 3, episodes=16 if quick else 64),
    }


def run(out: str | os.PathLike, only: tuple[str, ...] = SECTIONS, quick: bool = False,
        readme: str | os.PathLike | None = None, docs: str | os.PathLike | None = None) -> dict[str, Any]:
    """Measure the chosen sections; write perf.json, perf.png and perf.md to out, and each table into the markdown
    files named by docs (a file, or the files under a folder) that hold its markers (report.TABLES).
    readme: the same as docs, its former name."""
    from .report import files_with_markers, perf_chart, tables, update_docs

    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    targets = [t for t in (docs, readme) if t is not None]
    for target in targets:
        files_with_markers(target)  # before measuring: a wrong path fails at once, not after minutes
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "quick": quick, "seconds": {}}
    measure = sections(quick)
    for name in SECTIONS:
        if name in only:
            start = time.perf_counter()
            report[name] = measure[name]()
            report["seconds"][name] = round(time.perf_counter() - start, 1)
            print(f"{name}: {report['seconds'][name]} s", flush=True)
    (out / "perf.json").write_text(json.dumps(report, indent=2))
    perf_chart(report, out / "perf.png")
    made = tables(report)
    (out / "perf.md").write_text("\n".join(made.values()))
    for target in targets:
        for path in update_docs(target, made):
            print(f"Wrote the tables into {path}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.perf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/perf", help="output folder (default runs/perf)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections (default all: {','.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run, not numbers to publish")
    parser.add_argument("--docs", help="also write each table between its markers in this markdown file, or in the "
                                       "files under this folder that hold them (docs/performance.md, "
                                       "docs/scaling-out.md)")
    parser.add_argument("--readme", help=argparse.SUPPRESS)  # the former name of --docs
    args = parser.parse_args(argv)
    report = run(args.out, tuple(s for s in args.only.split(",") if s), args.quick, docs=args.docs or args.readme)
    print((Path(args.out) / "perf.md").read_text())
    print(f"Wrote {Path(args.out) / 'perf.json'} and perf.png in {sum(report['seconds'].values()):.0f} s")
    return 0
