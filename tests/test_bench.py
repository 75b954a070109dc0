"""`videostar bench`: planned episodes, resumable results, metrics, plots, the HTML report, vector envs and Ray."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import videostar_env  # noqa: F401
from videostar_env.jobs.bench import (BenchConfig, BenchError, EpisodePlan, PlannedEpisodes, ResultsLog, compute_metrics,
                                 load_references, run_bench, write_outputs)
from videostar_env.jobs.bench.metrics import mean_std
from videostar_env.tasks import ActionRecognition
from videostar_env.tasks.action_recognition.metrics import harmonic_mean
from videostar_env.jobs.bench.runner import planned_rows
from videostar_env.cli.options import OptionError
from videostar_env.cli.main import main
from videostar_env.datasets import SyntheticDataset

from conftest import shared_file

TESTS = Path(__file__).resolve().parent


def comparable(metrics):
    """Metrics without wall-clock figures and cache hits, which differ from run to run (the cache is shared)."""
    out = json.loads(json.dumps(metrics))
    for block in [out["overall"], *out["splits"].values()]:
        block.pop("seconds_per_episode", None)
        block.pop("tool_calls_cached", None)
    out.pop("run", None)
    return out


def run(config, out):
    parts, log = run_bench(config, out)
    return compute_metrics(planned_rows(parts, log), [p.name for p in parts], ActionRecognition()), planned_rows(parts, log)


# -- the plan ------------------------------------------------------------------------------------

def test_plan_is_a_seeded_permutation_and_seeds_name_their_episode():
    plan = EpisodePlan(seed=7, size=10)
    assert sorted(plan.order()) == list(range(10))
    assert list(plan.order()) == list(EpisodePlan(seed=7, size=10).order())
    assert list(plan.order()) != list(EpisodePlan(seed=8, size=10).order())
    assert [plan.index_of(k) for k in range(10, 13)] == [plan.index_of(k) for k in range(3)]  # cycles past the end
    assert plan.episode_of(plan.seed_of(5)) == 5
    assert list(EpisodePlan(0, 4, shuffle=False).order()) == [0, 1, 2, 3]


def test_planned_episodes_reset_onto_the_planned_sample():
    env = PlannedEpisodes(gym.make("VideoSTAR-v0"), seed=3)
    dataset = env.unwrapped.dataset
    for k in (0, 4):
        _, info = env.reset(seed=3 + k)
        assert info["sample_id"] == dataset[env.plan.index_of(k)].id and info["episode"] == k
    _, info = env.reset()
    assert "episode" not in info  # an idle slot's stand-in episode


# -- the results log -----------------------------------------------------------------------------

def test_results_log_drops_a_cut_line_and_refuses_duplicates(tmp_path):
    log = ResultsLog(tmp_path)
    log.append({"key": "a/0", "x": 1}, {"media/a-0.jpg": b"jpeg"})
    log.append({"key": "a/1", "x": 2})
    with open(tmp_path / "results.jsonl", "a") as handle:
        handle.write('{"key": "a/2", "x"')  # the kill came in the middle of a write
    again = ResultsLog(tmp_path)
    assert sorted(again.rows) == ["a/0", "a/1"] and again.dropped > 0
    assert (tmp_path / "media" / "a-0.jpg").read_bytes() == b"jpeg"
    with pytest.raises(ValueError, match="already"):
        again.append({"key": "a/1"})
    assert (tmp_path / "results.jsonl").read_text().count("\n") == 2


def test_results_log_names_a_corrupt_line(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"key": "a/0"}\nnot json\n')
    with pytest.raises(ValueError, match=r"results.jsonl:2"):
        ResultsLog(tmp_path)


# -- metrics -------------------------------------------------------------------------------------

def _row(part, k, label, answer, group=None, tools=None, invalid=0, turns=2):
    correct = label == answer
    return {"key": f"{part}/{k}", "part": part, "episode": k, "label": label, "answer": answer, "group": group,
            "correct": correct, "reward": {"accuracy": float(correct), "format": 1.0, "total": 1.0 + correct},
            "turns": turns, "tool_calls": tools or {}, "tool_errors": {}, "invalid_turns": invalid,
            "truncated": False, "seconds": 0.1}


def test_metrics_base_novel_harmonic_mean_and_splits():
    rows = [_row("1", 0, "a", "a", "base", {"pose_estimation": 2}), _row("1", 1, "b", "a", "novel", invalid=1),
            _row("2", 0, "a", "a", "base"), _row("2", 1, "b", "b", "novel", {"human_detection": 1})]
    m = compute_metrics(rows, ["1", "2"], ActionRecognition())
    assert m["overall"]["accuracy"] == 0.75
    assert m["splits"]["1"]["accuracy"] == 0.5 and m["splits"]["2"]["accuracy"] == 1.0
    assert m["over_splits"]["mean"] == 0.75 and m["over_splits"]["std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert m["base_novel"]["base"] == 1.0 and m["base_novel"]["novel"] == 0.5
    assert m["base_novel"]["harmonic_mean"] == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert m["overall"]["tools"]["pose_estimation"] == {"rate": 0.25, "calls_per_episode": 0.5, "errors": 0}
    assert m["overall"]["invalid_action_rate"] == 1 / 8 and m["overall"]["turns_per_episode"] == 2
    assert m["overall"]["reward"]["accuracy"] == 0.75
    assert m["per_class"]["b"] == {"episodes": 2, "correct": 1, "accuracy": 0.5}
    assert m["confusions"] == [{"label": "b", "answer": "a", "count": 1}]


def test_metric_helpers():
    assert harmonic_mean(0.0, 0.0) == 0.0 and harmonic_mean(0.5, 0.5) == 0.5
    assert mean_std([0.4]) == {"mean": 0.4, "std": 0.0, "n": 1}


def test_failed_episodes_are_counted_not_scored():
    rows = [_row("x", 0, "a", "a"), {"key": "x/1", "part": "x", "episode": 1, "error": "VideoDecodeError: bad.mp4"}]
    m = compute_metrics(rows)
    assert m["overall"]["episodes"] == 1 and m["overall"]["accuracy"] == 1.0
    assert m["failed"] == {"episodes": 1, "examples": [{"key": "x/1", "error": "VideoDecodeError: bad.mp4"}]}


# -- the command ---------------------------------------------------------------------------------

def test_bench_command_writes_results_metrics_plots_and_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["bench", "--agent", "heuristic", "--dataset", "synthetic", "--episodes", "40", "--out", str(out)]) == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 40 and len({json.loads(line)["key"] for line in lines}) == 40
    metrics = json.loads((out / "metrics.json").read_text())
    overall = metrics["overall"]
    assert overall["episodes"] == 40 and overall["accuracy"] >= 0.8
    assert overall["tools"]["pose_estimation"]["rate"] == 1.0 and overall["invalid_action_rate"] == 0.0
    assert {"accuracy", "format", "tool", "submotion", "total"} <= overall["reward"].keys()
    bn = metrics["base_novel"]
    assert bn["episodes"]["base"] + bn["episodes"]["novel"] == 40 and bn["harmonic_mean"] is not None
    for png in ("per_class_accuracy.png", "confusion.png", "tool_usage.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    assert "top-1 accuracy" in report and report.count('<details class="episode"') == 40
    assert "data:image/jpeg;base64," in report and "src=\"media/" not in report  # self-contained
    assert "harmonic mean" in capsys.readouterr().out


def test_sync_async_and_single_env_runs_give_the_same_metrics(tmp_path):
    base = dict(agent="random", episodes=12, seed=5)
    one, rows = run(BenchConfig(**base), tmp_path / "one")
    three, _ = run(BenchConfig(**base, num_envs=3), tmp_path / "three")
    two_async, _ = run(BenchConfig(**base, num_envs=2, vectorization="async"), tmp_path / "async")
    assert comparable(one) == comparable(three) == comparable(two_async)
    assert len({r["sample_id"] for r in rows}) == 12


def test_resume_refuses_a_folder_that_holds_another_run(tmp_path):
    run_bench(BenchConfig(agent="no-tool", episodes=2), tmp_path)
    with pytest.raises(BenchError, match="agent"):
        run_bench(BenchConfig(agent="heuristic", episodes=2), tmp_path)
    parts, log = run_bench(BenchConfig(agent="no-tool", episodes=4), tmp_path)  # more episodes: resumes
    assert len(planned_rows(parts, log)) == 4


def test_a_killed_run_resumes_with_exactly_n_unique_episodes(tmp_path):
    out, n = tmp_path / "run", 24
    command = [sys.executable, "-m", "videostar_env.cli.main", "bench", "--agent", "slow_agent:SlowHeuristic",
               "--agent-options", '{"delay": 0.1}', "--episodes", str(n), "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not results.exists() or results.read_text().count("\n") < 5):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = results.read_text().count("\n")
    assert 5 <= done_before < n, "the run must be killed part-way"
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"resuming: {done_before} of {n}" in second.stdout.replace("\n", " ")
    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    assert len(keys) == n and len(set(keys)) == n
    assert json.loads((out / "metrics.json").read_text())["overall"]["episodes"] == n


def test_an_unreadable_video_is_reported_and_the_run_goes_on(tmp_path):
    synthetic = SyntheticDataset(per_class=1)
    manifest = tmp_path / "manifest.jsonl"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    rows = [{"video": s.video, "label": s.label, "annotations": s.meta["annotations"]} for s in list(synthetic)[:5]]
    rows.append({"video": str(broken), "label": "wave", "annotations": synthetic[0].meta["annotations"]})
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    config = BenchConfig(agent="heuristic", dataset="manifest", dataset_kwargs={"path": str(manifest)},
                         env_kwargs={"tools": ["pose_estimation"]},  # the manifest has no label explanations
                         num_envs=2, vectorization="async", shuffle=False)
    parts, log = run_bench(config, tmp_path / "run")
    metrics = write_outputs(config, parts, log, load_references())
    assert metrics["overall"]["episodes"] == 5
    assert metrics["failed"]["episodes"] == 1 and "broken.mp4" in metrics["failed"]["examples"][0]["error"]
    assert "Unreadable videos" in (tmp_path / "run" / "report.html").read_text()


def test_missing_videos_of_an_annotation_file_are_counted(tmp_path):
    shared_file("video-star/json/hmdb51/test.json")
    annotations = shared_file("video-star")
    config = BenchConfig(agent="no-tool", env_id="VideoSTAR-NoTools-v0", dataset="videostar", episodes=3, splits=("test",),
                         dataset_kwargs={"dataset": "hmdb51", "annotations": str(annotations),
                                         "video_root": str(tmp_path / "none"), "missing": "keep"})
    with pytest.warns(UserWarning, match="750 of 750"):
        parts, log = run_bench(config, tmp_path / "run")
        metrics = write_outputs(config, parts, log, load_references())
    assert metrics["run"]["splits"]["test"]["missing_videos"]["count"] == 750
    assert metrics["failed"]["episodes"] == 3 and metrics["overall"]["episodes"] == 0
    # Issue 19: the paper's Table 1 gives base, novel and HM for four methods (was one row from a public index).
    assert {(r["dataset"], r["protocol"]) for r in metrics["references"]} == {("hmdb51", "base2novel")}
    assert len(metrics["references"]) == 12


# -- the report in a browser ---------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def test_report_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    out = tmp_path / "run"
    config = BenchConfig(agent="random", episodes=6, seed=1)
    parts, log = run_bench(config, out)
    write_outputs(config, parts, log, load_references())
    url = (out / "report.html").as_uri()
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert 'id="metrics"' in dom and "top-1 accuracy" in dom
    assert '<details class="episode" open=""' in dom and 'class="turn assistant"' in dom
    shot = tmp_path / "report.png"
    subprocess.run([*common, "--window-size=1200,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1600, 1200)
    header_blue = np.all(np.abs(pixels - [0x1F, 0x6F, 0xEB]) < 8, axis=2)
    assert header_blue[:40].mean() > 0.5  # the header rendered with its stylesheet
    assert pixels[200:].std() > 20  # tables, plots and text below it, not a blank page


# -- Ray -----------------------------------------------------------------------------------------

def test_ray_sharding_matches_the_single_process_run(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'videostar-env[ray]'")
    base = dict(agent="random", episodes=10, seed=11)
    local, _ = run(BenchConfig(**base), tmp_path / "local")
    sharded, rows = run(BenchConfig(**base, ray="local", ray_workers=2), tmp_path / "ray")
    assert comparable(sharded) == comparable(local)
    assert len(rows) == 10


def test_command_line_names_video_star_datasets_and_rejects_bad_json():
    from videostar_env.cli.main import bench_config, build_parser

    args = build_parser().parse_args(["bench", "--dataset", "ucf101", "--protocol", "cross", "--split", "1,2,3",
                                      "--video-root", "/data/ucf", "--limit", "5", "--ray"])
    config = bench_config(args)
    assert config.dataset == "videostar" and config.splits == ("1", "2", "3") and config.episodes == 5
    assert config.dataset_kwargs == {"dataset": "ucf101", "protocol": "cross", "video_root": "/data/ucf"}
    assert config.ray == "local"
    bad = build_parser().parse_args(["bench", "--agent-options", "[1]"])
    with pytest.raises(OptionError, match="--agent-options must be a JSON object"):
        bench_config(bad)


class BatchRecorder:
    """A batch-capable agent (as a model policy is): answers every sub-env in one call, and records the calls."""

    name = "batch-recorder"
    batches: list = []

    def __init__(self, seed=0):
        from videostar_agents import OracleAgent

        self.inner = OracleAgent(seed)

    def reset(self, seed=None):
        pass

    def act(self, observation, info):
        return self.inner.act(observation, info)

    def act_batch(self, observations, infos):
        BatchRecorder.batches.append(len(infos))
        return [self.inner.act(o, i) for o, i in zip(observations, infos)]


def test_a_batch_agent_answers_all_sub_envs_in_one_call(tmp_path):
    BatchRecorder.batches.clear()
    metrics, _ = run(BenchConfig(agent="test_bench:BatchRecorder", episodes=6, num_envs=3), tmp_path)
    assert metrics["overall"]["episodes"] == 6 and metrics["overall"]["accuracy"] == 1.0
    assert max(BatchRecorder.batches) == 3 and sum(BatchRecorder.batches) == 6 * 2  # oracle: 2 turns an episode


# -- the paper's rows (issue 19) -------------------------------------------------------------------

def test_paper_rows_come_from_tables_1_and_2():
    from videostar_env.jobs.bench.reference import PAPER_ROWS, TABLE_1, TABLE_2
    rows = {(r["method"], r["dataset"], r["protocol"], r["metric"]): r for r in load_references()}
    assert len(rows) == len(PAPER_ROWS) == 4 * 4 * 3 + 4 * 5
    assert rows[("Video-STAR-7B", "hmdb51", "base2novel", "base")]["value"] == 92.3
    assert rows[("Video-STAR-7B", "kinetics400", "base2novel", "novel")]["value"] == 97.2
    assert rows[("Video-STAR-3B", "ssv2", "base2novel", "hm")]["value"] == 12.3
    assert rows[("Qwen2.5-VL-7B", "hmdb51", "base2novel", "hm")]["value"] == 45.6
    assert rows[("Video-STAR-7B", "ucf101", "cross", "full")]["value"] == 99.4  # the index's 99.7 was Table 1's HM
    split = rows[("Video-STAR-7B", "kinetics600", "cross", "split")]
    assert (split["value"], split["std"]) == (98.2, 0.1)
    assert ("Video-STAR-7B", "kinetics600", "cross", "full") not in rows  # Table 2 gives K-600 splits only
    assert {r["source"] for r in PAPER_ROWS if r["protocol"] == "base2novel"} == {TABLE_1}
    assert {r["source"] for r in PAPER_ROWS if r["protocol"] == "cross"} == {TABLE_2}
    assert "Table 1" in TABLE_1 and "Table 2" in TABLE_2


def test_report_shows_the_run_beside_base_novel_hm_and_split_rows():
    from videostar_env.jobs.bench.report import _reference_section
    metrics = {"overall": {"accuracy": 0.5}, "base_novel": {"base": 0.6, "novel": 0.4, "harmonic_mean": 0.48},
               "over_splits": {"mean": 0.5, "std": 0.1, "n": 3}}
    text = _reference_section(metrics, load_references(), "hmdb51", "base2novel")
    for cell in ("Video-STAR-7B", "Qwen2.5-VL-3B", "Table 1", ">novel<", ">hm<", ">48.0<", ">60.0<", ">40.0<",
                 "50.0 ± 10.0"):
        assert cell in text, cell
    cross = _reference_section({"overall": {"accuracy": 0.9}}, load_references(), "kinetics600", "cross")
    assert "98.2 ± 0.1" in cross and "Table 2" in cross and ">90.0<" in cross and "Table 1" not in cross
