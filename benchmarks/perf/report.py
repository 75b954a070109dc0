"""perf.json as a chart and as the performance table of the docs (docs/performance.md)."""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any


def markers(name: str) -> tuple[str, str]:
    """The comments a docs page puts around the table `name`."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


BEGIN, END = markers("perf-table")  # the main table (docs/performance.md), which every docs run must fill


def _met(value: bool | None) -> str:
    return "not measured" if value is None else ("yes" if value else "**no**")


def perf_table(report: dict[str, Any]) -> str:
    """The targets, what was measured and whether each is met, then the decoders per video, as markdown."""
    m = report["machine"]
    lines = [f"Measured by `python -m videostar_benchmarks.perf` on {m['cpu_model']} ({m['cpus']} cores, {m['memory_gb']} GiB), "
             f"GPU: {m['gpu'] or 'none'}; Python {m['python']}, {m['platform']}.", "",
             "| figure | target | measured | met |", "|---|---|---|---|"]
    if "reset" in report:
        r = report["reset"]
        worst = max(r["videos"], key=lambda v: v["reset_over_floor"])
        lines.append(f"| `reset()` / raw decord decode of the same {r['num_frames']} frames (worst video) | ≤ 1.2× | "
                     f"{r['reset_over_floor_worst']:.2f}× ({worst['video']}) | {_met(r['target']['met'])} |")
    if "step" in report:
        s = report["step"]
        lines.append(f"| `step()` with a cached tool result, median (p95) | ≤ 2 ms | {s['cached_tool_call']['median_ms']:.2f} ms "
                     f"({s['cached_tool_call']['p95_ms']:.2f}) | {_met(s['target']['met'])} |")
        for kind, name in (("answer_no_tool", "a final answer"), ("invalid_no_tool", "an invalid turn")):
            lines.append(f"| `step()` with {name} (no tool), median (p95) | — | {s[kind]['median_ms']:.2f} ms "
                         f"({s[kind]['p95_ms']:.2f}) | — |")
    for w in report.get("grpo", []):
        c, u = w["cached"], w["uncached"]
        lines.append(f"| GRPO `{w['policy']}` ({w['videos']} videos × {w['group_size']} rollouts): tool runs epoch 1, "
                     f"uncached → cached | = unique keys, ≥ {w['target']['epoch1_fewer_at_least']}× fewer | "
                     f"{u[0]['tool_runs']} → {c[0]['tool_runs']} ({w['epoch1_uncached_over_cached_runs']}×; "
                     f"unique keys {c[0]['new_unique_keys']}) | {_met(w['target']['met'])} |")
        lines.append(f"| GRPO `{w['policy']}`: tool runs in epoch 2, cached | {w['target']['later_epochs_runs']} | "
                     f"{c[1]['tool_runs']} (new keys {c[1]['new_unique_keys']}) | {_met(w['target']['met'])} |")
    for row in report.get("yolo", {}).get("rows", []):
        target = "≥ 2×" if row["device"] != "cpu" else "report"
        lines.append(f"| YOLO pose batched vs per-frame, {row['weights']} on {row['device']} | {target} | "
                     f"{row['per_frame_ms_per_frame']} → {row['batched_ms_per_frame']} ms/frame "
                     f"({row['speedup']}×) | {'—' if row['device'] == 'cpu' else _met(row['speedup'] >= 2)} |")
    if "yolo" in report and report["yolo"]["target"]["met"] is None:
        lines.append("| YOLO pose batched vs per-frame on GPU | ≥ 2× | no GPU on this machine | not measured |")
    clips = report.get("concurrency", {}).get("vector_clips")
    if clips:  # the target on real videos: on the synthetic ones an episode is too cheap for the pipe not to show
        eps = clips["episodes_per_s"]
        lines.append(f"| async vector env on the real clips, 2 envs / 1 env, episodes/s | ≥ 1.6× | "
                     f"{clips['async_2_over_sync_1']:.2f}× of one env ({eps['sync_1']} → {eps['async_2']}/s); "
                     f"{clips['async_2_over_async_1']:.2f}× of async ×1 | {_met(clips['async_2_over_sync_1'] >= 1.6)} |")
    if "vector" in report:
        v = report["vector"]
        eps = v["episodes_per_s"]
        target, met = ("—", "—") if clips else ("≥ 1.6×", _met(v["target"]["met"]))
        lines.append(f"| async vector env, 2 envs / 1 env, episodes/s (synthetic videos) | {target} | "
                     f"{v['speedup_over_sync_1']['async_2']:.2f}× of one env ({eps['sync_1']} → {eps['async_2']}/s); "
                     f"{v['async_2_over_async_1']:.2f}× of async ×1 | {met} |")
        lines.append("| episodes/s by sub-envs (synthetic videos) | — | "
                     + ", ".join(f"{k.replace('_', ' ×')}: {r}" for k, r in eps.items()) + " | — |")
    if "memory" in report:
        mem = report["memory"]
        cells = ", ".join(f"{r['num_frames']}: {r['episode_peak_mb']} MB" for r in mem["rows"])
        lines.append(f"| env memory at peak in an episode, by frames per episode | — | {cells} "
                     f"(+{mem['episode_mb_per_extra_frame']} MB/frame) | — |")
        lines.append("| process peak RSS of one env (an async sub-env), by frames | — | "
                     + ", ".join(f"{r['num_frames']}: {r['process_peak_mb']:.0f} MB" for r in mem["rows"]) + " | — |")
    for row in report.get("concurrency", {}).get("rows", []):
        if row["mode"] == "pool" and row["cache"] == "off":
            lines.append(f"| EnvPool ({row['threads']} threads), K={row['k']} episodes at once ({row['data']}, "
                         f"G={row['generation_s']} s, cache off): "
                         f"episodes/s ÷ ideal | — | {row['efficiency']:.2f} ({row['episodes_per_s']:.2f} of "
                         f"{row['ideal_episodes_per_s']:.1f}/s; {row['cpu_ms_per_episode']:.0f} CPU ms per episode; "
                         f"loop lag max {row['loop_lag']['max_ms']:.0f} ms) | — |")
    if "reset" in report:
        lines += ["", "Decoding the same 16 frames, median ms (ratio to the floor):", "",
                  "| video | floor: decord at source size | decord (default) | PyAV | OpenCV | `reset()` |",
                  "|---|---|---|---|---|---|"]
        for v in report["reset"]["videos"]:
            cell = {k: f"{v[k]['median_ms']:.1f} ({v[k]['median_ms'] / v['floor_decord_source_size']['median_ms']:.2f}×)"
                    if k in v else "—" for k in ("decord", "pyav", "opencv", "reset")}
            lines.append(f"| {v['video']} | {v['floor_decord_source_size']['median_ms']:.1f} | {cell['decord']} | "
                         f"{cell['pyav']} | {cell['opencv']} | {cell['reset']} |")
    return "\n".join(lines) + "\n"


def concurrency_table(result: dict[str, Any]) -> str:
    """Concurrent episodes (videostar_benchmarks.perf.concurrency) as markdown: ratios first, then rates, loop lag, memory, tool runs."""
    turns, group = result["turns"], result["group_size"]
    lines = [f"K episodes at once in one event loop, {turns} turns each after a simulated generation of G s (GRPO groups "
             f"of {group} on one video); ideal K / ({turns} G) episodes/s; median of {result['repeats']} processes per row, "
             f"{result['rounds']} round(s) of K episodes each. CPU ms: the whole process's CPU time (all threads) per "
             f"episode, the env's cost that other load on the machine hardly changes (cores needed = episodes/s × it), "
             f"and per frame the models ran (the same work compared across modes: with nothing kept, how many "
             f"identical calls in flight happen to share a run decides how much model work a cell does). "
             f"threads: the executor's (EnvPool: the cores unless set; "
             f"before: verl's default executor).", "",
             "| data | cache | mode | threads | K | G s | episodes/s ÷ ideal | env overhead | episodes/s (ideal) | "
             "CPU ms per episode | CPU ms per model frame | "
             "loop lag p50 / p99 / max ms | loop lag max while filling, ms | peak RSS MB | "
             "tool runs / unique keys (ratio) | backend calls (model frames) | checks |", "|" + "---|" * 17]
    for r in result["rows"]:
        runs = statistics.median(x["tool_runs"] for x in r["runs"])
        keys = statistics.median(x["unique_keys"] for x in r["runs"])
        calls = statistics.median(x["backend_calls"] for x in r["runs"])
        frames = "—" if r["runs"][0]["model_frames"] is None else \
            f"{statistics.median(x['model_frames'] for x in r['runs']):g}"
        per_frame = "—" if r.get("cpu_ms_per_model_frame") is None else f"{r['cpu_ms_per_model_frame']:.1f}"
        lag = r["loop_lag"]
        failed = [name for name, ok in r["checks"].items() if not ok]
        lines.append(f"| {r['data']} | {r['cache']} | {r['mode']} | {r['threads']} | {r['k']} | {r['generation_s']} | "
                     f"{r['efficiency']:.2f} | "
                     f"{r['env_overhead']:.0%} | {r['episodes_per_s']:.2f} ({r['ideal_episodes_per_s']:.1f}) | "
                     f"{r['cpu_ms_per_episode']:.0f} | {per_frame} | "
                     f"{lag['p50_ms']:.1f} / {lag['p99_ms']:.1f} / {lag['max_ms']:.0f} | {r['fill_loop_lag_max_ms']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} | {runs:g} / {keys:g} ({r['tool_runs_over_unique_keys']:.2f}) | {calls:g} ({frames}) | "
                     f"{'ok' if not failed else '**' + ', '.join(failed) + '**'} |")
    vector = result.get("vector_clips")
    if vector:
        eps = vector["episodes_per_s"]
        lines += ["", f"Gymnasium's async vector env on the real clips (cache off, the same episodes without generation "
                      f"time): 2 sub-envs ÷ 1 = {vector['async_2_over_async_1']:.2f}× ({vector['async_2_over_sync_1']:.2f}× "
                      f"of one in-process env); episodes/s: sync ×1 {eps['sync_1']}, async ×1 {eps['async_1']}, "
                      f"async ×2 {eps['async_2']}."]
    return "\n".join(lines) + "\n"


def tables(report: dict[str, Any]) -> dict[str, str]:
    """Each docs table the report holds, by marker name: perf-table (docs/performance.md) always, perf-concurrency
    (docs/scaling-out.md) when the concurrency section ran."""
    made = {"perf-table": perf_table(report)}
    if "concurrency" in report:
        made["perf-concurrency"] = concurrency_table(report["concurrency"])
    return made


def update_readme(readme: str | Path, table: str, name: str = "perf-table") -> None:
    """Replace the text between the markers of the table `name` in a markdown file with the table."""
    begin, end = markers(name)
    path = Path(readme)
    text = path.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} ... {end} markers to put the table between")
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: f"{begin}\n{table}{end}", text, count=1))


def files_with_markers(docs: str | Path, name: str = "perf-table", required: bool = True) -> list[Path]:
    """The markdown files that hold the markers of the table `name`: docs itself, or those under a docs folder."""
    begin, end = markers(name)
    root = Path(docs)
    candidates = sorted(root.rglob("*.md")) if root.is_dir() else [root]
    found = [p for p in candidates if p.is_file() and begin in (text := p.read_text()) and end in text]
    if not found and required:
        raise ValueError(f"no file {'under ' if root.is_dir() else 'at '}{root} has the {begin} ... {end} markers "
                         f"to put the table between")
    return found


def update_docs(docs: str | Path, made: dict[str, str]) -> list[Path]:
    """Put each table between its markers in every file that holds them (docs: a file or a folder); those files."""
    written: list[Path] = []
    for name, table in made.items():
        for path in files_with_markers(docs, name, required=name == "perf-table"):
            update_readme(path, table, name)
            written += [path] if path not in written else []
    return written


def perf_chart(report: dict[str, Any], path: str | Path) -> None:
    """One PNG with a panel per measured section."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0, 0]
    if "reset" in report:
        videos = report["reset"]["videos"]
        kinds = [k for k in ("floor_decord_source_size", "decord", "pyav", "opencv", "reset") if k in videos[0]]
        width = 0.8 / len(kinds)
        for j, kind in enumerate(kinds):
            ax.bar([i + j * width for i in range(len(videos))], [v[kind]["median_ms"] for v in videos], width,
                   label=kind.replace("_", " "))
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(videos))], [v["video"][:18] for v in videos], fontsize=7)
        ax.set_ylabel("ms (median)")
        ax.set_title("16 frames: decoders and reset()")
        ax.legend(fontsize=7)
    ax = axes[0, 1]
    if "step" in report:
        kinds = ["cached_tool_call", "answer_no_tool", "invalid_no_tool"]
        s = report["step"]
        ax.bar(range(3), [s[k]["median_ms"] for k in kinds], label="median")
        ax.scatter(range(3), [s[k]["p95_ms"] for k in kinds], color="black", zorder=3, label="p95")
        ax.axhline(2.0, color="red", linestyle="--", label="target (cached)")
        ax.set_xticks(range(3), [k.replace("_", " ") for k in kinds], fontsize=8)
        ax.set_ylabel("ms")
        ax.set_title("step() overhead")
        ax.legend(fontsize=7)
    ax = axes[0, 2]
    for i, w in enumerate(report.get("grpo", [])):
        epochs = range(1, len(w["cached"]) + 1)
        ax.plot(epochs, [e["tool_runs"] for e in w["uncached"]], marker="o", linestyle="--", color=f"C{i}",
                label=f"{w['policy']} uncached")
        ax.plot(epochs, [e["tool_runs"] for e in w["cached"]], marker="o", color=f"C{i}", label=f"{w['policy']} cached")
        ax.set_xticks(list(epochs))
    ax.set_xlabel("epoch")
    ax.set_ylabel("tool runs")
    ax.set_title("GRPO workload: tool runs per epoch")
    if report.get("grpo"):
        ax.legend(fontsize=7)
    ax = axes[1, 0]
    rows = report.get("yolo", {}).get("rows", [])
    for i, row in enumerate(rows):
        ax.bar([i - 0.2, i + 0.2], [row["per_frame_ms_per_frame"], row["batched_ms_per_frame"]], 0.4,
               color=["C1", "C0"], label=["per frame", "batched"] if i == 0 else None)
    ax.set_xticks(range(len(rows)), [f"{r['weights'][:22]}\n{r['device']}" for r in rows], fontsize=7)
    ax.set_ylabel("ms per frame")
    ax.set_title("YOLO11n pose: batched vs per frame")
    if rows:
        ax.legend(fontsize=7)
    ax = axes[1, 1]
    if "vector" in report:
        eps = report["vector"]["episodes_per_s"]
        for mode in ("sync", "async"):
            counts = sorted(int(k.split("_")[1]) for k in eps if k.startswith(mode))
            ax.plot(counts, [eps[f"{mode}_{n}"] for n in counts], marker="o", label=mode)
        ax.axhline(1.6 * eps["sync_1"], color="red", linestyle="--", label="target for async ×2")
        ax.set_xlabel("sub-envs")
        ax.set_ylabel("episodes/s")
        ax.set_title("vector env throughput")
        ax.legend(fontsize=7)
    ax = axes[1, 2]
    if "memory" in report:
        mem = report["memory"]["rows"]
        frames = [r["num_frames"] for r in mem]
        ax.plot(frames, [r["episode_peak_mb"] for r in mem], marker="o", label="episode peak (tracemalloc)")
        ax.plot(frames, [r["frames_mb"] for r in mem], marker="o", linestyle="--", label="the frames alone")
        ax.set_xlabel("frames per episode")
        ax.set_ylabel("MB")
        ax.set_title("env memory vs frames")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
