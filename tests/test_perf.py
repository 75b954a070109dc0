"""The performance benchmark measures what it claims; its table and chart come from its JSON."""

import dataclasses
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_benchmarks.perf import SECTIONS, machine, main, run
from videostar_benchmarks.perf.decoding import decord_floor, opencv_decode, reset_vs_decode
from videostar_benchmarks.perf.memory import memory_per_env
from videostar_benchmarks.perf.report import BEGIN, END, files_with_markers, perf_table, update_docs, update_readme
from videostar_benchmarks.perf.stepping import step_overhead
from videostar_benchmarks.perf.timing import interleaved_ms, summary
from videostar_benchmarks.perf.vector import vector_throughput
from videostar_benchmarks.perf.workload import CountedBackend, grpo_workload, rollout_calls
from videostar_env import tool_call, vector_kwargs
from videostar_env.datasets import SyntheticDataset, decode


def test_interleaved_timing_calls_each_contender_once_per_round_after_warmup():
    calls = {"a": 0, "b": 0}
    times = interleaved_ms({k: (lambda k=k: calls.__setitem__(k, calls[k] + 1)) for k in calls}, repeats=5, warmup=2)
    assert calls == {"a": 7, "b": 7} and all(len(t) == 5 for t in times.values())


def test_summary_is_median_and_nearest_rank_p95():
    assert summary([float(i) for i in range(1, 101)]) == {"median_ms": 50.5, "p95_ms": 95.0, "n": 100}


def test_the_floor_and_opencv_decode_the_same_indices_as_the_env():
    video = SyntheticDataset(per_class=1)[0].video
    floor, ours = decord_floor(video, 16), decode(video, 16, (160, 160), "decord")
    assert floor.shape == ours.frames.shape  # the synthetic clip is 160x160: no resize, same frames
    assert abs(floor.astype(int) - ours.frames.astype(int)).mean() < 1.0
    assert opencv_decode(video, 16, (128, 128)).shape == (16, 128, 128, 3)


def test_reset_is_reported_against_the_decode_floor():
    result = reset_vs_decode(repeats=2, real_clips=False)
    row = result["videos"][0]
    assert {"floor_decord_source_size", "decord", "pyav", "reset"} <= set(row)
    assert row["reset_over_floor"] == pytest.approx(row["reset"]["median_ms"] / row["floor_decord_source_size"]["median_ms"], abs=1e-3)
    assert result["target"]["met"] == (result["reset_over_floor_worst"] <= 1.2)


