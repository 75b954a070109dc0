"""report.html: one self-contained page (images inlined) with the metrics, the paper's rows and every trajectory shown.

Spatio-temporal runs (metrics with "question_types") also show the score per question type, the graph terms
and, in each trajectory, an SVG of the predicted relation graph aligned onto the true one at one keyframe.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .reference import matching

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#1f6feb;color:white;padding:18px 28px}
header h1{margin:0 0 6px;font-size:22px} header p{margin:0;opacity:.9}
main{padding:12px 28px 40px;max-width:1200px}
section{background:white;border:1px solid #d0d7de;border-radius:8px;padding:12px 18px;margin:14px 0}
h2{font-size:17px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #d0d7de;padding:4px 9px;text-align:right}
th{background:#f0f3f6} td:first-child,th:first-child{text-align:left}
.tiles{display:flex;gap:12px;flex-wrap:wrap}
.tile{border:1px solid #d0d7de;border-radius:8px;padding:8px 14px;min-width:120px;background:#fff}
.tile b{display:block;font-size:22px} .tile span{font-size:12px;color:#57606a}
.plots img{max-width:100%;border:1px solid #d0d7de;margin:6px 6px 0 0;vertical-align:top}
details.episode{border:1px solid #d0d7de;border-radius:6px;margin:6px 0;background:#fff}
details.episode>summary{cursor:pointer;padding:6px 10px;font-size:13px}
.ok{color:#1a7f37;font-weight:bold} .bad{color:#cf222e;font-weight:bold}
.turn{margin:6px 12px;padding:6px 10px;border-left:4px solid #8c959f;background:#f6f8fa}
.turn.assistant{border-color:#1f6feb} .turn.tool{border-color:#bf8700} .turn.user{border-color:#8250df}
.turn pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;font-size:12px}
.role{font-size:11px;text-transform:uppercase;color:#57606a}
.note{font-size:12px;color:#57606a}
.caveat{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px}
figure.graphs{margin:6px 12px;display:flex;gap:14px;align-items:flex-start;flex-wrap:wrap}
figure.graphs svg{border:1px solid #d0d7de;background:#fff}
figure.graphs figcaption{font-size:12px;color:#57606a;max-width:420px;line-height:1.6}
"""
TRUE_COLOUR, PRED_COLOUR = "#1f6feb", "#d9480f"


