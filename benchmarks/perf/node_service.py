"""Agent-loop worker processes on one node: in-process models against the node vision service.

    python -m videostar_benchmarks.perf.node_service --out DIR [--workers 2,4] [--k 16] [--rounds 1] [--repeats 3]
        [--data clips]

A case is W worker processes started together on one local Ray (each a Ray driver, as a verl
agent-loop worker is a Ray worker), each filling an EnvPool of K envs and playing K episodes at once
(node_worker.py: reset, pose_estimation, human_detection, the answer, after a simulated generation of
0.05 s each, GRPO groups of 4 on one video), with one tool cache for the node, empty at the start
(cold). Mode "in-process": each worker loads its own YOLO models (vision="yolo"); mode "service":
vision=("ray", {"backend": "yolo", ...}), one service actor for the node. Per case: peak RSS of each
worker and of the service, the total, episodes/s of all workers together (episodes over the time from
the first worker's start to the last one's end), the loop lag, tool runs (records not read from the
cache) and what the service computed against the unique (video, tool, arguments) keys, and the heavy
modules each worker imported. Each W runs `repeats` pairs of cases (in-process, then service); a pair's
ratios compare its two cases, and the ratios the issue sets as targets are the pairs' medians (one pair
of a few seconds is noisy on a small machine), and beside them the least total
ratio the floors allow (on the clips, where the service runs YOLO): a thin worker before any env and a
service that imported ultralytics before any model, each measured in a process of its own. Every Ray worker of a case starts with the process settings
verl's set-up hook gives (the service's too). Writes DIR/node_service.json and DIR/node_service.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from videostar_env.tools.cache import CacheConfig

from .grid import DATA, Cell, data_kwargs, env_kwargs
from .node_worker import SETUP_HOOK, floor_worker, peak_rss_mb, worker

MODES = ("in-process", "service")
NAMESPACE = "videostar-bench"
TARGETS = {"worker_rss_mb": 350, "total_rss_ratio": 0.40, "episodes_per_s_ratio": 0.9}


def case(mode: str, workers: int, k: int, rounds: int, name_of_data: str, data: tuple[dict[str, Any], int],
         scratch: Path, address: str) -> dict[str, Any]:
    """W worker processes of one mode at once; their figures, the service's and the totals."""
    import ray

    name = f"videostar-bench-{mode}-{workers}-{time.monotonic_ns()}"
    cell = Cell(name_of_data, "cold", "pool", k, 0.05, rounds, data[0], str(scratch / name))
    kwargs = env_kwargs(cell)
    kwargs["tool_cache"] = CacheConfig(str(scratch / name))  # one cache for the node's workers
    if mode == "service":
        wrapped = kwargs.pop("vision", None)
        inner = {"backend": "yolo", "options": wrapped[1]} if wrapped else {"backend": "oracle"}
        # Each worker here is its own Ray job (a verl worker shares its job's namespace): name the namespace.
        kwargs["vision"] = ("ray", {**inner, "service_name": name, "namespace": NAMESPACE})
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=worker, args=(i, mode, k, rounds, kwargs, data[1], address, barrier, results))
                 for i in range(workers)]
    for p in processes:
        p.start()
    runs = [results.get(timeout=1800) for _ in processes]
    for p in processes:
        p.join()
    failed = [r["error"] for r in runs if "error" in r]
    if failed:
        raise RuntimeError(f"{mode} x{workers}: a worker failed: {failed[0]}")
    service = None
    if mode == "service":
        actor = ray.get_actor(name, namespace=NAMESPACE)
        service = ray.get(actor.stats.remote())
        ray.kill(actor)
        before = next(r["service_before"] for r in runs if r["service_before"] is not None)
        service.update({k: service.get(k, 0) - before.get(k, 0) for k in ("requests", "computed", "merged", "kept")})
    keys = {tuple(key) for r in runs for key in r["keys"]}
    episodes = sum(r["episodes"] for r in runs)
    seconds = max(r["end"] for r in runs) - min(r["start"] for r in runs)
    worker_rss = [r["peak_rss_mb"] for r in runs]
    return {"mode": mode, "workers": workers, "k": k, "episodes": episodes, "seconds": round(seconds, 2),
            "episodes_per_s": round(episodes / seconds, 3), "worker_peak_rss_mb": worker_rss,
            "service_peak_rss_mb": service and service["peak_rss_mb"],
            "total_rss_mb": round(sum(worker_rss) + (service["peak_rss_mb"] if service else 0), 1),
            "loop_lag_p99_ms": round(statistics.median(r["loop_lag"]["p99_ms"] for r in runs), 2),
            "loop_lag_max_ms": max(r["loop_lag"]["max_ms"] for r in runs),
            "tool_calls": sum(r["tool_calls"] for r in runs), "tool_runs": sum(r["tool_runs"] for r in runs),
            "tool_errors": sum(r["tool_errors"] for r in runs), "unique_keys": len(keys),
            "service_computed": service and service.get("computed", 0),
            "service_merged": service and service.get("merged", 0), "service_kept": service and service.get("kept", 0),
            "heavy_modules": sorted({m for r in runs for m in r["heavy_modules"]})}


