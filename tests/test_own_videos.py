"""Users' own videos: a folder dataset of real clips, precomputed with the real YOLO11n weights, then benched from the
cache; and spatial questions about them, benched with the yolo objects backend."""

import json
import re
import shlex
from collections import Counter
from pathlib import Path

import pytest

import videostar_env  # noqa: F401
from videostar_env.backends import BACKENDS, YOLOVision
from videostar_env.cli.main import main

from conftest import CLIPS, shared_file

pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")
pytest.importorskip("ai_edge_litert", reason="the int8 TFLite weights need the ai-edge-litert runtime")

# A user's label explanations in the paper's format: what the knowledge explainer and R_sub read.
EXPLANATIONS = {"0": "apply_eye_makeup: one hand holds a brush close to the eye while the head stays still.",
                "1": "arm_wrestling: two people grip hands over a table and each forearm pushes against the other.",
                "2": "flipping_pancake: the wrist tilts a pan up quickly so the pancake turns in the air."}
VISION_TOOLS = ("human_detection", "pose_estimation", "video_description")
# The heuristic agent calls pose_estimation and action_explanation: precompute both, so the bench needs no tool run.
TOOLS = ("human_detection", "pose_estimation", "action_explanation", "video_description")
COUNTED = "counted-yolo"
CALLS: Counter = Counter()  # backend calls of every CountedVision, by method


class CountedVision:
    """YOLOVision that counts its detect/pose calls; the same id, so the cache keys are the real backend's."""

    def __init__(self, **options):
        self.inner = YOLOVision(**options)
        self.id = self.inner.id

    def detect(self, clip, sample):
        CALLS["detect"] += 1
        return self.inner.detect(clip, sample)

    def pose(self, clip, sample):
        CALLS["pose"] += 1
        return self.inner.pose(clip, sample)


@pytest.fixture
def counted_vision():
    BACKENDS["vision"].register(COUNTED, CountedVision, overwrite=True)
    CALLS.clear()
    yield CALLS
    BACKENDS["vision"]._factories.pop(COUNTED, None)
    CALLS.clear()