def _img(folder: Path, name: str | None, alt: str) -> str:
    if not name or not (folder / name).exists():
        return ""
    data = base64.b64encode((folder / name).read_bytes()).decode()
    kind = "png" if name.endswith(".png") else "jpeg"
    return f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{data}">'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _tiles(metrics: dict[str, Any]) -> str:
    overall = metrics["overall"]
    if "question_types" in metrics:  # spatio-temporal: partial scores per type; "correct" is a full score
        tiles = [("mean over question types (%)", _pct(metrics.get("mean_over_types"))),
                 ("answers fully right (%)", _pct(overall.get("accuracy")))]
    else:
        tiles = [("top-1 accuracy (%)", _pct(overall.get("accuracy")))]
    if "base_novel" in metrics:
        bn = metrics["base_novel"]
        tiles += [("base (%)", _pct(bn["base"])), ("novel (%)", _pct(bn["novel"])), ("harmonic mean (%)", _pct(bn["harmonic_mean"]))]
    if "over_splits" in metrics:
        ms = metrics["over_splits"]
        tiles.append((f"mean ± std over {ms['n']} splits (%)", f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}"))
    tiles += [("episodes", overall.get("episodes", 0)), ("mean reward", f"{overall.get('reward', {}).get('total', 0):.3f}"),
              ("turns / episode", f"{overall.get('turns_per_episode', 0):.2f}"),
              ("tool calls / episode", f"{overall.get('tool_calls_per_episode', 0):.2f}"),
              ("invalid-action rate (%)", _pct(overall.get("invalid_action_rate")))]
    return '<div class="tiles" id="metrics">' + "".join(
        f'<div class="tile"><b>{html.escape(str(v))}</b><span>{html.escape(k)}</span></div>' for k, v in tiles) + "</div>"


def _metric_tables(metrics: dict[str, Any]) -> str:
    parts = []
    splits = metrics["splits"]
    components = sorted({c for m in splits.values() for c in m.get("reward", {})})
    accuracy = "correct %" if "question_types" in metrics else "top-1 %"
    parts.append(_table(["split", "episodes", accuracy, "turns/ep", "tool calls/ep", "invalid %"] + [f"R_{c}" for c in components],
                        [[name, m["episodes"], _pct(m.get("accuracy")), f"{m.get('turns_per_episode', 0):.2f}",
                          f"{m.get('tool_calls_per_episode', 0):.2f}", _pct(m.get("invalid_action_rate"))]
                         + [f"{m.get('reward', {}).get(c, 0):.3f}" for c in components] for name, m in splits.items()]))
    if "question_types" in metrics:
        parts.append(_question_types(metrics))
    tools = metrics["overall"].get("tools", {})
    if tools:
        parts.append("<h2>Tools</h2>" + _table(["tool", "episodes calling it %", "calls/episode", "errors"],
                                                 [[n, _pct(t["rate"]), f"{t['calls_per_episode']:.2f}", t["errors"]]
                                                  for n, t in tools.items()]))
    missing = metrics.get("missing_videos")
    if missing:
        parts.append(f"<h2>Missing videos: {missing['count']} of {missing['total']} not on disk (not played)</h2>"
                     + _table(["video"], [[path] for path in missing["examples"]]))
    failed = metrics["failed"]
    if failed["episodes"]:
        parts.append(f"<h2>Unreadable videos: {failed['episodes']} episodes not played</h2>"
                     + _table(["episode", "error"], [[f["key"], f["error"]] for f in failed["examples"]]))
    return "".join(parts)


def _question_types(metrics: dict[str, Any]) -> str:
    """The score per question type with their mean, and the graph terms (spatio-temporal runs)."""
    types = metrics["question_types"]
    rows = [[name, m["metric"], m["episodes"], f"{m['score']:.3f}"] for name, m in types.items()]
    rows.append(["mean over types", "–", sum(m["episodes"] for m in types.values()),
                 "–" if metrics.get("mean_over_types") is None else f"{metrics['mean_over_types']:.3f}"])
    graph = dict(metrics.get("graph") or {}, graphs_written=metrics.get("graphs_written"))
    terms = [[name, "–" if value is None else f"{value:.3f}"] for name, value in graph.items()]
    return ('<h2>Question types</h2><div id="question-types">' + _table(["type", "metric", "episodes", "score"], rows)
            + '</div><h2>Graph terms</h2><div id="graph-terms">' + _table(["term", "mean"], terms) + "</div>")


def _ref_value(row: dict[str, Any]) -> str:
    return f"{row['value']:.1f}" + (f" \u00b1 {row['std']:.1f}" if row.get("std") is not None else "")


def run_reference_values(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, value in %, where from) of the run, named as the paper's rows name them: top1 always; base, novel
    and hm when episodes are marked base or novel; split (mean \u00b1 std over the splits run) when there are several."""
    out = []
    if metrics["overall"].get("accuracy") is not None:
        out.append(("top1", _pct(metrics["overall"]["accuracy"]), "results.jsonl, all episodes"))
    bn = metrics.get("base_novel") or {}
    for metric, key in (("base", "base"), ("novel", "novel"), ("hm", "harmonic_mean")):
        if bn.get(key) is not None:
            out.append((metric, _pct(bn[key]), "results.jsonl, " + ("harmonic mean of base and novel"
                                                                     if metric == "hm" else f"{metric} classes")))
    over = metrics.get("over_splits")
    if over:
        out.append(("split", f"{100 * over['mean']:.1f} \u00b1 {100 * over['std']:.1f}",
                    f"results.jsonl, mean \u00b1 std over {over['n']} splits"))
    return out


def _reference_section(metrics: dict[str, Any], references: list[dict[str, Any]], dataset: str, protocol: str | None) -> str:
    if "question_types" in metrics:  # the built-in rows are action recognition's: no context for this task
        same = matching(references, dataset, protocol)
        if not same:
            return (f'<p class="note">No published rows for spatio-temporal questions on {html.escape(dataset)}; '
                    "add some with --reference FILE.</p>")
        rows = [[r["method"], r["dataset"], r["protocol"], r["metric"], _ref_value(r), r["source"]] for r in same]
        rows.append(["this run", dataset, protocol or "–", "mean over types", _pct(metrics.get("mean_over_types")),
                     "results.jsonl"])
        return _table(["method", "dataset", "protocol", "metric", "%", "source"], rows)
    same = matching(references, dataset, protocol)  # another dataset's rows would only mislead
    rows = [[r["method"], r["dataset"], r["protocol"], r["metric"], _ref_value(r), r["source"]] for r in same]
    rows += [["this run", dataset, protocol or "–", metric, value, source]
             for metric, value, source in run_reference_values(metrics)]
    intro = ("" if same else f'<p class="note">The paper has no row for {html.escape(dataset)}; add some with '
             "--reference FILE.</p>")
    return intro + _table(["method", "dataset", "protocol", "metric", "%", "source"], rows)


def _episode(folder: Path, row: dict[str, Any], open_: bool) -> str:
    mark = '<span class="ok">✓</span>' if row["correct"] else '<span class="bad">✗</span>'
    reward = ", ".join(f"{k} {v:.2f}" for k, v in row["reward"].items())
    score = f" · score {row['score']:.2f}" if isinstance(row.get("score"), (int, float)) else ""
    summary = (f"{mark} {html.escape(row['key'])} · {html.escape(str(row['sample_id']))} · true "
               f"<b>{html.escape(str(row['label']))}</b> → answer <b>{html.escape(str(row['answer']))}</b>"
               f"{score} · {row['turns']} turns · reward {reward}")
    turns = []
    for turn in row["trajectory"]:
        role = turn["role"] + (f" {turn['name']}" if turn.get("name") else "")
        clip = "returned clip" if turn["role"] == "tool" else "sampled frames"
        media = _img(folder, turn.get("images"), "tool images") + _img(folder, turn.get("video"), clip)
        turns.append(f'<div class="turn {html.escape(turn["role"])}"><div class="role">{html.escape(role)}</div>'
                     f'{media}<pre>{html.escape(turn["text"])}</pre></div>')
    drawing = _graph_figure(row.get("graph"), row["true_graph"]) if isinstance(row.get("true_graph"), dict) else ""
    return (f'<details class="episode"{" open" if open_ else ""}><summary>{summary}</summary>'
            + drawing + "".join(turns) + "</details>")


# --- relation graphs (spatio-temporal runs) -----------------------------------------------------------


def _frame(graph: Any, time: float | None = None) -> dict[str, Any] | None:
    """The graph's first frame (time None) or its frame nearest to `time`; None without a readable frame."""
    frames = [f for f in (graph or {}).get("frames") or [] if isinstance(f, dict) and isinstance(f.get("nodes"), list)]
    if not frames:
        return None
    key = (lambda f: f.get("time", 0.0)) if time is None else (lambda f: abs(f.get("time", 0.0) - time))
    return min(frames, key=key)


def _points(frame: dict[str, Any]) -> dict[str, tuple[str, np.ndarray]]:
    return {str(n["id"]): (str(n.get("label", n["id"])), np.asarray(n["position"][:2], float)) for n in frame["nodes"]}


def _norm(label: str) -> str:
    return " ".join(label.lower().replace("_", " ").replace("-", " ").split())


def _pairs(pred: dict[str, tuple[str, np.ndarray]], true: dict[str, tuple[str, np.ndarray]]) -> dict[str, str]:
    """true id -> predicted id, one-to-one: by id, then by label (as graph_score matches nodes)."""
    pairs = {t: t for t in true if t in pred}
    for t, (label, _) in true.items():
        if t not in pairs:
            free = [p for p, (other, _) in pred.items() if p not in pairs.values() and _norm(other) == _norm(label)]
            if free:
                pairs[t] = free[0]
    return pairs


def _fit(P: np.ndarray, T: np.ndarray, scaled: bool) -> tuple[float, float, np.ndarray]:
    """2-D Procrustes: rotation (radians), scale (1 unless `scaled`) and translation t with s R P + t ≈ T."""
    if not len(P):
        return 0.0, 1.0, np.zeros(2)
    p, t = P - P.mean(0), T - T.mean(0)
    a, b = float((p * t).sum()), float((p[:, 0] * t[:, 1] - p[:, 1] * t[:, 0]).sum())
    angle = math.atan2(b, a) if len(P) > 1 and math.hypot(a, b) > 1e-12 else 0.0
    rp = p @ _rotation(angle).T
    scale = max(0.0, float((rp * t).sum() / (rp ** 2).sum())) if scaled and (rp ** 2).sum() > 1e-12 else 1.0
    return angle, scale, T.mean(0) - scale * _rotation(angle) @ P.mean(0)


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _graph_figure(pred_graph: Any, true_graph: Any, width: int = 360, height: int = 280, pad: int = 30) -> str:
    """An SVG of the true graph's first frame and the predicted frame nearest in time, aligned onto it; a legend."""
    true_frame = _frame(true_graph)
    if true_frame is None:
        return ""
    true = _points(true_frame)
    try:
        pred_frame = _frame(pred_graph, true_frame.get("time", 0.0)) if isinstance(pred_graph, dict) else None
        pred = _points(pred_frame) if pred_frame is not None else {}
    except (KeyError, TypeError, ValueError):  # not a readable graph: shown as missing
        pred_frame, pred = None, {}
    pairs = _pairs(pred, true)
    scaled = "image" in ((pred_graph.get("units") if isinstance(pred_graph, dict) else None), true_graph.get("units"))
    angle, scale, shift = _fit(np.array([pred[p][1] for p in pairs.values()]).reshape(-1, 2),
                               np.array([true[t][1] for t in pairs]).reshape(-1, 2), scaled)
    placed = {i: (label, scale * _rotation(angle) @ xy + shift) for i, (label, xy) in pred.items()}
    everything = [xy for _, xy in [*true.values(), *placed.values()]] or [np.zeros(2)]
    low, high = np.min(everything, 0), np.max(everything, 0)
    unit = min((width - 2 * pad) / max(high[0] - low[0], 1e-9), (height - 2 * pad) / max(high[1] - low[1], 1e-9))
    centre = (low + high) / 2

    def at(xy: np.ndarray) -> tuple[float, float]:  # ground plane to SVG pixels, y up
        return width / 2 + unit * (xy[0] - centre[0]), height / 2 - unit * (xy[1] - centre[1])

    matched = {p: t for t, p in pairs.items()}  # predicted id -> true id

    def layer(frame: dict[str, Any] | None, nodes: dict[str, tuple[str, np.ndarray]], is_true: bool) -> str:
        colour, out = TRUE_COLOUR if is_true else PRED_COLOUR, []
        dash = "" if is_true else ' stroke-dasharray="5 3"'
        for edge in (frame or {}).get("edges") or []:
            ends = [str(edge.get("source", edge.get("from"))), str(edge.get("target", edge.get("to")))]
            if all(e in nodes for e in ends):
                (x1, y1), (x2, y2) = at(nodes[ends[0]][1]), at(nodes[ends[1]][1])
                out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
                           f'stroke-opacity="0.35" stroke-width="1.2"{dash}/>')
        for ident, (label, xy) in nodes.items():
            (x, y), name = at(xy), html.escape(label)
            if is_true:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}">'
                           f'<title>true {name}</title></circle>')
            else:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="none" stroke="{colour}" stroke-width="2">'
                           f'<title>predicted {name}</title></circle>')
            # a predicted node matched to a true node of the same label sits on (or near) it: one label is enough
            if is_true or ident not in matched or _norm(label) != _norm(true[matched[ident]][0]):
                out.append(f'<text x="{x:.1f}" y="{y + (-9 if is_true else 17):.1f}" font-size="10" '
                           f'text-anchor="middle" fill="{colour}">{name}</text>')
        return "".join(out)

    svg = (f'<svg class="graph-view" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="predicted and true relation graph">'
           f'<g class="true-graph">{layer(true_frame, true, True)}</g>'
           f'<g class="predicted-graph">{layer(pred_frame, placed, False)}</g></svg>')
    units = true_graph.get("units", "metres")
    true_note = (f'<span style="color:{TRUE_COLOUR}">● — true graph</span>: first keyframe, t = '
                 f'{float(true_frame.get("time", 0.0)):.2f} s, {len(true)} nodes, '
                 f'{len(true_frame.get("edges") or [])} edges ({html.escape(str(units))})')
    if pred_frame is None:
        why = "no graph written" if not isinstance(pred_graph, dict) else "the graph has no frames"
        pred_note = f'<span style="color:{PRED_COLOUR}">○ - - predicted graph</span>: <b>missing</b> ({why})'
    else:
        how = ("not aligned: no node matches the true graph" if not pairs else
               "aligned by translation (one node matched)" if len(pairs) == 1 else
               f"aligned by rotation {math.degrees(angle):.1f}°" + (f", scale {scale:.3g}" if scaled else "")
               + " + translation")
        pred_note = (f'<span style="color:{PRED_COLOUR}">○ - - predicted graph</span>: nearest frame, t = '
                     f'{float(pred_frame.get("time", 0.0)):.2f} s, {len(pred)} nodes ({len(pairs)} of {len(true)} '
                     f'matched), {len(pred_frame.get("edges") or [])} edges; {how}')
    return f'<figure class="graphs">{svg}<figcaption class="legend">{true_note}<br>{pred_note}</figcaption></figure>'