class _ServiceFloor:
    """A Ray actor of the job that imports ultralytics (torch with it) and loads no model: the least a service
    running the ultralytics backends holds."""

    def peak_rss_mb(self) -> float:
        """Its peak RSS after the imports."""
        import ultralytics  # noqa: F401

        return peak_rss_mb()


def floors(address: str) -> dict[str, float]:
    """Peak RSS of a thin worker before any env (floor_worker) and of a service before any model (_ServiceFloor), each
    in a process of its own on the benchmark's Ray."""
    import ray

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=floor_worker, args=(address, results))
    process.start()
    try:
        found = results.get(timeout=600)
    finally:
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
    if "error" in found:
        raise RuntimeError(f"the floor worker failed: {found['error']}")
    actor = ray.remote(_ServiceFloor).options(runtime_env={"worker_process_setup_hook": SETUP_HOOK}).remote()
    try:
        service = ray.get(actor.peak_rss_mb.remote(), timeout=600)
    finally:
        ray.kill(actor)
    return {"worker_mb": found["peak_rss_mb"], "service_mb": service}


def _pair(base: dict[str, Any], svc: dict[str, Any]) -> dict[str, Any]:
    """The service's case against the in-process case run just before it."""
    runs = svc["service_computed"] if svc["service_computed"] is not None else svc["tool_runs"]
    return {"total_rss_ratio": round(svc["total_rss_mb"] / base["total_rss_mb"], 3),
            "episodes_per_s_ratio": round(svc["episodes_per_s"] / base["episodes_per_s"], 3),
            "runs": runs, "unique_keys": svc["unique_keys"], "in_process_total_rss_mb": base["total_rss_mb"]}