def test_every_timed_reset_decodes_its_video():
    # In a fresh process: an env another test left alive may hold the same clip, which reset() would share.
    code = textwrap.dedent("""
        import videostar_env.core.env as env_module
        from videostar_benchmarks.perf.decoding import reset_vs_decode
        from videostar_env.datasets import SyntheticDataset

        reads, real = [], env_module.decode
        env_module.decode = lambda path, *a, **k: reads.append(path) or real(path, *a, **k)
        reset_vs_decode(repeats=3, real_clips=False)
        print(reads.count(SyntheticDataset()[0].video))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == 1 + 3  # the warm-up and each round: no reuse of held frames


def test_interleaved_timing_runs_the_before_hook_untimed_before_each_call():
    order = []
    interleaved_ms({"a": lambda: order.append("a")}, repeats=2, warmup=1, before={"a": lambda: order.append("-")})
    assert order == ["-", "a"] * 3


def test_quick_reset_section_plays_the_shared_clips(tmp_path):
    from conftest import shared_file

    shared_file("clips/arm_wrestling.mp4")
    assert main(["--out", str(tmp_path), "--quick", "--only", "reset"]) == 0  # the oracle env refused the real clips
    videos = [row["video"] for row in json.loads((tmp_path / "perf.json").read_text())["reset"]["videos"]]
    assert {"apply_eye_makeup.avi", "arm_wrestling.mp4", "flipping_pancake.mkv"} <= set(videos)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_documented_quick_perf_command_passes_on_the_shared_data(tmp_path):
    import subprocess
    import sys

    from conftest import shared_file

    shared_file("clips/arm_wrestling.mp4")
    shared_file("weights/yolo11n-pose_int8.tflite")
    pytest.importorskip("ai_edge_litert", reason="the int8 TFLite weights need the ai-edge-litert runtime")
    subprocess.run([sys.executable, "-m", "videostar_benchmarks.perf", "--quick", "--out", "out"], cwd=tmp_path,
                   check=True, capture_output=True, text=True)  # 17 min on 2 shared cores
    assert set(json.loads((tmp_path / "out" / "perf.json").read_text())["seconds"]) == set(SECTIONS)


def test_step_overhead_times_cache_hits_answers_and_invalid_turns():
    result = step_overhead(repeats=5, videos=2)  # raises if a timed tool call missed the cache
    assert {k: v["n"] for k, v in result.items() if k != "target"} == {
        "cached_tool_call": 5, "answer_no_tool": 5, "invalid_no_tool": 5}


def test_counted_backend_counts_method_calls_and_passes_attributes():
    class Inner:
        id = "inner"

        def pose(self, x):
            return x + 1

    counted = CountedBackend(Inner())
    assert counted.id == "inner" and counted.pose(1) == 2 and counted.pose(2) == 3 and counted.calls == 2


def test_rollout_calls_are_fixed_or_seeded_draws():
    tools = ["a", "b", "c", "d"]
    assert rollout_calls("same_tools", tools, 0, 1, 0) == ["a", "b"]
    drawn = rollout_calls("sampled_tools", tools, 3, 1, 0)
    assert drawn == rollout_calls("sampled_tools", tools, 3, 1, 0) and 1 <= len(drawn) <= 3


def test_grpo_workload_runs_each_unique_tool_key_once():
    result = grpo_workload("same_tools", videos=2, group=4, epochs=2)
    cached, uncached = result["cached"], result["uncached"]
    assert uncached[0]["tool_runs"] == uncached[0]["tool_calls"] == 2 * 4 * 2
    assert cached[0]["tool_runs"] == cached[0]["new_unique_keys"] == 2 * 2
    assert cached[0]["backend_calls"] == cached[0]["tool_runs"] and cached[1]["tool_runs"] == cached[1]["backend_calls"] == 0
    assert result["epoch1_uncached_over_cached_runs"] == 4 and result["target"]["met"]


def test_sampled_grpo_workload_runs_only_new_keys():
    result = grpo_workload("sampled_tools", videos=2, group=4, epochs=2)
    assert all(e["tool_runs"] == e["new_unique_keys"] for e in result["cached"])
    with pytest.raises(ValueError, match="policy"):
        grpo_workload("greedy")


def test_async_vector_envs_keep_the_dialogue_current():
    # Regression: with Gymnasium's default shared memory the async dialogue stayed at its first value.
    envs = gym.make_vec("VideoSTAR-v0", num_envs=1, vectorization_mode="async", vector_kwargs=vector_kwargs("async"))
    try:
        obs, _ = envs.reset(seed=0)
        first = obs["dialogue"][0]
        obs, *_ = envs.step([tool_call("pose_estimation")])
        assert obs["dialogue"][0].startswith(first) and "[tool pose_estimation]" in obs["dialogue"][0]
    finally:
        envs.close()
    assert vector_kwargs("sync", autoreset_mode="x") == {"autoreset_mode": "x"}


def test_vector_throughput_reports_every_mode_and_count():
    result = vector_throughput(episodes=2, counts=(1, 2), rounds=1)
    assert set(result["episodes_per_s"]) == {"sync_1", "sync_2", "async_1", "async_2"}
    assert result["speedup_over_sync_1"]["sync_1"] == 1.0 and "ipc_ms_per_episode" in result


def test_memory_grows_with_frames_per_episode():
    result = memory_per_env(frame_counts=(8, 32), episodes=2)
    small, large = result["rows"]
    assert large["episode_peak_mb"] > small["episode_peak_mb"] > small["frames_mb"]
    assert result["episode_mb_per_extra_frame"] > 0 and small["process_peak_mb"] > 0


def test_run_writes_json_chart_and_table_and_fills_the_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    report = run(tmp_path / "out", only=("step", "grpo"), quick=True, readme=readme)
    written = json.loads((tmp_path / "out" / "perf.json").read_text())
    assert written["step"] == report["step"] and (tmp_path / "out" / "perf.png").stat().st_size > 10_000
    text = readme.read_text()
    assert "old" not in text and text.endswith("after\n") and "| `step()` with a cached tool result" in text
    assert perf_table(written) in text and (tmp_path / "out" / "perf.md").read_text() == perf_table(written)
    update_readme(readme, perf_table(written))
    assert readme.read_text() == text  # idempotent
    with pytest.raises(ValueError, match="markers"):
        update_readme(tmp_path / "out" / "perf.md", "x")
    with pytest.raises(ValueError, match="unknown sections"):
        run(tmp_path / "out", only=("warp",))


def test_docs_option_fills_whichever_page_holds_the_markers(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# docs\n")
    (docs / "performance.md").write_text(f"# perf\n\n{BEGIN}\nold\n{END}\n")
    assert files_with_markers(docs) == [docs / "performance.md"]
    assert update_docs(docs, {"perf-table": "| new |\n"}) == [docs / "performance.md"]
    assert (docs / "performance.md").read_text() == f"# perf\n\n{BEGIN}\n| new |\n{END}\n"
    assert (docs / "index.md").read_text() == "# docs\n"
    (docs / "performance.md").write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"):  # before any measuring
        run(tmp_path / "out", only=("step",), quick=True, docs=docs)
    assert not (tmp_path / "out").exists()


def test_the_repository_docs_hold_each_tables_markers_once():
    root = Path(__file__).resolve().parents[1]
    assert files_with_markers(root / "docs") == [root / "docs" / "performance.md"]
    assert files_with_markers(root / "docs", "perf-concurrency") == [root / "docs" / "scaling-out.md"]
    assert BEGIN not in (root / "README.md").read_text()


def test_one_full_run_fills_every_docs_table_with_the_grid_the_docs_describe(tmp_path, monkeypatch):
    """The perf run's concurrency section measures the documented grid, and its table goes to scaling-out's markers."""
    from videostar_benchmarks.perf import grid, sections

    asked = {}
    monkeypatch.setattr("videostar_benchmarks.perf.concurrency.concurrency", lambda **options: asked.update(options))
    sections(quick=False)["concurrency"]()
    assert {k: v for k, v in asked.items() if k != "data"} == grid.DOCUMENTED and asked["data"] in (("clips",), ("synthetic",))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "performance.md").write_text(f"{BEGIN}\nold\n{END}\n")
    (docs / "scaling-out.md").write_text("<!-- perf-concurrency:begin -->\nold\n<!-- perf-concurrency:end -->\n")
    made = {"perf-table": "| main |\n", "perf-concurrency": "| concurrency |\n"}
    assert update_docs(docs, made) == [docs / "performance.md", docs / "scaling-out.md"]
    assert "| concurrency |" in (docs / "scaling-out.md").read_text() and "old" not in (docs / "scaling-out.md").read_text()
    assert "| main |" in (docs / "performance.md").read_text()


def test_machine_names_the_cpu_cores_and_memory():
    info = machine()
    assert info["cpus"] >= 1 and info["memory_gb"] > 0 and info["cpu_model"]


def test_command_line_quick_yolo_section(tmp_path):
    assert "yolo" in SECTIONS
    assert main(["--out", str(tmp_path), "--quick", "--only", "yolo"]) == 0
    report = json.loads((tmp_path / "perf.json").read_text())
    rows = report["yolo"]["rows"]
    assert rows[0]["device"] == "cpu" and rows[0]["batched_ms_per_frame"] > 0
    if not report["machine"]["gpu"]:
        assert report["yolo"]["target"]["met"] is None  # not measured, not claimed


# -- concurrent episodes through EnvPool (videostar_benchmarks.perf.concurrency) -------------------------------------------------

from videostar_benchmarks.perf import concurrency as conc  # noqa: E402
from videostar_benchmarks.perf import grid, measure  # noqa: E402
from videostar_benchmarks.perf.looplag import lag_summary  # noqa: E402
from videostar_benchmarks.perf.vector import vector_on_clips  # noqa: E402
from videostar_benchmarks.perf.report import concurrency_table  # noqa: E402
from videostar_trainers.env_pool import default_threads  # noqa: E402


def test_concurrency_cells_run_the_pattern_before_envpool_with_no_tool_cache_only():
    made = grid.cells((1, 4), (0.05,), ("synthetic",), ("off", "results", "warm"), ("pool", "before"),
                      threads=(None,))
    assert [(m, c) for _, c, m, _, _, _ in made] == [
        ("pool", "off"), ("pool", "off"), ("pool", "results"), ("pool", "results"), ("pool", "warm"), ("pool", "warm"),
        ("before", "off"), ("before", "off"), ("before", "results"), ("before", "results")]
    made = grid.cells((1, 4), (0.05,), ("synthetic",), ("off", "warm"), ("pool", "before"), threads=(None, 4))
    assert [(m, c, t, k) for _, c, m, t, k, _ in made] == [
        ("pool", "off", None, 1), ("pool", "off", None, 4), ("pool", "off", 4, 1), ("pool", "off", 4, 4),
        ("pool", "warm", None, 1), ("pool", "warm", None, 4), ("pool", "warm", 4, 1), ("pool", "warm", 4, 4),
        ("before", "off", None, 1), ("before", "off", None, 4)]


def test_concurrency_lag_summary_and_checks():
    assert lag_summary([float(i) for i in range(1, 101)]) == {"p50_ms": 50.5, "p99_ms": 99.0, "max_ms": 100.0}
    assert lag_summary([]) == {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    cell = grid.Cell("synthetic", "off", "pool", 4, 0.05, 1, grid.SYNTHETIC)
    run = {"tool_calls": 8, "tool_runs": 3, "backend_calls": 3, "unique_keys": 2, "tool_errors": 0, "episodes": 4}
    assert all(measure.checks(cell, run).values())
    assert not measure.checks(cell, {**run, "tool_runs": 1, "backend_calls": 1})["cache_rule"]  # fewer runs than keys
    assert not measure.checks(dataclasses.replace(cell, cache="warm"), run)["cache_rule"]  # a warm cache runs nothing
    assert not measure.checks(cell, {**run, "backend_calls": 5})["runs_are_backend_calls"]
    assert measure.checks(cell, {**run, "model_frames": 3 * grid.FRAMES})["model_runs_each_call_once"]
    assert not measure.checks(cell, {**run, "model_frames": 5})["model_runs_each_call_once"]  # a clip run twice or cut
    kept = dataclasses.replace(cell, cache="results")  # results kept per clip: a backend call may run no model
    assert measure.checks(kept, {**run, "model_frames": grid.FRAMES})["model_runs_each_call_once"]


def test_concurrency_counts_tool_runs_against_unique_keys_in_each_cache_mode(tmp_path):
    result = conc.concurrency(ks=(4,), generation_s=(0.01,), data=("synthetic",), rounds=1, repeats=1,
                              vector_episodes=0)
    rows = {(r["mode"], r["cache"]): r for r in result["rows"]}
    assert set(rows) == {("pool", "off"), ("pool", "results"), ("pool", "cold"), ("pool", "warm"), ("before", "off"),
                         ("before", "results")}
    for row in rows.values():
        run = row["runs"][0]
        assert all(row["checks"].values()), row["checks"]
        assert run["tool_calls"] == 4 * 2 and run["unique_keys"] == 2  # one group of 4 on one video, 2 tools
        assert row["ideal_episodes_per_s"] == pytest.approx(4 / (3 * 0.01), abs=1e-3)
        assert row["efficiency"] == pytest.approx(run["episodes_per_s"] / run["ideal_episodes_per_s"], abs=1e-3)
        assert row["env_overhead"] == pytest.approx(1 - row["efficiency"], abs=1e-3)
        assert row["peak_rss_mb"] > 0 and row["cpu_ms_per_episode"] > 0
        assert row["cpu_ms_per_model_frame"] is None  # the oracle runs no model
        assert row["loop_lag"]["max_ms"] >= row["loop_lag"]["p99_ms"] >= 0
    # A cold cache runs each key once (identical calls at once share one run, later ones hit the cache); warm: none.
    assert rows[("pool", "cold")]["runs"][0]["tool_runs"] == 2 == rows[("pool", "cold")]["runs"][0]["backend_calls"]
    assert rows[("pool", "warm")]["runs"][0]["tool_runs"] == 0 == rows[("pool", "warm")]["runs"][0]["backend_calls"]
    table = concurrency_table(result)
    assert table.count("| synthetic |") == 6 and "**" not in table  # no failed check
    assert rows[("pool", "off")]["threads"] == default_threads() and rows[("before", "off")]["threads"] >= 5
    assert f"| EnvPool ({default_threads()} threads), K=4 episodes at once (synthetic, G=0.01 s, cache off)" in perf_table(
        {"machine": machine(), "concurrency": result})


def test_concurrency_refuses_unknown_choices_and_missing_clips(monkeypatch):
    with pytest.raises(ValueError, match="data must be some of"):
        conc.concurrency(data=("youtube",))
    with pytest.raises(ValueError, match="at least 1"):
        conc.concurrency(ks=(0,), data=("synthetic",))
    monkeypatch.setattr(grid, "SHARED_CLIPS", grid.SHARED_CLIPS.parent / "no-such-folder")
    with pytest.raises(FileNotFoundError, match="VIDEOSTAR_SHARED_DATA"):
        conc.concurrency(ks=(1,), data=("clips",), repeats=1)


def test_concurrency_command_line_writes_json_and_table(tmp_path):
    assert conc.main(["--out", str(tmp_path), "--data", "synthetic", "--ks", "2", "--generation", "0.01",
                      "--caches", "warm", "--modes", "pool", "--threads", "1", "--rounds", "1", "--repeats", "1"]) == 0
    report = json.loads((tmp_path / "concurrency.json").read_text())
    assert [(r["k"], r["cache"], r["threads"]) for r in report["concurrency"]["rows"]] == [(2, "warm", 1)]
    assert (tmp_path / "concurrency.md").read_text() == concurrency_table(report["concurrency"])


def test_async_vector_env_on_the_real_clips_reports_two_envs_over_one():
    from conftest import shared_file

    shared_file("clips/arm_wrestling.mp4")
    pytest.importorskip("ai_edge_litert", reason="the int8 TFLite weights need the ai-edge-litert runtime")
    with tempfile.TemporaryDirectory() as scratch:
        clips, videos = grid.data_kwargs(("clips",), Path(scratch))["clips"]
        result = vector_on_clips(clips, episodes=2, rounds=1)
    assert videos == 3 and set(result["episodes_per_s"]) == {"sync_1", "async_1", "async_2"}
    eps = result["episodes_per_s"]
    assert result["async_2_over_async_1"] == pytest.approx(eps["async_2"] / eps["async_1"], abs=0.01)


def test_concurrency_on_the_real_clips_reports_cpu_per_frame_the_models_ran():
    from conftest import shared_file

    shared_file("clips/arm_wrestling.mp4")
    pytest.importorskip("ai_edge_litert", reason="the int8 TFLite weights need the ai-edge-litert runtime")
    with tempfile.TemporaryDirectory() as scratch:
        clips, videos = grid.data_kwargs(("clips",), Path(scratch))["clips"]
        cell = grid.Cell("clips", "off", "pool", 4, 0.01, 1, clips)
        run = measure.measure_cell(dataclasses.asdict(cell), videos)
    assert all(measure.checks(cell, run).values()), measure.checks(cell, run)
    assert run["model_frames"] == run["backend_calls"] * grid.FRAMES > 0  # nothing kept: every tool run is model work
    per_episode_cpu = run["cpu_ms_per_episode"] * run["episodes"]
    assert run["cpu_ms_per_model_frame"] == pytest.approx(per_episode_cpu / run["model_frames"], rel=0.01)


def test_the_vector_target_is_judged_on_the_real_clips_when_they_were_measured():
    machine_info = {"cpu_model": "cpu", "cpus": 2, "memory_gb": 1, "gpu": None, "python": "3", "platform": "x"}
    synthetic = {"episodes_per_s": {"sync_1": 30.0, "async_2": 25.0}, "speedup_over_sync_1": {"async_2": 0.83},
                 "async_2_over_async_1": 1.9, "target": {"met": False}}
    clips = {"episodes_per_s": {"sync_1": 0.8, "async_1": 0.77, "async_2": 1.4}, "async_2_over_sync_1": 1.75,
             "async_2_over_async_1": 1.82}
    alone = perf_table({"machine": machine_info, "vector": synthetic})
    assert "| async vector env, 2 envs / 1 env, episodes/s (synthetic videos) | ≥ 1.6× | 0.83×" in alone
    both = perf_table({"machine": machine_info, "vector": synthetic, "concurrency": {"rows": [], "vector_clips": clips}})
    assert "| async vector env on the real clips, 2 envs / 1 env, episodes/s | ≥ 1.6× | 1.75× of one env" in both
    assert "| yes |" in both and "(synthetic videos) | — | 0.83×" in both