def _caveat(run: dict[str, Any]) -> str:
    caveat = run.get("caveat")
    return f'<p class="caveat"><b>Note:</b> {html.escape(caveat[0].upper() + caveat[1:])}.</p>' if caveat else ""


def write_report(folder: str | os.PathLike, metrics: dict[str, Any], rows: list[dict[str, Any]], plots: dict[str, Path],
                 references: list[dict[str, Any]], run: dict[str, Any], max_episodes: int = 100) -> Path:
    """Write folder/report.html; the viewer shows up to max_episodes trajectories, mistakes first."""
    folder = Path(folder)
    dataset, protocol = run.get("dataset_label", "?"), run.get("protocol")
    played = [r for r in rows if "error" not in r]
    shown = sorted(played, key=lambda r: (r["correct"], r["part"], r["episode"]))[:max_episodes]
    plots_html = "".join(_img(folder, Path(p).name, name) for name, p in plots.items())
    title = f"{run.get('agent', '?')} on {dataset}" + (f" ({protocol})" if protocol else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>videostar bench: {html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<header><h1>videostar bench: {html.escape(title)}</h1>
{_caveat(run)}<p>{metrics['overall'].get('episodes', 0)} episodes · splits {html.escape(', '.join(metrics['splits']))} · seed {run.get('seed')}</p></header>
<main>
<section><h2>Metrics</h2>{_tiles(metrics)}<br>{_metric_tables(metrics)}</section>
<section><h2>Published results</h2>{_reference_section(metrics, references, dataset, protocol)}</section>
<section class="plots"><h2>Plots</h2>{plots_html}</section>
<section id="trajectories"><h2>Trajectories ({len(shown)} of {len(played)}, mistakes first)</h2>
{''.join(_episode(folder, r, k == 0) for k, r in enumerate(shown))}</section>
<section><h2>Run</h2><pre class="note">{html.escape(json.dumps(run, indent=2))}</pre></section>
</main></body></html>"""
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