def ratios(rows: list[dict[str, Any]], floor: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Per worker count: the service against in-process, the median over the repeats of each ratio (each repeat's
    pair of cases run one after the other), whether each target is met, and (with the floors) the least total RSS
    ratio any thin workers and ultralytics service could reach: W floor workers and a floor service."""
    out = []
    for workers in sorted({r["workers"] for r in rows}):
        pairs, worst = [], 0.0
        for repeat in sorted({r.get("repeat", 0) for r in rows if r["workers"] == workers}):
            found = {r["mode"]: r for r in rows if r["workers"] == workers and r.get("repeat", 0) == repeat}
            if set(found) == set(MODES):
                pairs.append(_pair(found["in-process"], found["service"]))
                worst = max(worst, *found["service"]["worker_peak_rss_mb"])
        if not pairs:
            continue
        total = statistics.median(p["total_rss_ratio"] for p in pairs)
        speed = statistics.median(p["episodes_per_s_ratio"] for p in pairs)
        base_mb = statistics.median(p["in_process_total_rss_mb"] for p in pairs)
        out.append({"workers": workers, "repeats": len(pairs), "max_worker_rss_mb": worst,
                    "total_rss_ratio": round(total, 3), "episodes_per_s_ratio": round(speed, 3),
                    "total_rss_ratios": [p["total_rss_ratio"] for p in pairs],
                    "episodes_per_s_ratios": [p["episodes_per_s_ratio"] for p in pairs],
                    "model_runs_over_unique_keys": ", ".join(sorted({f"{p['runs']} / {p['unique_keys']}"
                                                                     for p in pairs})),
                    "floor_total_rss_ratio": None if floor is None else round(
                        (workers * floor["worker_mb"] + floor["service_mb"]) / base_mb, 3),
                    "met": {"worker_rss": worst <= TARGETS["worker_rss_mb"],
                            "total_rss": total <= TARGETS["total_rss_ratio"],
                            "episodes_per_s": speed >= TARGETS["episodes_per_s_ratio"],
                            "runs_are_unique_keys": all(p["runs"] == p["unique_keys"] for p in pairs)}})
    return out


def _spread(values: list[float]) -> str:
    return "" if len(values) < 2 else f" ({min(values):.2f}–{max(values):.2f})"


def table(report: dict[str, Any]) -> str:
    """The cases and the ratios as markdown."""
    lines = ["| workers | mode | repeat | K | episodes/s | peak RSS per worker MB | service MB | total MB "
             "| loop lag p99 / max ms "
             "| tool runs | model runs (service) | unique keys | heavy modules in workers |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['workers']} | {r['mode']} | {r.get('repeat', 0) + 1} | {r['k']} | "
                     f"{r['episodes_per_s']:.2f} | "
                     f"{', '.join(f'{v:.0f}' for v in r['worker_peak_rss_mb'])} | {r['service_peak_rss_mb'] or '-'} | "
                     f"{r['total_rss_mb']:.0f} | {r['loop_lag_p99_ms']} / {r['loop_lag_max_ms']} | {r['tool_runs']} | "
                     f"{r['service_computed'] if r['service_computed'] is not None else '-'} | {r['unique_keys']} | "
                     f"{', '.join(r['heavy_modules']) or 'none'} |")
    lines += ["", "| workers | max worker RSS MB (target ≤ 350) | total RSS service ÷ in-process (≤ 0.40) | "
              "episodes/s service ÷ in-process (≥ 0.9) | model runs / unique keys (service) | least total RSS ratio "
              "(floors) |", "|---|---|---|---|---|---|"]
    for r in report["ratios"]:
        met = r["met"]
        lines.append(f"| {r['workers']} | {r['max_worker_rss_mb']:.0f} {'ok' if met['worker_rss'] else 'MISSED'} | "
                     f"{r['total_rss_ratio']:.2f}{_spread(r['total_rss_ratios'])} "
                     f"{'ok' if met['total_rss'] else 'MISSED'} | "
                     f"{r['episodes_per_s_ratio']:.2f}{_spread(r['episodes_per_s_ratios'])} "
                     f"{'ok' if met['episodes_per_s'] else 'MISSED'} | "
                     f"{r['model_runs_over_unique_keys']} {'ok' if met['runs_are_unique_keys'] else 'MISSED'} | "
                     f"{'-' if r['floor_total_rss_ratio'] is None else format(r['floor_total_rss_ratio'], '.2f')} |")
    floor = report.get("floors")
    if floor:
        lines += ["", f"Floors: a thin worker before any env {floor['worker_mb']:.0f} MB (a Ray driver that imported the "
                      f"env package); a service before any model {floor['service_mb']:.0f} MB (a Ray actor that "
                      f"imported ultralytics and torch)."]
    return "\n".join(lines) + "\n"


def node_service(workers: tuple[int, ...] = (2, 4), k: int = 16, rounds: int = 1, data: str = "clips",
                 modes: tuple[str, ...] = MODES, repeats: int = 3) -> dict[str, Any]:
    """Every (workers, mode) case on one local Ray, `repeats` times, each repeat's service case right after its
    in-process one (a few seconds each: one pair alone swung episodes/s by 0.82-1.00x here)."""
    import ray

    if data not in DATA or set(modes) - set(MODES) or min(workers) < 1 or min(k, rounds, repeats) < 1:
        raise ValueError(f"data in {DATA}, modes among {MODES}, workers, k, rounds and repeats of at least 1; got "
                         f"{data!r}, {modes}, {workers}, {k}, {rounds}, {repeats}")
    context = ray.init(include_dashboard=False, log_to_driver=False)
    rows = []
    try:
        # The service floor is an ultralytics one: measured where the service runs YOLO (the clips), not the oracle.
        floor = floors(context.address_info["address"]) if "service" in modes and data == "clips" else None
        with tempfile.TemporaryDirectory(prefix="videostar-perf-node-") as scratch:
            found = data_kwargs((data,), Path(scratch))[data]
            for w in workers:
                for repeat, mode in itertools.product(range(repeats), modes):
                    rows.append({**case(mode, w, k, rounds, data, found, Path(scratch),
                                        context.address_info["address"]), "repeat": repeat})
                    print(json.dumps({k_: v for k_, v in rows[-1].items()}), flush=True)
    finally:
        ray.shutdown()
    return {"data": data, "k": k, "rounds": rounds, "repeats": repeats, "rows": rows, "floors": floor,
            "ratios": ratios(rows, floor), "targets": TARGETS}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from . import machine

    parser = argparse.ArgumentParser(prog="python -m videostar_benchmarks.perf.node_service",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/perf", help="output folder (default runs/perf)")
    parser.add_argument("--workers", default="2,4", help="comma-separated worker process counts (default 2,4)")
    parser.add_argument("--k", type=int, default=16, help="episodes at once per worker (default 16)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of K episodes per worker (default 1)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="pairs of cases per worker count, the ratios' median reported (default 3)")
    parser.add_argument("--data", default="clips", help=f"one of {', '.join(DATA)} (default clips: the real ones)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, some of {','.join(MODES)}")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = {"machine": machine(), "node_service": node_service(tuple(int(w) for w in args.workers.split(",")),
                                                                 args.k, args.rounds, args.data,
                                                                 tuple(args.modes.split(",")), args.repeats)}
    report["seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "node_service.json").write_text(json.dumps(report, indent=2))
    text = table(report["node_service"])
    (out / "node_service.md").write_text(text)
    print(text)
    print(f"Wrote {out / 'node_service.json'} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