def test_precompute_fills_the_cache_and_the_bench_runs_no_backend_call(clip_folder, counted_vision, tmp_path):
    vision = {"detect_weights": str(shared_file("weights/yolo11n_int8.tflite")),
              "pose_weights": str(shared_file("weights/yolo11n-pose_int8.tflite")), "imgsz": 256, "device": "cpu"}
    explanations = tmp_path / "explanations.json"
    explanations.write_text(json.dumps(EXPLANATIONS))
    common = ["--dataset", "folder", "--video-root", str(clip_folder),
              "--dataset-options", json.dumps({"explanations": str(explanations)}), "--vision", COUNTED,
              "--vision-options", json.dumps(vision), "--frame-size", "224", "--num-frames", "8",
              "--tools", ",".join(TOOLS), "--cache-dir", str(tmp_path / "cache")]

    summary_file = tmp_path / "precompute.json"
    assert main(["precompute", *common, "--out", str(summary_file)]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["samples"] == 3
    assert not summary["failures"], summary["failures"]
    tools = summary["tools"]
    assert set(tools) == set(TOOLS)
    for tool in VISION_TOOLS:  # each reads the video: one result per clip
        assert tools[tool] == {"computed": 3, "reused": 0, "failed": 0}, (tool, tools)
    # action_explanation reads only the labels and the knowledge, the same for every clip of a folder dataset.
    assert tools["action_explanation"] == {"computed": 1, "reused": 2, "failed": 0}, tools
    assert counted_vision["detect"] > 0 and counted_vision["pose"] > 0  # the counter sees the real backend's calls

    counted_vision.clear()
    out = tmp_path / "bench"
    assert main(["bench", "--agent", "heuristic", *common, "--episodes", "3", "--in-order", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    assert len(rows) == 3
    assert sorted(r["sample_id"] for r in rows) == sorted(f"{label}/{name}" for label, name in CLIPS.items())
    for row in rows:
        calls = sum(row["tool_calls"].values())
        assert row["tool_calls"] == {"pose_estimation": 1, "action_explanation": 1}, row["tool_calls"]
        assert not row["tool_errors"], row["tool_errors"]
        assert row["tool_cached"] == calls, row
    assert sum(counted_vision.values()) == 0, dict(counted_vision)


def test_the_folder_path_end_to_end_with_a_corrupt_first_video(clip_folder, tmp_path, capsys):
    """precompute, bench and verl-data on the real clips plus a corrupt file that sorts first: all finish."""
    (clip_folder / "aaa_corrupt").mkdir()
    (clip_folder / "aaa_corrupt" / "broken.mp4").write_bytes(b"\x00 this is not a video" * 50)
    explanations = tmp_path / "explanations.json"
    explanations.write_text(json.dumps(EXPLANATIONS))
    vision = {"detect_weights": str(shared_file("weights/yolo11n_int8.tflite")),
              "pose_weights": str(shared_file("weights/yolo11n-pose_int8.tflite")), "imgsz": 256, "device": "cpu"}
    common = ["--dataset", "folder", "--video-root", str(clip_folder),
              "--dataset-options", json.dumps({"explanations": str(explanations)}),
              "--vision", "yolo", "--vision-options", json.dumps(vision), "--frame-size", "224", "--num-frames", "8",
              "--tools", "pose_estimation,action_explanation", "--cache-dir", str(tmp_path / "cache")]

    summary_file = tmp_path / "precompute.json"
    assert main(["precompute", *common, "--out", str(summary_file)]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["samples"] == 4 and summary["tools"]["pose_estimation"] == {"computed": 3, "reused": 0, "failed": 1}
    assert "broken.mp4" in summary["failures"][0]["message"]
    capsys.readouterr()

    out = tmp_path / "bench"
    assert main(["bench", "--agent", "heuristic", *common, "--in-order", "--out", str(out)]) == 0
    console = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["episodes"] == 3 and metrics["failed"]["episodes"] == 1
    assert "broken.mp4" in metrics["failed"]["examples"][0]["error"]
    assert "unreadable videos (not played)" in console
    assert "tool calls served from the cache" in console and "6 of 6" in console

    # A detector that finds nobody: every pose call fails, and the console says so.
    blind = ["--vision-options", json.dumps({**vision, "conf": 0.999})]
    assert main(["bench", "--agent", "heuristic", *common, *blind, "--no-cache", "--in-order", "--episodes", "2",
                 "--out", str(tmp_path / "blind")]) == 0
    assert "pose_estimation errors" in capsys.readouterr().out

    parquet = tmp_path / "verl.parquet"
    assert main(["verl-data", *common, "--out", str(parquet)]) == 0
    console = capsys.readouterr().out
    assert "Wrote 3 rows" in console and "1 unreadable video(s) left out" in console and "broken.mp4" in console
    import pandas as pd

    rows = pd.read_parquet(parquet)
    assert len(rows) == 3 and all(r["nframes"] == 8 for r in rows["videos"].map(lambda v: v[0]))
    assert all(info["definition"] for info in rows["extra_info"])


def readme_section(title: str) -> str:
    """The text of a section of docs/datasets.md (moved there from the README), from its heading to the next one."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text()
    return re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#|\Z)", text, re.DOTALL | re.MULTILINE).group(1)


def test_the_readme_questions_file_benches_on_the_real_clips_with_yolo_objects(tmp_path, monkeypatch, capsys):
    """docs/datasets.md "Spatial questions about your own videos" as written: its questions file over the three shared clips,
    its command (the weights path pointed at the shared int8 export)."""
    pytest.importorskip("lap", reason="ultralytics tracking needs lap: pip install lap")
    section = readme_section("Spatial questions about your own videos")
    questions = re.search(r"```jsonl\n(.*?)```", section, re.DOTALL).group(1)
    command = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    assert len(questions.strip().splitlines()) == 3
    (tmp_path / "clips").mkdir()
    for name in CLIPS.values():
        (tmp_path / "clips" / name).symlink_to(shared_file(f"clips/{name}"))
    (tmp_path / "questions.jsonl").write_text(questions)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "yolo11n_int8.tflite").symlink_to(shared_file("weights/yolo11n_int8.tflite"))
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)
    assert argv[0] == "videostar"
    assert main([*argv[1:], "--no-cache"]) == 0
    out = tmp_path / "runs" / "own" / "questions"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["question_type"] for r in rows) == ["object_abs_distance", "object_counting", "object_rel_distance"]
    assert all(r["tool_calls"] == {"relation_graph": 1} and not r["tool_errors"] for r in rows), rows
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["question_types"]) == {r["question_type"] for r in rows}
    assert (out / "report.html").is_file() and "Wrote" in capsys.readouterr().out
