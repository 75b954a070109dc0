"""`videostar bench` on spatio-temporal questions (VideoSTR-Tools-v0 on `scenes`): metrics, plots, the report."""

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_env.jobs.bench import BenchConfig, load_references, run_bench, write_outputs
from videostar_env.jobs.bench.report import _graph_figure
from videostar_env.jobs.bench.runner import planned_rows

from test_bench import CHROMIUM_FLAGS

PNG = b"\x89PNG\r\n\x1a\n"
EPISODES = 12


def scenes_run(agent, out):
    config = BenchConfig(agent=agent, env_id="VideoSTR-Tools-v0", dataset="scenes",
                         dataset_kwargs={"num_scenes": 4, "questions_per_scene": 5}, episodes=EPISODES)
    parts, log = run_bench(config, out)
    return write_outputs(config, parts, log, load_references()), planned_rows(parts, log)


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    out = tmp_path_factory.mktemp("graph-reader")
    metrics, rows = scenes_run("graph-reader", out)
    return out, metrics, rows


def test_a_graph_reader_bench_writes_per_type_scores_graph_terms_plots_and_a_report(reader):
    out, metrics, rows = reader
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["overall"]["episodes"] == EPISODES and len(saved["question_types"]) >= 3
    for name, m in saved["question_types"].items():
        assert m["score"] == 1.0 and m["episodes"] >= 1, name  # the noise-free oracle answers exactly
        assert m["metric"] in ("accuracy", "mean_relative_accuracy")
    assert sum(m["episodes"] for m in saved["question_types"].values()) == EPISODES
    assert saved["mean_over_types"] == 1.0 and saved["graphs_written"] == 1.0
    assert set(saved["graph"]) == {"node", "edge", "consistency", "format", "length"}
    assert saved["graph"]["node"] == saved["graph"]["edge"] == 1.0
    assert "per_class" not in saved
    for png in ("question_types.png", "tool_usage.png"):
        assert (out / png).read_bytes()[:8] == PNG
    assert not (out / "per_class_accuracy.png").exists() and not (out / "confusion.png").exists()

    report = (out / "report.html").read_text()
    assert 'id="question-types"' in report and 'id="graph-terms"' in report and "mean over types" in report
    for name in saved["question_types"]:
        assert f"<td>{name}</td>" in report
    assert report.count('<details class="episode"') == EPISODES
    assert report.count('<svg class="graph-view"') == EPISODES  # one drawing per trajectory
    assert report.count('<g class="predicted-graph"><line') == EPISODES and "<b>missing</b>" not in report
    assert "src=\"media/" not in report and report.count("data:image/png;base64,") == 2  # self-contained
    assert "top-1 accuracy" not in report  # action recognition's headline does not apply


def test_guessing_scores_lower_than_reading_the_graph_on_the_same_episodes(reader, tmp_path):
    _, read, read_rows = reader
    guess, guess_rows = scenes_run("guess", tmp_path)
    assert [r["sample_id"] for r in guess_rows] == [r["sample_id"] for r in read_rows]
    assert guess["mean_over_types"] < read["mean_over_types"]
    assert np.mean([r["score"] for r in guess_rows]) < np.mean([r["score"] for r in read_rows])
    assert guess["graph"]["node"] < read["graph"]["node"]
    report = (tmp_path / "report.html").read_text()
    assert report.count("<b>missing</b>") == EPISODES  # guess writes no graph frame: the legend says so


def _circles(svg, group):
    body = re.search(f'<g class="{group}">(.*?)</g>', svg).group(1)
    return np.array([[float(x), float(y)] for x, y in re.findall(r'<circle cx="([-\d.]+)" cy="([-\d.]+)"', body)])


def test_the_drawing_aligns_a_rotated_shifted_prediction_onto_the_true_graph():
    nodes = [("0", "red cube", [0.0, 0.0]), ("1", "blue cone", [2.0, 0.0]), ("2", "green ball", [0.5, 1.5])]
    true = {"units": "metres", "frames": [{"time": 0.0, "nodes": [
        {"id": i, "label": label, "position": xy} for i, label, xy in nodes], "edges": [
        {"source": "0", "target": "1", "distance": 2.0, "angle": 0.0}]}]}
    c, s = math.cos(1.0), math.sin(1.0)
    moved = [[c * x - s * y + 5, s * x + c * y - 3] for _, _, (x, y) in nodes]  # turned by 1 radian, shifted
    predicted = {"units": "metres", "frames": [
        {"time": 3.0, "nodes": []},  # far from the true keyframe: not the one drawn
        {"time": 0.1, "nodes": [{"id": f"p{k}", "label": label.upper(), "position": xy}  # matched by label
                                for k, ((_, label, _), xy) in enumerate(zip(nodes, moved))]}]}
    svg = _graph_figure(predicted, true)
    assert np.allclose(_circles(svg, "predicted-graph"), _circles(svg, "true-graph"), atol=0.15)
    assert "rotation -57.3°" in svg and "3 of 3" in svg and "t = 0.10 s" in svg
    assert "<b>missing</b> (no graph written)" in _graph_figure(None, true)
    assert "<b>missing</b> (the graph has no frames)" in _graph_figure({"units": "metres", "frames": []}, true)


def test_the_scenes_report_renders_in_headless_chromium(reader, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    out, metrics, _ = reader
    url = (out / "report.html").as_uri()
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    table = re.search(r'<div id="question-types">(.*?)</div>', dom, re.S)
    assert table and all(name in table.group(1) for name in metrics["question_types"])
    assert "mean over types" in table.group(1) and 'id="graph-terms"' in dom
    svg = re.search(r'<details class="episode" open="".*?(<svg.*?</svg>)', dom, re.S).group(1)
    assert len(_circles(svg, "true-graph")) >= 1 and len(_circles(svg, "predicted-graph")) >= 1  # both graphs
    assert "true graph" in dom and "predicted graph" in dom  # the legend
    shot = tmp_path / "report.png"
    subprocess.run([*common, "--window-size=1200,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1600, 1200)
    header_blue = np.all(np.abs(pixels - [0x1F, 0x6F, 0xEB]) < 8, axis=2)
    assert header_blue[:40].mean() > 0.5  # the header rendered with its stylesheet
    assert pixels[200:].std() > 20  # tables, plots and text below it, not a blank page
